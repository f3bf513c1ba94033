"""A real Kubernetes control plane on loopback with kwok nodes: the rehearsal cluster."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from talos_platform.rehearsal.binaries import harness_bin
from talos_platform.rehearsal.netns import PodNetwork
from talos_platform.rehearsal.pki import ClusterPki, create_cluster_pki
from talos_platform.rehearsal.processes import ManagedProcess, free_loopback_port, http_get_ok, unverified_loopback_tls

MANIFESTS = Path(__file__).parent / "manifests"
APPLICATION_CRD = MANIFESTS / "application-crd.yaml"
KWOK_STAGES = MANIFESTS / "kwok-stages.yaml"

# kwok manages exactly the nodes carrying this annotation (see create_nodes).
KWOK_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
# Annotations the kwok Application stages read (see manifests/kwok-stages.yaml).
APPLICATION_HEALTH_ANNOTATION = "rehearsal.talos-platform.test/health"
APPLICATION_SYNC_ANNOTATION = "rehearsal.talos-platform.test/sync"
APPLICATION_MESSAGE_ANNOTATION = "rehearsal.talos-platform.test/message"
APPLICATION_DELAY_ANNOTATION = "rehearsal.talos-platform.test/delay"

# Address ranges of Services and pods. Both are routed into a network namespace of the
# cluster's own (see netns.py): whatever dials a pod stays on this machine.
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"

# What Talos' kube-apiserver is started with (its generated admission configuration):
# PodSecurity enforces `baseline` everywhere but kube-system, and audits and warns `restricted`.
TALOS_ADMISSION_CONFIGURATION = {
    "apiVersion": "apiserver.config.k8s.io/v1",
    "kind": "AdmissionConfiguration",
    "plugins": [
        {
            "name": "PodSecurity",
            "configuration": {
                "apiVersion": "pod-security.admission.config.k8s.io/v1",
                "kind": "PodSecurityConfiguration",
                "defaults": {
                    "enforce": "baseline",
                    "enforce-version": "latest",
                    "audit": "restricted",
                    "audit-version": "latest",
                    "warn": "restricted",
                    "warn-version": "latest",
                },
                "exemptions": {"usernames": [], "runtimeClasses": [], "namespaces": ["kube-system"]},
            },
        }
    ],
}
CONTROL_PLANE_ROLE = "node-role.kubernetes.io/control-plane"


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 60.0, interval: float = 0.25) -> Any:
    """Poll condition() until it returns something truthy, which is returned."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
        except Exception as error:  # noqa: BLE001 - retried until the deadline, then reported
            last_error = error
        else:
            if result:
                return result
        time.sleep(interval)
    detail = f" (last error: {last_error!r})" if last_error else ""
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")


