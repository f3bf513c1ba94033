"""The Alerts pane's reader against the real Alertmanager (built from its Go module by
scripts/build-harness.sh), read as the dashboard reads it: through the real kube-apiserver's
service proxy, with the real Kube driver's credentials.

The API server's proxy only dials addresses of existing pods (never loopback), so the Service
selects a kwok pod, as the chart's Service selects the Alertmanager pod, and the real Alertmanager
listens on that pod's address inside the rehearsal cluster's pod network (rehearsal/netns.py),
where every pod address is local. Alerts are posted and a silence is created through the same proxy (v2 API),
so the test itself only talks to the API server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from kubernetes import client

from talos_platform.engine.drivers.alertmanager import (
    ALERTMANAGER_PORT,
    AlertmanagerThroughKubernetes,
    service_proxy_path,
)
from talos_platform.engine.drivers.clock import RealClock
from talos_platform.engine.drivers.kube_client import KubernetesDriver
from talos_platform.engine.drivers.process import ProcessRunner
from talos_platform.engine.drivers.protocols import AlertmanagerMissing
from talos_platform.engine.observe.alerts import read_alerts_once
from talos_platform.rehearsal.binaries import ALERTMANAGER_BINARY
from talos_platform.rehearsal.cluster import wait_for
from talos_platform.rehearsal.processes import ManagedProcess

SERVICE = "monitoring-kube-prometheus-alertmanager"
PORT = 9093
POD_LABELS = {"app.kubernetes.io/name": "alertmanager", "alertmanager": "harness"}

# The chart's inhibition in small: a critical alert mutes warnings of the same namespace.
CONFIG = """\
route:
  receiver: "null"
receivers:
  - name: "null"
inhibit_rules:
  - source_matchers: ['severity = critical']
    target_matchers: ['severity = warning']
    equal: ['namespace']
