"""The real Talos driver: talosctl through the process runner, and parsers for what it prints.

The command builders are pure functions so the steps can show the exact commands in a plan.
Per-node calls always name the node as both endpoint and target (`-e IP -n IP`): talosctl never
goes through the VIP, which only answers after bootstrap (ARCHITECTURE.md section 8).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from pathlib import Path
from typing import Any

import yaml

from talos_platform.engine.config.versions import TalosFeatures
from talos_platform.engine.drivers.loopback import ensure_allowed
from talos_platform.engine.drivers.process import CommandFailed, ProcessRunner, ToolMissing
from talos_platform.engine.drivers.protocols import (
    AlreadyBootstrapped,
    EtcdHealth,
    EtcdMember,
    EtcdSnapshot,
    TalosNodeFacts,
)
from talos_platform.engine.drivers.talosctl_etcd import (
    etcd_quota,
    parse_etcd_alarms,
    parse_etcd_member_list,
    parse_etcd_status,
)
from talos_platform.engine.errors import ESCAPE_FLAG, EvictionRefused, PermanentError, TransientError

TALOSCTL = "talosctl"
TALOS_API_PORT = 50000
KUBERNETES_API_PORT = 6443

# --- command lines ------------------------------------------------------------------------------


def _secure(talosconfig: Path, address: str) -> list[str]:
    return [TALOSCTL, "--talosconfig", str(talosconfig), "--endpoints", address, "--nodes", address]


def version_client_argv() -> list[str]:
    return [TALOSCTL, "version", "--client"]


def gen_secrets_argv(destination: Path) -> list[str]:
    return [TALOSCTL, "gen", "secrets", "--output-file", str(destination)]


def gen_config_argv(
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
) -> list[str]:
    return [
        TALOSCTL,
        "gen",
        "config",
        cluster_name,
        endpoint,
        "--with-secrets",
        str(secrets),
        # The nodes' version, not talosctl's: a newer talosctl would emit keys older nodes reject.
        "--talos-version",
        TalosFeatures.for_version(talos_version).contract,
        "--kubernetes-version",
        kubernetes_version.lstrip("v"),
        "--config-patch",
        f"@{patches_all}",
        "--config-patch-control-plane",
        f"@{patches_control_plane}",
        "--config-patch-worker",
        f"@{patches_worker}",
        "--with-docs=false",
        "--with-examples=false",
        "--output",
        str(output_dir),
        "--force",
    ]


def apply_config_argv(
    address: str, config_file: Path, *, insecure: bool, talosconfig: Path | None = None, patches: tuple[Path, ...] = ()
) -> list[str]:
    if insecure:
        argv = [TALOSCTL, "apply-config", "--insecure", "--nodes", address]
    else:
        if talosconfig is None:
            raise ValueError("a configured node needs the talosconfig")
        argv = _secure(talosconfig, address) + ["apply-config"]
    argv += ["--file", str(config_file)]
    for patch in patches:
        argv += ["--config-patch", f"@{patch}"]
    return argv


def config_endpoint_argv(talosconfig: Path, endpoints: list[str]) -> list[str]:
    return [TALOSCTL, "--talosconfig", str(talosconfig), "config", "endpoint", *endpoints]


def config_node_argv(talosconfig: Path, nodes: list[str]) -> list[str]:
    return [TALOSCTL, "--talosconfig", str(talosconfig), "config", "node", *nodes]


def get_argv(resource: str, address: str, *, insecure: bool, talosconfig: Path | None) -> list[str]:
    if insecure:
        return [TALOSCTL, "get", resource, "--insecure", "--nodes", address, "--output", "json"]
    assert talosconfig is not None
    return _secure(talosconfig, address) + ["get", resource, "--output", "json"]


def memory_argv(address: str, talosconfig: Path) -> list[str]:
    return _secure(talosconfig, address) + ["memory"]


def version_argv(address: str, talosconfig: Path) -> list[str]:
    return _secure(talosconfig, address) + ["version"]


def etcd_members_argv(address: str, talosconfig: Path) -> list[str]:
    return _secure(talosconfig, address) + ["etcd", "members"]


def etcd_status_argv(address: str, talosconfig: Path) -> list[str]:
    return _secure(talosconfig, address) + ["etcd", "status"]


def etcd_alarms_argv(address: str, talosconfig: Path) -> list[str]:
    return _secure(talosconfig, address) + ["etcd", "alarm", "list"]


def service_argv(address: str, talosconfig: Path, service: str) -> list[str]:
    return _secure(talosconfig, address) + ["service", service]


def etcd_snapshot_argv(address: str, talosconfig: Path, destination: Path) -> list[str]:
    return _secure(talosconfig, address) + ["etcd", "snapshot", str(destination)]


def etcd_remove_member_argv(address: str, talosconfig: Path, member_id: str) -> list[str]:
    """Through `address`, another member: the member removed may no longer answer."""
    return _secure(talosconfig, address) + ["etcd", "remove-member", member_id]


def reset_argv(address: str, talosconfig: Path) -> list[str]:
    """Graceful: the node cordons and drains itself and leaves etcd before its disks are wiped;
    it halts afterwards (no reboot back into maintenance mode with its old address in use)."""
    return _secure(talosconfig, address) + ["reset", "--graceful=true", "--reboot=false"]


def upgrade_k8s_argv(address: str, talosconfig: Path, to: str, *, dry_run: bool) -> list[str]:
    return (
        _secure(talosconfig, address)
        + ["upgrade-k8s", "--to", to.removeprefix("v")]
        + (["--dry-run"] if dry_run else [])
    )


def upgrade_argv(address: str, talosconfig: Path, image: str) -> list[str]:
    """The node is the endpoint too: never the VIP, which moves while a control plane reboots."""
    return _secure(talosconfig, address) + ["upgrade", "--image", image]


def bootstrap_argv(address: str, talosconfig: Path) -> list[str]:
    return _secure(talosconfig, address) + ["bootstrap"]


def reset_ephemeral_argv(address: str, talosconfig: Path) -> list[str]:
    """Wipe the node's EPHEMERAL partition (etcd's data, the kubelet's state, images) and reboot,
    without leaving etcd first (`--graceful=false`): the disaster-recovery reset of a control plane.
    `--wait=false`: the caller resets every control plane before waiting for any."""
    return _secure(talosconfig, address) + [
        "reset",
        "--system-labels-to-wipe",
        "EPHEMERAL",
        "--reboot",
        "--graceful=false",
        "--wait=false",
    ]


def bootstrap_recover_argv(address: str, talosconfig: Path, snapshot: Path, *, skip_hash_check: bool) -> list[str]:
    """Bootstrap etcd on `address` from a snapshot; `skip_hash_check` for a database copied from
    etcd's data directory, which carries no checksum."""
    return (
        _secure(talosconfig, address)
        + ["bootstrap", "--recover-from", str(snapshot)]
        + (["--recover-skip-hash-check"] if skip_hash_check else [])
    )