@dataclass
class RehearsalCluster:
    """etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on 127.0.0.1.

    Every process logs to `logs/<name>.log` under workdir; `log_tails()` gives their ends.
    """

    workdir: Path
    play_argocd: bool = True
    """kwok writes ArgoCD Application status (see kwok-stages.yaml); off when the real ArgoCD runs."""
    pod_cidr: str = POD_CIDR
    service_cidr: str = SERVICE_CLUSTER_IP_RANGE
    pki: ClusterPki = field(init=False)
    apiserver_port: int = field(init=False)
    etcd_url: str = field(init=False)
    kubeconfig: Path = field(init=False)
    processes: dict[str, ManagedProcess] = field(init=False, default_factory=dict)
    network: PodNetwork = field(init=False)

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"

    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"

    @property
    def env(self) -> dict[str, str]:
        """Environment for kubectl and the control plane: a private HOME, our kubeconfig."""
        home = self.workdir / "home"
        home.mkdir(exist_ok=True)
        return {**os.environ, "HOME": str(home), "KUBECONFIG": str(self.kubeconfig)}

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.network = PodNetwork.for_workdir(str(self.workdir), (self.pod_cidr, self.service_cidr))
        self.network.create()
        self.pki = create_cluster_pki(self.workdir / "pki")
        self.apiserver_port = free_loopback_port()
        self.kubeconfig = self._write_kubeconfig("admin", self.pki.admin_token)
        self._start_etcd()
        self._start_apiserver()
        if self.play_argocd:
            # kwok discovers the resources it has stages for when it starts: the Application
            # CRD must be served before that. (With the real ArgoCD its chart brings the CRD.)
            self.kubectl("apply", "--server-side", "-f", str(APPLICATION_CRD))
            self.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/applications.argoproj.io")
        self._start_controller_manager()
        self._start_scheduler()
        self._start_kwok()
        # The controller manager makes the default ServiceAccount that pods need to be admitted.
        wait_for(
            lambda: self.kubectl("get", "serviceaccount", "default", "-n", "default", check=False).returncode == 0,
            "the default ServiceAccount",
            timeout=60,
        )

    def stop(self) -> None:
        """Stop everything, most dependent first; safe to call more than once."""
        for name in ("kwok", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"):
            process = self.processes.get(name)
            if process is not None:
                process.stop()
        if getattr(self, "network", None) is not None:
            self.network.destroy()

    def restart_apiserver(self) -> None:
        """Stop kube-apiserver and start it again on the same port, then wait until ready.

        Open watches break and clients must reconnect, as when a control-plane node reboots.
        The controller manager, scheduler and kwok are restarted too: they are not under test,
        and client-go's reflectors back off for up to a minute after a few refused
        connections, which would leave later tests waiting on idle controllers.
        """
        for name in ("kwok", "kube-scheduler", "kube-controller-manager"):
            self.processes[name].stop()
        apiserver = self.processes["kube-apiserver"]
        apiserver.stop()
        apiserver.start()
        self._wait_apiserver_ready()
        self._start_controller_manager()
        self._start_scheduler()
        self._start_kwok()

    def log_tails(self, lines: int = 30) -> str:
        parts = []
        for name, process in self.processes.items():
            parts.append(f"===== {name} ({process.log_path}) =====\n{process.log_tail(lines)}")
        return "\n".join(parts)

    # --- clients ---------------------------------------------------------------------------

    def api_client(self) -> Any:
        """A `kubernetes.client.ApiClient` for the admin kubeconfig."""
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def kubectl(
        self, *args: str, check: bool = True, input_text: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl against this cluster; raises with its output if check fails."""
        argv = [str(harness_bin("kubectl")), "--kubeconfig", str(self.kubeconfig), *args]
        completed = subprocess.run(
            argv, capture_output=True, text=True, input=input_text, env=self.env, timeout=timeout
        )
        if check and completed.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {completed.returncode}:\n{completed.stdout}{completed.stderr}"
            )
        return completed

    # --- nodes and Applications ------------------------------------------------------------

    def create_nodes(
        self,
        names: Iterable[str],
        labels: dict[str, str] | None = None,
        wait_ready: bool = True,
        timeout: float = 60,
        control_planes: Iterable[str] = (),
        taint_control_planes: bool = True,
    ) -> list[str]:
        """Create Node objects that kwok manages.

        Nodes named in `control_planes` are labelled and (unless `taint_control_planes` is
        false, as with Talos' allowSchedulingOnControlPlanes) tainted the way Talos does.
        By default waits until each is Ready and the node lifecycle controller has lifted the
        not-ready taint, so pods without tolerations can be scheduled there.
        """
        from kubernetes import client

        core = client.CoreV1Api(self.api_client())
        control_planes = set(control_planes)
        created = []
        for name in names:
            node_labels = {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
                **(labels or {}),
            }
            taints = None
            if name in control_planes:
                node_labels[CONTROL_PLANE_ROLE] = ""
                if taint_control_planes:
                    taints = [client.V1Taint(key=CONTROL_PLANE_ROLE, effect="NoSchedule")]
            core.create_node(
                client.V1Node(
                    metadata=client.V1ObjectMeta(
                        name=name, labels=node_labels, annotations={KWOK_NODE_ANNOTATION[0]: KWOK_NODE_ANNOTATION[1]}
                    ),
                    spec=client.V1NodeSpec(taints=taints),
                )
            )
            created.append(name)
        if wait_ready:
            for name in created:
                wait_for(
                    partial(_node_schedulable, core, name),
                    f"node {name} to become Ready and lose its not-ready taint",
                    timeout=timeout,
                )
        return created

    def set_application_status(
        self, namespace: str, name: str, health: str, sync: str = "Synced", message: str | None = None
    ) -> None:
        """Ask kwok to give an Application this health and sync status (see kwok-stages.yaml)."""
        from kubernetes import client

        annotations = {
            APPLICATION_HEALTH_ANNOTATION: health,
            APPLICATION_SYNC_ANNOTATION: sync,
            APPLICATION_MESSAGE_ANNOTATION: message,
        }
        client.CustomObjectsApi(self.api_client()).patch_namespaced_custom_object(
            "argoproj.io",
            "v1alpha1",
            namespace,
            "applications",
            name,
            {"metadata": {"annotations": annotations}},
        )

    # --- processes -------------------------------------------------------------------------

    def _process(self, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> ManagedProcess:
        process = ManagedProcess(name, argv, self.log_dir / f"{name}.log", env={**self.env, **(extra_env or {})})
        self.processes[name] = process
        process.start()
        return process

    def _start_etcd(self) -> None:
        client_port, peer_port = free_loopback_port(), free_loopback_port()
        self.etcd_url = f"http://127.0.0.1:{client_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        etcd = self._process(
            "etcd",
            [
                str(harness_bin("etcd")),
                "--name",
                "rehearsal",
                "--data-dir",
                str(self.workdir / "etcd"),
                "--listen-client-urls",
                self.etcd_url,
                "--advertise-client-urls",
                self.etcd_url,
                "--listen-peer-urls",
                peer_url,
                "--initial-advertise-peer-urls",
                peer_url,
                "--initial-cluster",
                f"rehearsal={peer_url}",
                # Test data only: skipping fsync makes the API several times faster on a busy disk.
                "--unsafe-no-fsync",
                "--log-level",
                "warn",
            ],
        )
        etcd.wait_until(lambda: http_get_ok(f"{self.etcd_url}/health"), "etcd healthy", 60)

    def _start_apiserver(self) -> None:
        pki = self.pki
        admission = self.workdir / "admission-configuration.yaml"
        admission.write_text(yaml.safe_dump(TALOS_ADMISSION_CONFIGURATION, sort_keys=False))
        self._process(
            "kube-apiserver",
            [
                str(harness_bin("kube-apiserver")),
                "--bind-address",
                "127.0.0.1",
                "--advertise-address",
                "127.0.0.1",
                "--secure-port",
                str(self.apiserver_port),
                "--etcd-servers",
                self.etcd_url,
                "--tls-cert-file",
                str(pki.serving_cert),
                "--tls-private-key-file",
                str(pki.serving_key),
                "--client-ca-file",
                str(pki.ca_cert),
                "--token-auth-file",
                str(pki.token_file),
                # Published for the controller manager's and scheduler's delegated authentication,
                # which otherwise complain about a missing front-proxy CA.
                "--requestheader-client-ca-file",
                str(pki.ca_cert),
                "--requestheader-allowed-names",
                "front-proxy-client",
                "--requestheader-username-headers",
                "X-Remote-User",
                "--requestheader-group-headers",
                "X-Remote-Group",
                "--requestheader-extra-headers-prefix",
                "X-Remote-Extra-",
                "--authorization-mode",
                "RBAC",
                "--anonymous-auth=false",
                "--service-account-issuer",
                "https://kubernetes.default.svc.cluster.local",
                "--service-account-key-file",
                str(pki.service_account_public_key),
                "--service-account-signing-key-file",
                str(pki.service_account_key),
                "--service-cluster-ip-range",
                self.service_cidr,
                "--admission-control-config-file",
                str(admission),
                # As Talos runs it: privileged containers allowed, PodSecurity decides where.
                "--allow-privileged=true",
                # Webhooks and aggregated APIs are dialled at their pods' addresses, which live in
                # this cluster's own network namespace, never at cluster IPs.
                "--enable-aggregator-routing=true",
                # The kubernetes Service cannot point at a loopback address; nothing here uses it.
                "--endpoint-reconciler-type",
                "none",
                "--cert-dir",
                str(self.workdir / "apiserver-certs"),
                # The wheel's etcd (3.5.1) cannot report watch progress, which the streaming
                # "watch list" needs; with it on, plain watches from resourceVersion 0 fail.
                "--feature-gates",
                "WatchList=false",
                "--profiling=false",
                "-v",
                "1",
            ],
        )
        self._wait_apiserver_ready()

    def _wait_apiserver_ready(self) -> None:
        import ssl

        context = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        self.processes["kube-apiserver"].wait_until(
            lambda: http_get_ok(f"{self.server}/readyz", context=context, token=self.pki.admin_token),
            "kube-apiserver ready",
            120,
        )

    def _start_controller_manager(self) -> None:
        kubeconfig = self._write_kubeconfig("kube-controller-manager", self.pki.controller_manager_token)
        port = free_loopback_port()
        process = self._process(
            "kube-controller-manager",
            [
                str(harness_bin("kube-controller-manager")),
                "--kubeconfig",
                str(kubeconfig),
                "--authentication-kubeconfig",
                str(kubeconfig),
                "--authorization-kubeconfig",
                str(kubeconfig),
                "--bind-address",
                "127.0.0.1",
                "--secure-port",
                str(port),
                "--cert-dir",
                str(self.workdir / "controller-manager-certs"),
                "--leader-elect=false",
                # Each controller acts as its own kube-system ServiceAccount with the built-in
                # system:controller:* roles, as on a kubeadm or Talos control plane.
                "--use-service-account-credentials=true",
                "--service-account-private-key-file",
                str(self.pki.service_account_key),
                "--root-ca-file",
                str(self.pki.ca_cert),
                "-v",
                "1",
            ],
        )
        process.wait_until(
            lambda: http_get_ok(f"https://127.0.0.1:{port}/healthz", context=unverified_loopback_tls()),
            "kube-controller-manager healthy",
            90,
        )

    def _start_scheduler(self) -> None:
        kubeconfig = self._write_kubeconfig("kube-scheduler", self.pki.scheduler_token)
        port = free_loopback_port()
        process = self._process(
            "kube-scheduler",
            [
                str(harness_bin("kube-scheduler")),
                "--kubeconfig",
                str(kubeconfig),
                "--authentication-kubeconfig",
                str(kubeconfig),
                "--authorization-kubeconfig",
                str(kubeconfig),
                "--bind-address",
                "127.0.0.1",
                "--secure-port",
                str(port),
                "--cert-dir",
                str(self.workdir / "scheduler-certs"),
                "--leader-elect=false",
                "-v",
                "1",
            ],
        )
        process.wait_until(
            lambda: http_get_ok(f"https://127.0.0.1:{port}/healthz", context=unverified_loopback_tls()),
            "kube-scheduler healthy",
            90,
        )

    def _start_kwok(self) -> None:
        kubeconfig = self._write_kubeconfig("kwok", self.pki.kwok_token)
        port = free_loopback_port()
        process = self._process(
            "kwok",
            [
                str(harness_bin("kwok")),
                "--kubeconfig",
                str(kubeconfig),
                "--config",
                str(self._kwok_stages()),
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector",
                "=".join(KWOK_NODE_ANNOTATION),
                # Nodes and host-network pods report loopback, so a client that follows a node
                # address (logs, exec) stays on this machine.
                "--node-ip",
                "127.0.0.1",
                "--node-port",
                str(port),
                "--server-address",
                f"127.0.0.1:{port}",
                "--cidr",
                self.pod_cidr,
                # kwok renews node Leases: the node lifecycle controller keeps the nodes Ready.
                "--node-lease-duration-seconds",
                "40",
            ],
        )
        process.wait_until(lambda: http_get_ok(f"http://127.0.0.1:{port}/healthz"), "kwok healthy", 60)

    def _kwok_stages(self) -> Path:
        """The stages file, without the Application stages when the real ArgoCD runs."""
        if self.play_argocd:
            return KWOK_STAGES
        stages = [
            stage
            for stage in yaml.safe_load_all(KWOK_STAGES.read_text())
            if stage and stage["spec"]["resourceRef"]["kind"] != "Application"
        ]
        path = self.workdir / "kwok-stages.yaml"
        path.write_text(yaml.safe_dump_all(stages, sort_keys=False))
        return path

    def _write_kubeconfig(self, user: str, token: str) -> Path:
        path = self.workdir / f"{user}.kubeconfig"
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "rehearsal",
                    "cluster": {"server": self.server, "certificate-authority": str(self.pki.ca_cert)},
                }
            ],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": "rehearsal", "context": {"cluster": "rehearsal", "user": user}}],
            "current-context": "rehearsal",
        }
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        path.chmod(0o600)
        return path


def node_is_ready(node: Any) -> bool:
    """True when a V1Node's Ready condition is True."""
    return any(c.type == "Ready" and c.status == "True" for c in (node.status.conditions or []))


def _node_schedulable(core: Any, name: str) -> bool:
    return node_is_schedulable(core.read_node(name))


def node_is_schedulable(node: Any) -> bool:
    """Ready, and no longer tainted not-ready or unreachable by the node lifecycle controller."""
    lifecycle_taints = {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}
    return node_is_ready(node) and not any(taint.key in lifecycle_taints for taint in node.spec.taints or [])
