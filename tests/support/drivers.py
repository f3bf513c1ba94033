"""Fakes of the driver protocols (engine/drivers/protocols.py) for table-driven tests.

The `Fake*` classes implement a whole protocol: each holds the facts a test gives it and records
every call, so a test can assert the exact calls (or that there were none). The `Scripted*` and
`RaisingTalos` replay scripts for the live views' edge cases and implement only the reads those
use. tests/unit/test_protocol_conformance.py holds every class here to its protocol's signatures.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from talos_platform.engine.drivers.process import ProcessRunner, run_gate
from talos_platform.engine.drivers.protocols import (
    SECRETS,
    EtcdHealth,
    EtcdMember,
    EtcdSnapshot,
    GateResult,
    HubbleServerStatus,
    ObjectList,
    Resource,
    TalosNodeFacts,
    VaultStatus,
    WatchEvent,
    secret_digest,
)
from talos_platform.engine.errors import EvictionRefused, PermanentError, StepError, TransientError


def maintenance(address: str, disks: tuple[str, ...] = ("/dev/sda", "/dev/nvme0n1")) -> TalosNodeFacts:
    return TalosNodeFacts(address=address, reachable=True, maintenance=True, stage="maintenance", disks=disks)


def configured(address: str, cluster: str = "demo", stage: str = "running") -> TalosNodeFacts:
    return TalosNodeFacts(address=address, reachable=True, stage=stage, cluster_name=cluster)


def unreachable(address: str, error: str = "connection refused") -> TalosNodeFacts:
    return TalosNodeFacts(address=address, reachable=False, error=error)


FAKE_BUNDLE = """cluster: {id: fake-id, secret: fake}
secrets: {bootstraptoken: fake, secretboxencryptionsecret: fake}
trustdinfo: {token: fake}
certs:
  etcd: {crt: fake, key: fake}
  k8s: {crt: fake, key: fake}
  k8saggregator: {crt: fake, key: fake}
  k8sserviceaccount: {key: fake}
  os: {crt: fake, key: fake}
