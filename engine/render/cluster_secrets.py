"""The Kubernetes Secrets the rendered tree expects but never contains.

Secret values never go to Git. The install creates these Secrets straight in the cluster
(Layer 1, before ArgoCD syncs anything that reads them); the rendered manifests only name them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.render.upstream import ARGOCD_NAMESPACE


@dataclass(frozen=True)
class ClusterSecret:
    namespace: str
    name: str
    key: str
    source: str
    """Which `Secrets` attribute holds the value (see engine/config/secrets.py)."""
    labels: dict[str, str] = field(default_factory=dict)


EXTERNAL_DNS_CLOUDFLARE = ClusterSecret("external-dns", "cloudflare-api-token", "api-token", "cloudflare_api_token")
CERT_MANAGER_CLOUDFLARE = ClusterSecret("cert-manager", "cloudflare-api-token", "api-token", "cloudflare_api_token")
CLOUDFLARED_TUNNEL = ClusterSecret("cloudflare-tunnel", "cloudflared-token", "token", "cloudflare_tunnel_token")
# ArgoCD picks up repository credentials from any Secret with this label; besides the token it
# needs the keys `type: git`, `url` and `username` (not secret, written by the install).
GIT_REPOSITORY = ClusterSecret(
    ARGOCD_NAMESPACE,
    "gitops-repository",
    "password",
    "git_token",
    labels={"argocd.argoproj.io/secret-type": "repository"},
)


def cluster_secrets(config: PlatformConfig) -> list[ClusterSecret]:
    """The Secrets this config's rendered tree reads, in the order the install should create them."""
    components = config.components
    needed: list[ClusterSecret] = []
    if config.gitops.private:
        needed.append(GIT_REPOSITORY)
    if components.cert_manager.enabled and components.external_dns.enabled:
        # The issuer solves DNS-01 with the same Cloudflare token external-dns uses.
        needed.append(CERT_MANAGER_CLOUDFLARE)
    if components.external_dns.enabled:
        needed.append(EXTERNAL_DNS_CLOUDFLARE)
    if components.cloudflare_tunnel.enabled:
        needed.append(CLOUDFLARED_TUNNEL)
    return needed
