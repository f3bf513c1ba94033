"""Where each upstream piece comes from, pinned by the version in the config.

Upstream software is referenced, never copied into the rendered repository: Helm charts by
repository URL, chart name and exact version; the Gateway API CRDs by their release manifest
(bootstrap) and their tagged Git folder (ArgoCD).
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


def gateway_api_manifest_url(version: str) -> str:
    """The standard-channel CRD bundle attached to a Gateway API release."""
    return f"{GATEWAY_API_GIT}/releases/download/{version}/standard-install.yaml"


def cilium_chart(config: PlatformConfig) -> HelmChart:
    return HelmChart(CILIUM_REPO, "cilium", config.components.cilium.version, "cilium", "kube-system")


def argocd_chart(config: PlatformConfig) -> HelmChart:
    return HelmChart(ARGO_REPO, "argo-cd", config.components.argocd.version, "argocd", ARGOCD_NAMESPACE)


def cert_manager_chart(config: PlatformConfig) -> HelmChart:
    version = config.components.cert_manager.version
    return HelmChart(JETSTACK_REPO, "cert-manager", version, "cert-manager", "cert-manager")


def external_dns_chart(config: PlatformConfig) -> HelmChart:
    version = config.components.external_dns.version
    return HelmChart(EXTERNAL_DNS_REPO, "external-dns", version, "external-dns", "external-dns")


def vault_chart(config: PlatformConfig) -> HelmChart:
    return HelmChart(HASHICORP_REPO, "vault", config.components.vault.version, "vault", "vault")


def vault_secrets_operator_chart(config: PlatformConfig) -> HelmChart:
    version = config.components.vault.secrets_operator.version
    return HelmChart(
        HASHICORP_REPO, "vault-secrets-operator", version, "vault-secrets-operator", "vault-secrets-operator"
    )


def monitoring_chart(config: PlatformConfig) -> HelmChart:
    version = config.components.monitoring.version
    return HelmChart(PROMETHEUS_COMMUNITY_REPO, "kube-prometheus-stack", version, "monitoring", "monitoring")
