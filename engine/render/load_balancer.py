"""`platform/load-balancer/`: the addresses Cilium may hand out to LoadBalancer Services.

Cilium's Gateway API implementation exposes each Gateway through a LoadBalancer Service; it gets
an address only from a CiliumLoadBalancerIPPool, and the LAN learns where that address lives from
Cilium's L2 announcements (ARP replies from one node, chosen through a lease). Both kinds are
CRDs the cilium-operator registers when it starts, not the chart, so the Application applying
them skips the dry run of kinds that do not exist yet and retries until they do.

Both objects use `cilium.io/v2alpha1`: the only version of CiliumL2AnnouncementPolicy, and a
version of CiliumLoadBalancerIPPool every Cilium from 1.18 to 1.20 serves (newer ones store v2).
"""

from __future__ import annotations

from typing import Any

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.platform_checks import pool_block
from talos_platform.engine.render.applications import kustomization

CILIUM_API_VERSION = "cilium.io/v2alpha1"
POOL_NAME = "platform"

# L2 announcements hold a lease per Service and renew it every few seconds through the API; the
# client's default rate limit (10/s) starves with a handful of Services (Cilium's L2 guide).
CLIENT_RATE_LIMIT = {"qps": 50, "burst": 100}


def load_balancer_enabled(config: PlatformConfig) -> bool:
    return config.components.cilium.enabled and config.cluster.network.load_balancer_pool is not None


def cilium_l2_values(config: PlatformConfig) -> dict[str, Any]:
    """The Cilium values L2 announcements need, merged into the chart's values; empty without a pool.

    The older `externalIPs.enabled` value is not set: the 1.18 and 1.20 charts no longer have it,
    the kube-proxy replacement serves external and load-balancer IPs on its own."""
    if not load_balancer_enabled(config):
        return {}
    return {
        "l2announcements": {"enabled": True},
        "k8sClientRateLimit": dict(CLIENT_RATE_LIMIT),
    }


def load_balancer_manifests(config: PlatformConfig) -> dict[str, Any]:
    """Files of `platform/load-balancer/` by name."""
    pool = {
        "apiVersion": CILIUM_API_VERSION,
        "kind": "CiliumLoadBalancerIPPool",
        "metadata": {"name": POOL_NAME},
        "spec": {"blocks": [pool_block(config.cluster.network.load_balancer_pool or "")]},
    }
    # Only addresses from our pool: announcing the externalIPs any Service may claim would let
    # anyone who can create a Service answer ARP for any address on the LAN.
    spec: dict[str, Any] = {"loadBalancerIPs": True, "externalIPs": False}
    links = sorted({node.link for node in config.nodes if node.link})
    if links and all(node.link for node in config.nodes):
        # Announce only on the links that carry the node IPs, as the nodes name them.
        spec["interfaces"] = [f"^{link}$" for link in links]
    policy = {
        "apiVersion": CILIUM_API_VERSION,
        "kind": "CiliumL2AnnouncementPolicy",
        "metadata": {"name": POOL_NAME},
        "spec": spec,
    }
    return {
        "pool.yaml": pool,
        "l2-announcement-policy.yaml": policy,
        "kustomization.yaml": kustomization(["pool.yaml", "l2-announcement-policy.yaml"]),
    }
