"""Protocols for every outside system. Real implementations run talosctl/kubectl/git through
one process runner, use the `kubernetes` client for reads and watches, and grpcio for Hubble
Relay; the simulator implements the same protocols in memory.

Kubernetes objects travel as plain dicts shaped exactly like the API's JSON, so code that reads
them (steps, the observe layer) is the same for the real cluster and the simulator.
"""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from talos_platform.engine.errors import PermanentError

# --- Kubernetes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    """A Kubernetes resource type, addressed like the API does."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


NODES = Resource("", "v1", "nodes", "Node", namespaced=False)
PODS = Resource("", "v1", "pods", "Pod")
EVENTS = Resource("", "v1", "events", "Event")
SECRETS = Resource("", "v1", "secrets", "Secret")
NAMESPACES = Resource("", "v1", "namespaces", "Namespace", namespaced=False)
DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment")
DAEMONSETS = Resource("apps", "v1", "daemonsets", "DaemonSet")
STATEFULSETS = Resource("apps", "v1", "statefulsets", "StatefulSet")
CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", namespaced=False)
APPLICATIONS = Resource("argoproj.io", "v1alpha1", "applications", "Application")
APPLICATIONSETS = Resource("argoproj.io", "v1alpha1", "applicationsets", "ApplicationSet")


@dataclass(frozen=True)
class WatchEvent:
    """One change seen by a watch: `ADDED`, `MODIFIED`, `DELETED`, or `BOOKMARK`."""

    type: str
    object: dict[str, Any]


class WatchExpired(Exception):
    """The resourceVersion is too old (HTTP 410 Gone): list again, then watch from there."""


@dataclass(frozen=True)
class ObjectList:
    items: list[dict[str, Any]]
    resource_version: str


class AccessDenied(PermanentError):
    """The API server refused the request (HTTP 401/403): the credentials are not allowed it."""


class Kube(Protocol):
    async def list(self, resource: Resource, namespace: str | None = None, label_selector: str = "") -> ObjectList: ...

    def watch(
        self, resource: Resource, resource_version: str, namespace: str | None = None, timeout_seconds: int = 300
    ) -> AsyncIterator[WatchEvent]:
        """Stream changes after `resource_version`; raises WatchExpired on 410, ConnectionError
        when the connection drops (callers relist/reconnect with backoff)."""
        ...

    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> dict[str, Any] | None: ...

    async def read_path(self, path: str) -> str:
        """GET a path that is no resource (`/metrics`, `/api/v1/nodes/NAME/proxy/stats/summary`)
        and return the body as text; raises AccessDenied when RBAC refuses it."""
        ...

    async def secret_digests(self, name: str, namespace: str) -> dict[str, str] | None:
        """Key -> `secret_digest` of each `data` value (base64, as the API gives it) of a Secret;
        None when there is no such Secret. A check compares these, never holding the values."""
        ...

    def pod_log(
        self,
        namespace: str,
        name: str,
        container: str = "",
        *,
        previous: bool = False,
        tail_lines: int = 500,
        follow: bool = False,
    ) -> AsyncIterator[str]:
        """A container's log, line by line, as `kubectl logs` reads it: the last `tail_lines`,
        then with `follow` each new line until the container stops. `container` empty: the pod's
        only (first) one; `previous`: the instance that ran before a restart (`--previous`).
        Raises PermanentError with the API's reason when there is no such log (the container
        waits to start, no previous instance, no such pod)."""
        ...

    async def apply_kustomization(self, path: Path) -> builtins.list[str]:
        """Server-side apply of a kustomization directory; returns the applied object names."""
        ...

    async def apply_objects(self, objects: builtins.list[dict[str, Any]]) -> builtins.list[str]:
        """Server-side apply of objects (may hold Secrets: never logged)."""
        ...

    async def cordon_node(self, name: str) -> None:
        """`kubectl cordon`: no new pods are scheduled onto the node."""
        ...

    async def drain_node(self, name: str, timeout: float, *, disable_eviction: bool = False) -> None:
        """`kubectl drain` (DaemonSet pods stay, emptyDir data is let go): evicts every other pod,
        honouring PodDisruptionBudgets; raises EvictionRefused when a budget blocks it.
        `disable_eviction`: deletes the pods instead (`--disable-eviction`), bypassing every budget."""
        ...

    async def uncordon_node(self, name: str) -> None:
        """`kubectl uncordon`: pods may be scheduled onto the node again."""
        ...

    async def annotate_node(self, name: str, key: str, value: str | None) -> None:
        """`kubectl annotate node NAME key=value --overwrite`; `value` None removes the annotation
        (`key-`), and removing one the node does not carry is not an error."""
        ...

    async def delete_node(self, name: str) -> None:
        """`kubectl delete node`; a Node already gone is not an error."""
        ...

    async def apply_secret_keys(self, name: str, namespace: str, data: dict[str, str], field_manager: str) -> None:
        """Server-side apply of only these keys (plain values; base64 on the wire, never logged)
        into the Secret, as `field_manager`, a manager of their own: the keys are taken over from
        any other writer, every other key, label and owner of the Secret stays as it is."""
        ...

    async def delete(self, resource: Resource, name: str, namespace: str | None = None) -> None:
        """`kubectl delete` of one object; one already gone is not an error."""
        ...