def kubeconfig_argv(address: str, talosconfig: Path, destination: Path) -> list[str]:
    return _secure(talosconfig, address) + ["kubeconfig", str(destination), "--force", "--merge=false"]


def docker_cluster_argv(
    *,
    client_version: str,
    cluster_name: str,
    talos_version: str,
    kubernetes_version: str,
    workers: int,
    patches_all: Path,
    patches_control_plane: Path,
    patches_worker: Path,
    talosconfig: Path,
    network: str,
) -> list[str]:
    # talosctl 1.12 made each provisioner a sub-command, with renamed flags and the Talos
    # version taken from the image; older ones take --provisioner and the classic flags.
    image = f"ghcr.io/siderolabs/talos:{talos_version}"
    kubernetes = kubernetes_version.lstrip("v")
    if _minor(client_version) >= (1, 12):
        return [
            TALOSCTL,
            "cluster",
            "create",
            "docker",
            "--name",
            cluster_name,
            "--talosconfig-destination",
            str(talosconfig),
            "--subnet",
            network,
            "--image",
            image,
            "--kubernetes-version",
            kubernetes,
            "--workers",
            str(workers),
            "--config-patch",
            f"@{patches_all}",
            "--config-patch-controlplanes",
            f"@{patches_control_plane}",
            "--config-patch-workers",
            f"@{patches_worker}",
        ]
    return [
        TALOSCTL,
        "cluster",
        "create",
        "--provisioner",
        "docker",
        "--name",
        cluster_name,
        "--talosconfig",
        str(talosconfig),
        "--cidr",
        network,
        "--image",
        image,
        "--talos-version",
        TalosFeatures.for_version(talos_version).contract,
        "--kubernetes-version",
        kubernetes,
        "--controlplanes",
        "1",
        "--workers",
        str(workers),
        "--config-patch",
        f"@{patches_all}",
        "--config-patch-control-plane",
        f"@{patches_control_plane}",
        "--config-patch-worker",
        f"@{patches_worker}",
    ]


def ping_argv(address: str) -> list[str]:
    return ["ping", "-c", "1", "-W", "2", address]


