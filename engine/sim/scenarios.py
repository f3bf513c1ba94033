"""Scenario files: the simulated cluster's size, its timings and its faults (YAML, camelCase).

A scenario either points at a platform config (`config:`, relative to the scenario file or the
repository's `examples/`) or describes a cluster by counts, from which an equivalent config is
built. All durations are virtual seconds.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, ClassVar, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.platform_checks import suggested_pool
from talos_platform.engine.errors import UserError

SCENARIO_DIR = Path(__file__).parent / "scenario_files"
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


class ScenarioModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", use_attribute_docstrings=True
    )


class ClusterShape(ScenarioModel):
    name: str = "homelab"
    """Cluster name used when the config is built from counts."""
    control_planes: int = Field(3, ge=1)
    workers: int = Field(3, ge=0)
    platform: Literal["metal", "docker"] = "metal"
    subnet: str = "10.0.0.0/16"
    """Private subnet the simulated nodes live in (never contacted: the simulator is in memory)."""


class Timings(ScenarioModel):
    """Virtual seconds each thing takes; jitter adds up to `jitter` of each value, seeded."""

    node_boot: float = 0.0
    """Virtual seconds after the start until a node's maintenance API answers (0: the machines
    were booted from the Talos image before the install, as the docs tell users to)."""
    install: float = 45.0
    """Writing Talos to the install disk after the config arrives."""
    reboot: float = 25.0
    etcd_start: float = 8.0
    api_server_start: float = 20.0
    etcd_join: float = 12.0
    kubelet_register: float = 10.0
    node_ready_after_cni: float = 6.0
    image_pull: float = 8.0
    container_start: float = 4.0
    argo_reconcile: float = 5.0
    """ArgoCD's refresh/sync loop tick."""
    progress_deadline: float = 600.0
    """A Deployment's progressDeadlineSeconds when its manifest sets none (Kubernetes' default)."""
    jitter: float = 0.3
    """Fraction of each timing added at random (seeded)."""


class Workloads(ScenarioModel):
    """Extra application load beyond the platform's own components (for scale)."""

    applications: int = Field(3, ge=0)
    """Layer-4 Applications the ApplicationSet generates."""
    pods_per_application: int = Field(2, ge=0)
    flows_per_second: float = Field(200.0, ge=0)
    drop_ratio: float = Field(0.0, ge=0, le=1)
    """Share of background flows that are dropped (policy or other reasons); a healthy cluster
    drops none, so this is for scenarios that show a noisy one."""
    ring_buffer: int = Field(4095, ge=1)
    """Hubble ring buffer size: a consumer further behind than this loses events."""
    lost_events_every: float = Field(0.0, ge=0)
    """Virtual seconds between lost-event notices (0 = only when a burst overflows)."""


FaultTime = Literal["install", "day 2", "operation"]
INSTALL: FaultTime = "install"
"""It happens during the install: an installed platform (the dashboard's) has it from the start."""
DAY_TWO: FaultTime = "day 2"
"""It happens to the running cluster after the hand-over (or the API server's first answer):
the simulator puts it on the fault timeline, so the screen can say it is coming."""
OPERATION: FaultTime = "operation"
"""Only a day-2 operation meets it (an upgrade, `node add`, a snapshot): the cluster looks healthy."""


class FaultModel(ScenarioModel):
    when: ClassVar[FaultTime]
    """When the fault shows (INSTALL, DAY_TWO or OPERATION)."""


class NodeStuckInMaintenance(FaultModel):
    when: ClassVar[FaultTime] = INSTALL
    type: Literal["nodeStuckInMaintenance"]
    node: str
    """Name of the node that falls back to maintenance mode after taking its config."""
    error: str = "install failed: disk not found"
    """What the node's console would show."""


class EtcdLearnerStuck(FaultModel):
    when: ClassVar[FaultTime] = DAY_TWO
    type: Literal["etcdLearnerStuck"]
    node: str
    """Name of the control plane whose etcd member joins as a learner and is never promoted
    (day 2: `node add` waits for the promotion, then says so)."""


