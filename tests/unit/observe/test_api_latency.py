"""API latency: the API server's histogram read from its Prometheus text, p99 by verb as PromQL's
`histogram_quantile` computes it, the dashboard's own round trips over the last minute, and how
the header and `status --live` name a slow API."""

from __future__ import annotations

import math

import pytest

from talos_platform.engine.observe.api_latency import (
    RoundTrips,
    ServerLatency,
    difference,
    histogram_quantile,
    level,
    parse_request_durations,
    verb_latencies,
)
from talos_platform.engine.observe.snapshot import ApiLatency, ClusterSnapshot, VerbLatency
from talos_platform.tui.widgets.cluster_header import header_text, latency_parts

BOUNDS = (0.05, 0.1, 0.5, 1.0, 5.0)


def histogram(verb: str, counts: tuple[int, ...], *, resource: str = "pods", extra: str = "") -> str:
    """Lines of `apiserver_request_duration_seconds` for one verb: cumulative counts per bound,
    the last one for +Inf."""
    labels = f'component="apiserver",dry_run="",group="",resource="{resource}",scope="cluster",verb="{verb}"{extra}'
    lines = [
        f'apiserver_request_duration_seconds_bucket{{{labels},le="{bound}"}} {count}'
        for bound, count in zip((*(str(b) for b in BOUNDS), "+Inf"), counts, strict=True)
    ]
    lines.append(f"apiserver_request_duration_seconds_count{{{labels}}} {counts[-1]}")
    return "\n".join(lines) + "\n"


def exposition(*parts: str) -> str:
    return (
        "# HELP apiserver_request_duration_seconds [STABLE] Response latency distribution\n"
        "# TYPE apiserver_request_duration_seconds histogram\n"
        'apiserver_request_total{code="200",verb="LIST"} 99\n'
        'apiserver_request_duration_seconds_bucket_other{verb="GET",le="1"} 5\n' + "".join(parts)
    )


def test_the_buckets_are_added_up_per_verb_over_resources_and_other_metrics_are_skipped():
    text = exposition(
        histogram("LIST", (10, 20, 30, 40, 50, 50)),
        histogram("LIST", (0, 0, 0, 0, 10, 10), resource="nodes"),
        histogram("get", (5, 5, 5, 5, 5, 5)),
    )
    buckets = parse_request_durations(text)
    assert set(buckets) == {"LIST", "GET"}
    assert buckets["LIST"][0.05] == 10 and buckets["LIST"][5.0] == 60 and buckets["LIST"][math.inf] == 60
    assert buckets["GET"][math.inf] == 5


def test_escaped_quotes_in_label_values_timestamps_and_dry_runs():
    escaped = histogram("PATCH", (1, 1, 1, 1, 1, 1), extra=r',subresource="a \"b\" c"')
    stamped = histogram("POST", (0, 2, 2, 2, 2, 2)).replace(" 2\n", " 2 1767225600000\n")
    dry = histogram("DELETE", (0, 0, 0, 0, 0, 9)).replace('dry_run=""', 'dry_run="All"')
    buckets = parse_request_durations(exposition(escaped, stamped, dry))
    assert buckets["PATCH"][math.inf] == 1
    assert buckets["POST"][0.1] == 2
    assert "DELETE" not in buckets  # a dry run stores nothing: it is not what users wait for


@pytest.mark.parametrize(
    ("counts", "quantile", "expected"),
    [
        ((0, 0, 100, 100, 100, 100), 0.99, 0.1 + 0.4 * 99 / 100),  # interpolated inside (0.1, 0.5]
        ((50, 100, 100, 100, 100, 100), 0.5, 0.05),  # exactly at a bound
        ((0, 0, 0, 0, 0, 10), 0.99, 5.0),  # in +Inf: the largest finite bound, as PromQL
        ((0, 0, 0, 0, 0, 0), 0.99, None),  # no requests, no figure
    ],
)
def test_histogram_quantile_matches_promql(counts, quantile, expected):
    bounds = dict(zip((*BOUNDS, math.inf), map(float, counts), strict=True))
    result = histogram_quantile(quantile, bounds)
    assert result == (pytest.approx(expected) if expected is not None else None)