def _minor(version: str) -> tuple[int, int]:
    match = re.match(r"v?(\d+)\.(\d+)", version.strip())
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


# --- parsers --------------------------------------------------------------------------------------


def parse_client_version(text: str) -> str:
    """`talosctl version --client` prints a `Client:` block whose `Tag:` line is the version."""
    for line in text.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "Tag" and value.strip():
            return value.strip()
    match = re.search(r"\bv\d+\.\d+\.\d+\S*", text)
    if match:
        return match.group(0)
    raise ValueError(f"no version in talosctl output: {text.strip()[:200]!r}")


def parse_resources(text: str) -> list[dict[str, Any]]:
    """`talosctl get X -o json` prints one JSON object per resource, back to back (not a list);
    `-o yaml` prints YAML documents separated by `---`. Both are accepted."""
    text = text.strip()
    if not text:
        return []
    if text[0] in "{[":
        decoder = json.JSONDecoder()
        found: list[dict[str, Any]] = []
        position = 0
        while position < len(text):
            value, end = decoder.raw_decode(text, position)
            found.extend(value if isinstance(value, list) else [value])
            position = end
            while position < len(text) and text[position].isspace():
                position += 1
        return found
    return [doc for doc in yaml.safe_load_all(text) if doc]


def spec_of(resource: dict[str, Any]) -> dict[str, Any]:
    spec = resource.get("spec") or {}
    return spec if isinstance(spec, dict) else {}


def parse_disks(text: str) -> tuple[str, ...]:
    """Device paths from `talosctl get disks -o json` (`spec.dev_path`, e.g. `/dev/sda`)."""
    paths: list[str] = []
    for resource in parse_resources(text):
        spec = spec_of(resource)
        if spec.get("cdrom") or spec.get("readonly"):
            continue
        path = spec.get("dev_path") or ("/dev/" + resource.get("metadata", {}).get("id", "")).rstrip("/")
        if path and path != "/dev":
            paths.append(path)
    return tuple(sorted(set(paths)))


def parse_machine_stage(text: str) -> str:
    """The stage from `talosctl get machinestatus -o json` (`spec.stage`, e.g. `running`)."""
    for resource in parse_resources(text):
        stage = spec_of(resource).get("stage")
        if stage:
            return str(stage).lower()
    return ""


def parse_unmet_conditions(text: str) -> str:
    """Why the machine is not ready, from `talosctl get machinestatus -o json`
    (`spec.status.unmetConditions[]`: name and reason), as one line."""
    reasons = []
    for resource in parse_resources(text):
        status = spec_of(resource).get("status") or {}
        for condition in status.get("unmetConditions") or [] if isinstance(status, dict) else []:
            if isinstance(condition, dict):
                name, reason = str(condition.get("name", "")), str(condition.get("reason", ""))
                reasons.append(f"{name}: {reason}" if name and reason else name or reason)
    return "; ".join(r for r in reasons if r)


def parse_cluster_name(text: str) -> str:
    """The cluster name from `talosctl get info -o json` (`spec.clusterName`)."""
    for resource in parse_resources(text):
        name = spec_of(resource).get("clusterName")
        if name:
            return str(name)
    return ""


_SNAPSHOT_SAVED = re.compile(r"etcd snapshot saved to .* \((\d+) bytes\)")
_SNAPSHOT_INFO = re.compile(r"snapshot info: hash ([0-9a-f]{8}), revision (\d+), total keys (\d+), total size (\d+)")


def parse_etcd_snapshot(text: str) -> EtcdSnapshot:
    """The two lines `talosctl etcd snapshot` prints once the file is in place:
    `etcd snapshot saved to "PATH" (N bytes)` and
    `snapshot info: hash 1a2b3c4d, revision R, total keys K, total size S`."""
    saved = _SNAPSHOT_SAVED.search(text)
    info = _SNAPSHOT_INFO.search(text)
    if saved is None or info is None:
        raise ValueError(f"unexpected `talosctl etcd snapshot` output: {text.strip()[:200]!r}")
    return EtcdSnapshot(
        size=int(saved.group(1)), etcd_hash=info.group(1), revision=int(info.group(2)), total_keys=int(info.group(3))
    )


