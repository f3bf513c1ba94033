"""The `Talos` driver over simulated machines: maintenance mode, apply-config, etcd bootstrap
(exactly once), kubeconfig, and the files talosctl would write (clearly marked as simulated,
holding no real key material)."""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path
from typing import Any

import yaml

from talos_platform.engine.config.schematic import INSTALLER_REPOSITORY
from talos_platform.engine.drivers.process import current_output
from talos_platform.engine.drivers.protocols import (
    AlreadyBootstrapped,
    EtcdAlarm,
    EtcdHealth,
    EtcdMember,
    EtcdMemberStatus,
    EtcdSnapshot,
    TalosNodeFacts,
)
from talos_platform.engine.drivers.talosctl import upgrade_failed
from talos_platform.engine.errors import PermanentError, TransientError
from talos_platform.engine.sim.model import MAINTENANCE, OFF, RUNNING, Machine, PlatformModel
from talos_platform.engine.sim.scenarios import DrainBlocked, EtcdSnapshotDamaged, UpgradeGoesWrong
from talos_platform.engine.sim.upgrade_k8s import upgrade_k8s

# Virtual seconds a talosctl round trip takes.
_CALL_SECONDS = 0.5
_UPGRADE_INSTALL_SECONDS = 60.0  # drain, pull and write the installer
_UPGRADE_REBOOT_SECONDS = 90.0  # reboot into the new version until the API answers
_SNAPSHOT_BYTES_PER_SECOND = 20_000.0  # simulated time to stream a snapshot (small: its database is too)
_RESET_SECONDS = 45.0  # leave etcd, wipe the system partitions, halt
_DIAL_TIMEOUT_SECONDS = 10.0
_ETCD_BASE_BYTES = 24 * 1024**2  # a fresh cluster's database: Kubernetes' own objects and their history
_ETCD_BYTES_PER_OBJECT = 6 * 1024  # an object with a few revisions of history, roughly
FAKE_MARK = "SIMULATED-NOT-A-SECRET"


class SimulatedTalosError(TransientError):
    """A talosctl call failed the way the real one would (message shaped like its stderr)."""

    def __init__(self, argv: list[str], stderr: str, *, hint: str = ""):
        super().__init__(f"`{' '.join(argv)}` exited with 1: {stderr}", hint=hint)
        self.argv = tuple(argv)
        self.stderr = stderr


class SimulatedTalosRefused(PermanentError):
    """A talosctl call that retrying cannot fix (e.g. bootstrapping twice)."""

    def __init__(self, argv: list[str], stderr: str, *, hint: str = ""):
        super().__init__(f"`{' '.join(argv)}` exited with 1: {stderr}", hint=hint)
        self.argv = tuple(argv)
        self.stderr = stderr


class SimulatedAlreadyBootstrapped(SimulatedTalosRefused, AlreadyBootstrapped):
    """A second `talosctl bootstrap`, refused by the node as the real one refuses it."""


