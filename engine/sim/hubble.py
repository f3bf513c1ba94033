"""Simulated Hubble Relay: a flow stream between running pods with forwarded and dropped flows,
drop reasons, lost-event notices and scenario drop bursts, and Relay's ServerStatus (a node that
lost power is unavailable and its flows are missing); and node CPU/memory that move.

Flows are generated on demand for each slice of virtual time a consumer waits for, from the set
of running pods kept incrementally (O(1) per pod start/stop), so 5,000 flows/s over 10,000
pods costs only the flows themselves. Each stream has its own seeded generator: two runs with
the same seed stream the same flows.
"""

from __future__ import annotations

import hashlib
import math
import random
import zlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, TypeVar

from talos_platform.engine.drivers.protocols import Flow, FlowEndpoint, FlowFilter, HubbleServerStatus, LostEvents
from talos_platform.engine.errors import TransientError
from talos_platform.engine.sim.platform_flows import ExpectedFlow, platform_flows
from talos_platform.engine.sim.policies import POLICY_DENIED, IngressPolicies
from talos_platform.engine.sim.scenarios import DropBurst, UnexpectedCalls

if TYPE_CHECKING:
    from talos_platform.engine.sim.model import Machine, PlatformModel
    from talos_platform.engine.sim.pods import PodRecord

BATCH_SECONDS = 0.1
TimedFault = TypeVar("TimedFault", DropBurst, UnexpectedCalls)
_NOT_IN_IDENTITY = {"pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name"}
EXPECTED_SHARE = 0.05
"""Share of the background flows that are the platform's own calls (platform_flows.py)."""
BACKGROUND_DROP_REASONS = (
    POLICY_DENIED,
    "STALE_OR_UNROUTABLE_IP",
    "CT_MAP_INSERTION_FAILED",
    "UNSUPPORTED_L3_PROTOCOL",
)
PORTS = (
    (443, "TCP"),
    (80, "TCP"),
    (53, "UDP"),
    (8080, "TCP"),
    (5432, "TCP"),
    (6379, "TCP"),
    (9090, "TCP"),
    (8200, "TCP"),
)


class Endpoint:
    __slots__ = ("flow_endpoint", "ip", "node", "namespace", "index")

    def __init__(self, pod: PodRecord):
        # Cilium leaves per-revision labels out of security identities.
        labels = tuple(
            f"k8s:{key}={value}" for key, value in sorted(pod.labels.items()) if key not in _NOT_IN_IDENTITY
        ) + (f"k8s:io.kubernetes.pod.namespace={pod.namespace}",)
        identity = 256 + zlib.crc32(f"{pod.namespace}/{pod.app or pod.container}".encode()) % 60000
        self.flow_endpoint = FlowEndpoint(namespace=pod.namespace, pod_name=pod.name, identity=identity, labels=labels)
        self.ip = pod.ip
        self.node = pod.node
        self.namespace = pod.namespace
        self.index = -1