def upgrade_failed(address: str, stderr: str) -> PermanentError:
    """What a failed `talosctl upgrade` means, from what it printed: EvictionRefused when Talos'
    own drain met a PodDisruptionBudget (nothing was installed yet)."""
    message = f"talosctl upgrade of {address} failed: {_first_line(stderr)}"
    if "disruption budget" in stderr.lower():
        return EvictionRefused(
            message,
            hint="a PodDisruptionBudget keeps a pod on the node from being evicted: scale its workload or relax "
            f"the budget, then run the upgrade again; or run it again with {ESCAPE_FLAG} to delete the pods the "
            "budget keeps (`kubectl drain --disable-eviction`: the budget is bypassed, their service may go down)",
        )
    return PermanentError(
        message, hint="read its output above; the node keeps its current version until an upgrade succeeds"
    )


def parse_etcd_members(text: str) -> list[str]:
    """Member host names from the table `talosctl etcd members` prints
    (`NODE ID HOSTNAME PEER URLS CLIENT URLS LEARNER`)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    header = lines[0]
    if "HOSTNAME" not in header:
        raise ValueError(f"unexpected `talosctl etcd members` output: {header!r}")
    start = header.index("HOSTNAME")
    members = []
    for line in lines[1:]:
        fields = line[start:].split()
        if fields:
            members.append(fields[0])
    return members


def parse_memory_percent(text: str) -> float | None:
    """Used memory in percent from the `talosctl memory` table (`NODE TOTAL USED ...`, in MB)."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or lines[0][:3] != ["NODE", "TOTAL", "USED"]:
        return None
    try:
        total, used = int(lines[1][1]), int(lines[1][2])
    except (IndexError, ValueError):
        return None
    return round(100.0 * used / total, 1) if total else None


# Busy and idle fields of a CPU's times (seconds since boot) in Talos' CPUStats resource, whose
# spec mirrors /proc/stat; guest time is already counted in user time.
_BUSY_FIELDS = ("user", "nice", "system", "irq", "softIrq", "steal")
_IDLE_FIELDS = ("idle", "iowait")
# Three missed refreshes of the resource: the figure no longer says how busy the node is.
CPU_SAMPLE_STALE_AFTER = 90.0


def parse_cpu_times(text: str) -> tuple[float, float] | None:
    """(busy, total) CPU seconds of all cores from `talosctl get cpustats -o json`
    (`spec.cpuTotal`), or None when the output has no such figures."""
    for resource in parse_resources(text):
        total = spec_of(resource).get("cpuTotal")
        if not isinstance(total, dict):
            continue
        try:
            busy = sum(float(total.get(field) or 0) for field in _BUSY_FIELDS)
            idle = sum(float(total.get(field) or 0) for field in _IDLE_FIELDS)
        except (TypeError, ValueError):
            return None
        return busy, busy + idle
    return None


def cpu_percent_between(earlier: tuple[float, float], later: tuple[float, float]) -> float | None:
    """Busy share of the CPU time that passed between two samples, in percent; None when no
    time passed or the counters went back (the node rebooted)."""
    busy, total = later[0] - earlier[0], later[1] - earlier[1]
    if total <= 0 or busy < 0:
        return None
    return round(100.0 * busy / total, 1)


def parse_server_version(text: str) -> str:
    """The node's version: the `Tag:` line of the `Server:` block of `talosctl version`."""
    in_server = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == "Server:":
            in_server = True
        elif in_server and stripped.startswith("Tag:"):
            return stripped.partition(":")[2].strip()
    return ""


def parse_service_state(text: str) -> str:
    """The `STATE` line of `talosctl service NAME` (e.g. `Running`, `Preparing`)."""
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key == "STATE":
            return value.strip()
    return ""


# talosctl prints `error executing bootstrap: rpc error: code = AlreadyExists desc = etcd data
# directory is not empty` when etcd already has data. The gRPC code is the node's contract; the
# sentence after it may be reworded, so only the code is matched.
_ALREADY_BOOTSTRAPPED = re.compile(r"\bcode = AlreadyExists\b")


def is_already_bootstrapped(stderr: str) -> bool:
    """True when `talosctl bootstrap` failed because the node's etcd is already bootstrapped."""
    return bool(_ALREADY_BOOTSTRAPPED.search(stderr))


TALOSCONFIG_RECOVERY = (
    "or make it again from the secrets bundle: talosctl gen config --with-secrets talos/secrets.yaml "
    "--output-types talosconfig -o talos/talosconfig CLUSTER https://ENDPOINT:6443 (name and endpoint are not used)"
)


