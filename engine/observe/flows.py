"""Hubble flows in a bounded ring buffer, with flows/s, lost events by source, top drop reasons
and top dropped pairs.

Flows arrive by the thousand per second; only the newest `capacity` are kept, and the
dropped-pair and drop-reason counts are kept in step with the buffer (counted in, counted out on
eviction), so a snapshot never scans the whole stream. Lost events are counted since the start,
one counter per source (Hubble reports each loss as it happens).
"""

from __future__ import annotations

from collections import Counter, deque

from talos_platform.engine.drivers.protocols import Flow, FlowEndpoint, LostEvents
from talos_platform.engine.observe.snapshot import DroppedPair, DropReasonCount, FlowStats, FlowView, RelayStatus

RATE_WINDOW_SECONDS = 5
RECENT_DROPPED_KEPT = 300


def endpoint_label(endpoint: FlowEndpoint, ip: str) -> str:
    if endpoint.pod_name:
        return f"{endpoint.namespace}/{endpoint.pod_name}" if endpoint.namespace else endpoint.pod_name
    return ip or (endpoint.labels[0] if endpoint.labels else "unknown")


GENERATED_CHARACTERS = frozenset("bcdfghjklmnpqrstvwxz2456789")
"""Kubernetes writes generated name suffixes with these (no vowels, no look-alike digits)."""


def _generated(part: str, lengths: range) -> bool:
    return len(part) in lengths and all(c in GENERATED_CHARACTERS for c in part)


def workload_label(label: str) -> str:
    """`namespace/pod` -> `namespace/workload`: the generated suffixes of Deployment pods
    (`-<replicaset hash>-<5 chars>`) and DaemonSet/Job pods (`-<5 chars>`) are dropped, so drops
    from many replicas add up to one pair. StatefulSet pods (`-0`, `-1`) keep their name."""
    namespace, slash, pod = label.rpartition("/")
    parts = pod.split("-")
    if len(parts) >= 3 and _generated(parts[-1], range(5, 6)) and _generated(parts[-2], range(6, 11)):
        pod = "-".join(parts[:-2])
    elif len(parts) >= 2 and _generated(parts[-1], range(5, 6)):
        pod = "-".join(parts[:-1])
    return f"{namespace}{slash}{pod}"


def _pair(view: FlowView) -> tuple[str, str, str, str]:
    return workload_label(view.source), workload_label(view.destination), view.drop_reason or "unknown", view.policy


def _reason(view: FlowView) -> tuple[str, str]:
    return view.drop_reason or "unknown", view.policy


def flow_view(flow: Flow) -> FlowView:
    return FlowView(
        time=flow.time,
        verdict=flow.verdict,
        source=endpoint_label(flow.source, flow.source_ip),
        destination=endpoint_label(flow.destination, flow.destination_ip),
        protocol=flow.protocol,
        port=flow.destination_port,
        node=flow.node_name,
        drop_reason=flow.drop_reason,
        policy=flow.policy,
    )


class FlowBuffer:
    def __init__(self, capacity: int = 5000):
        self.capacity = capacity
        self._flows: deque[FlowView] = deque()
        self._dropped: Counter[tuple[str, str, str, str]] = Counter()
        self._reasons: Counter[tuple[str, str]] = Counter()
        self.lost_by_source: Counter[str] = Counter()
        self.relay: RelayStatus | None = None
        self._recent_dropped: deque[FlowView] = deque(maxlen=RECENT_DROPPED_KEPT)
        self._per_second: deque[list[int]] = deque()  # [whole second, count], oldest first
        self.total_flows = 0
        self.lost_events = 0
        self.available = False
        self.error = ""
        self.down_since: float | None = None
        """When the stream broke (None while it flows)."""

    def failed(self, error: str, now: float) -> None:
        self.error = error
        if self.down_since is None:
            self.down_since = now

    def recovered(self) -> None:
        self.error = ""
        self.down_since = None

    def add(self, item: Flow | LostEvents, received_at: float) -> None:
        self.available = True
        if isinstance(item, LostEvents):
            self.lost_events += item.count
            self.lost_by_source[item.source or "UNKNOWN_LOST_EVENT_SOURCE"] += item.count
            return
        view = flow_view(item)
        if len(self._flows) >= self.capacity:
            self._forget(self._flows.popleft())
        self._flows.append(view)
        if view.verdict == "DROPPED":
            self._dropped[_pair(view)] += 1
            self._reasons[_reason(view)] += 1
        if view.verdict in ("DROPPED", "ERROR"):
            self._recent_dropped.append(view)
        self.total_flows += 1
        second = int(received_at)
        if self._per_second and self._per_second[-1][0] == second:
            self._per_second[-1][1] += 1
        else:
            self._per_second.append([second, 1])
            while self._per_second and self._per_second[0][0] <= second - RATE_WINDOW_SECONDS - 1:
                self._per_second.popleft()

    def _forget(self, view: FlowView) -> None:
        if view.verdict == "DROPPED":
            key = _pair(view)
            self._dropped[key] -= 1
            if self._dropped[key] <= 0:
                del self._dropped[key]
            reason = _reason(view)
            self._reasons[reason] -= 1
            if self._reasons[reason] <= 0:
                del self._reasons[reason]

    def rate(self, now: float) -> float:
        """Flows per second over the last few whole seconds (the current, partial second excluded)."""
        current = int(now)
        counted = sum(count for second, count in self._per_second if current - RATE_WINDOW_SECONDS <= second < current)
        return counted / RATE_WINDOW_SECONDS

    def stats(self, now: float, recent: int = 500, top: int = 5) -> FlowStats:
        newest = tuple(self._flows)[-recent:] if recent else ()
        pairs = tuple(
            DroppedPair(s, d, r, n, p)
            for (s, d, r, p), n in sorted(self._dropped.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        )
        reasons = tuple(
            DropReasonCount(r, n, p)
            for (r, p), n in sorted(self._reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        )
        return FlowStats(
            available=self.available,
            # Relay's own rate covers every node it reaches, ours only what this stream carried.
            flows_per_second=self.relay.flows_per_second if self.relay is not None else self.rate(now),
            total_flows=self.total_flows,
            lost_events=self.lost_events,
            lost_by_source=tuple(sorted(self.lost_by_source.items(), key=lambda kv: (-kv[1], kv[0]))),
            drop_reasons=reasons,
            relay=self.relay,
            recent=newest,
            top_dropped=pairs,
            recent_dropped=tuple(self._recent_dropped)[-recent:] if recent else (),
            error=self.error,
        )
