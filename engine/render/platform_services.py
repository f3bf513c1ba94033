"""`platform/`: Layer 3 services, each an Application and each present only when enabled.

Vault with the Vault Secrets Operator (Kubernetes auth), kube-prometheus-stack, a Cloudflare
Tunnel (cloudflared reading its token from a Secret) and the Let's Encrypt ClusterIssuer.
Charts are referenced by repository and version; our own small manifests live in sub-folders.
"""

from __future__ import annotations

from typing import Any

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.platform_checks import installs_local_path
from talos_platform.engine.config.secrets import grafana_password_from_vault
from talos_platform.engine.config.vault_layout import (
    VAULT_KUBERNETES_AUTH_MOUNT,
    VAULT_KV_MOUNT,
    VAULT_OPERATOR_ROLE,
    VAULT_TOKEN_AUDIENCE,
)
from talos_platform.engine.render.applications import application, git_source, helm_source, kustomization
from talos_platform.engine.render.cluster_secrets import CERT_MANAGER_CLOUDFLARE, CLOUDFLARED_TUNNEL
from talos_platform.engine.render.load_balancer import load_balancer_enabled, load_balancer_manifests
from talos_platform.engine.render.platform_network_policy import platform_policy_documents, policy_source
from talos_platform.engine.render.pod_security import namespace_labels
from talos_platform.engine.render.storage import (
    LOCAL_PATH_NAMESPACE,
    local_path_manifests,
    merged,
    monitoring_storage_values,
    vault_storage_values,
)
from talos_platform.engine.render.talos_patches import ETCD_METRICS_PORT
from talos_platform.engine.render.upstream import (
    CLOUDFLARED_IMAGE,
    monitoring_chart,
    vault_chart,
    vault_secrets_operator_chart,
)

VAULT_ADDRESS = "http://vault.vault.svc.cluster.local:8200"

# Grafana's admin login: Vault's `secret/platform/grafana` (written by the install), synced into
# the Secret `monitoring/grafana-admin` by the Vault Secrets Operator.
MONITORING_NAMESPACE = "monitoring"
GRAFANA_VAULT_PATH = "platform/grafana"
GRAFANA_ADMIN_SECRET = "grafana-admin"
GRAFANA_ADMIN_USER_KEY = "admin-user"
GRAFANA_ADMIN_PASSWORD_KEY = "admin-password"
GRAFANA_ADMIN_USER = "admin"

LETSENCRYPT_SERVER = "https://acme-v02.api.letsencrypt.org/directory"
CLUSTER_ISSUER = "letsencrypt"
ACME_GATEWAY = "platform"
ACME_GATEWAY_NAMESPACE = "platform-gateway"
TUNNEL_NAMESPACE = CLOUDFLARED_TUNNEL.namespace


def platform_enabled(config: PlatformConfig) -> bool:
    components = config.components
    return any(
        (
            components.vault.enabled,
            components.monitoring.enabled,
            components.cloudflare_tunnel.enabled,
            components.cert_manager.enabled,
            installs_local_path(config),
            load_balancer_enabled(config),
        )
    )


# Storage and load-balancer addresses come first: the services of wave 0 and later need them.
WAVE_INFRASTRUCTURE = -1


def platform_documents(config: PlatformConfig) -> dict[str, Any]:
    """Files of `platform/` by relative path. Empty when no platform service is enabled."""
    if not platform_enabled(config):
        return {}
    components = config.components
    files: dict[str, Any] = {}
    files.update(_infrastructure(config))
    if components.vault.enabled:
        files["vault.yaml"] = application(
            "vault",
            wave=0,
            source=helm_source(vault_chart(config), merged(_vault_values(), vault_storage_values(config))),
            namespace="vault",
            prune=False,  # Vault's storage holds every secret; never prune it by accident
        )
        if components.vault.secrets_operator.enabled:
            files["vault-secrets-operator.yaml"] = application(
                "vault-secrets-operator",
                wave=1,
                source=helm_source(vault_secrets_operator_chart(config), _vault_operator_values()),
                namespace="vault-secrets-operator",
                server_side_apply=True,
            )
    if components.monitoring.enabled:
        files["monitoring.yaml"] = application(
            "monitoring",
            # Grafana's admin Secret comes through the Vault Secrets Operator (wave 1).
            wave=2 if grafana_password_from_vault(config) else 0,
            source=helm_source(
                monitoring_chart(config), merged(_monitoring_values(config), monitoring_storage_values(config))
            ),
            namespace="monitoring",
            server_side_apply=True,
        )
    if components.cloudflare_tunnel.enabled:
        files["cloudflare-tunnel.yaml"] = application(
            "cloudflare-tunnel",
            wave=0,
            source=git_source(config, "platform", "cloudflare-tunnel"),
            namespace=TUNNEL_NAMESPACE,
        )
        for name, document in _tunnel_manifests(config).items():
            files[f"cloudflare-tunnel/{name}"] = document
    if components.cert_manager.enabled and _issuer_solver(config) is not None:
        files["cert-manager-issuer.yaml"] = application(
            "cert-manager-issuer",
            wave=1,
            source=git_source(config, "platform", "cert-manager-issuer"),
            namespace="cert-manager",
        )
        for name, document in _issuer_manifests(config).items():
            files[f"cert-manager-issuer/{name}"] = document
    applications = sorted(name for name in files if "/" not in name)
    for name in applications:
        files[name] = _with_network_policy(config, files[name])
    files.update(platform_policy_documents(config))
    files["kustomization.yaml"] = kustomization(applications)
    return files