def read_talosconfig(talosconfig: Path, state: Any = None) -> dict[str, Any]:
    """A talosconfig file (it holds the admin client key): errors name the file, never its text."""
    from talos_platform.engine.secret_files import damaged, read_yaml_secret

    data = read_yaml_secret(talosconfig, "the talosconfig", state=state, recovery=TALOSCONFIG_RECOVERY)
    problem = ""
    if data is None:
        problem = "it is empty"
    elif not isinstance(data, dict) or not isinstance(data.get("contexts"), dict):
        problem = "it is not a talosconfig (no `contexts` mapping)"
    elif not isinstance(data["contexts"].get(data.get("context")), dict):
        problem = "its current `context` is not one of its `contexts`"
    if problem:
        raise damaged(talosconfig, "the talosconfig", problem, state=state, recovery=TALOSCONFIG_RECOVERY)
    talos_config: dict[str, Any] = data
    return talos_config


def read_talosconfig_endpoints(talosconfig: Path, state: Any = None) -> list[str]:
    """Endpoints of the current context of a talosconfig file ([] when missing)."""
    try:
        data = read_talosconfig(talosconfig, state)
    except FileNotFoundError:
        return []
    context = (data.get("contexts") or {}).get(data.get("context") or "", {}) or {}
    if not isinstance(context, dict):
        return []
    return [str(endpoint) for endpoint in context.get("endpoints") or []]


# Errors talosctl prints when a node's API answers with certificates our talosconfig does not
# trust, or wants a client certificate we did not offer: the node is not in maintenance mode.
def no_talosconfig_yet(path: Path) -> str:
    """Why a node could not be asked with our certificates: there are none yet (early in an install)."""
    return f"no talosconfig at {path} yet"


def is_no_talosconfig_yet(error: str) -> bool:
    return error.startswith("no talosconfig at ") and error.endswith(" yet")


_TLS_MARKERS = ("certificate", "tls:", "x509", "authentication handshake failed")
_UNREACHABLE_MARKERS = (
    "connection refused",
    "no route to host",
    "i/o timeout",
    "deadline exceeded",
    "connection reset",
    "network is unreachable",
    "error reading server preface",
    "unavailable",
)


def _looks_like(error: str, markers: tuple[str, ...]) -> bool:
    lowered = error.lower()
    return any(marker in lowered for marker in markers)


# --- the driver -----------------------------------------------------------------------------------


