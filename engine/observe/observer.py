"""The observe layer's one entry point: stores fed by watches and streams, published as coalesced
snapshots at a bounded rate (many changes in between become one snapshot).

Subscribers are called from the loop that runs the observer; a UI running elsewhere hands the
snapshot over in a thread-safe way (Textual: `post_message`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from talos_platform.engine.drivers.backoff import Backoff
from talos_platform.engine.drivers.clock import Clock, RealClock
from talos_platform.engine.drivers.protocols import (
    APPLICATIONS,
    EVENTS,
    NODES,
    PODS,
    Drivers,
    EtcdHealth,
    TalosNodeFacts,
)
from talos_platform.engine.observe.alerts import ALERTS_INTERVAL, AlertReader, AlertsView
from talos_platform.engine.observe.api_latency import RoundTrips, ServerLatency, api_latency
from talos_platform.engine.observe.apps import app_view, group_by_wave
from talos_platform.engine.observe.etcd import LearnerClock, answered, etcd_view
from talos_platform.engine.observe.flows import FlowBuffer
from talos_platform.engine.observe.freshness import HUBBLE_RELAY, KUBERNETES_API, Freshness, combined, source_state
from talos_platform.engine.observe.kube_stats import read_disks, read_metrics
from talos_platform.engine.observe.node_disk import DiskUse
from talos_platform.engine.observe.nodes import KubeNode, TalosTarget, UsageHistory, kube_node, merge_nodes
from talos_platform.engine.observe.ordering import natural_key
from talos_platform.engine.observe.pods import (
    PodHealth,
    classify_pod,
    next_grace_end,
    refusal_problem,
    sort_problems,
)
from talos_platform.engine.observe.relay import RELAY_STATUS_INTERVAL, poll_relay_status
from talos_platform.engine.observe.snapshot import (
    ApiLatency,
    AppView,
    ClusterSnapshot,
    EtcdView,
    FlowStats,
    HealthyPod,
    NamespaceHealth,
    NodeView,
    PodProblem,
    WaveView,
)
from talos_platform.engine.observe.store import ObjectStore
from talos_platform.engine.observe.talos_facts import etcd_health_for, facts_for
from talos_platform.engine.observe.timed_kube import TimedKube
from talos_platform.engine.observe.watcher import ResourceWatcher

T = TypeVar("T")

log = logging.getLogger(__name__)

Subscriber = Callable[[ClusterSnapshot], None]


class Observer:
    def __init__(
        self,
        drivers: Drivers,
        clock: Clock | None = None,
        *,
        talos_targets: Iterable[TalosTarget] = (),
        min_interval: float = 0.2,
        talos_interval: float = 5.0,
        flow_capacity: int = 5000,
        recent_flows: int = 500,
        talos_concurrency: int = 16,
        relay_interval: float = RELAY_STATUS_INTERVAL,
        alerts_interval: float = ALERTS_INTERVAL,
        heartbeat: float = 1.0,
        stats_interval: float = 10.0,
    ):
        """`heartbeat`: a snapshot is published at least this often (0: only on changes), so a
        quiet cluster still shows its data as current, the age of data from a source that does
        not answer keeps counting, and a screen that gets no snapshot knows it is behind.
        `stats_interval`: how often the API server's `/metrics` and every kubelet's filesystem
        use are read (0: never)."""
        self.drivers = drivers
        self.clock = clock or RealClock()
        self.talos_targets = tuple(talos_targets)
        self.min_interval = min_interval
        self.talos_interval = talos_interval
        self.recent_flows = recent_flows
        self.talos_concurrency = talos_concurrency
        self.relay_interval = relay_interval
        self.alerts_interval = alerts_interval
        self.heartbeat = heartbeat
        self.stats_interval = stats_interval
        self.round_trips = RoundTrips()
        """Every read the dashboard makes of the API server, timed."""
        self.kube = TimedKube(drivers.kube, self.round_trips, self.clock)
        self.server_latency = ServerLatency()
        self.disks: dict[str, DiskUse] = {}
        self._disks_version = 0
        self.alerts = AlertReader(drivers.alertmanager, self.clock, self.mark_changed)
        self.nodes: ObjectStore[KubeNode] = ObjectStore(kube_node, self.mark_changed)
        self.pods: ObjectStore[PodHealth] = ObjectStore(classify_pod, self.mark_changed)
        self.apps: ObjectStore[AppView] = ObjectStore(app_view, self.mark_changed)
        # Pods PodSecurity refuses never exist: their controllers' events are all there is.
        self.refusals: ObjectStore[PodProblem | None] = ObjectStore(refusal_problem, self.mark_changed)
        self.flows = FlowBuffer(flow_capacity)
        self.facts: dict[str, TalosNodeFacts] = {}
        self.history = UsageHistory()
        self.etcd: dict[str, EtcdHealth] = {}
        """What each control plane's Talos API says about its etcd, by address."""
        self.learners = LearnerClock()
        self.etcd_first_answered: float | None = None
        """When etcd first answered on some control plane (the observer's clock); -inf when it
        answered from the first round (it was bootstrapped before the observer started)."""
        self._etcd_silent_round = False
        self.watchers = [
            ResourceWatcher(self.kube, resource, store, self.clock, on_state_change=self.mark_changed)
            for resource, store in (
                (NODES, self.nodes),
                (PODS, self.pods),
                (APPLICATIONS, self.apps),
                (EVENTS, self.refusals),
            )
        ]
        self._derived: dict[str, tuple[object, Any]] = {}
        self._facts_version = 0
        self._grace_round = 0
        """Counts the moments a starting pod's grace ran out (the pod summary changes then)."""
        self._next_grace_end = math.inf
        self._subscribers: list[Subscriber] = []
        self._changed = asyncio.Event()
        self._generation = 0
        self.published = 0

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def mark_changed(self) -> None:
        self._changed.set()

    # --- running ----------------------------------------------------------------------------

    async def run(self) -> None:
        tasks = [asyncio.create_task(w.run(), name=f"watch-{w.resource.plural}") for w in self.watchers]
        if self.talos_interval:
            tasks.append(asyncio.create_task(self._poll_talos(), name="talos-facts"))
        if self.drivers.hubble is not None:
            tasks.append(asyncio.create_task(self._read_flows(), name="hubble-flows"))
            if self.relay_interval:
                tasks.append(
                    asyncio.create_task(
                        poll_relay_status(
                            self.drivers.hubble, self.flows, self.clock, self.mark_changed, self.relay_interval
                        ),
                        name="hubble-status",
                    )
                )
        if self.stats_interval:
            tasks.append(asyncio.create_task(self._poll_stats(), name="kube-stats"))
        if self.drivers.alertmanager is not None and self.alerts_interval:
            tasks.append(asyncio.create_task(self.alerts.run(self.alerts_interval), name="alerts"))
        if self.heartbeat:
            tasks.append(asyncio.create_task(self._beat(), name="heartbeat"))
        tasks.append(asyncio.create_task(self._publish(), name="publish"))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _publish(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            snapshot = self.snapshot()
            self.published += 1
            for subscriber in list(self._subscribers):
                subscriber(snapshot)
            # Changes arriving during this pause are folded into the next snapshot.
            await self.clock.sleep(self.min_interval)

    async def _poll_talos(self) -> None:
        limit = asyncio.Semaphore(self.talos_concurrency)

        async def ask(target: TalosTarget) -> None:
            async with limit:
                facts = await facts_for(self.drivers, target.address)
            self.facts[target.address] = facts
            self.history.record(facts)
            if target.role == "control-plane":
                async with limit:
                    self.etcd[target.address] = await etcd_health_for(self.drivers, target.address, facts)
            self._facts_version += 1

        # The first round waits (at most one interval) for the first node list, so it asks about
        # every node Kubernetes knows: a node not asked yet would show as reachable meanwhile.
        waited = 0.0
        while not self.watchers[0].synced and waited < self.talos_interval:
            await self.clock.sleep(0.05)
            waited += 0.05
        while True:
            started = self.clock.now()
            await asyncio.gather(*(ask(t) for t in self.targets()))
            self.learners.record(self.etcd.values(), self.clock.now())
            if self.etcd_first_answered is None:
                if answered(self.etcd.values()):
                    # Seen coming up (an install's bootstrap): the others may still be joining.
                    self.etcd_first_answered = self.clock.now() if self._etcd_silent_round else -math.inf
                else:
                    self._etcd_silent_round = True
            self.mark_changed()
            # A round over hundreds of nodes (a talosctl call each) may take a while: rest at
            # least twice as long as it took, so polling never becomes most of the work.
            took = max(0.0, self.clock.now() - started)
            await self.clock.sleep(max(self.talos_interval, 2 * took))

    async def _poll_stats(self) -> None:
        # Kubelet stats go through the node proxy to each kubelet: their time is the kubelet's too,
        # so they are read untimed; `/metrics` is a read like any other. The first round waits (at
        # most one interval) for the node list, so no node starts without its disk figure.
        waited = 0.0
        while not self.watchers[0].synced and waited < self.stats_interval:
            await self.clock.sleep(0.05)
            waited += 0.05
        while True:
            started = self.clock.now()
            before = (self.server_latency.state, self.server_latency.verbs)
            await read_metrics(self.kube, self.server_latency, self.clock)
            disks = await read_disks(self.drivers.kube, (n.name for n in self.nodes.values()), self.talos_concurrency)
            if disks != self.disks:
                self.disks = disks
                self._disks_version += 1
                self.mark_changed()
            if before != (self.server_latency.state, self.server_latency.verbs):
                self.mark_changed()
            took = max(0.0, self.clock.now() - started)
            await self.clock.sleep(max(self.stats_interval, 2 * took))

    def api_latency(self) -> ApiLatency:
        return api_latency(self.round_trips, self.server_latency if self.stats_interval else None, self.clock.now())

    def targets(self) -> list[TalosTarget]:
        """Configured nodes plus every node Kubernetes knows, by address."""
        targets = {t.address: t for t in self.talos_targets if t.address}
        for node in self.nodes.values():
            if node.address and node.address not in targets:
                targets[node.address] = TalosTarget(node.address, node.name, node.role)
        return list(targets.values())

    async def _read_flows(self) -> None:
        backoff = Backoff()
        assert self.drivers.hubble is not None
        while True:
            try:
                async for item in self.drivers.hubble.flows(follow=True):
                    if self.flows.error:
                        self.flows.recovered()
                        backoff.reset()
                    self.flows.add(item, self.clock.now())
                    self.mark_changed()
                await self.clock.sleep(backoff.next_delay())
            except Exception as error:  # noqa: BLE001 - the stream comes back; show why meanwhile
                self.flows.failed(str(error) or type(error).__name__, self.clock.now())
                self.mark_changed()
                await self.clock.sleep(backoff.next_delay())

    async def _beat(self) -> None:
        # Cheap: unchanged views are cached, and a busy cluster (flows) publishes anyway.
        while True:
            await self.clock.sleep(self.heartbeat)
            self.mark_changed()

    def _etcd_answered_for(self) -> float | None:
        if self.etcd_first_answered is not None:
            return self.clock.now() - self.etcd_first_answered
        if answered(self.etcd.values()):
            return 0.0 if self._etcd_silent_round else math.inf
        return None

    def freshness(self) -> Freshness:
        nodes, pods, apps, _events = (
            source_state(KUBERNETES_API, w.error, w.down_since, answered=w.synced) for w in self.watchers
        )
        if not self.watchers[2].synced:
            apps = source_state(KUBERNETES_API, "", None)  # no Application type yet is no outage
        flows = source_state(HUBBLE_RELAY, self.flows.error, self.flows.down_since, answered=self.flows.available)
        return Freshness(
            kubernetes=combined((nodes, pods, apps)),
            nodes=nodes,
            apps=apps,
            pods=pods,
            flows=flows,
            alerts=self.alerts.state(),
        )

    # --- snapshots --------------------------------------------------------------------------

    def _cached(self, name: str, version: object, compute: Callable[[], T]) -> T:
        """Recompute a derived view only when its store changed; an unchanged view keeps its
        identity, which also lets the UI skip redrawing it."""
        known = self._derived.get(name)
        if known is None or known[0] != version:
            known = (version, compute())
            self._derived[name] = known
        view: T = known[1]
        return view

    def _pod_summary(self) -> tuple[tuple[PodProblem, ...], tuple[NamespaceHealth, ...], tuple[HealthyPod, ...]]:
        """Recomputed when a store changed, or when a starting pod's grace ran out meanwhile."""
        now = self.clock.now()
        if now >= self._next_grace_end:
            self._grace_round += 1
            self._next_grace_end = math.inf

        def summarise() -> tuple[tuple[PodProblem, ...], tuple[NamespaceHealth, ...], tuple[HealthyPod, ...]]:
            pods = self.pods.values()
            self._next_grace_end = next_grace_end(pods, now)
            return summarise_pods(pods, self.refusals.values(), now)

        return self._cached("pods", (self.pods.version, self.refusals.version, self._grace_round), summarise)

    def snapshot(self) -> ClusterSnapshot:
        self._generation += 1
        pods = self._pod_summary()
        # The blocked line names the pods behind the blocking resource: it follows both stores.
        waves = self._cached(
            "waves",
            (self.apps.version, self.pods.version, self.refusals.version, self._grace_round),
            lambda: group_by_wave(self.apps.values(), pods[0]),
        )
        nodes = self._cached(
            "nodes",
            (self.nodes.version, self._facts_version, self._disks_version),
            lambda: merge_nodes(self.nodes.values(), self.facts, self.talos_targets, self.history, self.disks),
        )
        etcd = self._cached(
            "etcd",
            (self.nodes.version, self._facts_version),
            lambda: etcd_view(
                _control_planes(nodes),
                self.etcd,
                self.learners,
                self.clock.now(),
                answered_for=self._etcd_answered_for(),
            ),
        )
        return build_snapshot(
            taken_at=self.clock.now(),
            simulated=self.drivers.simulated,
            kube_nodes=self.nodes.values(),
            facts=self.facts,
            targets=self.talos_targets,
            history=self.history,
            pods=self.pods.values(),
            apps=self.apps.values(),
            flows=self.flows,
            recent_flows=self.recent_flows,
            kube_error="; ".join(w.error for w in self.watchers if w.error and w.resource is not APPLICATIONS)
            or _applications_error(self.watchers[2]),
            generation=self._generation,
            waves_and_blocked=waves,
            pod_summary=pods,
            node_views=nodes,
            freshness=self.freshness(),
            api=self.api_latency(),
            etcd=etcd,
            alerts=self.alerts.view,
        )


def _control_planes(nodes: Iterable[NodeView]) -> list[NodeView]:
    return [node for node in nodes if node.role == "control-plane"]


def _applications_error(watcher: ResourceWatcher) -> str:
    # Before ArgoCD is installed the Application type does not exist; that is not an outage.
    return watcher.error if watcher.synced else ""


def build_snapshot(
    *,
    taken_at: float,
    simulated: bool,
    kube_nodes: Iterable[KubeNode],
    facts: dict[str, TalosNodeFacts],
    targets: Iterable[TalosTarget],
    history: UsageHistory,
    pods: Iterable[PodHealth],
    apps: Iterable[AppView],
    flows: FlowBuffer | None,
    recent_flows: int = 500,
    kube_error: str = "",
    generation: int = 0,
    waves_and_blocked: tuple[tuple[WaveView, ...], str] | None = None,
    pod_summary: tuple[tuple[PodProblem, ...], tuple[NamespaceHealth, ...], tuple[HealthyPod, ...]] | None = None,
    node_views: tuple[NodeView, ...] | None = None,
    freshness: Freshness | None = None,
    api: ApiLatency | None = None,
    disks: dict[str, DiskUse] | None = None,
    etcd: EtcdView | None = None,
    alerts: AlertsView | None = None,
) -> ClusterSnapshot:
    """`waves_and_blocked`, `pod_summary` and `node_views` may be handed in already computed
    (the observer caches them while their inputs do not change)."""
    problems, namespaces, healthy = pod_summary if pod_summary is not None else summarise_pods(pods, now=taken_at)
    waves, blocked = waves_and_blocked if waves_and_blocked is not None else group_by_wave(apps, problems)
    return ClusterSnapshot(
        taken_at=taken_at,
        simulated=simulated,
        nodes=node_views if node_views is not None else merge_nodes(kube_nodes, facts, targets, history, disks),
        waves=waves,
        blocked=blocked,
        pod_problems=problems,
        namespaces=namespaces,
        healthy_pods=healthy,
        flows=flows.stats(taken_at, recent_flows) if flows is not None else FlowStats(available=False),
        kube_error=kube_error,
        generation=generation,
        freshness=freshness or Freshness(),
        api=api or ApiLatency(),
        etcd=etcd or EtcdView(),
        alerts=alerts if alerts is not None else AlertsView(),
    )


def summarise_pods(
    pods: Iterable[PodHealth], refusals: Iterable[PodProblem | None] = (), now: float = math.inf
) -> tuple[tuple[PodProblem, ...], tuple[NamespaceHealth, ...], tuple[HealthyPod, ...]]:
    """Problems worst first (pods, and workloads whose pods PodSecurity refused; pods still within
    their start grace at `now` last, as `Starting`), healthy/total pods per namespace, and the
    healthy pods by namespace and name. Without `now` every start grace is over."""
    problems = [refusal for refusal in refusals if refusal is not None]
    healthy: list[HealthyPod] = []
    per_namespace: dict[str, list[int]] = {}
    for pod in pods:
        counts = per_namespace.setdefault(pod.namespace, [0, 0, 0])
        counts[1] += 1
        problem = pod.problem_at(now)
        if problem is None:
            counts[0] += 1
            healthy.append(HealthyPod(pod.namespace, pod.name, pod.node, pod.app))
        else:
            counts[2] += problem.starting
            problems.append(problem)
    healthy.sort(key=lambda p: (p.namespace, natural_key(p.name)))
    return (
        tuple(sort_problems(problems)),
        tuple(NamespaceHealth(ns, h, t, starting) for ns, (h, t, starting) in sorted(per_namespace.items())),
        tuple(healthy),
    )
