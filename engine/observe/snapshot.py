"""What the dashboard shows, as plain frozen data: one `ClusterSnapshot` at a time.

Panes render these; `status --output json` prints them. Nothing here talks to the outside world.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from talos_platform.engine.observe.alerts import AlertsView
from talos_platform.engine.observe.freshness import Freshness


@dataclass(frozen=True)
class NodeView:
    name: str
    address: str
    role: str
    """`control-plane` or `worker`."""
    reachable: bool
    ready: bool | None
    """Kubernetes Ready condition; None when Kubernetes does not know the node (yet)."""
    stage: str = ""
    talos_version: str = ""
    kubernetes_version: str = ""
    cpu_percent: float | None = None
    memory_percent: float | None = None
    cpu_history: tuple[float, ...] = ()
    memory_history: tuple[float, ...] = ()
    error: str = ""
    conditions: tuple[tuple[str, str, str], ...] = ()
    """(type, status, message) of every Kubernetes node condition."""
    disk_used_bytes: int | None = None
    """The node's root filesystem (the kubelet's `node.fs`: Talos' EPHEMERAL partition) in use;
    None while the kubelet's stats are not known."""
    disk_capacity_bytes: int | None = None

    @property
    def not_asked_yet(self) -> bool:
        """Neither the Talos API nor Kubernetes has said anything about it yet (the first round of
        questions is under way): unknown, not unreachable."""
        return not self.reachable and not self.error and not self.stage and self.ready is None

    @property
    def disk_percent(self) -> float | None:
        if self.disk_used_bytes is None or not self.disk_capacity_bytes:
            return None
        return 100.0 * self.disk_used_bytes / self.disk_capacity_bytes