# --- Talos ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EtcdSnapshot:
    """What `talosctl etcd snapshot` reports about the snapshot it saved."""

    size: int
    """Bytes written."""
    etcd_hash: str
    """etcd's hash of the key space (8 hex digits)."""
    revision: int
    total_keys: int


@dataclass(frozen=True)
class TalosNodeFacts:
    """What the Talos API tells about one node."""

    address: str
    reachable: bool
    maintenance: bool = False
    """True while the node waits for its first config (insecure maintenance API)."""
    stage: str = ""
    """Machine stage: `maintenance`, `installing`, `booting`, `running`, `rebooting`, ..."""
    cluster_name: str = ""
    talos_version: str = ""
    kubernetes_version: str = ""
    disks: tuple[str, ...] = ()
    cpu_percent: float | None = None
    memory_percent: float | None = None
    error: str = ""


@dataclass(frozen=True)
class EtcdMember:
    """One member of the etcd cluster, as `talosctl etcd members` lists it."""

    member_id: str
    """16 hex digits, as talosctl prints member IDs."""
    hostname: str
    """The member's name; Talos names it after the node's hostname (empty while a learner that
    was added has not started)."""
    peer_urls: tuple[str, ...] = ()
    client_urls: tuple[str, ...] = ()
    learner: bool = False


@dataclass(frozen=True)
class EtcdMemberStatus:
    """The status of the etcd member on one control plane, as `talosctl etcd status` reports it."""

    member_id: str
    db_size: int
    """Bytes of the database file (talosctl prints it rounded in SI units, e.g. `83 MB`)."""
    db_size_in_use: int
    """Bytes of the database in use; the rest is free pages a defragmentation would give back."""
    leader: str
    """Member ID of the leader as this member knows it (`0000000000000000`: none)."""
    raft_index: int
    raft_term: int
    raft_applied_index: int
    learner: bool = False
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class EtcdAlarm:
    """An active etcd alarm (`talosctl etcd alarm list`)."""

    member_id: str
    alarm: str
    """`NOSPACE` (the database reached its quota: etcd takes no more writes) or `CORRUPT`."""


@dataclass(frozen=True)
class EtcdHealth:
    """etcd as one control plane's Talos API reports it: its own member, the member list as it
    sees it, the cluster's active alarms and its database quota."""

    address: str
    status: EtcdMemberStatus | None = None
    members: tuple[EtcdMember, ...] = ()
    alarms: tuple[EtcdAlarm, ...] = ()
    quota_bytes: int | None = None
    """`quota-backend-bytes` from the node's etcd spec (`extraArgs` of `talosctl get etcdspecs`);
    None when it sets none, and etcd's default quota applies."""
    error: str = ""
    """Why (part of) it could not be read; the parts that were read are kept."""


