"""Alertmanager's alert list as the Alerts pane's view, and the real driver's reading of it
through a loopback stand-in of the API server's service proxy (the real Alertmanager behind the
real proxy: tests/harness/test_alertmanager.py)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from support.clock import ManualClock
from support.drivers import FakeAlertmanager

from talos_platform.engine.drivers.alertmanager import AlertmanagerThroughKubernetes
from talos_platform.engine.drivers.kube_client import KubernetesDriver
from talos_platform.engine.drivers.process import ProcessRunner
from talos_platform.engine.drivers.protocols import AlertmanagerMissing
from talos_platform.engine.observe.alerts import AlertReader, parse_time, summarise_alerts
from talos_platform.engine.observe.freshness import STALE_AFTER_SECONDS


def alert(name, severity="warning", state="active", starts="2026-12-03T05:00:00Z", annotations=None, **labels):
    status = {"state": state, "silencedBy": [], "inhibitedBy": [], "mutedBy": []}
    if state == "silenced":
        status.update(state="suppressed", silencedBy=["silence-1"])
    elif state == "inhibited":
        status.update(state="suppressed", inhibitedBy=["fingerprint-1"])
    elif state == "muted":
        status.update(state="suppressed", mutedBy=["weekends"])
    return {
        "labels": {"alertname": name, "severity": severity, **labels},
        "annotations": annotations or {},
        "startsAt": starts,
        "endsAt": "2026-12-03T06:00:00Z",
        "updatedAt": "2026-12-03T05:10:00Z",
        "fingerprint": f"{name}-{sorted(labels.items())}",
        "receivers": [{"name": "null"}],
        "status": status,
    }


def test_active_alerts_are_listed_worst_first_and_the_suppressed_only_counted():
    view = summarise_alerts(
        [
            alert("Watchdog", "none"),
            alert("KubePodCrashLooping", "warning", starts="2026-12-03T05:01:00Z", namespace="shop", pod="web-1"),
            alert("KubeNodeNotReady", "warning", starts="2026-12-03T04:00:00Z", node="worker-3"),
            alert("NodeFilesystemAlmostOutOfSpace", "critical", instance="worker-2"),
            alert("CPUThrottlingHigh", "info", namespace="shop", pod="web-2"),
            alert("KubeJobFailed", state="silenced", namespace="batch"),
            alert("KubeHpaMaxedOut", state="silenced", namespace="batch"),
            alert("KubeNodePressure", "info", state="inhibited", node="worker-2"),
            alert("TargetDown", state="muted", job="x"),
        ],
        source="monitoring/am",
    )
    assert [a.name for a in view.firing] == [
        "NodeFilesystemAlmostOutOfSpace",
        "KubeNodeNotReady",
        "KubePodCrashLooping",
        "CPUThrottlingHigh",
    ]
    assert (view.silenced, view.inhibited, view.muted) == (2, 1, 1)
    assert view.watchdog and view.read and view.installed
    assert view.critical == 1
    assert view.firing[2].target == "shop/web-1"
    assert view.firing[1].target == "worker-3"


def test_what_an_alert_is_about_is_its_summary_else_description_else_its_target_labels():
    summary, description, bare = summarise_alerts(
        [
            alert("A", annotations={"summary": "Pod is crash looping.", "description": "long text"}),
            alert("B", annotations={"description": "Pod shop/web-1 (web)\n is restarting  2.5 times / 10 minutes."}),
            alert("C", namespace="shop", pod="web-1", container="web"),
        ]
    ).firing
    assert summary.about == "Pod is crash looping."
    assert description.about == "Pod shop/web-1 (web) is restarting 2.5 times / 10 minutes."
    assert bare.about == "namespace=shop pod=web-1 container=web"


def test_alertmanager_times_with_nanoseconds_are_read():
    assert parse_time("2026-12-03T05:48:47.123456789Z") == pytest.approx(1796276927.123456)
    assert parse_time("2026-12-03T05:48:47+00:00") == 1796276927.0


def test_without_watchdog_the_view_says_so():
    view = summarise_alerts([])
    assert view.read and not view.watchdog and not view.firing


# --- the real driver through a stand-in of the service proxy ---------------------------------------

SERVICE = "/api/v1/namespaces/monitoring/services/monitoring-kube-prometheus-alertmanager"
PROXY = f"{SERVICE}:http-web/proxy/api/v2/alerts"


class ServiceProxy(BaseHTTPRequestHandler):
    """Answers the proxy path as `answer` says: (status, JSON body)."""

    protocol_version = "HTTP/1.1"
    answer: tuple[int, object] = (200, [])
    service: tuple[int, object] = (404, {"kind": "Status", "reason": "NotFound", "code": 404})
    seen: list[tuple[str, dict[str, str], str]] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urlsplit(self.path)
        type(self).seen.append((url.path, dict(parse_qsl(url.query)), self.headers.get("Authorization", "")))
        if url.path == PROXY:
            status, data = type(self).answer
        elif url.path == SERVICE:
            status, data = type(self).service
        else:
            status, data = (404, {"kind": "Status", "reason": "NotFound"})
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def proxy(tmp_path):
    handler = type(
        "Proxy", (ServiceProxy,), {"seen": [], "answer": ServiceProxy.answer, "service": ServiceProxy.service}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{server.server_address[1]}'}}}}]\n"
        "users: [{name: u, user: {token: t0k}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
        "current-context: c\n"
    )
    yield handler, AlertmanagerThroughKubernetes(KubernetesDriver(kubeconfig, ProcessRunner()))
    server.shutdown()
    server.server_close()


async def test_the_driver_asks_for_every_alert_through_the_service_proxy_with_the_kubeconfig_credentials(proxy):
    handler, driver = proxy
    handler.answer = (200, [alert("KubeNodeNotReady", node="worker-3")])
    alerts = await driver.alerts()
    assert [a["labels"]["alertname"] for a in alerts] == ["KubeNodeNotReady"]
    path, query, authorization = handler.seen[-1]
    assert path == PROXY
    assert query == {"active": "true", "silenced": "true", "inhibited": "true"}
    assert authorization == "Bearer t0k"


async def test_a_missing_service_means_not_installed_and_other_failures_say_why(proxy):
    handler, driver = proxy
    # The proxy's answer is the same for a missing Service and one without endpoints yet: the
    # Service itself tells them apart.
    not_found = {"kind": "Status", "reason": "NotFound", "code": 404, "message": 'services "x" not found'}
    handler.answer = (404, not_found)
    with pytest.raises(AlertmanagerMissing, match="not installed"):
        await driver.alerts()
    handler.service = (200, {"kind": "Service", "metadata": {"name": "monitoring-kube-prometheus-alertmanager"}})
    with pytest.raises(ConnectionError, match="no ready pod"):
        await driver.alerts()
    handler.answer = (503, {"kind": "Status", "reason": "ServiceUnavailable", "message": "no endpoints available"})
    with pytest.raises(ConnectionError, match="no ready pod.*no endpoints available"):
        await driver.alerts()
    handler.answer = (403, {"kind": "Status", "reason": "Forbidden", "message": "cannot get services/proxy"})
    with pytest.raises(PermissionError, match="services/proxy"):
        await driver.alerts()
    handler.answer = (404, "404 page not found")  # Alertmanager's own answer: a wrong path, not a missing one
    with pytest.raises(ConnectionError, match="404"):
        await driver.alerts()


# --- the reader ---------------------------------------------------------------------------------


async def test_the_reader_keeps_the_last_answer_while_alertmanager_does_not_answer_and_ages_it():
    clock = ManualClock()
    changes = []
    alertmanager = FakeAlertmanager(
        [alert("KubeNodeNotReady", node="w")], ConnectionError("refused"), AlertmanagerMissing("gone")
    )
    reader = AlertReader(alertmanager, clock, lambda: changes.append(1))
    await reader.read_once()
    assert [a.name for a in reader.view.firing] == ["KubeNodeNotReady"] and reader.state().reachable
    await reader.read_once()
    assert [a.name for a in reader.view.firing] == ["KubeNodeNotReady"]
    assert reader.view.error == "refused" and not reader.state().reachable
    clock.time += STALE_AFTER_SECONDS
    assert reader.state().stale(clock.now())
    await reader.read_once()
    assert not reader.view.installed and reader.view.error == "gone" and not reader.view.firing
    assert reader.state().reachable  # not installed is no outage
    assert len(changes) == 3 and alertmanager.reads == 3


def test_without_an_alertmanager_driver_there_is_nothing_to_read():
    reader = AlertReader(None, ManualClock(), lambda: None)
    assert not reader.view.installed and reader.state().reachable


# --- which Service ------------------------------------------------------------------------------


def test_the_driver_reads_the_service_the_render_installs():
    """The render's kube-prometheus-stack release and namespace give the Service the driver reads
    (its name checked against `helm template` of the pinned chart when this was written:
    `monitoring-kube-prometheus-alertmanager`, port `http-web` 9093)."""
    from talos_platform.engine.config.loading import load_config
    from talos_platform.engine.drivers.alertmanager import (
        ALERTMANAGER_NAMESPACE,
        ALERTMANAGER_SERVICE,
        chart_alertmanager_service,
    )
    from talos_platform.engine.render.upstream import monitoring_chart

    chart = monitoring_chart(load_config(Path(__file__).resolve().parents[3] / "examples" / "metal-3cp-3w.yaml"))
    assert (chart.namespace, chart_alertmanager_service(chart.release)) == (
        ALERTMANAGER_NAMESPACE,
        ALERTMANAGER_SERVICE,
    )
    assert ALERTMANAGER_SERVICE == "monitoring-kube-prometheus-alertmanager"
    assert chart_alertmanager_service("kube-prometheus-stack") == "kube-prometheus-stack-alertmanager"
    assert chart_alertmanager_service("a-very-long-release-name") == "a-very-long-release-name-k-alertmanager"