@dataclass(frozen=True)
class ResourceHealth:
    """One resource an Application manages that is not Healthy (`status.resources[]`)."""

    kind: str
    name: str
    namespace: str = ""
    group: str = ""
    health: str = ""
    """ArgoCD's health of the resource; `Missing` when it does not exist (yet)."""
    message: str = ""
    sync_wave: int = 0

    @property
    def is_application(self) -> bool:
        return self.kind == "Application" and self.group == "argoproj.io"

    @property
    def label(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


@dataclass(frozen=True)
class AppView:
    name: str
    namespace: str
    wave: int
    sync: str
    health: str
    message: str = ""
    project: str = ""
    waiting_for: str = ""
    """`Kind/name` of the resource the running sync operation waits on (`waiting for healthy state
    of group/Kind/name`), empty when no operation is waiting."""
    unhealthy: tuple[ResourceHealth, ...] = ()
    """The managed resources that are not Healthy, in `status.resources` order."""

    @property
    def settled(self) -> bool:
        return self.sync == "Synced" and self.health == "Healthy"

    @property
    def only_waiting(self) -> bool:
        """An app of apps whose sync waits on a child Application: it is not the cause, it waits."""
        return self.waiting_for.startswith("Application/") and not self.settled


@dataclass(frozen=True)
class WaveView:
    wave: int
    apps: tuple[AppView, ...]
    state: str
    """`done` (every app Synced and Healthy), `blocked` (the first unfinished wave), `starting` (the
    first unfinished wave, only Progressing while the pods behind it start) or `waiting`."""


STARTING = "Starting"
"""The kind of a pod row for a pod still within its start grace: shown, not counted as a problem."""


@dataclass(frozen=True)
class PodProblem:
    namespace: str
    name: str
    kind: str
    """`CrashLoopBackOff`, `OOMKilled`, `ImagePull`, `Pending`, `Failed`, `NotReady`, `Restarts`; or
    `Starting`: a pod Pending within its start grace, listed last and not counted as a problem."""
    detail: str
    severity: int
    """Lower is worse; problems are listed in this order."""
    restarts: int = 0
    node: str = ""
    app: str = ""

    @property
    def starting(self) -> bool:
        """Only starting (within its grace): shown in the waiting colour, not counted as a problem."""
        return self.kind == STARTING


@dataclass(frozen=True)
class HealthyPod:
    """A pod with nothing to report: listed so that a filter finds it and Enter opens it."""

    namespace: str
    name: str
    node: str = ""
    app: str = ""


@dataclass(frozen=True)
class NamespaceHealth:
    namespace: str
    healthy: int
    total: int
    starting: int = 0
    """Pods not healthy yet but within their start grace (see engine/observe/pods.py)."""


@dataclass(frozen=True)
class FlowView:
    time: float
    verdict: str
    source: str
    """`namespace/pod`, or the IP when the endpoint is outside the cluster."""
    destination: str
    protocol: str = ""
    port: int = 0
    node: str = ""
    drop_reason: str = ""
    policy: str = ""
    """The deny policy that dropped it, when Hubble names one."""


@dataclass(frozen=True)
class DroppedPair:
    source: str
    destination: str
    reason: str
    count: int
    policy: str = ""


@dataclass(frozen=True)
class DropReasonCount:
    """Drops among the flows held, by reason and (where the flows name one) deny policy."""

    reason: str
    count: int
    policy: str = ""


@dataclass(frozen=True)
class RelayStatus:
    """What Hubble Relay's ServerStatus says (None fields: this Relay does not report them). It is
    dropped when Relay stops answering, so its figures are never shown from the past."""

    flows_per_second: float
    connected_nodes: int | None = None
    unavailable_nodes: int | None = None
    unavailable_node_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlowStats:
    available: bool
    """False when there is no Hubble to read from (not installed yet, or not configured)."""
    flows_per_second: float = 0.0
    total_flows: int = 0
    """Every flow seen since the observer started; the UI counts pending flows from it."""
    lost_events: int = 0
    lost_by_source: tuple[tuple[str, int], ...] = ()
    """Lost events added up per source (`PERF_EVENT_RING_BUFFER`, `OBSERVER_EVENTS_QUEUE`,
    `HUBBLE_RING_BUFFER`), largest first."""
    recent: tuple[FlowView, ...] = ()
    """Newest last."""
    top_dropped: tuple[DroppedPair, ...] = ()
    recent_dropped: tuple[FlowView, ...] = ()
    """The newest dropped or errored flows, kept apart so a verdict filter finds them even when
    forwarded flows have pushed them out of `recent`. Newest last."""
    drop_reasons: tuple[DropReasonCount, ...] = ()
    """The top drop reasons among the flows held, most first."""
    relay: RelayStatus | None = None
    """Relay's own status, when it has been read; `flows_per_second` then comes from it."""
    error: str = ""


@dataclass(frozen=True)
class VerbLatency:
    """The API server's p99 for one verb, from its `apiserver_request_duration_seconds`."""

    verb: str
    p99_seconds: float
    requests: int
    """Requests the figure is over."""


@dataclass(frozen=True)
class ApiLatency:
    """How fast the Kubernetes API answers (see engine/observe/api_latency.py)."""

    round_trip_p50: float | None = None
    """The dashboard's own requests over the last minute; None before the first one."""
    round_trip_p99: float | None = None
    round_trips: int = 0
    verbs: tuple[VerbLatency, ...] = ()
    """The server's p99 by verb, slowest first (empty when `/metrics` is not read)."""
    metrics: str = "not read"
    """Empty while the server's `/metrics` is read; `not allowed` when RBAC refuses it (403);
    otherwise why it is not read."""
    since_start: bool = False
    """The server's figures are since it started (one scrape), not over the last minute."""


@dataclass(frozen=True)
class EtcdMemberView:
    """One etcd member: a control plane (with what its own Talos API said about its etcd), or a
    member that is no node we know."""

    node: str
    """The node it is ("" when no node matches the member)."""
    address: str = ""
    member_id: str = ""
    """"" when the control plane is no member (or its etcd does not answer)."""
    hostname: str = ""
    leader: bool = False
    learner: bool = False
    learner_for: float | None = None
    """Seconds it has been seen as a learner (None: not a learner, or not watched long enough)."""
    joining: bool = False
    """Neither a member nor answering, shortly after etcd was bootstrapped: waiting to join."""
    db_size: int | None = None
    db_size_in_use: int | None = None
    quota_bytes: int = 0
    quota_source: str = ""
    """Where the quota comes from: the node's etcd spec, or etcd's default."""
    raft_index: int | None = None
    raft_lag: int | None = None
    """Entries behind the highest raft index any member reported."""
    alarms: tuple[str, ...] = ()
    error: str = ""
    problems: tuple[str, ...] = ()
    """What is wrong with this member, in words (counted by the summary)."""


@dataclass(frozen=True)
class EtcdView:
    """etcd across the control planes, from each one's Talos API."""

    members: tuple[EtcdMemberView, ...] = ()
    """Every control plane, then members that are no node we know."""
    leader: str = ""
    """The leader's node name (or member ID when it is no node we know); "" when unknown."""
    problems: tuple[str, ...] = ()
    """Every problem, naming its node or member."""

    @property
    def available(self) -> bool:
        return bool(self.members)

    def member(self, node: str) -> EtcdMemberView | None:
        return next((m for m in self.members if m.node == node), None)


@dataclass(frozen=True)
class ClusterSnapshot:
    taken_at: float
    simulated: bool
    nodes: tuple[NodeView, ...] = ()
    waves: tuple[WaveView, ...] = ()
    blocked: str = ""
    """`wave N is blocked by X: message` (or `wave N waits for X: message` while its pods only
    start), empty when every wave is done."""
    pod_problems: tuple[PodProblem, ...] = ()
    """Worst first; pods still starting (`PodProblem.starting`) come last."""
    namespaces: tuple[NamespaceHealth, ...] = ()
    healthy_pods: tuple[HealthyPod, ...] = ()
    """Every pod without a problem, by namespace and name (the pane folds them into namespaces)."""
    flows: FlowStats = field(default_factory=lambda: FlowStats(available=False))
    kube_error: str = ""
    """Set while the Kubernetes API cannot be reached; the stores keep their last contents."""
    generation: int = 0
    """Increases with every published snapshot."""
    freshness: Freshness = field(default_factory=Freshness)
    """Whether each pane's source answers, and since when it does not."""
    api: ApiLatency = field(default_factory=ApiLatency)
    """How fast the Kubernetes API answers."""
    etcd: EtcdView = field(default_factory=EtcdView)
    """etcd health of the control planes (empty until the Talos API was asked)."""
    alerts: AlertsView = field(default_factory=AlertsView)
    """Firing alerts from Alertmanager (silenced and inhibited ones counted)."""

    @property
    def apps(self) -> tuple[AppView, ...]:
        return tuple(app for wave in self.waves for app in wave.apps)

    @property
    def pod_total(self) -> int:
        return sum(ns.total for ns in self.namespaces)

    @property
    def real_pod_problems(self) -> tuple[PodProblem, ...]:
        """The pod problems without the pods that are only starting."""
        return tuple(p for p in self.pod_problems if not p.starting)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        del data["healthy_pods"]  # counted per namespace already; the list is for finding one
        data["apps_total"] = len(self.apps)
        data["pods_total"] = self.pod_total
        return data