"""


@dataclass
class FakeTalos:
    """Implements `Talos` from tables of facts; records every call (`changes()`: the writes)."""

    insecure: dict[str, TalosNodeFacts] = field(default_factory=dict)
    """What the maintenance API says per address (missing: unreachable)."""
    upgrade_errors: list[StepError] = field(default_factory=list)
    """What the next `upgrade_talos` calls raise, one each, in order."""
    secure: dict[str, TalosNodeFacts] = field(default_factory=dict)
    """What the API says with our talosconfig per address (missing: unreachable)."""
    etcd: dict[str, list[str]] = field(default_factory=dict)
    etcd_healths: dict[str, EtcdHealth] = field(default_factory=dict)
    """What each control plane says about its etcd (missing: its etcd does not answer)."""
    members: dict[str, list[EtcdMember]] = field(default_factory=dict)
    """What `etcd_member_list` answers per control-plane address (missing: it cannot tell)."""
    reset_fails: str = ""
    """When set, `reset_node` fails with this message."""
    answering: set[str] = field(default_factory=set)
    version: str = "v1.11.5"
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def changes(self) -> list[tuple[Any, ...]]:
        """Calls that change something (facts reads left out)."""
        reads = {
            "node_facts",
            "etcd_members",
            "etcd_member_list",
            "etcd_service_state",
            "etcd_health",
            "client_version",
            "address_answers",
        }
        return [call for call in self.calls if call[0] not in reads]

    async def client_version(self) -> str:
        self.calls.append(("client_version",))
        return self.version

    async def node_facts(self, address: str, *, insecure: bool) -> TalosNodeFacts:
        self.calls.append(("node_facts", address, insecure))
        table = self.insecure if insecure else self.secure
        return table.get(address) or unreachable(address)

    async def generate_secrets(self, destination: Path) -> None:
        self.calls.append(("generate_secrets", destination))
        destination.write_text(FAKE_BUNDLE)

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
    ) -> None:
        arguments = dict(locals())
        del arguments["self"]
        self.calls.append(("generate_config", arguments))
        for name in ("controlplane.yaml", "worker.yaml"):
            # As gen config writes them: the control plane holds the key that encrypts Secrets at rest.
            key = "cluster:\n  secretboxEncryptionSecret: not-a-real-key\n" if name == "controlplane.yaml" else ""
            (output_dir / name).write_text(f"# {name} for {talos_version}\n{key}")
        (output_dir / "talosconfig").write_text("context: demo\ncontexts:\n  demo:\n    endpoints: []\n")

    async def apply_config(
        self, address: str, config_file: Path, *, insecure: bool, patches: tuple[Path, ...] = ()
    ) -> None:
        self.calls.append(("apply_config", address, config_file, insecure, patches))

    async def set_endpoints(self, talosconfig: Path, endpoints: list[str], nodes: list[str]) -> None:
        self.calls.append(("set_endpoints", talosconfig, endpoints, nodes))

    async def etcd_members(self, address: str, talosconfig: Path) -> list[str]:
        self.calls.append(("etcd_members", address))
        return list(self.etcd.get(address, []))

    async def etcd_health(self, address: str) -> EtcdHealth:
        self.calls.append(("etcd_health", address))
        return self.etcd_healths.get(address) or EtcdHealth(address, error="etcd is not running on this node")

    async def etcd_member_list(self, address: str, talosconfig: Path) -> list[EtcdMember]:
        self.calls.append(("etcd_member_list", address))
        if address not in self.members:
            raise TransientError(f"could not list etcd members on {address}: connection refused")
        return list(self.members[address])

    async def etcd_remove_member(self, address: str, talosconfig: Path, member_id: str) -> None:
        self.calls.append(("etcd_remove_member", address, member_id))
        for members in self.members.values():
            members[:] = [m for m in members if m.member_id != member_id]

    async def reset_node(self, address: str, talosconfig: Path) -> None:
        self.calls.append(("reset_node", address))
        if self.reset_fails:
            raise PermanentError(f"talosctl reset of {address} failed: {self.reset_fails}")
        self.secure.pop(address, None)

    async def bootstrap(self, address: str, talosconfig: Path) -> None:
        self.calls.append(("bootstrap", address))
        self.etcd[address] = ["cp-1"]

    async def upgrade_talos(self, address: str, talosconfig: Path, image: str) -> None:
        self.calls.append(("upgrade_talos", address, image))
        if self.upgrade_errors:
            raise self.upgrade_errors.pop(0)

    async def upgrade_kubernetes(self, address: str, talosconfig: Path, to: str, *, dry_run: bool) -> None:
        self.calls.append(("upgrade_kubernetes", address, to, dry_run))

    async def etcd_snapshot(self, address: str, talosconfig: Path, destination: Path) -> EtcdSnapshot:
        """A page of zeros with etcd's checksum appended: a file that passes the check."""
        self.calls.append(("etcd_snapshot", address, destination))
        database = b"\0" * 512
        destination.write_bytes(database + hashlib.sha256(database).digest())
        return EtcdSnapshot(size=512 + 32, etcd_hash="00000000", revision=1, total_keys=0)

    async def etcd_service_state(self, address: str, talosconfig: Path) -> str:
        self.calls.append(("etcd_service_state", address))
        return "Running" if self.etcd.get(address) else "Preparing"

    async def reset_ephemeral(self, address: str, talosconfig: Path) -> None:
        self.calls.append(("reset_ephemeral", address))
        self.etcd.pop(address, None)

    async def bootstrap_recover(
        self, address: str, talosconfig: Path, snapshot: Path, *, skip_hash_check: bool
    ) -> None:
        self.calls.append(("bootstrap_recover", address, snapshot, skip_hash_check))
        self.etcd[address] = ["cp-1"]

    async def kubeconfig(self, address: str, talosconfig: Path, destination: Path) -> None:
        self.calls.append(("kubeconfig", address, destination))
        destination.write_text("apiVersion: v1\n")

    async def address_answers(self, address: str) -> bool:
        self.calls.append(("address_answers", address))
        return address in self.answering

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
        arguments = dict(locals())
        del arguments["self"]
        self.calls.append(("create_docker_cluster", arguments))


def answer_path(paths: dict[str, str | Exception], path: str) -> str:
    answer = paths.get(path)
    if answer is None:
        raise PermanentError(f"GET {path}: the API server answered 404: not found")
    if isinstance(answer, Exception):
        raise answer
    return answer


def key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


