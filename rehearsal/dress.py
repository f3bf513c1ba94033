"""The dress rehearsal: the install's layers 1-4 for a config, on a control plane shaped like
Talos', with the real consumers of what we render.

    with DressRehearsal(config, charts=Path("charts"), workdir=tmp) as rehearsal:
        session = rehearsal.session(secrets)          # an InstallSession of layers 1-4
        outcome = await session.run()
        report = rehearsal.report()                   # every Application, its waves, blockers

What is real: kube-apiserver (PodSecurity as Talos configures it, no StorageClass), the
controller manager and scheduler, kubectl and helm of layer 1, ArgoCD (controller, repo server,
ApplicationSet controller, with the helm and kustomize it ships) syncing the rendered
repository from a Git server on 127.0.0.1 and pulling every chart from a chart repository on
127.0.0.1 (the config's `mirrors`, pointed there: the product's own air-gap feature), and the
engine's own steps and drivers. What stands in, for lack of a kernel or a machine: kwok nodes
and pods, and the controllers in standins.py and pod_servers.py. Layer 0 (Talos machines) is
not rehearsed here. Nothing leaves this machine.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from talos_platform.rehearsal.argocd import RealArgoCD, offline_environment
from talos_platform.rehearsal.binaries import cilium_crds_dir, harness_bin
from talos_platform.rehearsal.cluster import RehearsalCluster, wait_for
from talos_platform.rehearsal.processes import ManagedProcess
from talos_platform.rehearsal.servers import ChartRepository, GitServer
from talos_platform.rehearsal.standins import StandIns

# Ranges of its own, apart from the tests' session cluster's; one dress rehearsal at a time per
# machine (a second one's routes would collide and it refuses to start).
POD_CIDR = "10.245.0.0/16"
SERVICE_CIDR = "10.97.0.0/16"
REPOSITORY = "platform"
# ArgoCD refreshes an Application at least every 3 minutes (its default reconciliation timeout).
PARENTS_CATCH_UP = 240.0


@dataclass
class ApplicationReport:
    name: str
    wave: int
    sync: str
    health: str
    message: str
    created_at: str = ""
    """When its parent's sync created it (the API server's clock): a wave's Applications are
    created only once the waves before it are healthy."""
    healthy_since: str = ""
    """When ArgoCD last changed its health (`status.health.lastTransitionTime`)."""
    parent: str = ""
    """The Application whose sync created it (ArgoCD's tracking annotation), if any."""


@dataclass
class RehearsalReport:
    applications: list[ApplicationReport] = field(default_factory=list)

    @property
    def blocked(self) -> list[ApplicationReport]:
        return [app for app in self.applications if (app.sync, app.health) != ("Synced", "Healthy")]


def rehearsal_config(config: Any, *, chart_url: str, repo_url: str) -> Any:
    """The config as the rehearsal installs it: charts and the Gateway API files from the local
    chart repository (the `mirrors` feature), the GitOps repository on the local Git server."""
    data = config.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["mirrors"] = {"charts": chart_url + "/", "gatewayApi": chart_url + "/gateway-api"}
    data["gitops"] = {**data["gitops"], "repoUrl": repo_url, "private": False}
    return type(config).model_validate(data)


class DressRehearsal:
    def __init__(self, config: Any, *, charts: Path, workdir: Path) -> None:
        self.original = config
        self.charts = charts
        self.workdir = workdir
        self.cluster = RehearsalCluster(
            workdir / "cluster", play_argocd=False, pod_cidr=POD_CIDR, service_cidr=SERVICE_CIDR
        )
        self.chart_repository = ChartRepository(charts)
        self.git = GitServer(workdir / "git")
        self.argocd = RealArgoCD(self.cluster, workdir / "argocd")
        self.standins: StandIns | None = None
        self.pod_servers: ManagedProcess | None = None
        self.config: Any = None
        self._argocd_starter: threading.Thread | None = None
        self.argocd_error = ""
        """Why the real ArgoCD did not start (its log tail), when it did not."""
        self._stopping = threading.Event()

    # --- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> DressRehearsal:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.chart_repository.start()
        self.git.start()
        repo_url = self.git.create_repository(REPOSITORY, self.original.gitops.branch)
        self.config = rehearsal_config(self.original, chart_url=self.chart_repository.url, repo_url=repo_url)
        self.cluster.start()
        self._create_nodes()
        self.standins = StandIns(
            self.cluster.api_client(),
            self.workdir / "standins",
            cilium_crds=cilium_crds_dir,
            kubectl=self.cluster.kubectl,
        ).start()
        self.pod_servers = ManagedProcess(
            "pod-servers",
            [
                *self.cluster.network.exec_prefix,
                sys.executable,
                "-m",
                "talos_platform.rehearsal.pod_servers",
                str(self.standins.cert_dir),
            ],
            self.workdir / "logs" / "pod-servers.log",
            env=dict(os.environ),
        )
        self.pod_servers.start()
        # ArgoCD's pods start once layer 1 installed its chart, as a kubelet would start them.
        self._argocd_starter = threading.Thread(target=self._start_argocd_when_installed, daemon=True)
        self._argocd_starter.start()

    def stop(self) -> None:
        self._stopping.set()
        self.argocd.stop()
        if self.pod_servers is not None:
            self.pod_servers.stop()
        if self.standins is not None:
            self.standins.stop()
        self.cluster.stop()
        for server in (self.chart_repository, self.git):
            try:
                server.stop()
            except Exception:  # noqa: BLE001 - never started
                pass

    def _create_nodes(self) -> None:
        names = [node.name for node in self.config.nodes]
        control_planes = [node.name for node in self.config.control_planes]
        # Talos taints control planes unless the cluster has no workers to schedule on.
        self.cluster.create_nodes(names, control_planes=control_planes, taint_control_planes=bool(self.config.workers))

    def _start_argocd_when_installed(self) -> None:
        while not self._stopping.is_set():
            if self.argocd.installed():
                try:
                    self.argocd.start()
                except Exception as error:  # noqa: BLE001 - the install then waits on ArgoCD and says so
                    self.argocd_error = str(error)
                return
            self._stopping.wait(2.0)

    # --- the install's layers 1-4 --------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        """What layer 1's kubectl and helm run with: the harness builds first on PATH, a private
        HOME and Helm home, every non-loopback HTTP(S) request refused."""
        home = self.workdir / "install-home"
        home.mkdir(parents=True, exist_ok=True)
        env = offline_environment(home)
        tools = {str(harness_bin("kubectl").parent), str(helm_path().parent)}
        env["PATH"] = os.pathsep.join([*sorted(tools), env["PATH"]])
        env.update(
            HELM_CACHE_HOME=str(home / "helm-cache"),
            HELM_CONFIG_HOME=str(home / "helm-config"),
            HELM_DATA_HOME=str(home / "helm-data"),
        )
        return env

    def session(self, secrets: Any, state: Any, *, concurrency: int = 4) -> Any:
        """An InstallSession of layers 1-4 with the real drivers, on this rehearsal."""
        from talos_platform.engine.drivers.git import GitDriver
        from talos_platform.engine.drivers.kube_client import KubernetesDriver
        from talos_platform.engine.drivers.process import ProcessRunner
        from talos_platform.engine.drivers.protocols import Drivers
        from talos_platform.engine.drivers.vault import VaultThroughKubernetes
        from talos_platform.engine.layers import platform_steps
        from talos_platform.engine.run.redaction import Redactor
        from talos_platform.engine.session import InstallSession

        state.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
        state.kubeconfig.write_bytes(self.cluster.kubeconfig.read_bytes())
        state.kubeconfig.chmod(0o600)
        redactor = Redactor.from_secrets(secrets)
        runner = ProcessRunner(redact=redactor.redact, env={**self.environment(), "KUBECONFIG": str(state.kubeconfig)})
        kube = KubernetesDriver(state.kubeconfig, runner)
        drivers = Drivers(
            talos=None,  # type: ignore[arg-type]  # layers 1-4 only: no step of the rehearsal asks Talos
            kube=kube,
            git=GitDriver(runner),
            vault=VaultThroughKubernetes(kube),
            extra={"runner": runner},
        )
        steps = [step for step in platform_steps(self.config, push=True) if step.layer >= 1]
        kept = {step.id for step in steps}
        for step in steps:
            step.needs = tuple(need for need in step.needs if need in kept)
        return InstallSession(
            self.config, secrets, state, drivers, steps=steps, concurrency=concurrency, redactor=redactor
        )

    # --- what happened -------------------------------------------------------------------------

    def report(self) -> RehearsalReport:
        from kubernetes import client

        api = client.CustomObjectsApi(self.cluster.api_client())
        try:
            listed = cast(
                "dict[str, Any]", api.list_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications")
            )
            items = listed["items"]
        except client.ApiException:
            return RehearsalReport()
        report = RehearsalReport()
        for app in sorted(items, key=lambda a: (_wave(a), a["metadata"]["name"])):
            status = app.get("status") or {}
            report.applications.append(
                ApplicationReport(
                    name=app["metadata"]["name"],
                    wave=_wave(app),
                    sync=(status.get("sync") or {}).get("status", "Unknown"),
                    health=(status.get("health") or {}).get("status", "Unknown"),
                    message=_why(status),
                    created_at=app["metadata"].get("creationTimestamp", ""),
                    healthy_since=(status.get("health") or {}).get("lastTransitionTime", ""),
                    parent=_tracked_by(app),
                )
            )
        return report

    def settled_report(self, timeout: float = PARENTS_CATCH_UP) -> RehearsalReport:
        """The report once nothing is blocked, or after `timeout` seconds: when the install's
        steps have seen every leaf Application converge, the app-of-apps parents (layer-0,
        platform) still take their children's health at ArgoCD's next refresh of them."""
        try:
            settled: RehearsalReport = wait_for(
                lambda: (lambda report: report if not report.blocked else None)(self.report()),
                "every Application Synced and Healthy",
                timeout=timeout,
                interval=5.0,
            )
        except TimeoutError:
            return self.report()
        return settled

    def log_tails(self) -> str:
        parts = [self.cluster.log_tails(), self.argocd.log_tails()]
        if self.argocd_error:
            parts.append(f"===== ArgoCD did not start =====\n{self.argocd_error}")
        if self.pod_servers is not None:
            parts.append(f"===== pod-servers =====\n{self.pod_servers.log_tail(20)}")
        if self.standins is not None and self.standins.errors:
            parts.append("===== stand-in errors =====\n" + "\n".join(self.standins.errors[-5:]))
        return "\n".join(parts)


def helm_path() -> Path:
    """Layer 1's helm (scripts/build-helm.sh), as a user's own helm would be."""
    import subprocess

    from talos_platform.rehearsal.binaries import REPO_ROOT

    completed = subprocess.run(
        [str(REPO_ROOT / "scripts" / "build-helm.sh"), "--print-path"], capture_output=True, text=True, check=True
    )
    return Path(completed.stdout.strip())


def _wave(app: dict[str, Any]) -> int:
    try:
        return int(((app.get("metadata") or {}).get("annotations") or {}).get("argocd.argoproj.io/sync-wave", "0"))
    except ValueError:
        return 0


def _tracked_by(app: dict[str, Any]) -> str:
    """`layer-0` from ArgoCD's `argocd.argoproj.io/tracking-id: layer-0:argoproj.io/Application:…`."""
    tracking: str = ((app.get("metadata") or {}).get("annotations") or {}).get("argocd.argoproj.io/tracking-id", "")
    return tracking.split(":", 1)[0]


def _why(status: dict[str, Any]) -> str:
    """The most telling reason an Application is not Synced and Healthy."""
    for condition in status.get("conditions") or []:
        if condition.get("message"):
            return f"{condition.get('type')}: {condition['message']}"
    for resource in status.get("resources") or []:
        health = resource.get("health") or {}
        if health.get("status") not in (None, "Healthy"):
            where = f"{resource.get('kind')} {resource.get('namespace', '')}/{resource.get('name')}"
            return f"{where} {health.get('status')}: {health.get('message', '')}".strip()
    operation = status.get("operationState") or {}
    message: str = operation.get("message", "")
    return message


__all__ = ["DressRehearsal", "RehearsalReport", "rehearsal_config"]
