"""What the simulated cluster creates for the upstream components it knows: the workloads and
CRDs a Helm chart or release manifest would produce. The simulator cannot inflate real charts,
so it recognises them by name and creates their well-known objects instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Workload:
    kind: str
    """`Deployment`, `DaemonSet` or `StatefulSet`."""
    name: str
    replicas: int = 1
    tolerate_all: bool = False
    """Runs on tainted and NotReady nodes (CNI agents, node exporters)."""
    image: str = ""
    memory_limit: str = "512Mi"
    host_access: bool = False
    """Uses the host's network and PID namespaces and hostPath volumes (node exporters): its
    namespace must allow `privileged` pods, or PodSecurity refuses them."""
    claim: str = ""
    """Name of its volume claim template when the chart gives it a volume by default."""


@dataclass(frozen=True)
class Component:
    name: str
    namespace: str
    workloads: tuple[Workload, ...] = ()
    crds: tuple[str, ...] = ()
    """Full CRD names (`plural.group`)."""


def _crds(group: str, *plurals: str) -> tuple[str, ...]:
    return tuple(f"{plural}.{group}" for plural in plurals)


GATEWAY_API = Component(
    "gateway-api",
    "",
    crds=_crds(
        "gateway.networking.k8s.io", "gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants"
    ),
)
CILIUM = Component(
    "cilium",
    "kube-system",
    workloads=(
        Workload("DaemonSet", "cilium", tolerate_all=True, image="quay.io/cilium/cilium"),
        Workload("DaemonSet", "cilium-envoy", tolerate_all=True, image="quay.io/cilium/cilium-envoy"),
        Workload(
            "Deployment", "cilium-operator", replicas=2, tolerate_all=True, image="quay.io/cilium/operator-generic"
        ),
        Workload("Deployment", "hubble-relay", image="quay.io/cilium/hubble-relay"),
        Workload("Deployment", "hubble-ui", image="quay.io/cilium/hubble-ui"),
    ),
    # The cilium-operator registers these once it runs; the chart itself has no CRDs.
    crds=_crds(
        "cilium.io",
        "ciliumnetworkpolicies",
        "ciliumclusterwidenetworkpolicies",
        "ciliumendpoints",
        "ciliumidentities",
        "ciliumnodes",
        "ciliumloadbalancerippools",
        "ciliuml2announcementpolicies",
    ),
)
ARGOCD = Component(
    "argocd",
    "argocd",
    workloads=(
        Workload("StatefulSet", "argocd-application-controller", image="quay.io/argoproj/argocd"),
        Workload("Deployment", "argocd-repo-server", image="quay.io/argoproj/argocd"),
        Workload("Deployment", "argocd-server", image="quay.io/argoproj/argocd"),
        Workload("Deployment", "argocd-applicationset-controller", image="quay.io/argoproj/argocd"),
        Workload("Deployment", "argocd-redis", image="public.ecr.aws/docker/library/redis"),
        Workload("Deployment", "argocd-notifications-controller", image="quay.io/argoproj/argocd"),
        Workload("Deployment", "argocd-dex-server", image="ghcr.io/dexidp/dex"),
    ),
    crds=_crds("argoproj.io", "applications", "applicationsets", "appprojects"),
)
CERT_MANAGER = Component(
    "cert-manager",
    "cert-manager",
    workloads=(
        Workload("Deployment", "cert-manager", image="quay.io/jetstack/cert-manager-controller"),
        Workload("Deployment", "cert-manager-cainjector", image="quay.io/jetstack/cert-manager-cainjector"),
        Workload("Deployment", "cert-manager-webhook", image="quay.io/jetstack/cert-manager-webhook"),
    ),
    crds=_crds("cert-manager.io", "certificates", "certificaterequests", "issuers", "clusterissuers"),
)
EXTERNAL_DNS = Component(
    "external-dns",
    "external-dns",
    workloads=(Workload("Deployment", "external-dns", image="registry.k8s.io/external-dns/external-dns"),),
)
VAULT = Component(
    "vault",
    "vault",
    workloads=(
        Workload("StatefulSet", "vault", image="hashicorp/vault", claim="data"),
        Workload("Deployment", "vault-agent-injector", image="hashicorp/vault-k8s"),
    ),
)
VAULT_SECRETS_OPERATOR = Component(
    "vault-secrets-operator",
    "vault-secrets-operator-system",
    workloads=(
        Workload("Deployment", "vault-secrets-operator-controller-manager", image="hashicorp/vault-secrets-operator"),
    ),
    crds=_crds("secrets.hashicorp.com", "vaultauths", "vaultconnections", "vaultstaticsecrets"),
)
MONITORING = Component(
    "kube-prometheus-stack",
    "monitoring",
    workloads=(
        Workload(
            "Deployment", "kube-prometheus-stack-operator", image="quay.io/prometheus-operator/prometheus-operator"
        ),
        Workload("Deployment", "kube-prometheus-stack-grafana", image="docker.io/grafana/grafana"),
        Workload(
            "Deployment",
            "kube-prometheus-stack-kube-state-metrics",
            image="registry.k8s.io/kube-state-metrics/kube-state-metrics",
        ),
        Workload(
            "StatefulSet",
            "prometheus-kube-prometheus-stack-prometheus",
            image="quay.io/prometheus/prometheus",
            memory_limit="2Gi",
        ),
        Workload(
            "StatefulSet", "alertmanager-kube-prometheus-stack-alertmanager", image="quay.io/prometheus/alertmanager"
        ),
        Workload(
            "DaemonSet",
            "kube-prometheus-stack-prometheus-node-exporter",
            tolerate_all=True,
            image="quay.io/prometheus/node-exporter",
            host_access=True,
        ),
    ),
    crds=_crds(
        "monitoring.coreos.com", "prometheuses", "alertmanagers", "servicemonitors", "podmonitors", "prometheusrules"
    ),
)
CLOUDFLARED = Component(
    "cloudflared",
    "cloudflare-tunnel",
    workloads=(Workload("Deployment", "cloudflared", replicas=2, image="cloudflare/cloudflared"),),
)

COMPONENTS: dict[str, Component] = {
    component.name: component
    for component in (
        GATEWAY_API,
        CILIUM,
        ARGOCD,
        CERT_MANAGER,
        EXTERNAL_DNS,
        VAULT,
        VAULT_SECRETS_OPERATOR,
        MONITORING,
        CLOUDFLARED,
    )
}
# Chart, release and app names that mean the same component.
ALIASES = {
    "argo-cd": "argocd",
    "argo": "argocd",
    "gateway-api-crds": "gateway-api",
    "gatewayapi": "gateway-api",
    "prometheus": "kube-prometheus-stack",
    "monitoring": "kube-prometheus-stack",
    "cloudflare-tunnel": "cloudflared",
    "cloudflared-tunnel": "cloudflared",
    "vso": "vault-secrets-operator",
}


def component_named(name: str) -> Component | None:
    """The component for a chart/app name, tolerant of suffixes like `-crds` or prefixes."""
    text = name.lower()
    if text in COMPONENTS:
        return COMPONENTS[text]
    if text in ALIASES:
        return COMPONENTS[ALIASES[text]]
    for known in sorted(list(COMPONENTS) + list(ALIASES), key=len, reverse=True):
        if known in text:
            return COMPONENTS.get(known) or COMPONENTS[ALIASES[known]]
    return None


def component_for_url(url: str) -> Component | None:
    """Release manifests referenced by URL (e.g. the Gateway API CRDs)."""
    lowered = url.lower()
    if "gateway-api" in lowered:
        return GATEWAY_API
    return component_named(lowered.rsplit("/", 1)[-1].split(".")[0])


@dataclass(frozen=True)
class NodeSpec:
    """The hardware of a simulated machine."""

    cpu_cores: int = 8
    memory_bytes: int = 32 * 1024**3
    disks: tuple[str, ...] = field(default=("/dev/sda", "/dev/nvme0n1"))