@dataclass
class FakeKube:
    """Objects by resource plural; `later(...)` queues watch events delivered after the list."""

    objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = field(default_factory=dict)
    pending: dict[str, list[WatchEvent]] = field(default_factory=dict)
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    applied: list[dict[str, Any]] = field(default_factory=list)
    kustomization_names: list[str] = field(default_factory=list)
    drain_blocked: str = ""
    """When set, `drain_node` fails with this message (a PodDisruptionBudget in the way)."""
    version: int = 1
    paths: dict[str, str | Exception] = field(default_factory=dict)
    """What `read_path` answers per path (an exception is raised); other paths are not found."""
    logs: dict[tuple[str, str, str, bool], list[str]] = field(default_factory=dict)
    """(namespace, pod, container, previous) -> its log lines."""
    later_logs: dict[tuple[str, str, str, bool], list[str]] = field(default_factory=dict)

    def put(self, resource: Resource, *objects: dict[str, Any]) -> FakeKube:
        for obj in objects:
            self.objects.setdefault(resource.plural, {})[key(obj)] = obj
        return self

    def later(self, resource: Resource, *objects: dict[str, Any], type: str = "MODIFIED") -> FakeKube:
        self.pending.setdefault(resource.plural, []).extend(WatchEvent(type, obj) for obj in objects)
        return self

    async def list(self, resource: Resource, namespace: str | None = None, label_selector: str = "") -> ObjectList:
        self.calls.append(("list", resource.plural, namespace))
        items = [o for (ns, _), o in self.objects.get(resource.plural, {}).items() if namespace in (None, ns)]
        return ObjectList(items=items, resource_version=str(self.version))

    async def watch(
        self, resource: Resource, resource_version: str, namespace: str | None = None, timeout_seconds: int = 300
    ):
        self.calls.append(("watch", resource.plural, resource_version))
        events = self.pending.pop(resource.plural, [])
        for event in events:
            await asyncio.sleep(0)
            self.put(resource, event.object)
            if namespace in (None, key(event.object)[0]):
                yield event
        # A quiet watch: nothing more happens until the caller gives up.
        await asyncio.Event().wait()

    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        self.calls.append(("get", resource.plural, namespace, name))
        return self.objects.get(resource.plural, {}).get((namespace or "", name))

    async def read_path(self, path: str) -> str:
        self.calls.append(("read_path", path))
        return answer_path(self.paths, path)

    async def secret_digests(self, name: str, namespace: str) -> dict[str, str] | None:
        secret = await self.get(SECRETS, name, namespace)
        return None if secret is None else {k: secret_digest(v) for k, v in (secret.get("data") or {}).items()}

    async def pod_log(
        self,
        namespace: str,
        name: str,
        container: str = "",
        *,
        previous: bool = False,
        tail_lines: int = 500,
        follow: bool = False,
    ):
        """Lines from `logs[(namespace, name, container, previous)]` (container "" for the default);
        a followed log then waits for `later_logs` of that key, put there while it runs."""
        self.calls.append(("pod_log", namespace, name, container, previous, follow))
        wanted = (namespace, name, container, previous)
        if wanted not in self.logs:
            raise PermanentError(f'no log of container "{container}" in pod "{name}"')
        for line in self.logs[wanted][-tail_lines:]:
            yield line
        while follow:
            await asyncio.sleep(0.01)
            pending = self.later_logs.pop(wanted, [])
            self.logs[wanted].extend(pending)
            for line in pending:
                yield line

    async def apply_kustomization(self, path: Path) -> list[str]:
        self.calls.append(("apply_kustomization", path))
        return list(self.kustomization_names)

    async def cordon_node(self, name: str) -> None:
        self.calls.append(("cordon_node", name))
        node = self.objects.get("nodes", {}).get(("", name))
        if node is not None:
            node.setdefault("spec", {})["unschedulable"] = True

    async def drain_node(self, name: str, timeout: float, *, disable_eviction: bool = False) -> None:
        self.calls.append(("drain_node", name, *(["--disable-eviction"] if disable_eviction else [])))
        if self.drain_blocked and not disable_eviction:
            raise EvictionRefused(f"kubectl drain {name} did not finish: {self.drain_blocked}")
        node = self.objects.get("nodes", {}).get(("", name))
        if node is not None:  # kubectl drain cordons first
            node.setdefault("spec", {})["unschedulable"] = True

    async def uncordon_node(self, name: str) -> None:
        self.calls.append(("uncordon_node", name))
        node = self.objects.get("nodes", {}).get(("", name))
        if node is not None:
            node.setdefault("spec", {}).pop("unschedulable", None)

    async def annotate_node(self, name: str, key: str, value: str | None) -> None:
        self.calls.append(("annotate_node", name, key, *([] if value is None else [value])))
        node = self.objects.get("nodes", {}).get(("", name))
        if node is not None:
            annotations = node.setdefault("metadata", {}).setdefault("annotations", {})
            if value is None:
                annotations.pop(key, None)
            else:
                annotations[key] = value

    async def delete_node(self, name: str) -> None:
        self.calls.append(("delete_node", name))
        self.objects.get("nodes", {}).pop(("", name), None)

    async def apply_secret_keys(self, name: str, namespace: str, data: dict[str, str], field_manager: str) -> None:
        """Merges the keys into the Secret (made when missing), as a manager of their own would."""
        self.calls.append(("apply_secret_keys", namespace, name, sorted(data), field_manager))
        secrets = self.objects.setdefault(SECRETS.plural, {})
        secret = secrets.get((namespace, name)) or {"metadata": {"name": name, "namespace": namespace}}
        encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
        secrets[(namespace, name)] = {**secret, "data": {**(secret.get("data") or {}), **encoded}}

    async def delete(self, resource: Resource, name: str, namespace: str | None = None) -> None:
        self.calls.append(("delete", resource.plural, namespace, name))
        self.objects.get(resource.plural, {}).pop((namespace or "", name), None)

    async def apply_objects(self, objects: list[dict[str, Any]]) -> list[str]:
        self.calls.append(("apply_objects", [f"{o['kind']}/{key(o)[0]}/{key(o)[1]}" for o in objects]))
        self.applied.extend(objects)
        return [f"{o['kind'].lower()}/{key(o)[1]}" for o in objects]


