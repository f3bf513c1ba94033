"""`platform/network-policies/<namespace>/`: a CiliumNetworkPolicy for each platform namespace
whose ingress flows are all known from its chart (or our own manifests).

Each policy selects every pod of its namespace and admits only the flows listed here; ArgoCD
applies it as the second source of the component's own Application, so it arrives with the
component, in its namespace. Egress is left open. Targets are container ports (Cilium judges
ingress after the Service's translation).

Policed:
- `vault`: the Vault pods among themselves (8200, and the cluster port 8201 between servers);
  8200 from the Vault Secrets Operator, from monitoring (telemetry scrapes), from the API server
  (the install reaches Vault through its pod proxy), from the node (kubelet probes), from the
  Gateway and the Cloudflare Tunnel (the UI the chart enables). The cluster port is denied
  explicitly to every other namespace, so Hubble names this policy when something calls it.
- `monitoring`: its own pods among themselves (Prometheus scraping kube-state-metrics, Grafana
  reading Prometheus, Prometheus sending to Alertmanager); the node (probes); the API server to
  the operator's admission webhook (10250) and to Alertmanager (9093, read through the API
  server's service proxy); Grafana (3000) from the Gateway and the Cloudflare Tunnel.
  Host-network pods (the node exporter) are no endpoints a policy selects.
- `cloudflare-tunnel`: nothing reaches cloudflared but its metrics and probe port (2000), from
  the node and from monitoring; it only dials out.

Not policed, on purpose (a policy would guess): `kube-system` holds Cilium itself, its Envoy and
the API server's neighbours; `argocd` is reached by every component's webhooks, users and the
repo server's callers, and talks to everything; cert-manager's and external-dns' flows depend on
the solvers and providers the user picks (ACME HTTP-01 solvers run as pods reached from outside);
the Vault Secrets Operator and local-path provisioner are reached by nothing but probes and the
API server today, but their charts open ports (metrics, webhooks, helper pods) configured by
values we do not fix; `platform-gateway` holds no pods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.render.applications import kustomization, repo_path
from talos_platform.engine.render.cluster_secrets import CLOUDFLARED_TUNNEL
from talos_platform.engine.render.upstream import monitoring_chart, vault_chart

FOLDER = "network-policies"
"""Under `platform/`: one sub-folder per policed namespace."""
POLICY_FILE = "network-policy.yaml"
POLICY_NAME = "platform-namespace-default"
NAMESPACE_LABEL = "k8s:io.kubernetes.pod.namespace"
TUNNEL_NAMESPACE = CLOUDFLARED_TUNNEL.namespace

VAULT_API_PORT = 8200
VAULT_CLUSTER_PORT = 8201
GRAFANA_PORT = 3000
ALERTMANAGER_PORT = 9093
OPERATOR_WEBHOOK_PORT = 10250
CLOUDFLARED_METRICS_PORT = 2000


@dataclass(frozen=True)
class Admitted:
    """One ingress rule: who (namespaces and/or Cilium entities) may reach which ports (all: none)."""

    namespaces: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()
    own_namespace: bool = False


def enabled(config: PlatformConfig) -> bool:
    return config.components.cilium.enabled and config.components.cilium.platform_network_policy


def _present(*namespaces: tuple[bool, str]) -> tuple[str, ...]:
    return tuple(namespace for on, namespace in namespaces if on)


def _vault(config: PlatformConfig) -> list[Admitted]:
    components = config.components
    callers = _present(
        (components.vault.secrets_operator.enabled, "vault-secrets-operator"),
        (components.monitoring.enabled, monitoring_chart(config).namespace),
        (components.cloudflare_tunnel.enabled, TUNNEL_NAMESPACE),
    )
    rules = [
        Admitted(own_namespace=True),
        Admitted(entities=("kube-apiserver", "host", "ingress"), ports=(VAULT_API_PORT,)),
    ]
    if callers:
        rules.append(Admitted(namespaces=callers, ports=(VAULT_API_PORT,)))
    return rules


def _monitoring(config: PlatformConfig) -> list[Admitted]:
    rules = [
        Admitted(own_namespace=True),
        Admitted(entities=("host",)),
        Admitted(entities=("kube-apiserver",), ports=(ALERTMANAGER_PORT, OPERATOR_WEBHOOK_PORT)),
        Admitted(entities=("ingress",), ports=(GRAFANA_PORT,)),
    ]
    if config.components.cloudflare_tunnel.enabled:
        rules.append(Admitted(namespaces=(TUNNEL_NAMESPACE,), ports=(GRAFANA_PORT,)))
    return rules


def _cloudflare_tunnel(config: PlatformConfig) -> list[Admitted]:
    rules = [Admitted(entities=("host",), ports=(CLOUDFLARED_METRICS_PORT,))]
    if config.components.monitoring.enabled:
        rules.append(Admitted(namespaces=(monitoring_chart(config).namespace,), ports=(CLOUDFLARED_METRICS_PORT,)))
    return rules


def policed_namespaces(config: PlatformConfig) -> dict[str, list[Admitted]]:
    """Namespace -> the ingress it admits, for each enabled component whose flows are known."""
    if not enabled(config):
        return {}
    components = config.components
    policed: dict[str, list[Admitted]] = {}
    if components.vault.enabled:
        policed[vault_chart(config).namespace] = _vault(config)
    if components.monitoring.enabled:
        policed[monitoring_chart(config).namespace] = _monitoring(config)
    if components.cloudflare_tunnel.enabled:
        policed[TUNNEL_NAMESPACE] = _cloudflare_tunnel(config)
    return policed


def _to_ports(ports: tuple[int, ...]) -> dict[str, Any]:
    return {"toPorts": [{"ports": [{"port": str(port), "protocol": "TCP"} for port in ports]}]} if ports else {}


def _rules(admitted: Admitted) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    ports = _to_ports(admitted.ports)
    if admitted.own_namespace:
        # An empty selector in a namespaced policy means "any pod of this namespace".
        rules.append({"fromEndpoints": [{}], **ports})
    if admitted.namespaces:
        selectors = [{"matchLabels": {NAMESPACE_LABEL: namespace}} for namespace in admitted.namespaces]
        rules.append({"fromEndpoints": selectors, **ports})
    if admitted.entities:
        rules.append({"fromEntities": list(admitted.entities), **ports})
    return rules


DESCRIPTIONS = {
    "vault": "Vault: 8200 from its operator, monitoring, the API server, the node, the Gateway and the tunnel; "
    "the cluster port 8201 only between Vault's own pods",
    "monitoring": "Monitoring: its own pods; the node; the API server to Alertmanager and the operator's webhook; "
    "Grafana from the Gateway and the tunnel",
    TUNNEL_NAMESPACE: "cloudflared: only its metrics and probe port, from the node and monitoring",
}


def platform_network_policy(config: PlatformConfig, namespace: str) -> dict[str, Any]:
    """The namespaced policy of one policed platform namespace (ArgoCD puts it in the namespace)."""
    admitted = policed_namespaces(config)[namespace]
    spec: dict[str, Any] = {
        "description": DESCRIPTIONS[namespace],
        "endpointSelector": {},
        "ingress": [rule for entry in admitted for rule in _rules(entry)],
    }
    if namespace == vault_chart(config).namespace:
        # Explicit, so the drop names this policy: pods of every other namespace, cluster port.
        others = {"matchExpressions": [{"key": NAMESPACE_LABEL, "operator": "NotIn", "values": [namespace]}]}
        spec["ingressDeny"] = [{"fromEndpoints": [others], **_to_ports((VAULT_CLUSTER_PORT,))}]
    return {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": POLICY_NAME, "labels": {"app.kubernetes.io/managed-by": "talos-platform"}},
        "spec": spec,
    }


def policy_folder(namespace: str) -> str:
    """The namespace's folder, relative to `platform/`."""
    return f"{FOLDER}/{namespace}"


