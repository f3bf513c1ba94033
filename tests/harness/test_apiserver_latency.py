"""The real kube-apiserver's `/metrics` read through our Kube driver: the
`apiserver_request_duration_seconds` histogram parsed from the real exposition and p99 by verb
computed from its buckets, the minute's figures from two scrapes, and a ServiceAccount without
the right to read `/metrics` taken as "not allowed" (a 403), not as an error.

(Kubelet stats through the node proxy are read in test_node_disk_real.py: kwok nodes serve no
stats summary, so that test registers nodes of its own with a stand-in kubelet.)"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
import yaml

from talos_platform.engine.drivers.clock import RealClock
from talos_platform.engine.drivers.kube_client import KubernetesDriver
from talos_platform.engine.drivers.process import ProcessRunner
from talos_platform.engine.drivers.protocols import NODES, PODS, AccessDenied
from talos_platform.engine.observe.api_latency import (
    LONG_RUNNING_VERBS,
    RoundTrips,
    ServerLatency,
    parse_request_durations,
    verb_latencies,
)
from talos_platform.engine.observe.kube_stats import NOT_ALLOWED, read_metrics
from talos_platform.engine.observe.timed_kube import TimedKube


def driver_for(kubeconfig: Path, rehearsal_cluster, harness_bin) -> KubernetesDriver:
    kubectl_dir = Path(harness_bin("kubectl")).parent
    runner = ProcessRunner(
        env={"PATH": f"{kubectl_dir}{os.pathsep}{os.environ['PATH']}", "HOME": rehearsal_cluster.env["HOME"]}
    )
    return KubernetesDriver(kubeconfig, runner)


@pytest.fixture
def driver(rehearsal_cluster, harness_bin) -> KubernetesDriver:
    return driver_for(rehearsal_cluster.kubeconfig, rehearsal_cluster, harness_bin)


def test_p99_by_verb_from_the_real_api_servers_histogram(driver, kwok_nodes):
    async def run():
        for _ in range(5):
            await driver.list(NODES)
            await driver.get(NODES, kwok_nodes[0])
        return await driver.read_path("/metrics")

    text = asyncio.run(run())
    started = time.perf_counter()
    buckets = parse_request_durations(text)
    parse_seconds = time.perf_counter() - started
    verbs = {v.verb: v for v in verb_latencies(buckets)}
    assert {"LIST", "GET"} <= set(verbs), sorted(buckets)
    assert not set(verbs) & LONG_RUNNING_VERBS
    for verb in verbs.values():
        assert 0 < verb.p99_seconds <= 60 and verb.requests >= 1
    assert verbs["LIST"].requests >= 5 and verbs["GET"].requests >= 5
    # Every bucket of a verb is cumulative: the counts never go down as the bound grows.
    for bounds in buckets.values():
        counts = [count for _, count in sorted(bounds.items())]
        assert counts == sorted(counts)
    # The exposition is megabytes of other metrics; only the histogram's lines are parsed.
    assert parse_seconds < 2.0, f"{len(text):,} characters parsed in {parse_seconds:.2f} s"


def test_two_scrapes_give_the_requests_between_them(driver):
    server = ServerLatency()
    round_trips = RoundTrips()
    clock = RealClock()
    timed = TimedKube(driver, round_trips, clock)

    async def run():
        await read_metrics(timed, server, clock)
        first = server.verbs
        for _ in range(20):
            await timed.list(PODS)
        await read_metrics(timed, server, clock)
        return first

    first = asyncio.run(run())
    assert first and server.state == ""
    assert not server.since_start
    lists = next(v for v in server.verbs if v.verb == "LIST")
    assert 20 <= lists.requests < 200  # ours, and whatever the controllers listed meanwhile
    p50, p99, count = round_trips.percentiles(clock.now())
    assert count == 22 and p50 is not None and p99 is not None and 0 < p50 <= p99 < 5


def test_a_service_account_without_the_right_to_read_metrics_gets_not_allowed(
    rehearsal_cluster, harness_bin, kube_namespace, tmp_path
):
    rehearsal_cluster.kubectl("create", "serviceaccount", "viewer", "-n", kube_namespace)
    token = rehearsal_cluster.kubectl("create", "token", "viewer", "-n", kube_namespace).stdout.strip()
    document = yaml.safe_load(rehearsal_cluster.kubeconfig.read_text())
    document["users"] = [{"name": "viewer", "user": {"token": token}}]
    for context in document["contexts"]:
        context["context"]["user"] = "viewer"
    kubeconfig = tmp_path / "viewer.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(document))
    kubeconfig.chmod(0o600)
    viewer = driver_for(kubeconfig, rehearsal_cluster, harness_bin)
    with pytest.raises(AccessDenied, match="403"):
        asyncio.run(viewer.read_path("/metrics"))
    server = ServerLatency()
    round_trips = RoundTrips()
    clock = RealClock()
    asyncio.run(read_metrics(TimedKube(viewer, round_trips, clock), server, clock))
    assert server.state == NOT_ALLOWED and server.verbs == ()
    assert round_trips.percentiles(clock.now())[2] == 1  # a refusal is a round trip too
