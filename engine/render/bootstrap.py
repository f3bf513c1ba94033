"""`bootstrap/`: the one-time Layer 1 kustomization (Gateway API CRDs, Cilium, ArgoCD).

Layer 1 applies it with `kubectl kustomize --enable-helm bootstrap | kubectl apply
--server-side -f -`. Charts are pulled by kustomize at that moment, pinned by version; the values
are the very ones the layer-0 Applications use, so ArgoCD adopts these releases unchanged.
"""

from __future__ import annotations

from typing import Any

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.render.applications import kustomization
from talos_platform.engine.render.argocd_values import argocd_values
from talos_platform.engine.render.cilium_values import cilium_values
from talos_platform.engine.render.pod_security import namespace_labels
from talos_platform.engine.render.upstream import (
    ARGOCD_NAMESPACE,
    HelmChart,
    argocd_chart,
    cilium_chart,
    gateway_api_manifest_url,
)


def bootstrap_documents(config: PlatformConfig) -> dict[str, Any]:
    """Files of `bootstrap/` by name, as data to dump."""
    components = config.components
    files: dict[str, Any] = {}
    resources: list[str] = []
    charts: list[dict[str, Any]] = []
    if components.gateway_api.enabled:
        resources.append(gateway_api_manifest_url(config))
    if components.cilium.enabled:
        charts.append(_helm_chart(config, cilium_chart(config), "cilium-values.yaml"))
        files["cilium-values.yaml"] = cilium_values(config)
    if components.argocd.enabled:
        # `helm template` does not create namespaces; ArgoCD's must exist before its objects.
        files["namespace-argocd.yaml"] = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ARGOCD_NAMESPACE, "labels": namespace_labels(ARGOCD_NAMESPACE)},
        }
        resources.append("namespace-argocd.yaml")
        charts.append(_helm_chart(config, argocd_chart(config), "argocd-values.yaml"))
        files["argocd-values.yaml"] = argocd_values(config)
    fields = {"helmCharts": charts} if charts else {}
    files["kustomization.yaml"] = kustomization(resources, **fields)
    return files


def _helm_chart(config: PlatformConfig, chart: HelmChart, values_file: str) -> dict[str, Any]:
    return {
        "name": chart.name,
        "repo": chart.repo,
        "version": chart.version,
        "releaseName": chart.release,
        "namespace": chart.namespace,
        "includeCRDs": True,
        "valuesFile": values_file,
        # The cluster's version, as ArgoCD tells helm later: a helm without release build
        # information would otherwise assume Kubernetes v1.20 and refuse most charts.
        "kubeVersion": config.cluster.kubernetes_version.removeprefix("v"),
    }
