"""The observer end to end on scripted drivers: coalescing, flows and lost events, one-shot."""

import asyncio

import pytest
from support.clock import ManualClock
from support.drivers import RaisingTalos, ScriptedHubble, ScriptedKube, pod

from talos_platform.engine.drivers.protocols import (
    Drivers,
    Flow,
    FlowEndpoint,
    LostEvents,
    ObjectList,
    TalosNodeFacts,
    WatchEvent,
)
from talos_platform.engine.observe import Observer, TalosTarget, snapshot_once
from talos_platform.engine.observe.flows import FlowBuffer


def flow(i, verdict="FORWARDED", reason=""):
    return Flow(
        time=float(i),
        verdict=verdict,
        source=FlowEndpoint("shop", f"web-{i % 2}"),
        destination=FlowEndpoint("db", "postgres-0"),
        protocol="TCP",
        destination_port=5432,
        drop_reason=reason,
    )


def test_flow_buffer_counts_lost_events_rate_and_dropped_pairs_within_capacity():
    buffer = FlowBuffer(capacity=4)
    for i in range(6):
        buffer.add(flow(i, "DROPPED" if i < 3 else "FORWARDED", "POLICY_DENIED"), received_at=100.0 + i * 0.5)
    buffer.add(LostEvents(count=250, source="relay"), received_at=103.0)
    buffer.add(LostEvents(count=5), received_at=103.0)
    stats = buffer.stats(now=103.0)
    assert stats.total_flows == 6 and len(stats.recent) == 4
    assert stats.lost_events == 255
    # Two of three drops were evicted with their flows; the pair count follows the buffer.
    assert [(p.source, p.destination, p.reason, p.count) for p in stats.top_dropped] == [
        ("shop/web-0", "db/postgres-0", "POLICY_DENIED", 1)
    ]
    assert stats.flows_per_second == pytest.approx(6 / 5)


async def test_many_changes_are_coalesced_into_few_snapshots():
    kube = ScriptedKube()
    kube.lists["pods"] = [ObjectList([pod("a", "1")], "1")]
    # Ten bursts of twenty changes, the loop running in between.
    script = []
    for burst in range(10):
        script += [WatchEvent("MODIFIED", pod("a", str(2 + burst * 20 + i))) for i in range(20)] + [None]
    kube.watches["pods"] = [script]
    clock = ManualClock()
    # No heartbeat: only snapshots made of changes are counted here.
    observer = Observer(
        Drivers(talos=RaisingTalos({}), kube=kube), clock, talos_interval=0, min_interval=0.25, heartbeat=0
    )
    seen = []
    observer.subscribe(seen.append)
    task = asyncio.create_task(observer.run())
    await asyncio.wait_for(kube.idle["pods"].wait(), 5)
    for _ in range(5):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert observer.pods.resource_version == "201"
    assert 1 <= len(seen) <= 11  # 200 changes: at most one snapshot per burst (plus the list)
    assert seen[-1].generation == observer._generation
    assert [s.generation for s in seen] == sorted(s.generation for s in seen)
    # Every publication is followed by the minimum interval.
    assert clock.sleeps.count(0.25) == len(seen)


async def test_observer_reads_flows_and_lost_events_and_survives_a_broken_stream():
    hubble = ScriptedHubble(
        [[flow(1), LostEvents(count=3), ConnectionError("relay gone")], [flow(2), LostEvents(count=4)]]
    )
    talos = RaisingTalos({"10.0.0.1": TalosNodeFacts("10.0.0.1", True, stage="running")})
    clock = ManualClock()
    observer = Observer(
        Drivers(talos=talos, kube=ScriptedKube(), hubble=hubble, simulated=True),
        clock,
        talos_targets=[
            TalosTarget("10.0.0.1", "cp-1", "control-plane"),
            TalosTarget("10.0.0.2", "cp-2", "control-plane"),
        ],
    )
    task = asyncio.create_task(observer.run())
    for _ in range(200):
        await asyncio.sleep(0)
        if observer.flows.total_flows == 2 and observer.flows.lost_events == 7:
            break
    snapshot = observer.snapshot()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert snapshot.simulated
    assert snapshot.flows.total_flows == 2 and snapshot.flows.lost_events == 7
    assert snapshot.flows.error == ""  # cleared after reconnecting
    assert [(n.name, n.reachable) for n in snapshot.nodes] == [("cp-1", True), ("cp-2", False)]
    assert "connection refused" in snapshot.nodes[1].error