class AlreadyBootstrapped(PermanentError):
    """The node refused `bootstrap` because its etcd already holds data (gRPC AlreadyExists):
    a bootstrap happened before. Never retried; the bootstrap step takes it as done."""


class Talos(Protocol):
    async def client_version(self) -> str: ...

    async def node_facts(self, address: str, *, insecure: bool) -> TalosNodeFacts:
        """Never raises for an unreachable node: returns reachable=False with the error."""
        ...

    async def generate_secrets(self, destination: Path) -> None: ...

    async def generate_config(
        self,
        *,
        cluster_name: str,
        endpoint: str,
        secrets: Path,
        talos_version: str,
        kubernetes_version: str,
        patches_all: Path,
        patches_control_plane: Path,
        patches_worker: Path,
        output_dir: Path,
    ) -> None: ...

    async def apply_config(
        self, address: str, config_file: Path, *, insecure: bool, patches: tuple[Path, ...] = ()
    ) -> None:
        """Send `config_file` to the node, with `patches` (per-node patch files) applied on top
        locally first. `insecure` = the node is in maintenance mode (no client certificate)."""
        ...

    async def set_endpoints(self, talosconfig: Path, endpoints: list[str], nodes: list[str]) -> None: ...

    async def etcd_members(self, address: str, talosconfig: Path) -> list[str]:
        """Member names; empty when etcd does not run yet (not bootstrapped)."""
        ...

    async def etcd_health(self, address: str) -> EtcdHealth:
        """etcd on control plane `address`, as `talosctl etcd status`, `etcd members`, `etcd alarm
        list` and `get etcdspecs` report it (the dashboard's driver asks the same Talos API calls
        over the node's gRPC connection). Never raises for a node or an etcd that does not answer:
        returns what it could read, with the error."""
        ...

    async def etcd_member_list(self, address: str, talosconfig: Path) -> list[EtcdMember]:
        """Every member as control plane `address` sees it, with its ID and whether it is a
        learner; raises TransientError when the node cannot tell."""
        ...

    async def etcd_remove_member(self, address: str, talosconfig: Path, member_id: str) -> None:
        """`talosctl etcd remove-member ID` through control plane `address` (another member)."""
        ...

    async def reset_node(self, address: str, talosconfig: Path) -> None:
        """`talosctl reset --graceful`: the node cordons and drains itself, leaves etcd (a control
        plane), wipes its disks and halts."""
        ...

    async def bootstrap(self, address: str, talosconfig: Path) -> None:
        """Bootstrap etcd on `address`; raises AlreadyBootstrapped when the node answers that
        etcd already has data."""
        ...

    async def upgrade_talos(self, address: str, talosconfig: Path, image: str) -> None:
        """`talosctl upgrade --image` of one node with the node as endpoint: drain, install,
        reboot, uncordon; returns once the node is back (its version is the caller's to check)."""
        ...

    async def upgrade_kubernetes(self, address: str, talosconfig: Path, to: str, *, dry_run: bool) -> None:
        """`talosctl upgrade-k8s --to` through control plane `address`: control-plane components,
        then every kubelet; its progress is the command's output. `dry_run` only shows the plan."""
        ...

    async def etcd_snapshot(self, address: str, talosconfig: Path, destination: Path) -> EtcdSnapshot:
        """Stream the etcd database of control plane `address` into `destination` (written
        whole or not at all), as `talosctl etcd snapshot` does."""
        ...

    async def etcd_service_state(self, address: str, talosconfig: Path) -> str:
        """The state of control plane `address`'s etcd service as `talosctl service etcd` shows it:
        `Running`, or `Preparing` while it waits for a bootstrap (or to join). Raises
        TransientError when the node does not answer."""
        ...

    async def reset_ephemeral(self, address: str, talosconfig: Path) -> None:
        """`talosctl reset --system-labels-to-wipe EPHEMERAL --reboot --graceful=false`: etcd's data
        and the kubelet's state on the node are wiped, and it reboots with its config kept."""
        ...

    async def bootstrap_recover(
        self, address: str, talosconfig: Path, snapshot: Path, *, skip_hash_check: bool
    ) -> None:
        """`talosctl bootstrap --recover-from SNAPSHOT` on a control plane whose etcd waits in
        Preparing: etcd starts from the snapshot. Raises AlreadyBootstrapped as `bootstrap` does."""
        ...

    async def kubeconfig(self, address: str, talosconfig: Path, destination: Path) -> None: ...

    async def address_answers(self, address: str) -> bool:
        """True when something at `address` accepts a TCP connection on the Talos API (50000) or
        Kubernetes API (6443) port, or answers a ping, within a few seconds. Used to refuse a VIP
        already in use."""
        ...

    async def create_docker_cluster(
        self,
        *,
        cluster_name: str,
        talos_version: str,
        kubernetes_version: str,
        workers: int,
        patches_all: Path,
        patches_control_plane: Path,
        patches_worker: Path,
        talosconfig: Path,
    ) -> None:
        """Create a local cluster of Talos containers (one control plane, `workers` workers),
        bootstrapped, with its client config written to `talosconfig`. The first control plane
        gets the second address of the Docker network (10.5.0.2 in talosctl's default
        10.5.0.0/24; the real driver picks the network from the config's control plane)."""
        ...