def test_p99_by_verb_leaves_out_long_running_verbs_and_lists_the_slowest_first():
    buckets = parse_request_durations(
        exposition(
            histogram("GET", (100, 100, 100, 100, 100, 100)),
            histogram("LIST", (0, 0, 0, 50, 100, 100)),
            histogram("WATCH", (0, 0, 0, 0, 0, 30)),
        )
    )
    verbs = verb_latencies(buckets)
    assert [v.verb for v in verbs] == ["LIST", "GET"]
    assert verbs[0].p99_seconds == pytest.approx(1.0 + 4.0 * 49 / 50) and verbs[0].requests == 100


def test_a_second_scrape_gives_the_figures_of_the_requests_between_and_a_restart_starts_over():
    before = parse_request_durations(histogram("LIST", (1000, 1000, 1000, 1000, 1000, 1000)))
    after = parse_request_durations(histogram("LIST", (1000, 1000, 1000, 1000, 1005, 1005)))
    between = difference(after, before)
    assert between["LIST"][0.05] == 0 and between["LIST"][math.inf] == 5
    assert verb_latencies(between)[0].p99_seconds > 1.0  # the five new ones were slow
    assert verb_latencies(after)[0].p99_seconds < 1.0  # hidden among the old ones since start
    restarted = parse_request_durations(histogram("LIST", (1, 1, 1, 1, 1, 1)))
    assert difference(restarted, before) is restarted


def test_server_latency_compares_with_the_scrape_about_a_minute_old():
    server = ServerLatency(window=60)
    server.scraped(histogram("LIST", (100, 100, 100, 100, 100, 100)), at=0)
    assert server.since_start and server.verbs[0].p99_seconds < 0.05
    server.scraped(histogram("LIST", (100, 100, 100, 100, 120, 120)), at=30)
    assert not server.since_start and server.verbs[0].p99_seconds > 1.0
    server.scraped(histogram("LIST", (200, 200, 200, 200, 220, 220)), at=70)
    # The baseline is now the scrape at 30 s: the slow ones from before it no longer count.
    assert server.verbs[0].requests == 100 and server.verbs[0].p99_seconds <= 0.05
    server.not_read("not allowed")
    assert server.verbs == () and server.state == "not allowed"


def test_round_trips_over_the_last_minute():
    trips = RoundTrips(window=60)
    assert trips.percentiles(0) == (None, None, 0)
    for index in range(100):
        trips.record(0.01 * (index + 1), at=index * 0.5)
    p50, p99, count = trips.percentiles(50)
    assert count == 100 and p50 == pytest.approx(0.5) and p99 == pytest.approx(0.99)
    trips.record(3.0, at=200)
    assert trips.percentiles(200) == (3.0, 3.0, 1)  # the old ones are forgotten


@pytest.mark.parametrize(("seconds", "expected"), [(None, "none"), (0.2, "none"), (1.0, "slow"), (7.5, "very slow")])
def test_levels(seconds, expected):
    assert level(seconds) == expected


def snapshot_with(api: ApiLatency) -> ClusterSnapshot:
    return ClusterSnapshot(taken_at=100.0, simulated=False, api=api)


def test_the_header_shows_round_trips_and_the_slowest_verb_quietly_while_fast():
    api = ApiLatency(0.012, 0.045, 12, (VerbLatency("LIST", 0.08, 40), VerbLatency("GET", 0.02, 300)), "")
    parts = latency_parts(snapshot_with(api))
    assert [text for text, _ in parts] == ["round trip p50 12 ms, p99 45 ms", "server p99 LIST 80 ms"]
    assert "⚠" not in header_text(snapshot_with(api), 100.0).plain


def test_the_header_names_a_slow_api_in_orange_and_a_very_slow_one_in_red():
    slow = latency_parts(snapshot_with(ApiLatency(0.9, 2.3, 12, (VerbLatency("LIST", 6.0, 10),), "")))
    assert slow[0][0] == "⚠ API slow: round trip p50 900 ms, p99 2.3 s" and "#d9480f" in slow[0][1]
    assert slow[1][0] == "⚠ server slow: p99 LIST 6.0 s" and "#e03131" in slow[1][1]


def test_a_403_on_metrics_says_not_allowed_and_nothing_while_there_is_no_figure():
    refused = latency_parts(snapshot_with(ApiLatency(0.01, 0.02, 3, (), "not allowed")))
    assert refused[-1][0] == "server /metrics not allowed"
    assert "error" not in header_text(snapshot_with(ApiLatency(0.01, 0.02, 3, (), "not allowed")), 100.0).plain
    assert latency_parts(snapshot_with(ApiLatency())) == []
