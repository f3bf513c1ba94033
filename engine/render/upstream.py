"""Where each upstream piece comes from, pinned by the version in the config.

Upstream software is referenced, never copied into the rendered repository: Helm charts by
repository URL, chart name and exact version; the Gateway API CRDs by their release manifest.
`mirrors` in the config replaces the upstream locations (one chart repository for every chart,
one base URL for the Gateway API release files), for air-gapped installs and the rehearsal.
"""

from __future__ import annotations

from dataclasses import dataclass

from talos_platform.engine.config.models import PlatformConfig


@dataclass(frozen=True)
class HelmChart:
    repo: str
    name: str
    version: str
    release: str
    namespace: str


CILIUM_REPO = "https://helm.cilium.io/"
ARGO_REPO = "https://argoproj.github.io/argo-helm"
JETSTACK_REPO = "https://charts.jetstack.io"
EXTERNAL_DNS_REPO = "https://kubernetes-sigs.github.io/external-dns/"
HASHICORP_REPO = "https://helm.releases.hashicorp.com"
PROMETHEUS_COMMUNITY_REPO = "https://prometheus-community.github.io/helm-charts"
GATEWAY_API_GIT = "https://github.com/kubernetes-sigs/gateway-api"
CLOUDFLARED_IMAGE = "docker.io/cloudflare/cloudflared"

ARGOCD_NAMESPACE = "argocd"
IN_CLUSTER = "https://kubernetes.default.svc"


def gateway_api_manifest_url(config: PlatformConfig) -> str:
    """The standard-channel CRD bundle of the configured Gateway API release (or its mirror)."""
    version = config.components.gateway_api.version
    mirror = config.mirrors.gateway_api
    if mirror:
        return f"{mirror.rstrip('/')}/{version}/standard-install.yaml"
    return f"{GATEWAY_API_GIT}/releases/download/{version}/standard-install.yaml"


def chart_repository(config: PlatformConfig, upstream: str) -> str:
    """The chart mirror when one is configured, else the chart's upstream repository."""
    return config.mirrors.charts or upstream


def cilium_chart(config: PlatformConfig) -> HelmChart:
    repo = chart_repository(config, CILIUM_REPO)
    return HelmChart(repo, "cilium", config.components.cilium.version, "cilium", "kube-system")


def argocd_chart(config: PlatformConfig) -> HelmChart:
    repo = chart_repository(config, ARGO_REPO)
    return HelmChart(repo, "argo-cd", config.components.argocd.version, "argocd", ARGOCD_NAMESPACE)


def cert_manager_chart(config: PlatformConfig) -> HelmChart:
    version = config.components.cert_manager.version
    return HelmChart(chart_repository(config, JETSTACK_REPO), "cert-manager", version, "cert-manager", "cert-manager")


def external_dns_chart(config: PlatformConfig) -> HelmChart:
    version = config.components.external_dns.version
    repo = chart_repository(config, EXTERNAL_DNS_REPO)
    return HelmChart(repo, "external-dns", version, "external-dns", "external-dns")


def vault_chart(config: PlatformConfig) -> HelmChart:
    repo = chart_repository(config, HASHICORP_REPO)
    return HelmChart(repo, "vault", config.components.vault.version, "vault", "vault")


def vault_secrets_operator_chart(config: PlatformConfig) -> HelmChart:
    version = config.components.vault.secrets_operator.version
    repo = chart_repository(config, HASHICORP_REPO)
    return HelmChart(repo, "vault-secrets-operator", version, "vault-secrets-operator", "vault-secrets-operator")


def monitoring_chart(config: PlatformConfig) -> HelmChart:
    version = config.components.monitoring.version
    repo = chart_repository(config, PROMETHEUS_COMMUNITY_REPO)
    return HelmChart(repo, "kube-prometheus-stack", version, "monitoring", "monitoring")