# --- Hubble -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowEndpoint:
    namespace: str = ""
    pod_name: str = ""
    identity: int = 0
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Flow:
    time: float
    verdict: str
    """`FORWARDED`, `DROPPED`, `ERROR` or `AUDIT`."""
    source: FlowEndpoint
    destination: FlowEndpoint
    source_ip: str = ""
    destination_ip: str = ""
    protocol: str = ""
    destination_port: int = 0
    node_name: str = ""
    drop_reason: str = ""
    is_reply: bool = False
    policy: str = ""
    """The deny policy that dropped the flow (`namespace/name`, or the name of a clusterwide one),
    when Hubble names it (`egress_denied_by`/`ingress_denied_by`)."""


@dataclass(frozen=True)
class LostEvents:
    """The server dropped `count` flows (its ring buffer overflowed): shown, never hidden."""

    count: int
    source: str = ""
    time: float = 0.0


@dataclass(frozen=True)
class HubbleServerStatus:
    """Hubble Relay's ServerStatus: counts added up over the nodes it reaches."""

    flows_rate: float = 0.0
    """Flows per second, over the last minute."""
    seen_flows: int = 0
    num_flows: int = 0
    max_flows: int = 0
    connected_nodes: int | None = None
    unavailable_nodes: int | None = None
    unavailable_node_names: tuple[str, ...] = ()
    """Relay may not list every unavailable node; `unavailable_nodes` is the count."""
    version: str = ""


@dataclass(frozen=True)
class FlowFilter:
    namespace: str = ""
    pod: str = ""
    verdict: str = ""


class Hubble(Protocol):
    def flows(
        self, *, follow: bool = True, first: int = 0, flow_filter: FlowFilter | None = None
    ) -> AsyncIterator[Flow | LostEvents]:
        """Stream flows (and lost-event notices) from Hubble Relay's Observer API."""
        ...

    async def server_status(self) -> HubbleServerStatus:
        """Relay's ServerStatus: flow rate and which nodes' Hubble it cannot reach."""
        ...


# --- Alertmanager ------------------------------------------------------------------------------