def _with_network_policy(config: PlatformConfig, app: dict[str, Any]) -> dict[str, Any]:
    """The Application with its namespace's network policy as a second source, when it has one:
    the policy is applied with the component, into the component's namespace."""
    spec = app["spec"]
    policy = policy_source(config, spec["destination"]["namespace"])
    if policy is None:
        return app
    sources = [spec["source"], policy]
    spec = {key: value for key, value in spec.items() if key != "source"}
    return {**app, "spec": {"project": spec.pop("project"), "sources": sources, **spec}}


def _infrastructure(config: PlatformConfig) -> dict[str, Any]:
    """The local-path provisioner and the load-balancer pool, each an Application of the first wave."""
    files: dict[str, Any] = {}
    if installs_local_path(config):
        files["local-path-storage.yaml"] = application(
            "local-path-storage",
            wave=WAVE_INFRASTRUCTURE,
            source=git_source(config, "platform", "local-path-storage"),
            namespace=LOCAL_PATH_NAMESPACE,
            # Volumes outlive a wrong render: never prune or cascade-delete their provisioner and class.
            prune=False,
            cascade_delete=False,
        )
        for name, document in local_path_manifests(config).items():
            files[f"local-path-storage/{name}"] = document
    if load_balancer_enabled(config):
        files["load-balancer.yaml"] = application(
            "load-balancer",
            wave=WAVE_INFRASTRUCTURE,
            source=git_source(config, "platform", "load-balancer"),
            namespace="kube-system",
            # The cilium-operator registers these CRDs once it runs, after Cilium's own sync.
            sync_options_extra=("SkipDryRunOnMissingResource=true",),
        )
        for name, document in load_balancer_manifests(config).items():
            files[f"load-balancer/{name}"] = document
    return files


def _vault_values() -> dict[str, Any]:
    return {
        # Secrets reach pods through the Vault Secrets Operator, not the sidecar injector.
        "injector": {"enabled": False},
        "server": {"dataStorage": {"enabled": True}},
        "ui": {"enabled": True},
    }


def _vault_operator_values() -> dict[str, Any]:
    return {
        "defaultVaultConnection": {"enabled": True, "address": VAULT_ADDRESS},
        "defaultAuthMethod": {
            "enabled": True,
            # The chart writes `namespace: {{ value }}` unquoted, so its default "" becomes null,
            # which the VaultAuth CRD refuses under a server-side apply (found by the rehearsal).
            # A quoted empty string renders as "": no Vault (Enterprise) namespace.
            "namespace": '""',
            "method": "kubernetes",
            "mount": VAULT_KUBERNETES_AUTH_MOUNT,
            "kubernetes": {
                "role": VAULT_OPERATOR_ROLE,
                "serviceAccount": "default",
                "tokenAudiences": [VAULT_TOKEN_AUDIENCE],
            },
        },
    }


def _monitoring_values(config: PlatformConfig) -> dict[str, Any]:
    grafana: dict[str, Any] = {"grafana.ini": {"server": {"root_url": f"https://grafana.{config.domain.base}"}}}
    extra: dict[str, Any] = {}
    if grafana_password_from_vault(config):
        # Without an existing Secret the chart makes a new random password on every render,
        # so ArgoCD would see a change forever and Grafana's password would keep moving.
        grafana["admin"] = {
            "existingSecret": GRAFANA_ADMIN_SECRET,
            "userKey": GRAFANA_ADMIN_USER_KEY,
            "passwordKey": GRAFANA_ADMIN_PASSWORD_KEY,
        }
        extra["extraManifests"] = [grafana_admin_secret()]
    return {
        **extra,
        "grafana": grafana,
        # Pick up ServiceMonitors and PodMonitors from every release, not only this chart's.
        "prometheus": {
            "prometheusSpec": {
                "podMonitorSelectorNilUsesHelmValues": False,
                "serviceMonitorSelectorNilUsesHelmValues": False,
            }
        },
        **TALOS_CONTROL_PLANE_SCRAPING,
    }


def grafana_admin_secret() -> dict[str, Any]:
    """The VaultStaticSecret that keeps `monitoring/grafana-admin` in step with Vault's
    `secret/platform/grafana` (written by the install). No `vaultAuthRef`: the operator's
    default VaultAuth, logging in as this namespace's `default` service account."""
    return {
        "apiVersion": "secrets.hashicorp.com/v1beta1",
        "kind": "VaultStaticSecret",
        "metadata": {"name": GRAFANA_ADMIN_SECRET, "namespace": MONITORING_NAMESPACE},
        "spec": {
            "type": "kv-v2",
            "mount": VAULT_KV_MOUNT,
            "path": GRAFANA_VAULT_PATH,
            "refreshAfter": "1h",
            "destination": {"name": GRAFANA_ADMIN_SECRET, "create": True},
            # Grafana reads the password at start: restart it when the password changes.
            "rolloutRestartTargets": [{"kind": "Deployment", "name": "monitoring-grafana"}],
        },
    }


