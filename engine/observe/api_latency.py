"""How fast the Kubernetes API answers: the dashboard's own request round trips (p50/p99 over the
last minute) and, where RBAC allows, the API server's `apiserver_request_duration_seconds`
histogram from its `/metrics` (p99 by verb).

A slow API is named before it becomes an outage: past `SLOW_SECONDS` (Kubernetes' own latency
objective for a single-object call is p99 under 1 s) the header says so, past `VERY_SLOW_SECONDS`
in red. Long-running verbs (WATCH, CONNECT) are left out of the server's figures: their duration
is how long a stream stayed open, not how slow the server is.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Iterable

from talos_platform.engine.observe.snapshot import ApiLatency, VerbLatency

WINDOW_SECONDS = 60.0
"""Round trips and server figures are over this last stretch of time."""
SLOW_SECONDS = 1.0
"""A p99 at or above this is slow (shown orange, counted as a problem)."""
VERY_SLOW_SECONDS = 5.0
"""A p99 at or above this is very slow (shown red): users see timeouts soon."""
LONG_RUNNING_VERBS = frozenset({"WATCH", "CONNECT", "WATCHLIST"})

DURATION_BUCKETS = "apiserver_request_duration_seconds_bucket"

# `name{label="value",...} 12` or `name{...} 12 1700000000000` (a timestamp may follow).
_SAMPLE = re.compile(r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)\{(?P<labels>.*)\}\s+(?P<value>\S+)(?:\s+\S+)?$")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')

Buckets = dict[str, dict[float, float]]
"""Verb -> upper bound (`le`) -> cumulative count, added up over resources, scopes, components."""


def level(seconds: float | None) -> str:
    """`none`, `slow` or `very slow`."""
    if seconds is None or seconds < SLOW_SECONDS:
        return "none"
    return "very slow" if seconds >= VERY_SLOW_SECONDS else "slow"


class RoundTrips:
    """The durations of the dashboard's own requests to the API server, kept for a minute."""

    def __init__(self, window: float = WINDOW_SECONDS):
        self.window = window
        self._samples: deque[tuple[float, float]] = deque()

    def record(self, seconds: float, at: float) -> None:
        self._samples.append((at, max(0.0, seconds)))
        self._forget(at)

    def _forget(self, now: float) -> None:
        while self._samples and self._samples[0][0] < now - self.window:
            self._samples.popleft()

    def percentiles(self, now: float) -> tuple[float | None, float | None, int]:
        """(p50, p99, how many) over the window; None while there is nothing to go by."""
        self._forget(now)
        durations = sorted(seconds for _, seconds in self._samples)
        if not durations:
            return None, None, 0
        return nearest_rank(durations, 0.50), nearest_rank(durations, 0.99), len(durations)


def nearest_rank(ordered: list[float], quantile: float) -> float:
    """The smallest value with at least `quantile` of the values at or below it."""
    return ordered[max(0, math.ceil(quantile * len(ordered)) - 1)]


def parse_request_durations(text: str) -> Buckets:
    """The buckets of `apiserver_request_duration_seconds` in a Prometheus text exposition, added up
    per verb. Every other metric is skipped by its name before any parsing (a real API server's
    `/metrics` holds megabytes of others)."""
    buckets: Buckets = {}
    for line in text.splitlines():
        if not line.startswith(DURATION_BUCKETS + "{"):
            continue
        sample = _SAMPLE.match(line)
        if sample is None:
            continue
        labels = {
            key: value.replace('\\"', '"').replace("\\\\", "\\") for key, value in _LABEL.findall(sample["labels"])
        }
        verb, bound = labels.get("verb", ""), labels.get("le", "")
        if not verb or not bound or labels.get("dry_run"):
            continue
        try:
            upper, count = float(bound), float(sample["value"])
        except ValueError:
            continue
        per_verb = buckets.setdefault(verb.upper(), {})
        per_verb[upper] = per_verb.get(upper, 0.0) + count
    return buckets


def difference(current: Buckets, earlier: Buckets | None) -> Buckets:
    """The requests between two scrapes; the whole of `current` when there is no earlier one, or
    when a count went down (the API server restarted and its counters began again)."""
    if not earlier:
        return current
    result: Buckets = {}
    for verb, bounds in current.items():
        before = earlier.get(verb, {})
        delta = {bound: count - before.get(bound, 0.0) for bound, count in bounds.items()}
        if any(value < 0 for value in delta.values()):
            return current
        result[verb] = delta
    return result


def histogram_quantile(quantile: float, bounds: dict[float, float]) -> float | None:
    """As PromQL's `histogram_quantile`: the bucket the rank falls in, interpolated linearly inside
    it; a rank in the `+Inf` bucket is the largest finite bound. None without observations."""
    ordered = sorted(bounds.items())
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = quantile * ordered[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for upper, count in ordered:
        if count >= rank:
            if math.isinf(upper):
                return lower_bound
            if count == lower_count:
                return upper
            return lower_bound + (upper - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = upper, count
    return lower_bound


def verb_latencies(buckets: Buckets) -> tuple[VerbLatency, ...]:
    """p99 of every verb that had requests, slowest first; long-running verbs left out."""
    verbs = []
    for verb, bounds in buckets.items():
        if verb in LONG_RUNNING_VERBS:
            continue
        p99 = histogram_quantile(0.99, bounds)
        if p99 is not None:
            requests = int(max(bounds.values()))
            verbs.append(VerbLatency(verb, p99, requests))
    verbs.sort(key=lambda v: (-v.p99_seconds, v.verb))
    return tuple(verbs)


class ServerLatency:
    """Scrapes of `/metrics` over time: the p99 by verb of the requests of about the last minute
    (the first scrape has nothing to compare with: its figures are since the API server started)."""

    def __init__(self, window: float = WINDOW_SECONDS):
        self.window = window
        self._scrapes: deque[tuple[float, Buckets]] = deque()
        self.verbs: tuple[VerbLatency, ...] = ()
        self.since_start = True
        self.state = ""
        """Empty while `/metrics` is read; `not allowed` on a 403; otherwise why it was not read."""

    def scraped(self, text: str, at: float) -> None:
        current = parse_request_durations(text)
        baseline = None
        # The oldest scrape within the window is the baseline (or the last one, after a gap).
        while len(self._scrapes) > 1 and self._scrapes[0][0] < at - self.window:
            self._scrapes.popleft()
        if self._scrapes:
            baseline = self._scrapes[0][1]
        self._scrapes.append((at, current))
        delta = difference(current, baseline)
        self.since_start = delta is current
        self.verbs = verb_latencies(delta)
        self.state = ""

    def not_read(self, why: str) -> None:
        """`/metrics` did not answer (or is not allowed): what was known is not shown as current."""
        self.state = why
        self.verbs = ()
        self._scrapes.clear()


def api_latency(round_trips: RoundTrips, server: ServerLatency | None, now: float) -> ApiLatency:
    p50, p99, count = round_trips.percentiles(now)
    return ApiLatency(
        round_trip_p50=p50,
        round_trip_p99=p99,
        round_trips=count,
        verbs=server.verbs if server is not None else (),
        metrics=server.state if server is not None else "not read",
        since_start=server.since_start if server is not None else False,
    )


def worst(verbs: Iterable[VerbLatency]) -> VerbLatency | None:
    return max(verbs, key=lambda v: v.p99_seconds, default=None)