class DrainBlocked(FaultModel):
    when: ClassVar[FaultTime] = OPERATION
    type: Literal["drainBlocked"]
    node: str
    """Name of the node whose drain a PodDisruptionBudget blocks (day 2: `node remove`, and
    `upgrade-talos`, whose drain fails before anything changed)."""
    pod: str = "apps/web-0"
    """The pod (`namespace/name`) the budget keeps from being evicted."""


class NodeDown(FaultModel):
    when: ClassVar[FaultTime] = DAY_TWO
    type: Literal["nodeDown"]
    node: str
    """Name of the node that loses power (day 2: it was running fine)."""
    after: float = 60.0
    """Virtual seconds after the Kubernetes API first answered, or after an installed platform
    was handed over."""


class NodePressure(FaultModel):
    when: ClassVar[FaultTime] = DAY_TWO
    type: Literal["nodePressure"]
    node: str
    """Name of the node that runs hot (day 2)."""
    conditions: list[Literal["MemoryPressure", "DiskPressure", "PIDPressure"]] = Field(default_factory=list)
    """Node conditions its kubelet reports True (it has crossed an eviction threshold)."""
    cpu_percent: float | None = Field(None, ge=0, le=100)
    """CPU load the node runs at (Talos reports it), instead of what its pods make."""
    memory_percent: float | None = Field(None, ge=0, le=100)
    after: float = 0.0
    """Virtual seconds after the Kubernetes API first answered, or after an installed platform
    was handed over."""


class EtcdAlarmRaised(FaultModel):
    when: ClassVar[FaultTime] = DAY_TWO
    type: Literal["etcdAlarm"]
    node: str
    """Control plane whose etcd member raises the alarm (day 2)."""
    alarm: Literal["NOSPACE", "CORRUPT"] = "NOSPACE"
    db_size_bytes: int = Field(2_040_000_000, ge=0)
    """Size its database has grown to (etcd's default quota is 2 GiB, 2,147,483,648 bytes)."""
    after: float = 0.0
    """Virtual seconds after the Kubernetes API first answered, or after an installed platform
    was handed over."""


class AppDegraded(FaultModel):
    when: ClassVar[FaultTime] = INSTALL
    type: Literal["appDegraded"]
    app: str
    """Application name (e.g. `cert-manager`) whose workload never becomes available."""


class CrashLoop(FaultModel):
    when: ClassVar[FaultTime] = INSTALL
    type: Literal["crashLoop"]
    namespace: str
    workload: str
    """Deployment, StatefulSet or DaemonSet name whose pods crash."""
    reason: Literal["OOMKilled", "Error"] = "OOMKilled"
    memory_limit: str = "256Mi"


class PodsPending(FaultModel):
    when: ClassVar[FaultTime] = INSTALL
    type: Literal["podsPending"]
    namespace: str
    workload: str
    """Deployment or StatefulSet whose pods the scheduler cannot place."""
    reason: Literal["unboundClaim", "insufficientMemory", "insufficientCpu"] = "unboundClaim"
    """`unboundClaim`: a PersistentVolumeClaim no storage class can bind; otherwise no node has room."""


class PodSecurityLabelMissing(FaultModel):
    when: ClassVar[FaultTime] = INSTALL
    type: Literal["podSecurityLabelMissing"]
    namespace: str
    """Namespace created without the PodSecurity label the render gives it (as renders before
    the label existed did, or after someone removed it): Talos' `baseline` level then applies."""


class DropBurst(FaultModel):
    when: ClassVar[FaultTime] = DAY_TWO
    type: Literal["dropBurst"]
    start: float = 5.0
    """Virtual seconds after Hubble Relay is ready."""
    duration: float = 20.0
    every: float = 0.0
    """Repeat the burst this often (virtual seconds); 0 = once."""
    flows_per_second: float = 800.0
    reason: str = "POLICY_DENIED"
    policy: str = ""
    """The deny policy Hubble names for these drops (`namespace/name`), when one denies them."""
    source_namespace: str = "apps"
    destination_namespace: str = "vault"
    destination_port: int = 8200