async def test_snapshot_once_reports_failures_as_fields():
    kube = ScriptedKube()
    kube.lists["nodes"] = [ConnectionError("connection refused")]
    kube.lists["pods"] = [ObjectList([pod("a", "1"), pod("b", "1", phase="Pending")], "1")]
    hubble = ScriptedHubble([[flow(1, "DROPPED", "POLICY_DENIED"), LostEvents(count=2)]])
    snapshot = await snapshot_once(Drivers(talos=RaisingTalos({}), kube=kube, hubble=hubble), ManualClock())
    assert "nodes: connection refused" in snapshot.kube_error
    assert [p.name for p in snapshot.pod_problems] == ["b"]
    assert snapshot.namespaces[0].healthy == 1 and snapshot.namespaces[0].total == 2
    data = snapshot.to_dict()
    assert data["pods_total"] == 2 and data["flows"]["lost_events"] == 2
    assert data["flows"]["top_dropped"][0]["reason"] == "POLICY_DENIED"


def test_recent_drops_are_kept_apart_from_the_forwarded_stream():
    buffer = FlowBuffer(capacity=10)
    buffer.add(flow(0, "DROPPED", "POLICY_DENIED"), 100.0)
    for i in range(1, 30):
        buffer.add(flow(i), 100.0)
    stats = buffer.stats(now=101.0, recent=10)
    assert all(f.verdict == "FORWARDED" for f in stats.recent)
    assert [f.drop_reason for f in stats.recent_dropped] == ["POLICY_DENIED"]


async def test_unchanged_views_keep_their_identity_between_snapshots():
    kube = ScriptedKube()
    kube.lists["pods"] = [ObjectList([pod("a", "1")], "1")]
    observer = Observer(Drivers(talos=RaisingTalos({}), kube=kube), ManualClock(), talos_interval=0)
    observer.pods.replace([pod("a", "1")], "1")
    first, second = observer.snapshot(), observer.snapshot()
    assert first.namespaces is second.namespaces and first.waves is second.waves
    observer.pods.apply(WatchEvent("ADDED", pod("b", "2", phase="Pending")))
    third = observer.snapshot()
    assert third.namespaces is not second.namespaces and [p.name for p in third.pod_problems] == ["b"]


def test_dropped_pairs_add_up_replicas_of_one_workload():
    from talos_platform.engine.observe.flows import workload_label

    assert workload_label("shop/api-5d8f6b7c9-x2k9q") == "shop/api"
    assert workload_label("kube-system/cilium-4xk2p") == "kube-system/cilium"
    assert workload_label("kube-system/cilium-envoy-txxjv") == "kube-system/cilium-envoy"
    assert workload_label("edge/web-proxy") == "edge/web-proxy"  # a vowel: a real name, not a suffix
    assert workload_label("shop/postgres-0") == "shop/postgres-0"
    assert workload_label("10.0.0.5") == "10.0.0.5"
    assert workload_label("argocd/argocd-application-controller-0") == "argocd/argocd-application-controller-0"
    buffer = FlowBuffer()
    for pod_name in ("web-7c9f8d6b5-bxc22", "web-7c9f8d6b5-dfz24"):
        buffer.add(
            Flow(
                time=1.0,
                verdict="DROPPED",
                source=FlowEndpoint("shop", pod_name),
                destination=FlowEndpoint("db", "postgres-0"),
                drop_reason="POLICY_DENIED",
            ),
            1.0,
        )
    assert [(p.source, p.count) for p in buffer.stats(2.0).top_dropped] == [("shop/web", 2)]


async def test_the_first_talos_round_asks_about_the_nodes_of_the_first_list():
    # The node list arrives after the observer started; the first Talos round must still cover
    # those nodes rather than leave them looking reachable, unasked, for a whole interval.
    class SlowLists(ScriptedKube):
        async def list(self, resource, namespace=None, label_selector=""):
            for _ in range(5):
                await asyncio.sleep(0)
            return await super().list(resource, namespace, label_selector)

    asked: list[tuple[str, float]] = []

    class RecordingTalos(RaisingTalos):
        async def node_facts(self, address, *, insecure):
            asked.append((address, clock.now()))
            return await super().node_facts(address, insecure=insecure)

    kube = SlowLists()
    node = {
        "metadata": {"name": "worker-1", "resourceVersion": "3"},
        "status": {
            "addresses": [{"type": "InternalIP", "address": "10.0.0.7"}],
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }
    kube.lists["nodes"] = [ObjectList([node], "3")]
    clock = ManualClock()
    started = clock.now()
    # No heartbeat: every sleep moves this clock, and only the Talos round's waits are measured.
    observer = Observer(
        Drivers(talos=RecordingTalos({}), kube=kube), clock, talos_interval=5.0, min_interval=0.25, heartbeat=0
    )
    task = asyncio.create_task(observer.run())
    for _ in range(200):
        await asyncio.sleep(0)
        if asked:
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert asked and asked[0][0] == "10.0.0.7"
    assert asked[0][1] - started < 5.0
    view = observer.snapshot().nodes[0]
    assert (view.name, view.reachable, view.ready) == ("worker-1", False, True)