# How Talos runs the control plane (docs/monitoring.md): no kube-proxy (Cilium replaces it), so
# neither its scrape nor KubeProxyDown; the controller manager and scheduler are host-network
# static pods labelled `k8s-app` (the Talos patch binds them to the node IP); etcd is a host
# service on the control planes, reached through the controller manager's pods, which run on
# exactly those nodes with the node's address.
TALOS_CONTROL_PLANE_SCRAPING: dict[str, Any] = {
    "kubeProxy": {"enabled": False},
    "kubeControllerManager": {"service": {"selector": {"k8s-app": "kube-controller-manager"}}},
    "kubeScheduler": {"service": {"selector": {"k8s-app": "kube-scheduler"}}},
    "kubeEtcd": {
        "service": {
            "selector": {"k8s-app": "kube-controller-manager"},
            "port": ETCD_METRICS_PORT,
            "targetPort": ETCD_METRICS_PORT,
        }
    },
}


def _tunnel_manifests(config: PlatformConfig) -> dict[str, Any]:
    version = config.components.cloudflare_tunnel.version
    labels = {"app.kubernetes.io/name": "cloudflared"}
    secret = CLOUDFLARED_TUNNEL
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "cloudflared", "namespace": TUNNEL_NAMESPACE, "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [
                        {
                            "name": "cloudflared",
                            "image": f"{CLOUDFLARED_IMAGE}:{version}",
                            "args": ["tunnel", "--no-autoupdate", "--metrics", "0.0.0.0:2000", "run"],
                            # The tunnel token comes from a Secret the install creates.
                            "env": [
                                {
                                    "name": "TUNNEL_TOKEN",
                                    "valueFrom": {"secretKeyRef": {"name": secret.name, "key": secret.key}},
                                }
                            ],
                            "ports": [{"name": "metrics", "containerPort": 2000}],
                            "livenessProbe": {
                                "httpGet": {"path": "/ready", "port": 2000},
                                "initialDelaySeconds": 10,
                                "periodSeconds": 10,
                                "failureThreshold": 3,
                            },
                            "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}},
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                },
            },
        },
    }
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": TUNNEL_NAMESPACE, "labels": namespace_labels(TUNNEL_NAMESPACE)},
    }
    return {
        "namespace.yaml": namespace,
        "deployment.yaml": deployment,
        "kustomization.yaml": kustomization(["namespace.yaml", "deployment.yaml"]),
    }


def _issuer_solver(config: PlatformConfig) -> dict[str, Any] | None:
    """How Let's Encrypt checks that we own the domain.

    DNS-01 through Cloudflare when the Cloudflare token is there anyway (external-dns uses it);
    else HTTP-01 through a Gateway API Gateway; with neither, no issuer can work and none is made.
    """
    components = config.components
    if components.external_dns.enabled:
        secret = CERT_MANAGER_CLOUDFLARE
        return {
            "dns01": {"cloudflare": {"apiTokenSecretRef": {"name": secret.name, "key": secret.key}}},
            "selector": {"dnsZones": [config.domain.base]},
        }
    if components.gateway_api.enabled:
        parent = {"kind": "Gateway", "name": ACME_GATEWAY, "namespace": ACME_GATEWAY_NAMESPACE}
        return {"http01": {"gatewayHTTPRoute": {"parentRefs": [parent]}}}
    return None


def _issuer_manifests(config: PlatformConfig) -> dict[str, Any]:
    issuer: dict[str, Any] = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": CLUSTER_ISSUER},
        "spec": {
            "acme": {
                "email": config.domain.acme_email,
                "server": LETSENCRYPT_SERVER,
                "privateKeySecretRef": {"name": f"{CLUSTER_ISSUER}-account-key"},
                "solvers": [_issuer_solver(config)],
            }
        },
    }
    files: dict[str, Any] = {"cluster-issuer.yaml": issuer}
    if "http01" in issuer["spec"]["acme"]["solvers"][0]:
        files["namespace.yaml"] = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ACME_GATEWAY_NAMESPACE, "labels": namespace_labels(ACME_GATEWAY_NAMESPACE)},
        }
        files["gateway.yaml"] = {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": {"name": ACME_GATEWAY, "namespace": ACME_GATEWAY_NAMESPACE},
            "spec": {
                "gatewayClassName": "cilium",
                "listeners": [
                    {
                        "name": "http",
                        "protocol": "HTTP",
                        "port": 80,
                        "hostname": f"*.{config.domain.base}",
                        "allowedRoutes": {"namespaces": {"from": "All"}},
                    }
                ],
            },
        }
    files["kustomization.yaml"] = kustomization(sorted(files))
    return files


__all__ = [
    "CLUSTER_ISSUER",
    "platform_documents",
    "platform_enabled",
]
