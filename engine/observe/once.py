"""One snapshot without watching: what `status --output json` prints."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from talos_platform.engine.drivers.clock import Clock, RealClock
from talos_platform.engine.drivers.protocols import (
    APPLICATIONS,
    EVENTS,
    NODES,
    PODS,
    Drivers,
    EtcdHealth,
    Resource,
    TalosNodeFacts,
)
from talos_platform.engine.observe.alerts import read_alerts_once
from talos_platform.engine.observe.api_latency import RoundTrips, ServerLatency, api_latency
from talos_platform.engine.observe.apps import app_view
from talos_platform.engine.observe.etcd import etcd_view
from talos_platform.engine.observe.flows import FlowBuffer
from talos_platform.engine.observe.freshness import HUBBLE_RELAY, KUBERNETES_API, Freshness, source_state
from talos_platform.engine.observe.kube_stats import read_disks, read_metrics
from talos_platform.engine.observe.nodes import TalosTarget, UsageHistory, kube_node, merge_nodes
from talos_platform.engine.observe.observer import build_snapshot, summarise_pods
from talos_platform.engine.observe.pods import classify_pod, refusal_problem
from talos_platform.engine.observe.snapshot import ClusterSnapshot
from talos_platform.engine.observe.talos_facts import etcd_health_for, facts_for
from talos_platform.engine.observe.timed_kube import TimedKube

T = TypeVar("T")


async def snapshot_once(
    drivers: Drivers,
    clock: Clock | None = None,
    *,
    talos_targets: Iterable[TalosTarget] = (),
    recent_flows: int = 100,
    timeout: float = 10.0,
) -> ClusterSnapshot:
    """List nodes, pods and Applications once, ask Talos about every node, and read the flows
    Hubble still holds (no follow), the alerts Alertmanager holds, the API server's `/metrics` and
    every kubelet's filesystem use. Failures become fields of the snapshot, never exceptions."""
    clock = clock or RealClock()
    errors: list[str] = []
    round_trips = RoundTrips()
    kube = TimedKube(drivers.kube, round_trips, clock)

    async def listed(resource: Resource, transform: Callable[[dict[str, Any]], T]) -> list[T]:
        try:
            result = await asyncio.wait_for(kube.list(resource), timeout)
            return [transform(item) for item in result.items]
        except Exception as error:  # noqa: BLE001 - reported in the snapshot
            if resource not in (APPLICATIONS, EVENTS):
                errors.append(f"{resource.plural}: {str(error) or type(error).__name__}")
            return []

    kube_nodes, pods, apps, refusals = await asyncio.gather(
        listed(NODES, kube_node),
        listed(PODS, classify_pod),
        listed(APPLICATIONS, app_view),
        listed(EVENTS, refusal_problem),
    )
    targets = {t.address: t for t in talos_targets if t.address}
    for node in kube_nodes:
        targets.setdefault(node.address, TalosTarget(node.address, node.name, node.role))

    async def talos_of(target: TalosTarget) -> tuple[TalosNodeFacts, EtcdHealth | None]:
        # Each node's etcd follows its own facts: no node waits for another's (a hanging one).
        facts = await facts_for(drivers, target.address)
        if target.role != "control-plane":
            return facts, None
        return facts, await etcd_health_for(drivers, target.address, facts)

    talos = await asyncio.gather(*(talos_of(t) for t in targets.values() if t.address))
    facts_list = [facts for facts, _ in talos]
    server = ServerLatency()
    disks = {}
    if not errors:
        try:
            await asyncio.wait_for(read_metrics(kube, server, clock), timeout)
        except TimeoutError:
            server.not_read(f"no answer within {timeout:g} s")
        with contextlib.suppress(TimeoutError):
            disks = await asyncio.wait_for(read_disks(drivers.kube, (n.name for n in kube_nodes)), timeout)
    else:
        server.not_read("the Kubernetes API is unreachable")
    facts = {f.address: f for f in facts_list}
    history = UsageHistory()
    for fact in facts_list:
        history.record(fact)
    etcd = {health.address: health for _, health in talos if health is not None}
    nodes = merge_nodes(kube_nodes, facts, targets.values(), history, disks)

    flows = None
    if drivers.hubble is not None:
        flows = FlowBuffer(max(recent_flows, 1))
        try:
            await asyncio.wait_for(_drain(drivers, flows, clock, recent_flows), timeout)
        except Exception as error:  # noqa: BLE001 - reported in the snapshot
            flows.error = str(error) or type(error).__name__
    alerts, alerts_state = await read_alerts_once(drivers.alertmanager, clock, timeout)
    now = clock.now()
    kubernetes = source_state(KUBERNETES_API, "; ".join(errors), now)
    freshness = Freshness(
        kubernetes=kubernetes,
        nodes=kubernetes,
        apps=kubernetes,
        pods=kubernetes,
        flows=source_state(HUBBLE_RELAY, flows.error if flows is not None else "", now),
        alerts=alerts_state,
    )
    return build_snapshot(
        taken_at=now,
        simulated=drivers.simulated,
        kube_nodes=kube_nodes,
        facts=facts,
        targets=targets.values(),
        history=history,
        pods=pods,
        apps=apps,
        flows=flows,
        recent_flows=recent_flows,
        kube_error="; ".join(errors),
        pod_summary=summarise_pods(pods, refusals, now),
        node_views=nodes,
        freshness=freshness,
        api=api_latency(round_trips, server, now),
        # One reading cannot tell how long a learner has been one: it is shown, not counted.
        etcd=etcd_view([n for n in nodes if n.role == "control-plane"], etcd),
        alerts=alerts,
    )


async def _drain(drivers: Drivers, flows: FlowBuffer, clock: Clock, first: int) -> None:
    assert drivers.hubble is not None
    async for item in drivers.hubble.flows(follow=False, first=first):
        flows.add(item, clock.now())
