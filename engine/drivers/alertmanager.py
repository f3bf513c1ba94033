"""The real Alertmanager driver: its v2 API read through the Kubernetes API server's service proxy
(`/api/v1/namespaces/NS/services/NAME:PORT/proxy/api/v2/alerts`), with the kubeconfig's own
credentials: no port-forward, no route to the cluster's Service network.

The Service is the one kube-prometheus-stack creates for the render's release (`monitoring` in
the `monitoring` namespace): the chart names it `<fullname>-alertmanager`, where fullname is
`<release>-kube-prometheus-stack` cut to 26 characters, and its port `http-web` (9093).
"""

from __future__ import annotations

import asyncio
import builtins
from typing import Any

from talos_platform.engine.drivers.kube_client import KubernetesDriver
from talos_platform.engine.drivers.protocols import AlertmanagerMissing, Resource

SERVICES = Resource("", "v1", "services", "Service")

CHART = "kube-prometheus-stack"


def chart_alertmanager_service(release: str) -> str:
    """The Alertmanager Service kube-prometheus-stack makes for a release (its `fullname` helper:
    the release name when it contains the chart's, else `<release>-<chart>`, cut to 26)."""
    fullname = release if CHART in release else f"{release}-{CHART}"
    return f"{fullname[:26].rstrip('-')}-alertmanager"


ALERTMANAGER_NAMESPACE = "monitoring"
ALERTMANAGER_SERVICE = chart_alertmanager_service("monitoring")
ALERTMANAGER_PORT = "http-web"
ALERTS_QUERY = [("active", "true"), ("silenced", "true"), ("inhibited", "true")]


def service_proxy_path(namespace: str, service: str, port: str, api_path: str) -> str:
    return f"/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy{api_path}"


class AlertmanagerThroughKubernetes:
    """Implements the `Alertmanager` protocol."""

    def __init__(
        self,
        kube: KubernetesDriver,
        *,
        namespace: str = ALERTMANAGER_NAMESPACE,
        service: str = ALERTMANAGER_SERVICE,
        port: str = ALERTMANAGER_PORT,
    ):
        self.kube = kube
        self.namespace = namespace
        self.service = service
        self.port = port
        self.source = f"{namespace}/{service}"

    async def alerts(self) -> builtins.list[dict[str, Any]]:
        path = service_proxy_path(self.namespace, self.service, self.port, "/api/v2/alerts")
        status, data = await asyncio.to_thread(self.kube._request_json, "GET", path, query=ALERTS_QUERY)
        if status == 200 and isinstance(data, list):
            return [alert for alert in data if isinstance(alert, dict)]
        if status == 404 and _kubernetes_status(data, "NotFound"):
            # The proxy says "services ... not found" also for a Service without endpoints yet:
            # whether it exists tells not installed from not ready.
            if await self.kube.get(SERVICES, self.service, self.namespace) is None:
                raise AlertmanagerMissing(
                    f"no Service {self.source}: Alertmanager is not installed (components.monitoring installs it)"
                )
            raise ConnectionError(f"Alertmanager {self.source} has no ready pod (no endpoints): {_message(data)}")
        if status == 503:
            raise ConnectionError(f"Alertmanager {self.source} has no ready pod (503): {_message(data)}")
        if status in (401, 403):
            raise PermissionError(
                f"reading Alertmanager through the API server was refused ({status}): {_message(data)}; "
                f"the kubeconfig's user needs `get` on services/proxy in {self.namespace}"
            )
        raise ConnectionError(f"Alertmanager {self.source} answered {status}: {_message(data)}")


def _kubernetes_status(data: Any, reason: str) -> bool:
    """True for the API server's own Status answer (not one Alertmanager gave through the proxy)."""
    return isinstance(data, dict) and data.get("kind") == "Status" and data.get("reason") == reason


def _message(data: Any) -> str:
    if isinstance(data, dict):
        return str(data.get("message") or data)[:300]
    return str(data or "")[:300].strip()