class UnexpectedCalls(FaultModel):
    when: ClassVar[FaultTime] = DAY_TWO
    type: Literal["unexpectedCalls"]
    """Pods of one namespace start calling a port of another that the platform never calls
    (an app probing Vault's cluster port, say). Unlike `dropBurst` the verdict is not scripted:
    the applied CiliumNetworkPolicies judge each flow, so it is dropped, naming the deny policy
    when one denies it, or forwarded when no policy guards the destination."""

    source_namespace: str
    destination_namespace: str
    destination_port: int
    start: float = 5.0
    """Virtual seconds after Hubble Relay is ready."""
    duration: float = 30.0
    every: float = 0.0
    """Repeat the calls this often (virtual seconds); 0 = once."""
    flows_per_second: float = 50.0


class ApiOutage(FaultModel):
    when: ClassVar[FaultTime] = DAY_TWO
    type: Literal["apiOutage"]
    trigger: Literal["apiUp", "firstApply"] = "firstApply"
    """`firstApply`: the API goes away when the engine first applies objects; `apiUp`: `delay`
    seconds after the API server first answers (or after an installed platform was handed over)."""
    delay: float = 0.0
    duration: float = 60.0


class ExtensionsOutsideConfig(FaultModel):
    when: ClassVar[FaultTime] = OPERATION
    type: Literal["extensionsOutsideConfig"]
    extensions: list[str]
    """Official names (`siderolabs/iscsi-tools`) the nodes' installed image carries besides the
    config's schematic: installed by hand, or from an older config."""
    nodes: list[str] = Field(default_factory=list)
    """Names of the nodes concerned; empty: every node."""


class UpgradeGoesWrong(FaultModel):
    when: ClassVar[FaultTime] = OPERATION
    type: Literal["upgradeGoesWrong"]
    node: str
    """Name of the node whose `talosctl upgrade` goes wrong."""
    what: Literal["rollsBack", "staysAway", "etcdStaysLearner", "etcdAlarm"]
    """`rollsBack`: the new version does not boot and the node comes back on its previous one
    (the A/B partitions), the command still reporting success; `staysAway`: the node never
    comes back from the reboot; `etcdStaysLearner` (a control plane): it comes back, but its etcd
    member rejoined as a learner and is never promoted; `etcdAlarm` (a control plane): it comes
    back and its etcd member raises `alarm`. (A drain a PodDisruptionBudget blocks is
    `drainBlocked`.)"""
    alarm: Literal["NOSPACE", "CORRUPT"] = "NOSPACE"
    """The alarm of `etcdAlarm`."""


class AppOutOfSync(FaultModel):
    when: ClassVar[FaultTime] = OPERATION
    type: Literal["appOutOfSync"]
    app: str
    """Application name (e.g. `blog`) that turns OutOfSync: a live object it manages changed
    outside Git, and it has no self-heal, so ArgoCD reports the drift and leaves it (it stays
    Healthy)."""
    after_upgrade_of: str = ""
    """The node whose return from its Talos upgrade makes the drift (an operator running there
    rewrites a field the app manages); empty: the app was OutOfSync before the operation began
    (a change made by hand)."""


class StorageRebuilds(FaultModel):
    when: ClassVar[FaultTime] = OPERATION
    type: Literal["storageRebuilds"]
    seconds: float = Field(45.0, gt=0)
    """Virtual seconds the storage cluster rebuilds after each node comes back from its upgrade.
    The cluster runs storage of its own (a Rook `CephCluster` `rook-ceph` in namespace
    `rook-ceph`, which the platform does not install): while it rebuilds its `Ready` condition is
    False, and the node being Ready says nothing about it (postfinance/topf#135)."""


