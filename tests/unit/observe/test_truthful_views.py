"""What the observer reports besides the data itself: how current each source is, pressure on
nodes (Kubernetes' own conditions and the dashboard's thresholds), and what Hubble Relay says of
itself (flow rate, unavailable nodes, lost events per source, drop reasons with the deny policy)."""

import asyncio

import pytest
from support.clock import ManualClock
from support.drivers import RaisingTalos, ScriptedHubble, ScriptedKube, pod

from talos_platform.engine.drivers.protocols import (
    Drivers,
    Flow,
    FlowEndpoint,
    HubbleServerStatus,
    LostEvents,
    ObjectList,
    WatchEvent,
)
from talos_platform.engine.observe import Observer
from talos_platform.engine.observe.flows import FlowBuffer
from talos_platform.engine.observe.freshness import STALE_AFTER_SECONDS, SourceState, combined
from talos_platform.engine.observe.nodes import kube_node, merge_nodes
from talos_platform.engine.observe.pressure import node_pressure
from talos_platform.engine.observe.relay import relay_view


def dropped(i: int, reason: str, policy: str = "") -> Flow:
    return Flow(
        time=float(i),
        verdict="DROPPED",
        source=FlowEndpoint("shop", "web-0"),
        destination=FlowEndpoint("vault", "vault-0"),
        drop_reason=reason,
        policy=policy,
    )


# --- freshness ---------------------------------------------------------------------------------


def test_a_source_is_stale_only_after_the_threshold_and_says_which_and_how_long():
    down = SourceState("Kubernetes API", reachable=False, error="connection refused", down_since=100.0)
    assert not down.stale(100.0 + STALE_AFTER_SECONDS - 1) and down.stale_label(105.0) == ""
    assert down.stale_label(142.0) == "stale 42 s: Kubernetes API unreachable"
    assert SourceState("Kubernetes API").stale_label(1e9) == ""  # answering: never stale


def test_a_source_that_never_answered_is_waited_for_not_stale():
    """An install before its cluster exists: nothing was read, so nothing is "last known"."""
    never = SourceState("Kubernetes API", reachable=False, error="connection refused", down_since=100.0, answered=False)
    assert never.stale_label(142.0) == "waiting 42 s: Kubernetes API not answering yet"
    assert combined([never, SourceState("Kubernetes API")]).answered is False


async def test_a_watch_that_never_listed_says_its_source_never_answered():
    kube = ScriptedKube()
    kube.lists["pods"] = [ConnectionError("connection refused")] * 50
    clock = ManualClock()
    observer = Observer(Drivers(talos=RaisingTalos({}), kube=kube), clock, talos_interval=0, heartbeat=0)
    task = asyncio.create_task(observer.run())
    for _ in range(200):
        await asyncio.sleep(0)
        if not observer.snapshot().freshness.pods.reachable:
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    pods = observer.snapshot().freshness.pods
    assert not pods.reachable and not pods.answered


async def test_a_broken_watch_makes_its_panes_data_age_from_the_break_and_recovery_clears_it():
    kube = ScriptedKube()
    kube.lists["pods"] = [ObjectList([pod("a", "1")], "1")]
    # The pods watch breaks twice in a row (the API is away), then answers again with an event.
    kube.watches["pods"] = [
        [ConnectionError("connection refused")],
        [ConnectionError("connection refused")],
        [WatchEvent("MODIFIED", pod("a", "2"))],
    ]
    clock = ManualClock()
    observer = Observer(Drivers(talos=RaisingTalos({}), kube=kube), clock, talos_interval=0, heartbeat=0)
    task = asyncio.create_task(observer.run())
    seen = []
    for _ in range(400):
        await asyncio.sleep(0)
        seen.append(observer.snapshot().freshness)
        if observer.pods.resource_version == "2":
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    broken = [f for f in seen if not f.pods.reachable]
    assert broken, "the break was never reported"
    first = broken[0]
    assert "connection refused" in first.pods.error and first.pods.down_since is not None
    assert not first.kubernetes.reachable and first.nodes.reachable  # only the pods watch broke
    # The break is dated once: a second failure in a row does not restart the age.
    assert {f.pods.down_since for f in broken} == {first.pods.down_since}
    assert observer.snapshot().freshness.pods.reachable and observer.snapshot().freshness.kubernetes.reachable


async def test_while_a_source_is_down_snapshots_keep_coming_so_the_age_counts_up():
    kube = ScriptedKube()
    kube.lists["nodes"] = [ConnectionError("connection refused")] * 50
    clock = ManualClock()
    observer = Observer(Drivers(talos=RaisingTalos({}), kube=kube), clock, talos_interval=0, min_interval=0.2)
    seen = []
    observer.subscribe(seen.append)
    task = asyncio.create_task(observer.run())
    for _ in range(300):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    ages = [s.freshness.nodes.age(s.taken_at) for s in seen if not s.freshness.nodes.reachable]
    assert len(ages) >= 3 and ages[-1] > ages[0]


async def test_a_quiet_cluster_still_publishes_once_a_heartbeat():
    clock = ManualClock()
    observer = Observer(Drivers(talos=RaisingTalos({}), kube=ScriptedKube()), clock, talos_interval=0, heartbeat=1.0)
    seen = []
    observer.subscribe(seen.append)
    task = asyncio.create_task(observer.run())
    for _ in range(300):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Nothing changed after the first lists, yet snapshots kept coming: the screen can tell that
    # what it shows is current (and that it is behind when none arrives).
    assert len(seen) >= 5 and seen[-1].taken_at - seen[0].taken_at >= 3