@dataclass
class FakeVault:
    initialized: bool = False
    sealed: bool = True
    keys: list[str] = field(default_factory=lambda: ["key-1", "key-2", "key-3", "key-4", "key-5"])
    threshold: int = 3
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    accepted: int = 0
    auth: dict[str, Any] | None = None
    stored: dict[str, dict[str, str]] = field(default_factory=dict)

    async def status(self) -> VaultStatus:
        self.calls.append(("status",))
        return VaultStatus(self.initialized, self.sealed)

    async def initialize(self, key_shares: int, key_threshold: int) -> dict[str, Any]:
        self.calls.append(("initialize", key_shares, key_threshold))
        self.initialized = True
        return {"unseal_keys": self.keys[:key_shares], "root_token": "hvs.root-token-value"}

    async def unseal(self, key: str) -> VaultStatus:
        self.calls.append(("unseal", key))
        if key in self.keys:
            self.accepted += 1
        if self.accepted >= self.threshold:
            self.sealed = False
        return VaultStatus(self.initialized, self.sealed)

    async def enable_kubernetes_auth(self, token: str) -> None:
        self.calls.append(("enable_kubernetes_auth", token))
        from talos_platform.engine.layers.platform import wanted_kubernetes_auth

        self.auth = {**wanted_kubernetes_auth(), "token_ttl": 3600}  # as Vault reads it back

    async def write_secret(self, token: str, path: str, data: dict[str, str]) -> None:
        self.calls.append(("write_secret", token, path, sorted(data)))
        self.stored[path] = dict(data)

    async def kubernetes_auth(self, token: str) -> dict[str, Any] | None:
        self.calls.append(("kubernetes_auth", token))
        return self.auth

    async def secret_digests(self, token: str, path: str) -> dict[str, str] | None:
        self.calls.append(("secret_digests", token, path))
        data = self.stored.get(path)
        return {key: secret_digest(value) for key, value in data.items()} if data is not None else None

    async def wipe_storage(self) -> None:
        self.calls.append(("wipe_storage",))
        self.initialized, self.sealed, self.accepted, self.auth, self.stored = False, True, 0, None, {}

    def changes(self) -> list[tuple[Any, ...]]:
        return [
            call
            for call in self.calls
            if call[0] in ("initialize", "unseal", "enable_kubernetes_auth", "write_secret", "wipe_storage")
        ]


@dataclass
class FakeGit:
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    async def publish(self, tree: Path, repo_url: str, branch: str, path: str, message: str) -> str:
        self.calls.append(("publish", tree, repo_url, branch, path))
        return "0" * 40


class FakeTools:
    def __init__(self, versions: dict[str, str]):
        self.versions = versions

    async def version(self, tool: str) -> str:
        return self.versions.get(tool, "")

    async def gate(self, command: str, env: dict[str, str], timeout: float) -> GateResult:
        return await run_gate(ProcessRunner(), command, env, timeout)


