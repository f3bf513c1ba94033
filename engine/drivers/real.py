"""The real drivers of one install, wired to one process runner and the cluster's state directory."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypedDict

from talos_platform.engine.drivers.alertmanager import AlertmanagerThroughKubernetes
from talos_platform.engine.drivers.git import GitDriver
from talos_platform.engine.drivers.kube_client import KubernetesDriver
from talos_platform.engine.drivers.process import LineCallback, ProcessRunner, ToolMissing, run_gate
from talos_platform.engine.drivers.protocols import Drivers, GateResult
from talos_platform.engine.drivers.talosctl import TalosctlDriver, parse_client_version
from talos_platform.engine.drivers.vault import VaultThroughKubernetes

if TYPE_CHECKING:
    from talos_platform.engine.config.models import PlatformConfig
    from talos_platform.engine.config.secrets import Secrets
    from talos_platform.engine.state import StateDirectory


def parse_kubectl_client_version(text: str) -> str:
    """`kubectl version --client -o json` -> clientVersion.gitVersion."""
    version: str = (json.loads(text).get("clientVersion") or {}).get("gitVersion", "")
    return version


def parse_helm_version(text: str) -> str:
    """`helm version --short` prints e.g. `v3.19.0+g3d8990f`."""
    match = re.search(r"v\d+\.\d+\.\d+", text)
    return match.group(0) if match else ""


_VERSION_COMMANDS: dict[str, tuple[list[str], Callable[[str], str]]] = {
    "talosctl": (["talosctl", "version", "--client"], parse_client_version),
    "kubectl": (["kubectl", "version", "--client", "--output", "json"], parse_kubectl_client_version),
    "helm": (["helm", "version", "--short"], parse_helm_version),
}


def tool_version_argv(tool: str) -> list[str]:
    """The command that asks `tool` for its client version (shown by `plan`)."""
    return list(_VERSION_COMMANDS[tool][0])


class LocalTools:
    """Implements the `Tools` protocol by asking each tool for its client version."""

    def __init__(self, runner: ProcessRunner):
        self.runner = runner

    async def version(self, tool: str) -> str:
        argv, parse = _VERSION_COMMANDS[tool]
        try:
            result = await self.runner.run(argv, timeout=30, quiet=True, mutates=False)
        except ToolMissing:
            return ""
        return parse(result.stdout)

    async def gate(self, command: str, env: dict[str, str], timeout: float) -> GateResult:
        return await run_gate(self.runner, command, env, timeout)


class TalosctlOptions(TypedDict, total=False):
    docker_network: str


def docker_network_of(config: PlatformConfig) -> TalosctlOptions:
    from talos_platform.engine.config.models import Platform

    if config.cluster.platform is Platform.docker and config.control_planes:
        return {"docker_network": config.docker_network}
    return {}


def real_drivers(
    config: PlatformConfig,
    state: StateDirectory,
    secrets: Secrets,
    redactor: Any,
    output: LineCallback | None = None,
    *,
    dry_run: bool = False,
    hubble_address: str | None = None,
) -> Drivers:
    """talosctl, kubectl and git through one runner (redacting with `redactor.redact`), the
    `kubernetes` client on the state directory's kubeconfig, Vault and Alertmanager through the
    API server.

    `dry_run`: commands that change something are recorded in `drivers.extra["runner"].recorded`
    instead of run; read-only ones (facts) still run. `output` receives lines of commands run
    outside any step. `hubble_address`: a reachable Hubble Relay (e.g. a port-forward).
    """
    redact = getattr(redactor, "redact", None) or (lambda text: text)
    runner = ProcessRunner(
        redact=redact,
        dry_run=dry_run,
        env={"TALOSCONFIG": str(state.talosconfig), "KUBECONFIG": str(state.kubeconfig)},
        default_output=output,
    )
    kube = KubernetesDriver(state.kubeconfig, runner)
    hubble = None
    if hubble_address:
        from talos_platform.engine.drivers.hubble_grpc import HubbleRelay

        hubble = HubbleRelay(hubble_address)
    return Drivers(
        talos=TalosctlDriver(runner, state.talosconfig, **docker_network_of(config)),
        kube=kube,
        hubble=hubble,
        # Read only where the render installs it (kube-prometheus-stack).
        alertmanager=AlertmanagerThroughKubernetes(kube) if config.components.monitoring.enabled else None,
        git=GitDriver(runner, username=secrets.git_username, token=secrets.git_token),
        vault=VaultThroughKubernetes(kube),
        tools=LocalTools(runner),
        simulated=False,
        extra={"runner": runner},
    )
