"""The real ArgoCD on the rehearsal cluster: application controller, repo server and
ApplicationSet controller (one binary, chosen by the name it runs under) plus Redis.

They run on this machine the way the argo-cd chart's pods would run in a cluster: started once
layer 1 has installed the chart (its ServiceAccounts exist), each signed in with its own
ServiceAccount's token, so the RBAC the chart grants is what they get; they read the chart's
argocd-cm (with the render's Application health check) like the real pods do. The in-cluster
destination `https://kubernetes.default.svc` is ArgoCD's own local-development switch
(ARGOCD_FAKE_IN_CLUSTER: the controller's kubeconfig stands for the in-cluster config).
The repo server runs the helm and kustomize that ArgoCD ships with. Every HTTP(S) client is
pointed at a closed loopback proxy, with loopback excepted: a URL that is not on this machine
fails at once instead of reaching out.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from talos_platform.rehearsal.binaries import harness_bin, redis_server_path
from talos_platform.rehearsal.processes import ManagedProcess, free_loopback_port, http_get_ok

if TYPE_CHECKING:
    from talos_platform.rehearsal.cluster import RehearsalCluster

NAMESPACE = "argocd"
CLOSED_PROXY = "http://127.0.0.1:9"
# The chart's ServiceAccount of each component (chart default names for release `argocd`).
CONTROLLER_ACCOUNT = "argocd-application-controller"
APPLICATIONSET_ACCOUNT = "argocd-applicationset-controller"
SERVER_ACCOUNT = "argocd-server"


def offline_environment(home: Path) -> dict[str, str]:
    """PATH and HOME for a component, with every non-loopback HTTP(S) request refused."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "HTTP_PROXY": CLOSED_PROXY,
        "HTTPS_PROXY": CLOSED_PROXY,
        "http_proxy": CLOSED_PROXY,
        "https_proxy": CLOSED_PROXY,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