# --- pressure ----------------------------------------------------------------------------------


def node(conditions: list[dict], cpu: float | None = None, memory: float | None = None):
    """A Node as the API server returns it (the kubernetes client hands the observer this JSON)."""
    from talos_platform.engine.drivers.protocols import TalosNodeFacts

    obj = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "worker-1", "resourceVersion": "7"},
        "status": {
            "addresses": [{"type": "InternalIP", "address": "10.0.0.21"}],
            "conditions": [*conditions, {"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        },
    }
    facts = {"10.0.0.21": TalosNodeFacts("10.0.0.21", True, cpu_percent=cpu, memory_percent=memory)}
    return merge_nodes([kube_node(obj)], facts)[0]


@pytest.mark.parametrize(
    ("conditions", "cpu", "memory", "level", "reasons"),
    [
        ([], 40.0, 50.0, "none", ()),
        ([], 85.0, 50.0, "high", ("CPU 85%",)),
        ([], 98.0, 97.0, "critical", ("CPU 98%", "memory 97%")),
        ([], 82.0, 99.0, "critical", ("memory 99%", "CPU 82%")),  # worst first
        (
            [{"type": "MemoryPressure", "status": "True", "reason": "KubeletHasInsufficientMemory"}],
            30.0,
            60.0,
            "critical",
            ("MemoryPressure",),
        ),
        (
            [
                {"type": "DiskPressure", "status": "True", "reason": "KubeletHasDiskPressure"},
                {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID"},
            ],
            None,
            None,
            "critical",
            ("DiskPressure",),
        ),
    ],
)
def test_node_pressure_from_kubelet_conditions_and_usage_thresholds(conditions, cpu, memory, level, reasons):
    pressure = node_pressure(node(conditions, cpu, memory))
    assert (pressure.level, pressure.reasons) == (level, reasons)


# --- Hubble Relay ------------------------------------------------------------------------------


def test_lost_events_add_up_per_source_and_drop_reasons_carry_the_deny_policy_in_and_out():
    buffer = FlowBuffer(capacity=4)
    for item in (
        LostEvents(count=5, source="PERF_EVENT_RING_BUFFER"),
        LostEvents(count=7, source="HUBBLE_RING_BUFFER"),
        LostEvents(count=3, source="PERF_EVENT_RING_BUFFER"),
        LostEvents(count=1, source="OBSERVER_EVENTS_QUEUE"),
    ):
        buffer.add(item, 100.0)
    buffer.add(dropped(1, "POLICY_DENIED"), 100.0)
    for i in range(3):
        buffer.add(dropped(2 + i, "POLICY_DENY", "vault/deny-tenants"), 100.0)
    stats = buffer.stats(101.0)
    assert stats.lost_events == 16
    assert stats.lost_by_source == (
        ("PERF_EVENT_RING_BUFFER", 8),
        ("HUBBLE_RING_BUFFER", 7),
        ("OBSERVER_EVENTS_QUEUE", 1),
    )
    assert [(r.reason, r.count, r.policy) for r in stats.drop_reasons] == [
        ("POLICY_DENY", 3, "vault/deny-tenants"),
        ("POLICY_DENIED", 1, ""),
    ]
    assert stats.top_dropped[0].policy == "vault/deny-tenants"
    buffer.add(dropped(9, "POLICY_DENY", "vault/deny-tenants"), 100.0)  # evicts the POLICY_DENIED one
    assert [(r.reason, r.count) for r in buffer.stats(101.0).drop_reasons] == [("POLICY_DENY", 4)]


def test_relay_view_never_counts_fewer_unavailable_nodes_than_it_names():
    view = relay_view(HubbleServerStatus(flows_rate=10.0, unavailable_nodes=0, unavailable_node_names=("w-2", "w-1")))
    assert view.unavailable_nodes == 2 and view.unavailable_node_names == ("w-1", "w-2")
    assert relay_view(HubbleServerStatus()).unavailable_nodes is None  # a Relay that does not say


class StatusHubble(ScriptedHubble):
    def __init__(self, streams, statuses):
        super().__init__(streams)
        self.statuses = statuses

    async def server_status(self) -> HubbleServerStatus:
        item = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if isinstance(item, Exception):
            raise item
        return item


async def test_the_observer_takes_the_flow_rate_and_unavailable_nodes_from_relay_and_drops_them_when_it_fails():
    status = HubbleServerStatus(
        flows_rate=5000.0, connected_nodes=199, unavailable_nodes=1, unavailable_node_names=("worker-150",)
    )
    hubble = StatusHubble([[dropped(1, "POLICY_DENIED")]], [status, status, ConnectionError("relay gone")])
    clock = ManualClock()
    observer = Observer(
        Drivers(talos=RaisingTalos({}), kube=ScriptedKube(), hubble=hubble),
        clock,
        talos_interval=0,
        relay_interval=1.0,
        heartbeat=0,
    )
    task = asyncio.create_task(observer.run())
    snapshots = []
    for _ in range(300):
        await asyncio.sleep(0)
        snapshots.append(observer.snapshot().flows)
        if observer.flows.relay is None and any(s.relay for s in snapshots):
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with_relay = next(s for s in snapshots if s.relay is not None)
    assert with_relay.flows_per_second == 5000.0  # Relay's rate over every node, not this stream's
    assert with_relay.relay.unavailable_node_names == ("worker-150",) and with_relay.relay.unavailable_nodes == 1
    assert observer.snapshot().flows.relay is None  # Relay stopped answering: no figure from the past