class AlertmanagerMissing(Exception):
    """There is no Alertmanager to ask (its Service does not exist): not installed, not an outage."""


class Alertmanager(Protocol):
    source: str
    """Where it is read, for messages (`monitoring/monitoring-kube-prometheus-alertmanager`)."""

    async def alerts(self) -> builtins.list[dict[str, Any]]:
        """Every alert Alertmanager holds, active, silenced and inhibited (`GET /api/v2/alerts`),
        as its JSON (`gettableAlerts`). Raises AlertmanagerMissing when it is not installed,
        another exception (with the reason) when it does not answer."""
        ...


# --- Git, Vault -------------------------------------------------------------------------------


class Git(Protocol):
    async def publish(self, tree: Path, repo_url: str, branch: str, path: str, message: str) -> str:
        """Commit `tree` under `path` on `branch` and push; returns the commit id. Idempotent:
        an unchanged tree makes no new commit."""
        ...


@dataclass(frozen=True)
class VaultStatus:
    initialized: bool
    sealed: bool


class Vault(Protocol):
    async def status(self) -> VaultStatus: ...

    async def initialize(self, key_shares: int, key_threshold: int) -> dict[str, Any]:
        """Returns {'unseal_keys': [...], 'root_token': ...}; the caller stores it 0600."""
        ...

    async def unseal(self, key: str) -> VaultStatus: ...

    async def enable_kubernetes_auth(self, token: str) -> None: ...

    async def write_secret(self, token: str, path: str, data: dict[str, str]) -> None: ...

    async def kubernetes_auth(self, token: str) -> dict[str, Any] | None:
        """What `enable_kubernetes_auth` set up, as Vault holds it: the operator's role settings
        (`bound_service_account_names`, `bound_service_account_namespaces`, `audience`,
        `token_policies`, ...) plus the auth method's `kubernetes_host`; None while the auth
        method, its config, the role, the KV mount or the read policy is missing."""
        ...

    async def secret_digests(self, token: str, path: str) -> dict[str, str] | None:
        """Field -> `secret_digest(value)` of what is stored at `path` (KV version 2); None when
        nothing is. Only digests leave the driver, so a check can compare without a value."""
        ...

    async def wipe_storage(self) -> None:
        """Delete Vault's data volume claim and its pod, so its StatefulSet starts it again with
        empty storage: uninitialised. Everything stored in Vault is gone. Only for the recovery
        of an init whose answer was lost (see layers/platform.py)."""
        ...


def secret_digest(value: str) -> str:
    """The SHA-256 of a secret value, for comparing without holding or showing it."""
    return hashlib.sha256(value.encode()).hexdigest()


# --- Local tools --------------------------------------------------------------------------------


class Tools(Protocol):
    async def version(self, tool: str) -> str:
        """Client version of a local tool (`talosctl`, `kubectl`, `helm`), e.g. `v1.11.5`;
        an empty string when the tool is not installed (never raises for a missing tool)."""
        ...

    async def gate(self, command: str, env: dict[str, str], timeout: float) -> GateResult:
        """Run the user's gate `command` in `sh -c` on this machine with `env` added; passed when
        it exits 0 within `timeout` seconds."""
        ...


@dataclass(frozen=True)
class GateResult:
    passed: bool
    said: str
    """Its last line of output (standard error first), or why it did not run to the end."""


@dataclass
class Drivers:
    """Every outside system a step may use. The simulator provides in-memory ones."""

    talos: Talos
    kube: Kube
    hubble: Hubble | None = None
    alertmanager: Alertmanager | None = None
    """Firing alerts for the dashboard; None: nothing to read them from."""
    git: Git | None = None
    vault: Vault | None = None
    tools: Tools | None = None
    """Local tool versions for the preflight; None skips that check (talosctl is still asked)."""
    simulated: bool = False
    """Only for labelling output as a simulation; the engine never branches on it."""
    extra: dict[str, Any] = field(default_factory=dict)