def policy_source(config: PlatformConfig, namespace: str) -> dict[str, Any] | None:
    """The Application source that applies the namespace's policy, or None when it has none."""
    if namespace not in policed_namespaces(config):
        return None
    gitops = config.gitops
    return {
        "repoURL": gitops.repo_url,
        "targetRevision": gitops.branch,
        "path": repo_path(config, "platform", policy_folder(namespace)),
    }


ENTITY_WORDS = {"kube-apiserver": "the API server", "host": "the node", "ingress": "the Gateway"}


def _admitted_words(admitted: Admitted) -> str:
    who = []
    if admitted.own_namespace:
        who.append("its own pods")
    who += [ENTITY_WORDS.get(entity, entity) for entity in admitted.entities]
    who += [f"`{namespace}`" for namespace in admitted.namespaces]
    ports = "/".join(str(port) for port in admitted.ports) if admitted.ports else "any port"
    return f"{ports} from {', '.join(who)}"


def admitted_flows(config: PlatformConfig) -> dict[str, str]:
    """Namespace -> the flows its policy admits, in words (the rendered README and docs)."""
    words = {}
    for namespace, admitted in policed_namespaces(config).items():
        text = "; ".join(_admitted_words(entry) for entry in admitted)
        if namespace == vault_chart(config).namespace:
            text += f"; {VAULT_CLUSTER_PORT} denied to every other namespace"
        words[namespace] = text
    return words


def platform_policy_documents(config: PlatformConfig) -> dict[str, Any]:
    """Files under `platform/`, by relative path."""
    files: dict[str, Any] = {}
    for namespace in policed_namespaces(config):
        folder = policy_folder(namespace)
        files[f"{folder}/{POLICY_FILE}"] = platform_network_policy(config, namespace)
        files[f"{folder}/kustomization.yaml"] = kustomization([POLICY_FILE])
    return files