class RealArgoCD:
    def __init__(self, cluster: RehearsalCluster, workdir: Path) -> None:
        self.cluster = cluster
        self.workdir = workdir
        self.processes: dict[str, ManagedProcess] = {}
        self.redis_port = 0
        self.repo_server_port = 0

    # --- lifecycle ---------------------------------------------------------------------------

    def installed(self) -> bool:
        """The argo-cd chart's ServiceAccounts exist (layer 1 applied it)."""
        for account in (CONTROLLER_ACCOUNT, APPLICATIONSET_ACCOUNT, SERVER_ACCOUNT):
            found = self.cluster.kubectl("get", "serviceaccount", account, "-n", NAMESPACE, check=False)
            if found.returncode != 0:
                return False
        return True

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._link_binaries()
        self._start_redis()
        self._start_repo_server()
        self._start_api_server()
        self._start_controller()
        self._start_applicationset_controller()

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()

    def log_tails(self, lines: int = 30) -> str:
        return "\n".join(f"===== {name} =====\n{process.log_tail(lines)}" for name, process in self.processes.items())

    # --- pieces --------------------------------------------------------------------------------

    @property
    def _bin(self) -> Path:
        return self.workdir / "bin"

    def _link_binaries(self) -> None:
        """ArgoCD picks its role from the name it runs under; the repo server finds `helm` and
        `kustomize` on PATH (ArgoCD's own versions, not layer 1's)."""
        self._bin.mkdir(exist_ok=True)
        links = {
            "argocd-application-controller": harness_bin("argocd"),
            "argocd-repo-server": harness_bin("argocd"),
            "argocd-applicationset-controller": harness_bin("argocd"),
            "argocd-server": harness_bin("argocd"),
            "helm": harness_bin("argocd-helm"),
            "kustomize": harness_bin("argocd-kustomize"),
            # The repo server runs it on every commit it renders (ArgoCD's image ships it).
            "git-verify-wrapper.sh": harness_bin("argocd-git-verify-wrapper.sh"),
        }
        for name, target in links.items():
            link = self._bin / name
            link.unlink(missing_ok=True)
            link.symlink_to(target)

    def _environment(self, name: str, **extra: str) -> dict[str, str]:
        home = self.workdir / "home" / name
        home.mkdir(parents=True, exist_ok=True)
        env = offline_environment(home)
        env["PATH"] = f"{self._bin}{os.pathsep}{env['PATH']}"
        env.update(extra)
        return env

    def _config_dir(self, name: str) -> Path:
        folder = self.workdir / "config" / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _process(self, name: str, argv: list[str], env: dict[str, str]) -> ManagedProcess:
        process = ManagedProcess(name, argv, self.workdir / "logs" / f"{name}.log", env=env)
        self.processes[name] = process
        process.start()
        return process

    def _kubeconfig_for(self, account: str) -> Path:
        """A kubeconfig signed in as the chart's ServiceAccount (a bound token, as a pod gets)."""
        token = self.cluster.kubectl("create", "token", account, "-n", NAMESPACE, "--duration", "24h").stdout.strip()
        path = self.workdir / f"{account}.kubeconfig"
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "rehearsal",
                    "cluster": {"server": self.cluster.server, "certificate-authority": str(self.cluster.pki.ca_cert)},
                }
            ],
            "users": [{"name": account, "user": {"token": token}}],
            "contexts": [
                {"name": "rehearsal", "context": {"cluster": "rehearsal", "user": account, "namespace": NAMESPACE}}
            ],
            "current-context": "rehearsal",
        }
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        path.chmod(0o600)
        return path

    def _start_redis(self) -> None:
        self.redis_port = free_loopback_port()
        data = self.workdir / "redis"
        data.mkdir(exist_ok=True)
        redis = self._process(
            "redis",
            [
                str(redis_server_path()),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(data),
            ],
            self._environment("redis"),
        )
        redis.wait_until(lambda: _redis_answers(self.redis_port), "redis answering", 30)

    def _start_repo_server(self) -> None:
        self.repo_server_port = free_loopback_port()
        metrics = free_loopback_port()
        process = self._process(
            "argocd-repo-server",
            [
                str(self._bin / "argocd-repo-server"),
                "--address",
                "127.0.0.1",
                "--port",
                str(self.repo_server_port),
                "--metrics-address",
                "127.0.0.1",
                "--metrics-port",
                str(metrics),
                # Plain gRPC on loopback (the controllers use --repo-server-plaintext), no mTLS.
                "--redis",
                f"127.0.0.1:{self.redis_port}",
                "--disable-tls",
                "--client-ca-path",
                "",
                "--logformat",
                "text",
                "--loglevel",
                "info",
                "--parallelismlimit",
                "2",
            ],
            self._environment(
                "repo-server",
                ARGOCD_EXEC_TIMEOUT="180s",
                # The image's /app/config paths, here in the work directory; commits are not signed.
                ARGOCD_GPG_ENABLED="false",
                ARGOCD_GNUPGHOME=str(self._config_dir("gpg")),
                ARGOCD_TLS_DATA_PATH=str(self._config_dir("tls")),
                ARGOCD_SSH_DATA_PATH=str(self._config_dir("ssh")),
            ),
        )
        process.wait_until(lambda: http_get_ok(f"http://127.0.0.1:{metrics}/metrics"), "argocd-repo-server up", 120)

    def _start_api_server(self) -> None:
        """The API server: no one uses its UI here, but at start it creates the `default`
        AppProject and the server key in argocd-secret, as in a cluster."""
        kubeconfig = self._kubeconfig_for(SERVER_ACCOUNT)
        port = free_loopback_port()
        process = self._process(
            "argocd-server",
            [
                str(self._bin / "argocd-server"),
                "--kubeconfig",
                str(kubeconfig),
                "--namespace",
                NAMESPACE,
                "--address",
                "127.0.0.1",
                "--port",
                str(port),
                "--insecure",
                "--metrics-address",
                "127.0.0.1",
                "--metrics-port",
                str(free_loopback_port()),
                "--redis",
                f"127.0.0.1:{self.redis_port}",
                "--repo-server",
                f"127.0.0.1:{self.repo_server_port}",
                "--repo-server-plaintext",
                "--dex-server",
                "",
                "--staticassets",
                str(self._config_dir("static")),
                "--logformat",
                "text",
                "--loglevel",
                "info",
            ],
            self._environment("server", KUBECONFIG=str(kubeconfig)),
        )
        process.wait_until(lambda: http_get_ok(f"http://127.0.0.1:{port}/healthz"), "argocd-server up", 120)

    def _start_controller(self) -> None:
        kubeconfig = self._kubeconfig_for(CONTROLLER_ACCOUNT)
        metrics = free_loopback_port()
        process = self._process(
            "argocd-application-controller",
            [
                str(self._bin / "argocd-application-controller"),
                "--kubeconfig",
                str(kubeconfig),
                "--namespace",
                NAMESPACE,
                "--redis",
                f"127.0.0.1:{self.redis_port}",
                "--repo-server",
                f"127.0.0.1:{self.repo_server_port}",
                "--repo-server-plaintext",
                "--metrics-port",
                str(metrics),
                "--status-processors",
                "4",
                "--operation-processors",
                "4",
                "--logformat",
                "text",
                "--loglevel",
                "info",
            ],
            self._environment("application-controller", ARGOCD_FAKE_IN_CLUSTER="true", KUBECONFIG=str(kubeconfig)),
        )
        process.wait_until(
            lambda: http_get_ok(f"http://127.0.0.1:{metrics}/metrics"), "argocd-application-controller up", 120
        )

    def _start_applicationset_controller(self) -> None:
        kubeconfig = self._kubeconfig_for(APPLICATIONSET_ACCOUNT)
        metrics = free_loopback_port()
        self._process(
            "argocd-applicationset-controller",
            [
                str(self._bin / "argocd-applicationset-controller"),
                "--kubeconfig",
                str(kubeconfig),
                "--namespace",
                NAMESPACE,
                "--argocd-repo-server",
                f"127.0.0.1:{self.repo_server_port}",
                "--repo-server-plaintext",
                "--metrics-addr",
                f"127.0.0.1:{metrics}",
                "--probe-addr",
                f"127.0.0.1:{free_loopback_port()}",
                "--webhook-addr",
                f"127.0.0.1:{free_loopback_port()}",
                "--logformat",
                "text",
                "--loglevel",
                "info",
            ],
            self._environment("applicationset-controller", KUBECONFIG=str(kubeconfig)),
        ).wait_until(
            # Its probe server registers no checks; its metrics server answers once it runs.
            lambda: http_get_ok(f"http://127.0.0.1:{metrics}/metrics"),
            "argocd-applicationset-controller up",
            120,
        )


def _redis_answers(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False