class KubeletStalls(FaultModel):
    when: ClassVar[FaultTime] = OPERATION
    type: Literal["kubeletStalls"]
    node: str
    """Name of the node whose kubelet never reports the new version in `upgrade-kubernetes`:
    upgrade-k8s waits for its restart with nothing more to say (siderolabs/talos#6976, #13109)."""


class EtcdSnapshotDamaged(FaultModel):
    when: ClassVar[FaultTime] = OPERATION
    """Every etcd snapshot a control plane streams arrives with a byte changed (a failing disk or
    link): its checksum no longer matches, so it must be refused, and never restored from."""

    type: Literal["etcdSnapshotDamaged"]


class SlowApi(FaultModel):
    when: ClassVar[FaultTime] = DAY_TWO
    type: Literal["slowApi"]
    latency: float = Field(2.0, gt=0)
    """Virtual seconds a request takes on average while the API is slow (each one varies by up to
    +/-40%, seeded); a healthy simulated API answers in 0.05 s."""
    after: float = 0.0
    """Virtual seconds after the Kubernetes API first answered, or after an installed platform
    was handed over."""
    duration: float = Field(0.0, ge=0)
    """How long it stays slow (0: for good)."""


class DiskFull(FaultModel):
    when: ClassVar[FaultTime] = DAY_TWO
    type: Literal["diskFull"]
    node: str
    """Name of the node whose EPHEMERAL filesystem (the kubelet's `node.fs`) fills up."""
    percent: float = Field(97.0, ge=0, le=100)
    """How full it gets. At 90% or more the kubelet's default eviction threshold
    (`nodefs.available<10%`) is crossed: it reports DiskPressure."""
    after: float = 0.0
    """Virtual seconds after the Kubernetes API first answered, or after an installed platform
    was handed over."""


class AlertStorm(FaultModel):
    when: ClassVar[FaultTime] = DAY_TWO
    type: Literal["alertStorm"]
    alerts: int = Field(40, ge=1)
    """Alerts that start firing at once, about pods outside kube-*, monitoring and argocd (day 2)."""
    critical: int = Field(3, ge=0)
    """How many of them are critical."""
    silenced: int = Field(10, ge=0)
    """How many of them a silence covers (Alertmanager counts them, the pane does not list them)."""
    after: float = 30.0
    """Virtual seconds after the Kubernetes API first answered, or after an installed platform
    was handed over."""


Fault = Annotated[
    NodeStuckInMaintenance
    | EtcdLearnerStuck
    | DrainBlocked
    | NodeDown
    | NodePressure
    | EtcdAlarmRaised
    | AppDegraded
    | CrashLoop
    | PodsPending
    | PodSecurityLabelMissing
    | DropBurst
    | UnexpectedCalls
    | ApiOutage
    | ExtensionsOutsideConfig
    | UpgradeGoesWrong
    | AppOutOfSync
    | StorageRebuilds
    | KubeletStalls
    | EtcdSnapshotDamaged
    | SlowApi
    | DiskFull
    | AlertStorm,
    Field(discriminator="type"),
]
FaultT = TypeVar("FaultT")


class Scenario(ScenarioModel):
    name: str = ""
    description: str = ""
    config: str | None = None
    """Platform config file to use (relative to the scenario file, then to the repository's
    `examples/`); when absent or missing, `cluster` builds an equivalent config."""
    cluster: ClusterShape = Field(default_factory=ClusterShape)
    timings: Timings = Field(default_factory=Timings)
    workloads: Workloads = Field(default_factory=Workloads)
    faults: list[Fault] = Field(default_factory=list)
    gitops_repository: Literal["rendered", "empty"] = "rendered"
    """What the simulated GitOps remote holds at the start: the rendered tree for this config
    (as if pushed already; an install that pushes again makes no new commit), or nothing."""
    gitops_repository_without: list[str] = Field(default_factory=list)
    """Paths of the rendered tree (files or folders) the GitOps repository lacks, and that the
    kustomizations there no longer list: a repository holding a render from before those parts
    existed, and never pushed again."""
    seed: int = 1
    """Default seed (a `seed=` argument overrides it)."""

    def fault(self, kind: type[FaultT]) -> list[FaultT]:
        return [fault for fault in self.faults if isinstance(fault, kind)]

    def faults_of(self, when: FaultTime) -> list[FaultModel]:
        return [fault for fault in self.faults if fault.when == when]