class HubbleModel:
    def __init__(self, model: PlatformModel):
        self.model = model
        self.endpoints: list[Endpoint] = []
        self._by_pod: dict[tuple[str, str], Endpoint] = {}
        self._by_namespace: dict[str, list[Endpoint]] = {}
        self.relay_ready_at: float | None = None
        """Bursts are timed from here: when Hubble Relay first ran, or when an already-installed
        platform was handed over."""
        self.streams = 0
        model.workloads.listeners.append(self._pod_changed)
        self.bursts = list(model.scenario.fault(DropBurst))
        self.calls = list(model.scenario.fault(UnexpectedCalls))
        self.policies = IngressPolicies(model.store)
        self.expected = platform_flows(model.config)

    # --- running pods, incrementally ----------------------------------------------------

    def _pod_changed(self, pod: PodRecord, running: bool) -> None:
        key = (pod.namespace, pod.name)
        if running and key not in self._by_pod and not pod.static:
            endpoint = Endpoint(pod)
            endpoint.index = len(self.endpoints)
            self.endpoints.append(endpoint)
            self._by_pod[key] = endpoint
            self._by_namespace.setdefault(pod.namespace, []).append(endpoint)
            if pod.owner is not None and pod.owner.name == "hubble-relay" and self.relay_ready_at is None:
                self.relay_ready(self.model.clock.now())
        elif not running and key in self._by_pod:
            endpoint = self._by_pod.pop(key)
            last = self.endpoints.pop()
            if last is not endpoint:
                self.endpoints[endpoint.index] = last
                last.index = endpoint.index
            self._by_namespace[pod.namespace].remove(endpoint)

    def relay_ready(self, now: float) -> None:
        """Bursts are timed from now on; the timeline says when they come."""
        self.relay_ready_at = now
        self.model.timeline.drop("drop-burst")
        for burst in self.bursts:
            where = f"{burst.source_namespace or 'any'} -> {burst.destination_namespace or 'any'}"
            if burst.destination_port:
                where += f":{burst.destination_port}"
            self.model.timeline.add(
                now + burst.start,
                f"a burst of {burst.reason} drops {where}",
                duration=burst.duration,
                every=burst.every,
                under_way=f"{burst.reason} drops {where}",
                tag="drop-burst",
            )
        for calls in self.calls:
            where = f"{calls.source_namespace} -> {calls.destination_namespace}:{calls.destination_port}"
            self.model.timeline.add(
                now + calls.start,
                f"unexpected calls {where}",
                duration=calls.duration,
                every=calls.every,
                under_way=f"unexpected calls {where}",
                tag="drop-burst",
            )

    def unavailable_nodes(self) -> set[str]:
        """Nodes whose Hubble Relay cannot reach: those that lost power after joining."""
        return {m.name for m in self.model.machines.values() if m.lost}

    def server_status(self) -> HubbleServerStatus:
        now = self.model.clock.now()
        workloads = self.model.scenario.workloads
        nodes = {m.name for m in self.model.machines.values() if m.registered}
        unavailable = self.unavailable_nodes() & nodes
        share = (len(nodes) - len(unavailable)) / len(nodes) if nodes else 1.0
        burst = self._burst_at(now)
        rate = workloads.flows_per_second * share + (burst.flows_per_second if burst else 0.0)
        return HubbleServerStatus(
            flows_rate=round(rate, 1),
            seen_flows=int(rate * max(0.0, now - (self.relay_ready_at or now))),
            num_flows=min(workloads.ring_buffer, int(rate * 60)) * max(1, len(nodes) - len(unavailable)),
            max_flows=workloads.ring_buffer * max(1, len(nodes) - len(unavailable)),
            connected_nodes=len(nodes) - len(unavailable),
            unavailable_nodes=len(unavailable),
            unavailable_node_names=tuple(sorted(unavailable)),
            version="1.20.0",
        )

    def relay_available(self) -> bool:
        workload = self.model.workloads.workload("Deployment", "kube-system", "hubble-relay")
        return workload is not None and any(pod.ready for pod in workload.pods.values()) and self.model.api_up

    # --- node load ----------------------------------------------------------------------

    def node_load(self, machine: Machine) -> tuple[float, float]:
        """CPU and memory percent: a base from the pods on the node (levelling off as it fills, the
        way the scheduler spreads requests) plus a slow seeded wobble; a `nodePressure` fault sets
        its own figures."""
        now = self.model.clock.now()
        bucket = int(now // 5)
        pods = self.model.workloads.pods_on_node.get(machine.name, 0)
        wobble = random.Random(f"{self.model.seed}:{machine.name}:{bucket}").random()
        phase = int(hashlib.sha256(machine.name.encode()).hexdigest()[:4], 16) / 65535 * 2 * math.pi
        cpu = 4.0 + 60.0 * (1 - math.exp(-pods / 30.0)) + 8.0 * math.sin(now / 90.0 + phase) + 6.0 * wobble
        memory = 12.0 + 55.0 * (1 - math.exp(-pods / 30.0)) + 3.0 * math.sin(now / 300.0 + phase) + 2.0 * wobble
        hot = self.model.pressure.get(machine.name)
        if hot is not None:
            cpu = hot.cpu_percent - wobble if hot.cpu_percent is not None else cpu
            memory = hot.memory_percent - wobble / 2 if hot.memory_percent is not None else memory
        return round(min(99.0, max(1.0, cpu)), 1), round(min(99.0, max(5.0, memory)), 1)

    # --- flows --------------------------------------------------------------------------

    def _burst_at(self, now: float) -> DropBurst | None:
        return _active(self.bursts, now, self.relay_ready_at)

    def _expected_flow(self, rng: random.Random) -> tuple[Endpoint, Endpoint, int] | None:
        """One of the platform's own calls whose two ends have running pods."""
        if not self.expected:
            return None
        flow: ExpectedFlow = self.expected[rng.randrange(len(self.expected))]
        sources = self._by_namespace.get(flow.source_namespace)
        destinations = self._by_namespace.get(flow.destination_namespace)
        if not sources or not destinations:
            return None
        return sources[rng.randrange(len(sources))], destinations[rng.randrange(len(destinations))], flow.port

    def _admitted_flow(
        self, rng: random.Random, source: Endpoint, destination: Endpoint, port: int
    ) -> tuple[Endpoint, Endpoint, int] | None:
        """Healthy workloads call only what the policies admit: a call they deny goes to a neighbour
        in the caller's own namespace instead, or else is one of the platform's own calls. Denied
        traffic is a scenario's (a burst, unexpected calls)."""
        if not self.policies.denies(source.namespace, destination.namespace, port):
            return source, destination, port
        neighbours = self._by_namespace.get(source.namespace) or [source]
        neighbour = neighbours[rng.randrange(len(neighbours))]
        if not self.policies.denies(source.namespace, neighbour.namespace, port):
            return source, neighbour, port
        return self._expected_flow(rng)

    def generate(
        self, rng: random.Random, start: float, end: float, carry: float
    ) -> tuple[list[Flow | LostEvents], float]:
        """Flows for the virtual interval [start, end); `carry` keeps fractional flows."""
        workloads = self.model.scenario.workloads
        span = end - start
        wanted = workloads.flows_per_second * span + carry
        count = int(wanted)
        carry = wanted - count
        out: list[Flow | LostEvents] = []
        endpoints = self.endpoints
        # Relay cannot reach the Hubble of a node without power: the flows seen there are missing.
        unavailable = self.unavailable_nodes()
        if len(endpoints) >= 2:
            for index in range(count):
                moment = start + span * index / max(count, 1)
                source = endpoints[rng.randrange(len(endpoints))]
                destination = endpoints[rng.randrange(len(endpoints))]
                if unavailable and source.node in unavailable:
                    continue
                port, protocol = PORTS[rng.randrange(len(PORTS))]
                chosen = self._expected_flow(rng) if rng.random() < EXPECTED_SHARE else None
                if chosen is not None:
                    protocol = "TCP"
                else:
                    chosen = self._admitted_flow(rng, source, destination, port)
                    if chosen is None:
                        continue
                if chosen[0].node in unavailable:
                    continue
                source, destination, port = chosen
                dropped = rng.random() < workloads.drop_ratio
                reason = BACKGROUND_DROP_REASONS[rng.randrange(len(BACKGROUND_DROP_REASONS))] if dropped else ""
                out.append(
                    Flow(
                        time=moment,
                        verdict="DROPPED" if dropped else "FORWARDED",
                        source=source.flow_endpoint,
                        destination=destination.flow_endpoint,
                        source_ip=source.ip,
                        destination_ip=destination.ip,
                        protocol=protocol,
                        destination_port=port,
                        node_name=source.node,
                        drop_reason=reason,
                        is_reply=not dropped and rng.random() < 0.4,
                    )
                )
        burst = self._burst_at(start)
        if burst is not None:
            out += self._burst_flows(rng, burst, start, span)
        calls = _active(self.calls, start, self.relay_ready_at)
        if calls is not None:
            out += self._unexpected_flows(rng, calls, start, span)
        every = workloads.lost_events_every
        if every and int(start // every) != int(end // every):
            # A busy node's agent falls behind reading the kernel's perf ring buffer.
            out.append(LostEvents(count=rng.randint(1, 200), source="PERF_EVENT_RING_BUFFER", time=end))
        return out, carry

    def _unexpected_flows(
        self, rng: random.Random, calls: UnexpectedCalls, start: float, span: float
    ) -> list[Flow | LostEvents]:
        """The scenario's calls, each judged by the policies the cluster holds right now."""
        sources = self._by_namespace.get(calls.source_namespace)
        destinations = self._by_namespace.get(calls.destination_namespace)
        if not sources or not destinations:
            return []
        drop = self.policies.drop(calls.source_namespace, calls.destination_namespace, calls.destination_port)
        count = int(calls.flows_per_second * span)
        return _flows_between(
            rng,
            sources,
            destinations,
            count,
            start,
            span,
            port=calls.destination_port,
            reason=drop.reason if drop else "",
            policy=drop.policy if drop else "",
        )

    def _burst_flows(self, rng: random.Random, burst: DropBurst, start: float, span: float) -> list[Flow | LostEvents]:
        sources = self._by_namespace.get(burst.source_namespace) or self.endpoints
        destinations = self._by_namespace.get(burst.destination_namespace) or self.endpoints
        if not sources or not destinations:
            return []
        count = int(burst.flows_per_second * span)
        flows = _flows_between(
            rng,
            sources,
            destinations,
            count,
            start,
            span,
            port=burst.destination_port,
            reason=burst.reason,
            policy=burst.policy,
        )
        # A burst this fast overflows the ring buffer of a relay polling at this rate.
        overflow = count - int(self.model.scenario.workloads.ring_buffer * span)
        if overflow > 0:
            flows.append(LostEvents(count=overflow, source="HUBBLE_RING_BUFFER", time=start + span))
        return flows


def _flows_between(
    rng: random.Random,
    sources: list[Endpoint],
    destinations: list[Endpoint],
    count: int,
    start: float,
    span: float,
    *,
    port: int,
    reason: str,
    policy: str,
) -> list[Flow | LostEvents]:
    """`count` TCP flows spread over the span, from random sources to random destinations;
    dropped with `reason` when there is one (ingress policy is enforced on the destination's node)."""
    flows: list[Flow | LostEvents] = []
    for index in range(count):
        source = sources[rng.randrange(len(sources))]
        destination = destinations[rng.randrange(len(destinations))]
        flows.append(
            Flow(
                time=start + span * index / max(count, 1),
                verdict="DROPPED" if reason else "FORWARDED",
                source=source.flow_endpoint,
                destination=destination.flow_endpoint,
                source_ip=source.ip,
                destination_ip=destination.ip,
                protocol="TCP",
                destination_port=port,
                node_name=destination.node if reason else source.node,
                drop_reason=reason,
                policy=policy,
            )
        )
    return flows


def _active(faults: list[TimedFault], now: float, ready_at: float | None) -> TimedFault | None:
    """The first of the timed faults under way now (timed from when Relay was ready)."""
    if ready_at is None:
        return None
    since = now - ready_at
    for fault in faults:
        offset = since - fault.start
        if fault.every > 0 and offset >= 0:
            offset %= fault.every
        if 0 <= offset < fault.duration:
            return fault
    return None


def matches(flow: Flow, flow_filter: FlowFilter | None) -> bool:
    if flow_filter is None:
        return True
    if flow_filter.verdict and flow.verdict != flow_filter.verdict:
        return False
    if flow_filter.namespace and flow_filter.namespace not in (flow.source.namespace, flow.destination.namespace):
        return False
    if flow_filter.pod:
        names = (
            f"{flow.source.namespace}/{flow.source.pod_name}",
            f"{flow.destination.namespace}/{flow.destination.pod_name}",
            flow.source.pod_name,
            flow.destination.pod_name,
        )
        if not any(name.startswith(flow_filter.pod) for name in names):
            return False
    return True


class SimulatedHubble:
    def __init__(self, hubble: HubbleModel):
        self.hubble = hubble

    async def server_status(self) -> HubbleServerStatus:
        await self.hubble.model.clock.sleep(0.01)
        if not self.hubble.relay_available():
            raise ConnectionError("hubble-relay.kube-system.svc:80: connection refused")
        return self.hubble.server_status()

    async def flows(
        self, *, follow: bool = True, first: int = 0, flow_filter: FlowFilter | None = None
    ) -> AsyncIterator[Flow | LostEvents]:
        hubble = self.hubble
        clock = hubble.model.clock
        await clock.sleep(0.05)
        if not hubble.relay_available():
            raise TransientError(
                "hubble-relay.kube-system.svc:80: connection refused", hint="Hubble Relay is not running yet"
            )
        hubble.streams += 1
        rng = random.Random(f"{hubble.model.seed}:flows:{hubble.streams}")
        now = clock.now()
        carry = 0.0
        if first:
            # Like GetFlows with first=true: the oldest `first` flows the ring buffer still holds
            # (it holds the last `ringBuffer` flows), oldest first.
            workloads = hubble.model.scenario.workloads
            rate = max(workloads.flows_per_second, 1.0)
            held = min(float(workloads.ring_buffer), rate * 3600.0) / rate
            span = min(first / rate, held)
            stored, carry = hubble.generate(rng, now - held, now - held + span, 0.0)
            for flow in [i for i in stored if isinstance(i, Flow) and matches(i, flow_filter)][:first]:
                yield flow
            carry = 0.0
        if not follow:
            return
        start = now
        while True:
            await clock.sleep(BATCH_SECONDS)
            if not hubble.relay_available():
                raise ConnectionError("hubble-relay stream closed: connection reset")
            end = clock.now()
            batch, carry = hubble.generate(rng, start, end, carry)
            start = end
            for item in batch:
                if isinstance(item, LostEvents) or matches(item, flow_filter):
                    yield item
