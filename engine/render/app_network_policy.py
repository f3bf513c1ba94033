"""`app-defaults/`: the default CiliumNetworkPolicy every application namespace gets.

The apps' ApplicationSet adds this folder as a second source of each Application, so ArgoCD
applies the policy into the application's own namespace (its destination). Selecting every pod
of the namespace, it admits ingress only from the namespace itself, from Cilium's Gateway (the
Envoy proxy carries the reserved `ingress` identity), from the node itself (the kubelet's
probes) and from the monitoring namespace (Prometheus scrapes); everything else, the other
applications above all, is dropped by policy. Egress is left open.
"""

from __future__ import annotations

from typing import Any

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.render.applications import kustomization
from talos_platform.engine.render.upstream import monitoring_chart

FOLDER = "app-defaults"
POLICY_FILE = "network-policy.yaml"
POLICY_NAME = "app-namespace-default"
NAMESPACE_LABEL = "k8s:io.kubernetes.pod.namespace"
GATEWAY_ENTITY = "ingress"
HOST_ENTITY = "host"


def enabled(config: PlatformConfig) -> bool:
    return config.components.cilium.enabled and config.components.cilium.app_network_policy


def monitoring_namespace(config: PlatformConfig) -> str | None:
    return monitoring_chart(config).namespace if config.components.monitoring.enabled else None


def app_network_policy(config: PlatformConfig) -> dict[str, Any]:
    """The namespaced policy (no namespace: ArgoCD puts it in the application's)."""
    ingress: list[dict[str, Any]] = [
        # An empty selector in a namespaced policy means "any pod of this namespace".
        {"fromEndpoints": [{}]},
        {"fromEntities": [GATEWAY_ENTITY, HOST_ENTITY]},
    ]
    monitoring = monitoring_namespace(config)
    if monitoring:
        ingress.append({"fromEndpoints": [{"matchLabels": {NAMESPACE_LABEL: monitoring}}]})
    return {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": POLICY_NAME, "labels": {"app.kubernetes.io/managed-by": "talos-platform"}},
        "spec": {
            "description": "Ingress only from this namespace, the Gateway, the node and monitoring; "
            "other applications are denied",
            "endpointSelector": {},
            "ingress": ingress,
        },
    }


def app_defaults_documents(config: PlatformConfig) -> dict[str, Any]:
    if not enabled(config):
        return {}
    return {POLICY_FILE: app_network_policy(config), "kustomization.yaml": kustomization([POLICY_FILE])}