def pod(name: str, version: str, namespace: str = "apps", **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": version},
        "spec": {"nodeName": "worker-1"},
        "status": {
            "phase": "Running",
            "containerStatuses": [{"name": "main", "ready": True, "restartCount": 0, "state": {"running": {}}}],
            **status,
        },
    }


class ScriptedKube:
    """The reads of `Kube`, scripted for replaying watch edge cases exactly.

    `lists[plural]` and `watches[plural]` are consumed in order. A watch script is a list of
    WatchEvents, exceptions (raised when reached) and None (yield to the loop: the end of a burst).
    When the scripts run out, watches block."""

    def __init__(self):
        self.lists: dict[str, list[ObjectList | Exception]] = defaultdict(list)
        self.watches: dict[str, list[list[WatchEvent | Exception]]] = defaultdict(list)
        self.watch_calls: list[tuple[str, str]] = []
        self.list_calls: list[str] = []
        self.idle: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.paths: dict[str, str | Exception] = {}

    async def list(self, resource: Resource, namespace=None, label_selector="") -> ObjectList:
        self.list_calls.append(resource.plural)
        queue = self.lists[resource.plural]
        if not queue:
            return ObjectList([], "1")
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    async def watch(self, resource: Resource, resource_version: str, namespace=None, timeout_seconds=300):
        self.watch_calls.append((resource.plural, resource_version))
        scripts = self.watches[resource.plural]
        if not scripts:
            self.idle[resource.plural].set()
            await asyncio.Event().wait()
        for item in scripts.pop(0):
            if item is None:  # a pause: let the loop run other tasks
                await asyncio.sleep(0)
                continue
            if isinstance(item, Exception):
                raise item
            yield item

    async def get(self, resource, name, namespace=None):
        return None

    async def read_path(self, path: str) -> str:
        return answer_path(self.paths, path)


@dataclass
class ChannelTalos(FakeTalos):
    """FakeTalos with the gRPC driver's `close()`: the event loops its reads ran on (where that
    driver opens its channels) and the ones `close()` ran on, to check the channels are closed,
    and closed where they were opened."""

    read_loops: set[asyncio.AbstractEventLoop] = field(default_factory=set)
    closed_on: list[asyncio.AbstractEventLoop] = field(default_factory=list)

    async def node_facts(self, address: str, *, insecure: bool) -> TalosNodeFacts:
        self.read_loops.add(asyncio.get_running_loop())
        return await super().node_facts(address, insecure=insecure)

    async def close(self) -> None:
        self.closed_on.append(asyncio.get_running_loop())


class RaisingTalos:
    """`Talos.node_facts` from a table, raising ConnectionError for an address not in it: a driver
    breaking its promise never to raise, to test that callers survive one (FakeTalos keeps it)."""

    def __init__(self, facts: dict[str, TalosNodeFacts]):
        self.facts = facts

    async def node_facts(self, address: str, *, insecure: bool) -> TalosNodeFacts:
        if address not in self.facts:
            raise ConnectionError(f"{address}: connection refused")
        return self.facts[address]


class ScriptedHubble:
    """Implements `Hubble`: each `flows` call plays the next script (flows, lost events and
    exceptions, raised when reached); with none left it blocks."""

    def __init__(self, streams: list[list], status: HubbleServerStatus | None = None):
        self.streams = streams
        self.status = status

    async def flows(self, *, follow=True, first=0, flow_filter=None):
        if not self.streams:
            await asyncio.Event().wait()
        for item in self.streams.pop(0):
            if isinstance(item, Exception):
                raise item
            yield item

    async def server_status(self) -> HubbleServerStatus:
        """Relay's status as scripted (`status`); with none scripted, Relay does not answer it."""
        if self.status is None:
            raise ConnectionError("Relay ServerStatus not scripted")
        return self.status


class FakeAlertmanager:
    """Implements `Alertmanager`: each `alerts` call takes the next of `answers`, a list of alerts
    (Alertmanager's `gettableAlerts` JSON) or an exception to raise (AlertmanagerMissing when it
    is not installed, any other when it does not answer); `reads` counts the calls. A read with no
    answer left fails the test."""

    def __init__(self, *answers: list[dict[str, Any]] | Exception, source: str = "monitoring/alertmanager"):
        self.answers = list(answers)
        self.source = source
        self.reads = 0

    async def alerts(self) -> list[dict[str, Any]]:
        self.reads += 1
        if not self.answers:
            raise AssertionError(f"read {self.reads} of Alertmanager has no scripted answer")
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
