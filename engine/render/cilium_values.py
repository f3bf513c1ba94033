"""Cilium Helm values for Talos, shared by the bootstrap and the layer-0 Application so that
ArgoCD takes over the very release Layer 1 installed, without a diff."""

from __future__ import annotations

from typing import Any

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.render.load_balancer import cilium_l2_values

# Talos forbids loading kernel modules from pods, so SYS_MODULE is dropped from the defaults.
AGENT_CAPABILITIES = [
    "CHOWN",
    "KILL",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "SYS_ADMIN",
    "SYS_RESOURCE",
    "DAC_OVERRIDE",
    "FOWNER",
    "SETGID",
    "SETUID",
]
CLEAN_STATE_CAPABILITIES = ["NET_ADMIN", "SYS_ADMIN", "SYS_RESOURCE"]
KUBEPRISM_HOST = "localhost"
KUBEPRISM_PORT = 7445


def cilium_values(config: PlatformConfig) -> dict[str, Any]:
    cilium = config.components.cilium
    values: dict[str, Any] = {
        "ipam": {"mode": "kubernetes"},
        # No kube-proxy on the nodes: Cilium serves Services and reaches the API through
        # KubePrism, the API load balancer Talos runs on every node.
        "kubeProxyReplacement": True,
        "k8sServiceHost": KUBEPRISM_HOST,
        "k8sServicePort": KUBEPRISM_PORT,
        # Talos already mounts cgroup v2 for us.
        "cgroup": {"autoMount": {"enabled": False}, "hostRoot": "/sys/fs/cgroup"},
        "securityContext": {
            "capabilities": {
                "ciliumAgent": list(AGENT_CAPABILITIES),
                "cleanCiliumState": list(CLEAN_STATE_CAPABILITIES),
            }
        },
        "gatewayAPI": _gateway_api(config),
        # Two operator replicas refuse to share a node; a single node gets one.
        "operator": {"replicas": 1 if len(config.nodes) == 1 else 2},
        "hubble": {
            "enabled": cilium.hubble,
            "relay": {"enabled": cilium.hubble},
            # Certificates made by a Job in the cluster, not by `helm template`: rendered
            # certificates would differ on every render and keep ArgoCD out of sync forever.
            "tls": {"auto": {"enabled": True, "method": "cronJob"}},
        },
    }
    if cilium.bpf_masquerade:
        # Without host legacy routing, eBPF masquerading breaks Talos' host DNS forwarding.
        values["bpf"] = {"masquerade": True, "hostLegacyRouting": True}
    values.update(cilium_l2_values(config))
    return values


def _gateway_api(config: PlatformConfig) -> dict[str, Any]:
    if not config.components.gateway_api.enabled:
        return {"enabled": False}
    # As the Talos Cilium guide installs it: ALPN lets a Gateway's TLS listeners speak HTTP/2
    # (gRPC), and appProtocol on Services picks the protocol Envoy talks to the backend.
    return {"enabled": True, "enableAlpn": True, "enableAppProtocol": True}