class TalosctlDriver:
    """Implements the `Talos` protocol with talosctl."""

    def __init__(
        self,
        runner: ProcessRunner,
        talosconfig: Path,
        *,
        command_timeout: float = 120.0,
        docker_network: str = "10.5.0.0/24",
    ):
        self.runner = runner
        self.talosconfig = talosconfig
        self.command_timeout = command_timeout
        self.docker_network = docker_network
        # Per node: the last CPU times seen, when they last changed, and the load computed from
        # the two samples before. Talos refreshes its CPUStats resource every 30 s, so most polls
        # see the same sample; one that stops changing makes the load unknown, not stale.
        self._cpu_times: dict[str, tuple[float, float]] = {}
        self._cpu_changed_at: dict[str, float] = {}
        self._cpu_percent: dict[str, float] = {}
        self.monotonic = time.monotonic

    async def client_version(self) -> str:
        result = await self.runner.run(version_client_argv(), timeout=30, quiet=True, mutates=False)
        return parse_client_version(result.stdout)

    async def node_facts(self, address: str, *, insecure: bool) -> TalosNodeFacts:
        ensure_allowed(address, "Talos node")
        if insecure:
            return await self._maintenance_facts(address)
        return await self._configured_facts(address)

    async def _read(self, resource: str, address: str, *, insecure: bool) -> str:
        argv = get_argv(resource, address, insecure=insecure, talosconfig=None if insecure else self.talosconfig)
        result = await self.runner.run(argv, timeout=30, quiet=True, mutates=False)
        return result.stdout

    async def _maintenance_facts(self, address: str) -> TalosNodeFacts:
        try:
            disks = parse_disks(await self._read("disks", address, insecure=True))
        except CommandFailed as error:
            if _looks_like(error.stderr, _TLS_MARKERS):
                # Answers, but not the maintenance service: the node already has a config.
                return TalosNodeFacts(
                    address=address, reachable=True, maintenance=False, error=_first_line(error.stderr)
                )
            return TalosNodeFacts(address=address, reachable=False, error=_first_line(error.stderr) or error.message)
        except TransientError as error:
            return TalosNodeFacts(address=address, reachable=False, error=error.message)
        return TalosNodeFacts(
            address=address,
            reachable=True,
            maintenance=True,
            stage="maintenance",
            disks=disks,
            error=await self._maintenance_reason(address),
        )

    async def _maintenance_reason(self, address: str) -> str:
        """What the maintenance API says keeps the machine from being ready (e.g. a failed
        install that sent it back here); best effort: '' when it says nothing."""
        try:
            return parse_unmet_conditions(await self._read("machinestatus", address, insecure=True))
        except (CommandFailed, TransientError):
            return ""

    async def _configured_facts(self, address: str) -> TalosNodeFacts:
        if not self.talosconfig.exists():
            return TalosNodeFacts(address=address, reachable=False, error=no_talosconfig_yet(self.talosconfig))
        try:
            stage = parse_machine_stage(await self._read("machinestatus", address, insecure=False))
            cluster_name = parse_cluster_name(await self._read("info", address, insecure=False))
            disks = parse_disks(await self._read("disks", address, insecure=False))
        except CommandFailed as error:
            # A TLS refusal means the node answers but was configured with another cluster's PKI.
            answers = _looks_like(error.stderr, _TLS_MARKERS) or not _looks_like(error.stderr, _UNREACHABLE_MARKERS)
            return TalosNodeFacts(address=address, reachable=answers, error=_first_line(error.stderr) or error.message)
        except TransientError as error:
            return TalosNodeFacts(address=address, reachable=False, error=error.message)
        talos_version, memory, cpu = await self._usage(address)
        return TalosNodeFacts(
            address=address,
            reachable=True,
            maintenance=False,
            stage=stage,
            cluster_name=cluster_name,
            disks=disks,
            talos_version=talos_version,
            memory_percent=memory,
            cpu_percent=cpu,
        )

    async def _usage(self, address: str) -> tuple[str, float | None, float | None]:
        """Version, memory and CPU use, for the dashboard; best effort (a node mid-reboot may not say)."""
        try:
            version = parse_server_version(
                (
                    await self.runner.run(
                        version_argv(address, self.talosconfig), timeout=30, quiet=True, mutates=False
                    )
                ).stdout
            )
            memory = parse_memory_percent(
                (
                    await self.runner.run(memory_argv(address, self.talosconfig), timeout=30, quiet=True, mutates=False)
                ).stdout
            )
        except TransientError:
            return "", None, None
        try:
            cpu_times = parse_cpu_times(await self._read("cpustats", address, insecure=False))
        except TransientError:
            cpu_times = None
        return version, memory, self._cpu_load(address, cpu_times)

    def _cpu_load(self, address: str, times: tuple[float, float] | None) -> float | None:
        """The CPU load between the node's last two distinct samples (None until there are two)."""
        if times is None:
            return None
        now = self.monotonic()
        earlier = self._cpu_times.get(address)
        if earlier is None or times != earlier:
            percent = cpu_percent_between(earlier, times) if earlier is not None else None
            if percent is None:
                self._cpu_percent.pop(address, None)
            else:
                self._cpu_percent[address] = percent
            self._cpu_times[address], self._cpu_changed_at[address] = times, now
        if now - self._cpu_changed_at[address] > CPU_SAMPLE_STALE_AFTER:
            return None
        return self._cpu_percent.get(address)

    async def generate_secrets(self, destination: Path) -> None:
        await self.runner.run(gen_secrets_argv(destination), timeout=60, quiet=True)

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
        argv = gen_config_argv(
            cluster_name=cluster_name,
            endpoint=endpoint,
            secrets=secrets,
            talos_version=talos_version,
            kubernetes_version=kubernetes_version,
            patches_all=patches_all,
            patches_control_plane=patches_control_plane,
            patches_worker=patches_worker,
            output_dir=output_dir,
        )
        await self.runner.run(argv, timeout=120, quiet=True)

    async def apply_config(
        self, address: str, config_file: Path, *, insecure: bool, patches: tuple[Path, ...] = ()
    ) -> None:
        ensure_allowed(address, "Talos node")
        argv = apply_config_argv(address, config_file, insecure=insecure, talosconfig=self.talosconfig, patches=patches)
        await self.runner.run(argv, timeout=self.command_timeout)

    async def set_endpoints(self, talosconfig: Path, endpoints: list[str], nodes: list[str]) -> None:
        await self.runner.run(config_endpoint_argv(talosconfig, endpoints), timeout=30)
        await self.runner.run(config_node_argv(talosconfig, nodes), timeout=30)

    async def etcd_members(self, address: str, talosconfig: Path) -> list[str]:
        ensure_allowed(address, "Talos node")
        try:
            result = await self.runner.run(
                etcd_members_argv(address, talosconfig), timeout=30, quiet=True, mutates=False
            )
        except CommandFailed as members_error:
            # Only an etcd service that is up but not Running means "not bootstrapped"; any other
            # failure (node away, TLS) is raised so nobody bootstraps on a guess.
            state = await self._service_state(address, talosconfig, "etcd")
            if state and state.lower() != "running":
                return []
            raise TransientError(
                f"could not list etcd members on {address}: {_first_line(members_error.stderr)}",
                hint="check that the node is up and `talosctl etcd members` works",
            ) from None
        return parse_etcd_members(result.stdout)

    async def etcd_health(self, address: str) -> EtcdHealth:
        ensure_allowed(address, "Talos node")
        if not self.talosconfig.exists():
            return EtcdHealth(address, error=f"no talosconfig at {self.talosconfig} yet")
        errors: list[str] = []

        async def read(argv: list[str], what: str) -> str:
            try:
                return (await self.runner.run(argv, timeout=30, quiet=True, mutates=False)).stdout
            except CommandFailed as error:
                errors.append(f"{what}: {_first_line(error.stderr) or error.message}")
            except TransientError as error:
                errors.append(f"{what}: {error.message}")
            return ""

        def parsed(parse: Any, text: str, what: str) -> Any:
            try:
                return parse(text)
            except ValueError as error:
                errors.append(f"{what}: {error}")
                return []

        talosconfig = self.talosconfig
        statuses = parsed(parse_etcd_status, await read(etcd_status_argv(address, talosconfig), "status"), "status")
        if errors:
            # etcd does not answer here (not started, or the node is away): the rest would say the same.
            return EtcdHealth(address, error=errors[0])
        members = parsed(
            parse_etcd_member_list, await read(etcd_members_argv(address, talosconfig), "members"), "members"
        )
        alarms = parsed(parse_etcd_alarms, await read(etcd_alarms_argv(address, talosconfig), "alarms"), "alarms")
        spec = await read(get_argv("etcdspecs", address, insecure=False, talosconfig=talosconfig), "etcd spec")
        quota = etcd_quota(parsed(parse_resources, spec, "etcd spec"))
        return EtcdHealth(
            address,
            status=statuses[0] if statuses else None,
            members=tuple(members),
            alarms=tuple(alarms),
            quota_bytes=quota,
            error="; ".join(errors),
        )

    async def etcd_snapshot(self, address: str, talosconfig: Path, destination: Path) -> EtcdSnapshot:
        ensure_allowed(address, "Talos node")
        try:
            result = await self.runner.run(etcd_snapshot_argv(address, talosconfig, destination), timeout=600)
        except CommandFailed as error:
            raise TransientError(
                f"no etcd snapshot from {address}: {_first_line(error.stderr)}",
                hint="check that the node is up and etcd runs there (`talosctl -n NODE service etcd`)",
            ) from None
        try:
            return parse_etcd_snapshot(result.stdout)
        except ValueError as error:
            raise PermanentError(
                str(error), hint="this talosctl prints something else: check `talosctl version --client`"
            ) from None

    async def upgrade_kubernetes(self, address: str, talosconfig: Path, to: str, *, dry_run: bool) -> None:
        ensure_allowed(address, "Talos node")
        try:
            await self.runner.run(
                upgrade_k8s_argv(address, talosconfig, to, dry_run=dry_run), timeout=3600, mutates=not dry_run
            )
        except CommandFailed as error:
            raise PermanentError(
                f"talosctl upgrade-k8s to {to} failed: {_first_line(error.stderr)}",
                hint="read its output above; running the upgrade again resumes it (upgrade-k8s skips what is done)",
            ) from None

    async def upgrade_talos(self, address: str, talosconfig: Path, image: str) -> None:
        ensure_allowed(address, "Talos node")
        try:
            await self.runner.run(upgrade_argv(address, talosconfig, image), timeout=3600)
        except CommandFailed as error:
            raise upgrade_failed(address, error.stderr) from None

    async def etcd_member_list(self, address: str, talosconfig: Path) -> list[EtcdMember]:
        ensure_allowed(address, "Talos node")
        try:
            result = await self.runner.run(
                etcd_members_argv(address, talosconfig), timeout=30, quiet=True, mutates=False
            )
        except CommandFailed as error:
            raise TransientError(
                f"could not list etcd members on {address}: {_first_line(error.stderr)}",
                hint="check that the node is up and `talosctl etcd members` works",
            ) from None
        try:
            return parse_etcd_member_list(result.stdout)
        except ValueError as error:
            raise PermanentError(
                str(error), hint="this talosctl prints something else: check `talosctl version --client`"
            ) from None

    async def etcd_remove_member(self, address: str, talosconfig: Path, member_id: str) -> None:
        ensure_allowed(address, "Talos node")
        try:
            await self.runner.run(etcd_remove_member_argv(address, talosconfig, member_id), timeout=60)
        except CommandFailed as error:
            raise TransientError(
                f"etcd did not remove member {member_id} (asked through {address}): {_first_line(error.stderr)}",
                hint="check that etcd is healthy on the other control planes (`talosctl etcd status`)",
            ) from None

    async def reset_node(self, address: str, talosconfig: Path) -> None:
        ensure_allowed(address, "Talos node")
        try:
            await self.runner.run(reset_argv(address, talosconfig), timeout=1800)
        except CommandFailed as error:
            raise PermanentError(
                f"talosctl reset of {address} failed: {_first_line(error.stderr)}",
                hint="read its output above; run the removal again to retry (a node that left already is skipped)",
            ) from None

    async def _service_state(self, address: str, talosconfig: Path, service: str) -> str:
        result = await self.runner.run(
            service_argv(address, talosconfig, service), timeout=30, quiet=True, mutates=False
        )
        return parse_service_state(result.stdout)

    async def bootstrap(self, address: str, talosconfig: Path) -> None:
        ensure_allowed(address, "Talos node")
        try:
            await self.runner.run(bootstrap_argv(address, talosconfig), timeout=self.command_timeout)
        except CommandFailed as error:
            if is_already_bootstrapped(error.stderr):
                raise AlreadyBootstrapped(
                    f"{address} is already bootstrapped: {_first_line(error.stderr)}",
                    hint="etcd already has data there; it is never bootstrapped twice",
                ) from None
            raise

    async def etcd_service_state(self, address: str, talosconfig: Path) -> str:
        ensure_allowed(address, "Talos node")
        try:
            return await self._service_state(address, talosconfig, "etcd")
        except CommandFailed as error:
            raise TransientError(
                f"could not read the etcd service of {address}: {_first_line(error.stderr)}",
                hint="check that the node is up (`talosctl -n NODE service etcd`)",
            ) from None

    async def reset_ephemeral(self, address: str, talosconfig: Path) -> None:
        ensure_allowed(address, "Talos node")
        try:
            await self.runner.run(reset_ephemeral_argv(address, talosconfig), timeout=900)
        except CommandFailed as error:
            raise TransientError(
                f"talosctl reset of {address} failed: {_first_line(error.stderr)}",
                hint="check that the node is up; running the restore again resets what is not reset yet",
            ) from None

    async def bootstrap_recover(
        self, address: str, talosconfig: Path, snapshot: Path, *, skip_hash_check: bool
    ) -> None:
        ensure_allowed(address, "Talos node")
        argv = bootstrap_recover_argv(address, talosconfig, snapshot, skip_hash_check=skip_hash_check)
        try:
            await self.runner.run(argv, timeout=900)
        except CommandFailed as error:
            if is_already_bootstrapped(error.stderr):
                raise AlreadyBootstrapped(
                    f"{address} is already bootstrapped: {_first_line(error.stderr)}",
                    hint="etcd already has data there; it is never bootstrapped twice",
                ) from None
            raise PermanentError(
                f"talosctl bootstrap --recover-from {snapshot} on {address} failed: {_first_line(error.stderr)}",
                hint="read its output above; a snapshot copied from etcd's data directory needs "
                "--recover-skip-hash-check",
            ) from None

    async def kubeconfig(self, address: str, talosconfig: Path, destination: Path) -> None:
        ensure_allowed(address, "Talos node")
        await self.runner.run(kubeconfig_argv(address, talosconfig, destination), timeout=60, quiet=True)
        with contextlib.suppress(FileNotFoundError):
            destination.chmod(0o600)

    async def address_answers(self, address: str) -> bool:
        ensure_allowed(address, "address")
        for port in (TALOS_API_PORT, KUBERNETES_API_PORT):
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                _, writer = await asyncio.wait_for(asyncio.open_connection(address, port), 3)
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
                return True
        # Anything else on that address (a router, a printer) shows up on a ping, where ping exists.
        try:
            result = await self.runner.run(ping_argv(address), timeout=10, check=False, quiet=True, mutates=False)
        except ToolMissing:
            return False
        return result.returncode == 0

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
        argv = docker_cluster_argv(
            client_version=await self.client_version(),
            network=self.docker_network,
            cluster_name=cluster_name,
            talos_version=talos_version,
            kubernetes_version=kubernetes_version,
            workers=workers,
            patches_all=patches_all,
            patches_control_plane=patches_control_plane,
            patches_worker=patches_worker,
            talosconfig=talosconfig,
        )
        await self.runner.run(argv, timeout=900)


def _first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""