class SimulatedTalos:
    def __init__(self, model: PlatformModel, client_version: str):
        self.model = model
        self._client_version = client_version
        self.endpoints: list[str] = []

    async def _call(self) -> None:
        await self.model.clock.sleep(_CALL_SECONDS)

    async def client_version(self) -> str:
        return self._client_version

    # --- facts --------------------------------------------------------------------------

    async def node_facts(self, address: str, *, insecure: bool) -> TalosNodeFacts:
        await self._call()
        machine = self.model.machine(address)
        if machine is None or machine.stage == OFF:
            await self.model.clock.sleep(_DIAL_TIMEOUT_SECONDS)
            return TalosNodeFacts(address=address, reachable=False, error=f"dial tcp {address}:50000: i/o timeout")
        if machine.stage not in (MAINTENANCE, RUNNING):
            return TalosNodeFacts(
                address=address,
                reachable=False,
                stage=machine.stage,
                error=f"dial tcp {address}:50000: connect: connection refused (node is {machine.stage})",
            )
        if machine.stage == MAINTENANCE:
            if not insecure:
                # What talosctl reports with a talosconfig: the node answers, but not with our PKI.
                return TalosNodeFacts(
                    address=address,
                    reachable=True,
                    maintenance=False,
                    error="rpc error: code = Unavailable desc = connection error: tls: failed to verify "
                    "certificate: x509: certificate signed by unknown authority",
                )
            return TalosNodeFacts(
                address=address,
                reachable=True,
                maintenance=True,
                stage=MAINTENANCE,
                talos_version=self.model.talos_version_of(machine),
                disks=machine.spec.disks,
                error=machine.error,
            )
        if insecure:
            # The maintenance service is gone once a node has its config.
            return TalosNodeFacts(
                address=address,
                reachable=True,
                maintenance=False,
                error="rpc error: code = Unavailable desc = connection error: tls: certificate required",
            )
        cpu, memory = self.model.hubble.node_load(machine) if self.model.hubble else (None, None)
        return TalosNodeFacts(
            address=address,
            reachable=True,
            maintenance=False,
            stage=RUNNING,
            cluster_name=self.model.config.cluster.name,
            talos_version=self.model.talos_version_of(machine),
            kubernetes_version=self.model.config.cluster.kubernetes_version,
            disks=machine.spec.disks,
            cpu_percent=cpu,
            memory_percent=memory,
        )

    async def address_answers(self, address: str) -> bool:
        await self._call()
        machine = self.model.machine(address)
        if machine is not None:
            return machine.stage in (MAINTENANCE, RUNNING)
        # The VIP answers once a control plane holds it, which is after bootstrap.
        return address == self.model.config.cluster.vip and self.model.api_up

    # --- config generation --------------------------------------------------------------

    async def generate_secrets(self, destination: Path) -> None:
        await self._call()
        destination = Path(destination)
        if destination.exists():
            raise SimulatedTalosRefused(
                ["talosctl", "gen", "secrets", "-o", str(destination)],
                f"open {destination}: file exists",
                hint="the secrets bundle already exists; keep it (it is the cluster's PKI)",
            )
        destination.parent.mkdir(parents=True, exist_ok=True)
        bundle = {
            "cluster": {"id": _fake("cluster-id", self.model.seed), "secret": FAKE_MARK},
            "secrets": {"bootstraptoken": FAKE_MARK, "secretboxencryptionsecret": FAKE_MARK},
            "trustdinfo": {"token": FAKE_MARK},
            "certs": {
                name: {"crt": FAKE_MARK, "key": FAKE_MARK}
                for name in ("etcd", "k8s", "k8saggregator", "k8sserviceaccount", "os")
            },
        }
        destination.write_text(
            "# simulated Talos secrets bundle: no real key material\n" + yaml.safe_dump(bundle, sort_keys=True)
        )
        destination.chmod(0o600)

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
        argv = ["talosctl", "gen", "config", "--with-secrets", str(secrets), cluster_name, endpoint]
        await self._call()
        if not Path(secrets).exists():
            raise SimulatedTalosRefused(argv, f"open {secrets}: no such file or directory")
        for patch in (patches_all, patches_control_plane, patches_worker):
            if not Path(patch).exists():
                raise SimulatedTalosRefused(argv, f"open {patch}: no such file or directory")
            try:
                list(yaml.safe_load_all(Path(patch).read_text()))
            except yaml.YAMLError as error:
                raise SimulatedTalosRefused(argv, f"failed to apply config patch: {error}") from error
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        for machine_type, role_patch in (("controlplane", patches_control_plane), ("worker", patches_worker)):
            document = {
                "version": "v1alpha1",
                "machine": {
                    "type": machine_type,
                    "token": FAKE_MARK,
                    "ca": {"crt": FAKE_MARK, "key": ""},
                    "kubelet": {"image": f"ghcr.io/siderolabs/kubelet:{kubernetes_version}"},
                    "install": {"image": f"ghcr.io/siderolabs/installer:{talos_version}"},
                },
                "cluster": {
                    "clusterName": cluster_name,
                    "controlPlane": {"endpoint": endpoint},
                    "secretboxEncryptionSecret": FAKE_MARK,
                },
            }
            text = "# simulated Talos machine config\n" + yaml.safe_dump(document, sort_keys=True)
            text += "---\n" + Path(patches_all).read_text() + "\n---\n" + Path(role_patch).read_text()
            path = output_dir / f"{machine_type}.yaml"
            path.write_text(text)
            path.chmod(0o600)
        talosconfig = output_dir / "talosconfig"
        talosconfig.write_text(
            yaml.safe_dump(
                {
                    "context": cluster_name,
                    "contexts": {cluster_name: {"endpoints": [], "ca": FAKE_MARK, "crt": FAKE_MARK, "key": FAKE_MARK}},
                }
            )
        )
        talosconfig.chmod(0o600)

    # --- machines -----------------------------------------------------------------------

    async def apply_config(
        self, address: str, config_file: Path, *, insecure: bool, patches: tuple[Path, ...] = ()
    ) -> None:
        argv = ["talosctl", "apply-config", "--nodes", address, "--file", str(config_file)] + (
            ["--insecure"] if insecure else []
        )
        await self._call()
        machine = self._reachable(address, argv)
        try:
            documents = [d for d in yaml.safe_load_all(Path(config_file).read_text()) if isinstance(d, dict)]
            for patch in patches:
                documents += [d for d in yaml.safe_load_all(Path(patch).read_text()) if isinstance(d, dict)]
        except FileNotFoundError as error:
            raise SimulatedTalosRefused(argv, f"open {error.filename}: no such file or directory") from error
        except yaml.YAMLError as error:
            raise SimulatedTalosRefused(argv, f"failed to parse config: {error}") from error
        machine_type = next(
            (d.get("machine", {}).get("type") for d in documents if d.get("version") == "v1alpha1"), None
        )
        if machine_type not in ("controlplane", "worker"):
            raise SimulatedTalosRefused(argv, "failed to validate config: machine.type must be controlplane or worker")
        digest = hashlib.sha256(b"".join(Path(p).read_bytes() for p in (config_file, *patches))).hexdigest()
        if machine.stage == MAINTENANCE:
            if not insecure:
                raise SimulatedTalosError(
                    argv,
                    "rpc error: code = Unavailable desc = connection error: tls: certificate required",
                    hint="the node is in maintenance mode: apply with --insecure",
                )
            self.model.changes.configure(machine.address, machine_type, digest)
            return
        if insecure:
            raise SimulatedTalosError(
                argv,
                "rpc error: code = Unavailable desc = connection error: tls: certificate required",
                hint="the node already has a config: apply without --insecure, using the talosconfig",
            )
        if machine_type != machine.machine_type:
            raise SimulatedTalosRefused(
                argv,
                "rpc error: code = InvalidArgument desc = machine type can't be changed from "
                f"{machine.machine_type} to {machine_type}",
            )
        self.model.changes.reconfigure(machine.address, digest)  # applied in place (mode auto, no reboot needed)

    def _reachable(self, address: str, argv: list[str]) -> Machine:
        machine = self.model.machine(address)
        if machine is None or machine.stage == OFF:
            raise SimulatedTalosError(
                argv,
                f"rpc error: code = Unavailable desc = connection error: dial tcp {address}:50000: i/o timeout",
                hint=f"check that {address} is powered on and booted from Talos media",
            )
        if machine.stage not in (MAINTENANCE, RUNNING):
            raise SimulatedTalosError(
                argv,
                f"rpc error: code = Unavailable desc = connection error: dial tcp {address}:50000: connect: "
                "connection refused",
            )
        return machine

    async def set_endpoints(self, talosconfig: Path, endpoints: list[str], nodes: list[str]) -> None:
        await self._call()
        path = Path(talosconfig)
        if not path.exists():
            raise SimulatedTalosRefused(
                ["talosctl", "config", "endpoint", *endpoints], f"open {path}: no such file or directory"
            )
        from talos_platform.engine.drivers.talosctl import read_talosconfig

        data = read_talosconfig(path)  # as talosctl would, it refuses a damaged file
        context = data["contexts"][data["context"]]
        context["endpoints"] = list(endpoints)
        context["nodes"] = list(nodes)
        path.write_text(yaml.safe_dump(data))
        self.endpoints = list(endpoints)

    async def etcd_members(self, address: str, talosconfig: Path) -> list[str]:
        argv = ["talosctl", "etcd", "members", "--nodes", address]
        await self._call()
        machine = self._secure(address, argv)
        if not machine.is_control_plane:
            raise SimulatedTalosRefused(
                argv, "rpc error: code = Unimplemented desc = etcd is not running on worker nodes"
            )
        if machine.name not in self.model.etcd_members:
            return []
        return sorted(self.model.etcd_members)

    async def etcd_health(self, address: str) -> EtcdHealth:
        argv = ["talosctl", "etcd", "status", "--nodes", address]
        await self._call()
        try:
            machine = self._secure(address, argv)
        except SimulatedTalosError as error:
            return EtcdHealth(address, error=error.stderr)
        if not machine.is_control_plane or machine.name not in self.model.etcd_members:
            return EtcdHealth(address, error="rpc error: code = Unavailable desc = etcd is not running on this node")
        members = [self.model.machine_named(name) for name in self.model.etcd_members]
        alarms = tuple(
            EtcdAlarm(self._member_id(name), fault.alarm) for name, fault in sorted(self.model.etcd_alarms.items())
        )
        return EtcdHealth(
            address,
            status=self._member_status(machine, alarms),
            members=tuple(
                EtcdMember(
                    self._member_id(m.name),
                    m.name,
                    (f"https://{m.address}:2380",),
                    (f"https://{m.address}:2379",),
                    learner=m.name in self.model.etcd_learners,
                )
                for m in members
                if m is not None
            ),
            alarms=alarms,
        )

    def _member_id(self, name: str) -> str:
        return self.model.etcd_member_id(name)

    def _member_status(self, machine: Machine, alarms: tuple[EtcdAlarm, ...]) -> EtcdMemberStatus:
        """The first member is the leader; followers trail it by a few entries, a learner by many."""
        voters = [name for name in self.model.etcd_members if name not in self.model.etcd_learners]
        leader = voters[0] if voters else ""
        position = self.model.etcd_members.index(machine.name)
        learner = machine.name in self.model.etcd_learners
        leader_index = 1000 + 3 * self.model.store.revision
        index = leader_index // 2 if learner else leader_index - position
        fault = self.model.etcd_alarms.get(machine.name)
        size = (
            fault.db_size_bytes
            if fault is not None
            else _ETCD_BASE_BYTES + _ETCD_BYTES_PER_OBJECT * self.model.store.object_count()
        )
        return EtcdMemberStatus(
            member_id=self._member_id(machine.name),
            db_size=size,
            db_size_in_use=size * 3 // 4,
            leader=self._member_id(leader) if leader else "0" * 16,
            raft_index=max(index, 1),
            raft_term=2,
            raft_applied_index=max(index, 1),
            learner=learner,
            # As etcd: every active alarm of the cluster is also among each member's errors.
            errors=tuple(f"memberID:{int(a.member_id, 16)} alarm:{a.alarm} " for a in alarms),
        )

    async def etcd_member_list(self, address: str, talosconfig: Path) -> list[EtcdMember]:
        argv = ["talosctl", "etcd", "members", "--nodes", address]
        await self._call()
        machine = self._secure(address, argv)
        if not machine.is_control_plane:
            raise SimulatedTalosRefused(
                argv, "rpc error: code = Unimplemented desc = etcd is not running on worker nodes"
            )
        if machine.name not in self.model.etcd_members:
            raise SimulatedTalosError(argv, "rpc error: code = Unavailable desc = etcd is not a member here")
        return [
            EtcdMember(self.model.etcd_member_id(name), name, learner=name in self.model.etcd_learners)
            for name in sorted(self.model.etcd_members)
        ]

    async def etcd_remove_member(self, address: str, talosconfig: Path, member_id: str) -> None:
        argv = ["talosctl", "etcd", "remove-member", member_id, "--nodes", address]
        await self._call()
        machine = self._secure(address, argv)
        if not machine.is_control_plane or machine.name not in self.model.etcd_members:
            raise SimulatedTalosRefused(argv, "rpc error: code = Unavailable desc = etcd is not running here")
        names = {self.model.etcd_member_id(name): name for name in self.model.etcd_members}
        if member_id not in names:
            raise SimulatedTalosRefused(
                argv, f"rpc error: code = NotFound desc = etcdserver: member {member_id} not found"
            )
        self.model.changes.etcd_member_removed(names[member_id])

    async def reset_node(self, address: str, talosconfig: Path) -> None:
        argv = ["talosctl", "reset", "--graceful=true", "--reboot=false", "--nodes", address]
        await self._call()
        machine = self._secure(address, argv)
        say = current_output()
        say(f"{machine.name}: cordoning and draining")
        if machine.registered and not machine.cordoned:
            self.model.changes.cordon(machine.name)
        if machine.registered:
            self.model.changes.drain(machine.name)
        if machine.is_control_plane:
            say(f"{machine.name}: leaving etcd")
        say(f"{machine.name}: wiping STATE and EPHEMERAL, halting")
        await self.model.clock.sleep(_RESET_SECONDS)
        self.model.changes.node_reset(address)

    async def upgrade_talos(self, address: str, talosconfig: Path, image: str) -> None:
        argv = ["talosctl", "upgrade", "--image", image, "--nodes", address]
        await self._call()
        machine = self._secure(address, argv)
        repository, _, version = image.rpartition(":")
        if not repository or not version.startswith("v"):
            raise SimulatedTalosRefused(argv, f"error during upgrade: invalid image reference {image!r}")
        wrong = next((f.what for f in self.model.scenario.fault(UpgradeGoesWrong) if f.node == machine.name), None)
        blocked = next((f.pod for f in self.model.scenario.fault(DrainBlocked) if f.node == machine.name), None)
        say = current_output()
        say(f"{machine.name}: draining")
        if blocked:
            await self.model.clock.sleep(_UPGRADE_INSTALL_SECONDS)
            pod = blocked
            raise upgrade_failed(
                address,
                f'error during upgrade: failed to drain node {machine.name}: error when evicting pod "{pod}": '
                "Cannot evict pod as it would violate the pod's disruption budget.",
            )
        say(f"{machine.name}: installing {image}")
        await self.model.clock.sleep(_UPGRADE_INSTALL_SECONDS)
        self.model.begin_talos_upgrade(machine)
        say(f"{machine.name}: rebooting into {version}")
        await self.model.clock.sleep(_UPGRADE_REBOOT_SECONDS)
        if wrong == "staysAway":
            self.model.changes.talos_node_away(address)
            return  # talosctl's wait gives up on its own; the caller waits for the node and says so
        owner, _, schematic = repository.rpartition("/")
        if wrong == "rollsBack":
            # The new partition did not boot: the node is back on what it ran, and talosctl saw it come back.
            version = machine.talos_version or self.model.config.cluster.talos_version
            schematic, owner = machine.schematic, INSTALLER_REPOSITORY
        self.model.changes.talos_upgraded(address, version, schematic if owner == INSTALLER_REPOSITORY else "")
        say(f"{machine.name}: back, uncordoned")

    async def upgrade_kubernetes(self, address: str, talosconfig: Path, to: str, *, dry_run: bool) -> None:
        argv = ["talosctl", "upgrade-k8s", "--to", to.removeprefix("v"), "--nodes", address]
        await self._call()
        machine = self._secure(address, argv)
        if not machine.is_control_plane:
            raise SimulatedTalosRefused(argv, "error: upgrade-k8s needs a control plane node")
        await upgrade_k8s(self.model, to, dry_run=dry_run, say=current_output())

    async def etcd_snapshot(self, address: str, talosconfig: Path, destination: Path) -> EtcdSnapshot:
        argv = ["talosctl", "etcd", "snapshot", str(destination), "--nodes", address]
        await self._call()
        machine = self._secure(address, argv)
        if not machine.is_control_plane or machine.name not in self.model.etcd_members:
            raise SimulatedTalosRefused(argv, "rpc error: code = Unavailable desc = etcd is not running on this node")
        database, keys = self._etcd_database()
        await self.model.clock.sleep(len(database) / _SNAPSHOT_BYTES_PER_SECOND)
        # As talosctl: into PATH.part, fsynced, renamed over PATH; etcd appends the SHA-256.
        written = database + hashlib.sha256(database).digest()
        if self.model.scenario.fault(EtcdSnapshotDamaged):
            # One byte changed on the way (disk or link): the checksum etcd appended no longer matches.
            written = written[:100] + bytes([written[100] ^ 0x01]) + written[101:]
        partial = destination.with_name(destination.name + ".part")
        partial.write_bytes(written)
        partial.replace(destination)
        etcd_hash = f"{zlib.crc32(database):08x}"
        return EtcdSnapshot(size=len(written), etcd_hash=etcd_hash, revision=self.model.store.revision, total_keys=keys)

    def _etcd_database(self) -> tuple[bytes, int]:
        """A stand-in for etcd's bbolt file: the simulated objects' names at this revision,
        padded to etcd's 512-byte pages (what a checksum check needs; not a real database)."""
        names = sorted(self.model.store.object_names())
        text = "\n".join([f"revision {self.model.store.revision}", *names]).encode()
        return text + b"\0" * (-len(text) % 512), len(names)

    async def bootstrap(self, address: str, talosconfig: Path) -> None:
        argv = ["talosctl", "bootstrap", "--nodes", address]
        await self._call()
        machine = self._secure(address, argv)
        if not machine.is_control_plane:
            raise SimulatedTalosRefused(
                argv, "rpc error: code = FailedPrecondition desc = bootstrap is not available on worker nodes"
            )
        if self.model.etcd_bootstrapped_on is not None:
            # Journalled, so a test can prove from the journal that nobody bootstrapped twice.
            self.model.changes.bootstrap_refused(machine.address)
            raise SimulatedAlreadyBootstrapped(
                argv,
                "error executing bootstrap: rpc error: code = AlreadyExists desc = etcd data directory is not empty",
                hint="etcd is already bootstrapped; never bootstrap a second time",
            )
        self.model.changes.bootstrap(machine.address)

    async def etcd_service_state(self, address: str, talosconfig: Path) -> str:
        argv = ["talosctl", "service", "etcd", "--nodes", address]
        await self._call()
        machine = self._secure(address, argv)
        if not machine.is_control_plane:
            raise SimulatedTalosRefused(argv, 'rpc error: code = NotFound desc = service "etcd" not registered')
        return "Running" if machine.name in self.model.etcd_members else "Preparing"

    async def reset_ephemeral(self, address: str, talosconfig: Path) -> None:
        argv = ["talosctl", "reset", "--system-labels-to-wipe", "EPHEMERAL", "--reboot", "--graceful=false"]
        await self._call()
        machine = self._secure(address, argv + ["--nodes", address])
        self.model.changes.etcd_reset(machine.address)

    async def bootstrap_recover(
        self, address: str, talosconfig: Path, snapshot: Path, *, skip_hash_check: bool
    ) -> None:
        argv = ["talosctl", "bootstrap", "--recover-from", str(snapshot), "--nodes", address]
        argv += ["--recover-skip-hash-check"] if skip_hash_check else []
        await self._call()
        machine = self._secure(address, argv)
        if not machine.is_control_plane:
            raise SimulatedTalosRefused(
                argv, "rpc error: code = FailedPrecondition desc = bootstrap is not available on worker nodes"
            )
        try:
            data = Path(snapshot).read_bytes()
        except OSError as error:
            raise SimulatedTalosRefused(argv, f"open {snapshot}: {error.strerror}") from None
        await self.model.clock.sleep(len(data) / _SNAPSHOT_BYTES_PER_SECOND)  # uploaded to the node
        if self.model.etcd_bootstrapped_on is not None:
            self.model.changes.bootstrap_refused(machine.address)
            raise SimulatedAlreadyBootstrapped(
                argv,
                "error executing bootstrap: rpc error: code = AlreadyExists desc = etcd data directory is not empty",
                hint="etcd is already bootstrapped; never bootstrap a second time",
            )
        database, checksum = data[:-32], data[-32:]
        if not skip_hash_check and hashlib.sha256(database).digest() != checksum:
            # etcd checks the checksum it appended when it restores; the node's etcd stays in Preparing.
            raise SimulatedTalosRefused(
                argv,
                "error executing bootstrap: rpc error: code = Unknown desc = failed to recover from snapshot: "
                "snapshot file integrity check failed",
            )
        current_output()(f"{machine.name}: etcd recovered from {Path(snapshot).name}, starting")
        self.model.changes.etcd_recovered(machine.address)

    async def kubeconfig(self, address: str, talosconfig: Path, destination: Path) -> None:
        argv = ["talosctl", "kubeconfig", "--nodes", address, "--force", str(destination)]
        await self._call()
        machine = self._secure(address, argv)
        if not machine.is_control_plane:
            raise SimulatedTalosRefused(
                argv, "rpc error: code = Unimplemented desc = kubeconfig is only available on control plane nodes"
            )
        name = self.model.config.cluster.name
        destination = Path(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        kubeconfig: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": f"admin@{name}",
            "clusters": [
                {
                    "name": name,
                    "cluster": {"server": self.model.api_endpoint(), "certificate-authority-data": FAKE_MARK},
                }
            ],
            "users": [
                {"name": f"admin@{name}", "user": {"client-certificate-data": FAKE_MARK, "client-key-data": FAKE_MARK}}
            ],
            "contexts": [
                {"name": f"admin@{name}", "context": {"cluster": name, "user": f"admin@{name}", "namespace": "default"}}
            ],
        }
        destination.write_text(
            "# simulated kubeconfig: no real credentials\n" + yaml.safe_dump(kubeconfig, sort_keys=False)
        )
        destination.chmod(0o600)

    def _secure(self, address: str, argv: list[str]) -> Machine:
        machine = self._reachable(address, argv)
        if machine.stage == MAINTENANCE:
            raise SimulatedTalosError(
                argv,
                "rpc error: code = Unavailable desc = connection error: tls: certificate required (node in "
                "maintenance mode)",
                hint=f"{address} has no config yet: apply its machine config first",
            )
        return machine

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
        await self._call()
        self.model.changes.docker_machines(workers)
        await self.model.clock.sleep(self.model.timings.node_boot)
        control_plane = next(m for m in self.model.machines.values() if m.planned_role == "control-plane")
        for machine in self.model.machines.values():
            self.model.changes.configure(
                machine.address, "controlplane" if machine is control_plane else "worker", "docker"
            )
        while control_plane.stage != RUNNING:
            await self.model.clock.sleep(1.0)
        self.model.changes.bootstrap(control_plane.address)
        while not self.model.api_up:
            await self.model.clock.sleep(1.0)
        talosconfig = Path(talosconfig)
        talosconfig.parent.mkdir(parents=True, exist_ok=True)
        talosconfig.write_text(
            yaml.safe_dump(
                {
                    "context": cluster_name,
                    "contexts": {
                        cluster_name: {
                            "endpoints": ["127.0.0.1:50000"],
                            "nodes": [control_plane.address],
                            "ca": FAKE_MARK,
                            "crt": FAKE_MARK,
                            "key": FAKE_MARK,
                        }
                    },
                }
            )
        )
        talosconfig.chmod(0o600)


def _fake(label: str, seed: int) -> str:
    return f"{FAKE_MARK}-{hashlib.sha256(f'{seed}:{label}'.encode()).hexdigest()[:16]}"