class ScenarioInvalid(UserError):
    pass


def list_scenarios() -> list[str]:
    """Names of the shipped scenarios, sorted."""
    return sorted(path.stem for path in SCENARIO_DIR.glob("*.yaml"))


def scenario_path(scenario: str | Path) -> Path:
    path = Path(scenario)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return path
    shipped = SCENARIO_DIR / f"{scenario}.yaml"
    if shipped.exists():
        return shipped
    raise ScenarioInvalid(
        f"no scenario named {str(scenario)!r}",
        where="--scenario",
        hint=f"choose one of: {', '.join(list_scenarios())}, or give a path to a scenario YAML file",
    )


def load_scenario(scenario: str | Path) -> tuple[Scenario, Path]:
    path = scenario_path(scenario)
    try:
        data = yaml.safe_load(path.read_text()) or {}
        loaded = Scenario.model_validate(data)
    except (yaml.YAMLError, ValidationError) as error:
        raise ScenarioInvalid(f"scenario {path.name} is invalid: {error}", where=str(path)) from error
    if not loaded.name:
        loaded = loaded.model_copy(update={"name": path.stem})
    return loaded, path


def scenario_config(scenario: Scenario, scenario_file: Path) -> PlatformConfig:
    """The cluster config of a scenario: its config file when it exists, else built from counts."""
    if scenario.config:
        for candidate in (
            scenario_file.parent / scenario.config,
            REPOSITORY_ROOT / "examples" / Path(scenario.config).name,
        ):
            if candidate.exists():
                try:
                    return PlatformConfig.model_validate(yaml.safe_load(candidate.read_text()))
                except (yaml.YAMLError, ValidationError) as error:
                    raise ScenarioInvalid(
                        f"config {candidate} of scenario {scenario.name} is invalid: {error}"
                    ) from error
    return config_from_shape(scenario.cluster)


def config_from_shape(shape: ClusterShape) -> PlatformConfig:
    network = ipaddress.ip_network(shape.subnet)
    hosts = network.hosts()
    vip = str(next(hosts)) if shape.platform == "metal" and shape.control_planes > 1 else None
    if shape.platform == "metal":
        for _ in range(9):  # keep .2-.10 free, like a router and DHCP would
            next(hosts)
    else:
        next(hosts)  # docker: the gateway has .1, talosctl gives the control plane .2
    nodes = []
    for index in range(shape.control_planes):
        nodes.append(
            {
                "name": f"cp-{index + 1}",
                "address": f"{next(hosts)}/{network.prefixlen}",
                "role": "control-plane",
                "link": "eth0",
            }
        )
    for index in range(shape.workers):
        nodes.append(
            {
                "name": f"worker-{index + 1}",
                "address": f"{next(hosts)}/{network.prefixlen}",
                "role": "worker",
                "link": "eth0",
            }
        )
    if shape.platform == "metal":
        # Static node addresses need a default route: the router sits at the top of the subnet.
        cluster_network = {"gateway": str(network.broadcast_address - 1)}
    else:
        cluster_network = {}
        for node in nodes:
            node.pop("link")
    config = PlatformConfig.model_validate(
        {
            "cluster": {"name": shape.name, "platform": shape.platform, "vip": vip, "network": cluster_network},
            "nodes": nodes,
            "domain": {"base": "example.com", "acmeEmail": "admin@example.com"},
            "gitops": {"repoUrl": "https://git.example.com/platform/gitops.git"},
        }
    )
    # Addresses for LoadBalancer Services at the top of the subnet, as the wizard suggests them.
    config.cluster.network.load_balancer_pool = suggested_pool(config)
    return config
