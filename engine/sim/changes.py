"""Every change made to the simulated platform from outside (what the engine does through the
drivers) goes through here: it is applied to the model and, when the platform is persisted,
appended to a journal.

Because the simulation is deterministic, the journal is enough to rebuild the very same cluster
in a later process: replay each change at its virtual time, letting the model's own callbacks
run in between. That is what lets `install --simulate` be killed at any moment and resumed, like
a real install, with the simulator catching anything applied twice (a second etcd bootstrap
fails exactly as on real machines).

Secret values never reach the journal: Secret data and Vault writes are stored as the SHA-256
of each value (so a resumed install can tell they are in place without the values), unseal
keys by index.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talos_platform.engine.drivers.protocols import secret_digest
from talos_platform.engine.errors import UserError

if TYPE_CHECKING:
    from talos_platform.engine.config.models import PlatformConfig
    from talos_platform.engine.sim.model import Machine, PlatformModel
    from talos_platform.engine.sim.scenarios import Scenario

JOURNAL_FORMAT = 3  # 2: the config digest leaves out the versions; 3: and the nodes (kept beside it)
REDACTED = "SIMULATION-REDACTED"


def journal_header(model: PlatformModel) -> dict[str, Any]:
    return header_for(model.scenario, model.seed, model.config)


def header_for(scenario: Scenario, seed: int, config: PlatformConfig) -> dict[str, Any]:
    """What makes a simulated cluster this one. The Talos and Kubernetes versions and the
    installer's schematic are left out: day 2 changes them in the config file (the schematic
    takes effect at the next upgrade), and that is the same cluster. So are the nodes: `node
    add` and `node remove` change them, and the cluster's first nodes are kept under `nodes` to
    build it again before its journal is replayed."""
    data = config.model_dump(mode="json", by_alias=True)
    for field in ("kubernetesVersion", "talosVersion", "schematic"):
        data["cluster"].pop(field, None)
    nodes = data.pop("nodes", [])
    text = json.dumps(data, sort_keys=True)
    return {
        "simulationJournal": JOURNAL_FORMAT,
        "scenario": scenario.model_dump(mode="json", by_alias=True),
        "seed": seed,
        "config": hashlib.sha256(text.encode()).hexdigest(),
        "nodes": nodes,
    }


def _same_cluster(found: Any, header: dict[str, Any]) -> bool:
    return isinstance(found, dict) and {k: v for k, v in found.items() if k != "nodes"} == {
        k: v for k, v in header.items() if k != "nodes"
    }


def journal_first_nodes(journal: Path, scenario: Scenario, seed: int, config: PlatformConfig) -> list[Any] | None:
    """The nodes the journalled cluster started with, when `journal` holds this cluster (the same
    scenario, seed and config but for versions and nodes); None otherwise."""
    try:
        with open(journal, encoding="utf-8", errors="replace") as handle:
            first = _parsed(handle.readline())
    except OSError:
        return None
    if not _same_cluster(first, header_for(scenario, seed, config)) or not isinstance(first.get("nodes"), list):
        return None
    nodes: list[Any] = first["nodes"]
    return nodes


class SimulationJournalDamaged(UserError):
    """A line of the simulation journal is readable JSON but not a change this simulator made."""


class ExternalChanges:
    def __init__(self, model: PlatformModel, journal: Path | None = None):
        self.model = model
        self.journal = Path(journal) if journal is not None else None
        self._replaying = False
        self._last_at = model.clock.now()
        """The simulated time of the last change journalled or replayed."""
        self.replayed = 0
        """Changes replayed from the journal at start (0: a new simulated cluster)."""
        self.started_over = False
        """The journal held another scenario's, seed's or config's cluster and was started afresh."""

    # --- the changes --------------------------------------------------------------------

    # Each change is applied first and journalled once it took effect, so a replay never
    # repeats a change that failed.

    def configure(
        self, address: str, machine_type: str, digest: str, image: tuple[tuple[str, ...], str] | None = None
    ) -> None:
        machine = self._machine(address)
        self.model.configure(machine, machine_type, digest, image)
        # The image it installed is journalled: a later edit of the config's schematic changes
        # what the next upgrade installs, not what the node runs.
        self._record(
            "configure",
            address=address,
            machine_type=machine_type,
            digest=digest,
            extensions=list(machine.extensions),
            schematic=machine.schematic,
        )

    def reconfigure(self, address: str, digest: str) -> None:
        """A config applied in place to a running node (no reboot)."""
        self._machine(address).config_digest = digest
        self._record("reconfigure", address=address, digest=digest)

    def talos_upgraded(self, address: str, version: str, schematic: str = "") -> None:
        """A node came back from `talosctl upgrade` running `version`, installed from an image
        of `schematic` (empty: not a factory image)."""
        self.model.finish_talos_upgrade(self._machine(address), version, schematic)
        self._record("talos_upgraded", address=address, version=version, schematic=schematic)

    def talos_rebooting(self, address: str, version: str, schematic: str, seconds: float) -> None:
        """A node rebooting from `talosctl upgrade`: away now, back `seconds` later running
        `version` (journalled then as `talos_upgraded`). Replayed after a kill during the reboot,
        it comes back by simulated time in the next run, whatever that run does."""
        self.model.begin_talos_upgrade(self._machine(address))
        self._record("talos_rebooting", address=address, version=version, schematic=schematic, seconds=seconds)
        self.model.later(seconds, lambda: self._reboot_finished(address, version, schematic))

    def _reboot_finished(self, address: str, version: str, schematic: str) -> None:
        if self._replaying:
            return  # the journal holds the `talos_upgraded` this made when it happened
        self.talos_upgraded(address, version, schematic)

    def talos_node_away(self, address: str) -> None:
        """A node rebooted for an upgrade and did not come back."""
        self.model.begin_talos_upgrade(self._machine(address))
        self._record("talos_node_away", address=address)

    def kubelet_upgraded(self, address: str, version: str) -> None:
        """`talosctl upgrade-k8s` moved this node's kubelet (and, on a control plane, its
        control-plane components) to `version`."""
        self.model.set_kubernetes_version(self._machine(address), version)
        self._record("kubelet_upgraded", address=address, version=version)

    def machine_racked(self, name: str, address: str, role: str, install_disk: str) -> None:
        """A machine for a node the config gained, booted from the Talos image into maintenance
        mode (what the user does before `node add`)."""
        self.model.add_machine(name, address, role, install_disk)
        self._record("machine_racked", name=name, address=address, role=role, install_disk=install_disk)

    def cordon(self, name: str) -> None:
        self.model.cordon(self._named(name))
        self._record("cordon", name=name)

    def uncordon(self, name: str) -> None:
        self.model.uncordon(self._named(name))
        self._record("uncordon", name=name)

    def annotate_node(self, name: str, key: str, value: str | None) -> None:
        """`kubectl annotate node`; `value` None removes the annotation."""
        self.model.annotate(self._named(name), key, value)
        self._record("annotate_node", name=name, key=key, value=value)

    def drain(self, name: str, *, deleting: bool = False) -> list[str]:
        """`deleting`: `--disable-eviction`, past any PodDisruptionBudget."""
        machine = self._named(name)
        evicted: list[str] = self.model.workloads.drain(machine)
        if deleting:
            machine.drained_by_deletion = True
            self._record("drain", name=name, deleting=True)
        else:
            self._record("drain", name=name)
        return evicted

    def node_reset(self, address: str) -> None:
        """`talosctl reset --graceful` finished: the node left etcd, wiped its disks, halted."""
        self.model.finish_reset(self._machine(address))
        self._record("node_reset", address=address)

    def etcd_member_removed(self, name: str) -> None:
        self.model.remove_etcd_member(name)
        self._record("etcd_member_removed", name=name)

    def node_deleted(self, name: str) -> None:
        self.model.delete_node(name)
        self._record("node_deleted", name=name)

    def bootstrap(self, address: str) -> None:
        self.model.bootstrap(self._machine(address))
        self._record("bootstrap", address=address)

    def etcd_reset(self, address: str) -> None:
        """`talosctl reset` wiped the node's EPHEMERAL partition; it reboots."""
        self.model.reset_ephemeral(self._machine(address))
        self._record("etcd_reset", address=address)

    def etcd_recovered(self, address: str) -> None:
        """`talosctl bootstrap --recover-from` started etcd from a snapshot on this node."""
        self.model.bootstrap(self._machine(address))
        self._record("etcd_recovered", address=address)

    def bootstrap_refused(self, address: str) -> None:
        """A second bootstrap the node refused: nothing changes, but the attempt is on record."""
        self._record("bootstrap_refused", address=address)

    def docker_machines(self, workers: int) -> None:
        self.model.create_docker_machines(workers)
        self._record("docker_machines", workers=workers)

    def note_apply(self) -> None:
        self.model.note_apply()
        self._record("note_apply")

    def apply(self, objects: list[dict[str, Any]]) -> list[str]:
        applied: list[str] = []
        done: list[dict[str, Any]] = []
        try:
            for obj in objects:
                applied.append(self.model.apply_object(obj))
                done.append(_redact_object(obj))
        finally:
            if done:
                self._record("apply", objects=done)
        return applied

    def secret_keys(self, namespace: str, name: str, data: dict[str, str]) -> None:
        """Keys (base64 values) written into a Secret by a field manager of their own: merged into
        its data, every other key kept; journalled as digests."""
        self.model.merge_secret_data(namespace, name, data)
        redacted = {
            key: value if _is_redacted(value) else f"{REDACTED}:{secret_digest(value)}" for key, value in data.items()
        }
        self._record("secret_keys", namespace=namespace, name=name, data=redacted)

    def delete(self, api_version: str, kind: str, namespace: str, name: str) -> None:
        self.model.delete_object(api_version, kind, namespace, name)
        self._record("delete", api_version=api_version, kind=kind, namespace=namespace, name=name)

    def commit(self, url: str, branch: str, files: dict[str, bytes], message: str) -> str:
        commit: str = self.model.git.commit(url, branch, files, message)
        encoded = {name: base64.b64encode(content).decode() for name, content in files.items()}
        self._record("commit", url=url, branch=branch, files=encoded, message=message)
        return commit

    def vault_initialize(self, key_shares: int, key_threshold: int) -> dict[str, Any]:
        material: dict[str, Any] = self.model.vault.initialize(key_shares, key_threshold)
        self._record("vault_initialize", key_shares=key_shares, key_threshold=key_threshold)
        return material

    def vault_wipe(self) -> None:
        self.model.vault.wipe()
        self._record("vault_wipe")

    def vault_unseal(self, key_index: int) -> None:
        self.model.vault.unseal(key_index)
        self._record("vault_unseal", key_index=key_index)

    def vault_enable_kubernetes_auth(self) -> None:
        self.model.vault.kubernetes_auth = True
        self._record("vault_enable_kubernetes_auth")

    def vault_write(self, path: str, data: dict[str, str], digests: dict[str, str] | None = None) -> None:
        """`digests` (field -> digest) stand for the values when replaying: values are never journalled."""
        digests = digests if digests is not None else {key: secret_digest(value) for key, value in data.items()}
        self.model.vault.secrets[path] = dict(data)
        self.model.vault.digests[path] = dict(digests)
        self._record("vault_write", path=path, keys=sorted(data), digests=digests)

    def _machine(self, address: str) -> Machine:
        machine = self.model.machine(address)
        if machine is None:
            raise ValueError(f"no simulated machine at {address}")
        return machine

    def _named(self, name: str) -> Machine:
        machine = self.model.machine_named(name)
        if machine is None:
            raise ValueError(f"no simulated machine named {name}")
        return machine

    def note_time(self) -> None:
        """Record how far simulated time got. Waiting changes nothing, so without this a replay
        would stop at the last change, and what the simulated controllers did after it (ArgoCD
        creating and syncing child Applications) would happen again on the next run. A command
        that ran nothing (refused, or only looked) leaves the journal as it was."""
        if self.model.clock.now() > self._last_at:
            self._record("time")

    # --- journal ------------------------------------------------------------------------

    def _record(self, change: str, **arguments: Any) -> None:
        if self.journal is None or self._replaying:
            return
        self._last_at = self.model.clock.now()
        line = json.dumps({"at": self._last_at, "change": change, **arguments}, separators=(",", ":"))
        with open(self.journal, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def start_or_replay(self) -> int:
        """Replay the journal if it belongs to this scenario, seed and config; otherwise start a
        new one. Returns the number of changes replayed."""
        assert self.journal is not None
        header = journal_header(self.model)
        entries: list[dict[str, Any]] = []
        if self.journal.exists():
            # Damaged bytes simply make the header differ: another cluster, started afresh.
            lines = self.journal.read_text(encoding="utf-8", errors="replace").split("\n")
            lines = lines[:-1] if lines and lines[-1] == "" else lines
            if lines and _same_cluster(_parsed(lines[0]), header):
                for line in lines[1:]:
                    entry = _parsed(line)
                    if entry is None:
                        break  # a line cut short by a kill: that change never happened
                    entries.append(entry)
                if len(entries) != len(lines) - 1:
                    self._write(header, entries)  # drop the broken tail before appending again
            else:
                self._write(header, [])  # another scenario, seed or config: another cluster
                self.started_over = True
        else:
            self._write(header, [])
        self._replay(entries)
        self.replayed = len(entries)
        return len(entries)

    def _write(self, header: dict[str, Any], entries: list[dict[str, Any]]) -> None:
        assert self.journal is not None
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in [header, *entries])
        temporary = self.journal.with_name(self.journal.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.journal)

    def _replay(self, entries: list[dict[str, Any]]) -> None:
        clock = self.model.clock
        collecting = gc.isenabled()
        gc.disable()
        self._replaying = True
        try:
            for number, entry in enumerate(entries, start=2):  # line 1 is the header
                try:
                    if (
                        not isinstance(entry, dict)
                        or isinstance(entry.get("at"), bool)
                        or not isinstance(entry.get("at"), (int, float))
                    ):
                        raise ValueError("a change needs a time `at`")
                    clock.run_callbacks_until(entry["at"])
                    self._apply(entry)
                    self._last_at = entry["at"]
                except (KeyError, TypeError, ValueError) as error:
                    raise self._damaged(number, error) from None
        finally:
            self._replaying = False
            if collecting:
                gc.enable()

    def _damaged(self, number: int, error: Exception) -> SimulationJournalDamaged:
        detail = f"missing {error}" if isinstance(error, KeyError) else str(error)
        return SimulationJournalDamaged(
            f"line {number} of the simulation journal is not a change this simulator can replay ({detail})",
            where=str(self.journal),
            hint="the simulated cluster it describes cannot be rebuilt: move that file away (or give another "
            "--state-dir) to start a new simulated cluster",
        )

    def _apply(self, entry: dict[str, Any]) -> None:
        change = entry["change"]
        if change == "configure":
            image = (tuple(entry["extensions"]), entry["schematic"]) if "schematic" in entry else None
            self.configure(entry["address"], entry["machine_type"], entry["digest"], image)
        elif change == "reconfigure":
            self.reconfigure(entry["address"], entry["digest"])
        elif change == "bootstrap":
            self.bootstrap(entry["address"])
        elif change == "etcd_reset":
            self.etcd_reset(entry["address"])
        elif change == "etcd_recovered":
            self.etcd_recovered(entry["address"])
        elif change == "machine_racked":
            self.machine_racked(entry["name"], entry["address"], entry["role"], entry["install_disk"])
        elif change == "cordon":
            self.cordon(entry["name"])
        elif change == "uncordon":
            self.uncordon(entry["name"])
        elif change == "annotate_node":
            self.annotate_node(entry["name"], entry["key"], entry.get("value"))
        elif change == "drain":
            self.drain(entry["name"], deleting=bool(entry.get("deleting")))
        elif change == "node_reset":
            self.node_reset(entry["address"])
        elif change == "etcd_member_removed":
            self.etcd_member_removed(entry["name"])
        elif change == "node_deleted":
            self.node_deleted(entry["name"])
        elif change == "talos_upgraded":
            self.talos_upgraded(entry["address"], entry["version"], entry.get("schematic", ""))
        elif change == "talos_rebooting":
            self.talos_rebooting(entry["address"], entry["version"], entry["schematic"], float(entry["seconds"]))
        elif change == "talos_node_away":
            self.talos_node_away(entry["address"])
        elif change == "kubelet_upgraded":
            self.kubelet_upgraded(entry["address"], entry["version"])
        elif change in ("bootstrap_refused", "time"):
            pass  # it changed nothing; the clock has run to its time
        elif change == "docker_machines":
            self.docker_machines(entry["workers"])
        elif change == "note_apply":
            self.note_apply()
        elif change == "apply":
            self.apply(entry["objects"])
        elif change == "secret_keys":
            self.secret_keys(entry["namespace"], entry["name"], entry["data"])
        elif change == "delete":
            self.delete(entry["api_version"], entry["kind"], entry["namespace"], entry["name"])
        elif change == "commit":
            files = {name: base64.b64decode(content) for name, content in entry["files"].items()}
            self.commit(entry["url"], entry["branch"], files, entry["message"])
        elif change == "vault_initialize":
            self.vault_initialize(entry["key_shares"], entry["key_threshold"])
        elif change == "vault_wipe":
            self.vault_wipe()
        elif change == "vault_unseal":
            self.vault_unseal(entry["key_index"])
        elif change == "vault_enable_kubernetes_auth":
            self.vault_enable_kubernetes_auth()
        elif change == "vault_write":
            self.vault_write(entry["path"], {key: REDACTED for key in entry["keys"]}, entry.get("digests"))
        else:
            raise ValueError(f"unknown change {change!r} in the simulation journal")


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _redact_object(obj: dict[str, Any]) -> dict[str, Any]:
    """A Secret's values become `REDACTED:<digest>` (stringData folded into data, as the API
    does), so a replayed Secret can still be compared by `data_digests` without its values."""
    if obj.get("kind") != "Secret":
        return obj
    redacted = {key: value for key, value in obj.items() if key != "stringData"}
    data = dict(obj.get("data") or {})
    for key, value in (obj.get("stringData") or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    if data or "data" in obj:
        redacted["data"] = {key: f"{REDACTED}:{secret_digest(value)}" for key, value in data.items()}
    return redacted


def _is_redacted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(f"{REDACTED}:")


def data_digests(secret: dict[str, Any]) -> dict[str, str]:
    """Key -> `secret_digest` of each data value; a replayed (redacted) value carries its own."""
    marker = f"{REDACTED}:"
    return {
        key: value[len(marker) :] if isinstance(value, str) and value.startswith(marker) else secret_digest(value)
        for key, value in (secret.get("data") or {}).items()
    }