"""


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def posted(name: str, severity: str, summary: str = "", **labels: str) -> dict:
    now = datetime.now(UTC)
    return {
        "labels": {"alertname": name, "severity": severity, **labels},
        "annotations": {"summary": summary} if summary else {},
        "startsAt": stamp(now - timedelta(minutes=7)),
        "endsAt": stamp(now + timedelta(hours=1)),
    }


@pytest.fixture
def alertmanager(rehearsal_cluster, kwok_nodes, kube_namespace, harness_bin, tmp_path):
    """The Service as the chart makes it (selecting the Alertmanager pod), before the pod exists."""
    binary = harness_bin(ALERTMANAGER_BINARY)
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG)
    core = client.CoreV1Api(rehearsal_cluster.api_client())
    core.create_namespaced_service(
        kube_namespace,
        client.V1Service(
            metadata=client.V1ObjectMeta(name=SERVICE),
            spec=client.V1ServiceSpec(
                selector=POD_LABELS,
                ports=[client.V1ServicePort(name=ALERTMANAGER_PORT, port=PORT, target_port=PORT)],
            ),
        ),
    )
    kube = KubernetesDriver(rehearsal_cluster.kubeconfig, ProcessRunner())
    reader = AlertmanagerThroughKubernetes(kube, namespace=kube_namespace)
    process = ManagedProcess("alertmanager", [], tmp_path / "alertmanager.log")

    def start_pod() -> None:
        """A kwok pod for the address, and the real Alertmanager listening on it in the pod network."""
        core.create_namespaced_pod(
            kube_namespace,
            client.V1Pod(
                metadata=client.V1ObjectMeta(name="alertmanager-0", labels=POD_LABELS),
                spec=client.V1PodSpec(
                    containers=[
                        client.V1Container(
                            name="alertmanager",
                            image="quay.io/prometheus/alertmanager",
                            ports=[client.V1ContainerPort(name=ALERTMANAGER_PORT, container_port=PORT)],
                        )
                    ]
                ),
            ),
        )
        address = wait_for(
            lambda: core.read_namespaced_pod("alertmanager-0", kube_namespace).status.pod_ip,
            "the kwok pod's address",
            timeout=90,
        )
        process.argv = [
            *rehearsal_cluster.network.exec_prefix,
            str(binary),
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address={address}:{PORT}",
            "--cluster.listen-address=",  # one instance: no gossip
        ]
        process.start()

    try:
        yield kube, reader, start_pod, kube_namespace, process
    finally:
        process.stop()


def through_proxy(kube: KubernetesDriver, namespace: str, method: str, path: str, body=None):
    status, data = kube._request_json(
        method, service_proxy_path(namespace, SERVICE, ALERTMANAGER_PORT, path), body=body
    )
    assert status == 200, f"{method} {path}: {status} {data}"
    return data


def wait(condition, what: str, process: ManagedProcess, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = condition()
            if last:
                return last
        except Exception as error:  # noqa: BLE001 - retried until the deadline
            last = error
        assert process.is_running(), f"alertmanager exited:\n{process.log_tail()}"
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}: {last}\n{process.log_tail()}")


def test_the_reader_parses_the_real_alertmanager_through_the_service_proxy(alertmanager):
    kube, reader, start_pod, namespace, process = alertmanager

    # The Service has no ready endpoint yet: said as not answering (no traceback), not as missing.
    with pytest.raises(ConnectionError, match="no ready pod"):
        asyncio.run(reader.alerts())
    view, state = asyncio.run(read_alerts_once(reader, RealClock(), timeout=10))
    assert view.installed and not view.read and "no ready pod" in view.error and not state.reachable

    start_pod()
    wait(lambda: asyncio.run(reader.alerts()) == [], "Alertmanager to answer through the proxy", process)

    through_proxy(
        kube,
        namespace,
        "POST",
        "/api/v2/alerts",
        [
            posted("Watchdog", "none", "An alert that should always be firing"),
            posted(
                "NodeFilesystemAlmostOutOfSpace",
                "critical",
                "Filesystem has less than 3% space left.",
                namespace="shop",
                instance="worker-3",
            ),
            posted(
                "KubePodCrashLooping",
                "warning",
                "Pod is crash looping.",
                namespace="shop",
                pod="api-0",
                container="api",
            ),
            posted("KubeNodeNotReady", "warning", "Node is not ready.", node="worker-2"),
            posted("KubeJobFailed", "warning", namespace="blog", job_name="backup"),
        ],
    )
    now = datetime.now(UTC)
    silence = through_proxy(
        kube,
        namespace,
        "POST",
        "/api/v2/silences",
        {
            "matchers": [{"name": "alertname", "value": "KubeJobFailed", "isRegex": False, "isEqual": True}],
            "startsAt": stamp(now - timedelta(minutes=1)),
            "endsAt": stamp(now + timedelta(hours=1)),
            "createdBy": "talos-platform harness",
            "comment": "a known backup failure",
        },
    )
    assert silence.get("silenceID")

    def settled():
        view, state = asyncio.run(read_alerts_once(reader, RealClock(), timeout=10))
        return (view, state) if view.silenced == 1 and view.inhibited == 1 else None

    view, state = wait(settled, "the silence and the inhibition to apply", process)
    assert state.reachable and view.installed and view.read and not view.error
    assert view.source == f"{namespace}/{SERVICE}"
    assert view.watchdog
    assert [(a.severity, a.name, a.target) for a in view.firing] == [
        ("critical", "NodeFilesystemAlmostOutOfSpace", "worker-3"),
        ("warning", "KubeNodeNotReady", "worker-2"),
    ]
    critical = view.firing[0]
    assert critical.about == "Filesystem has less than 3% space left."
    # startsAt as posted (7 minutes ago), read back from Alertmanager's own time format.
    assert 6 * 60 <= time.time() - critical.starts_at <= 9 * 60
    assert ("instance", "worker-3") in critical.labels and critical.fingerprint


def test_a_missing_service_means_not_installed(alertmanager):
    kube, _reader, _start_pod, namespace, _process = alertmanager
    missing = AlertmanagerThroughKubernetes(kube, namespace=namespace, service="no-such-alertmanager")
    with pytest.raises(AlertmanagerMissing, match="not installed"):
        asyncio.run(missing.alerts())
    view, state = asyncio.run(read_alerts_once(missing, RealClock(), timeout=10))
    assert not view.installed and state.reachable and "not installed" in view.error
