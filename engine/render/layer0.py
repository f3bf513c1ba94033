"""`bootstrap-app.yaml` (the root Application) and `layer-0/`, the infrastructure
app-of-apps whose sync waves order Gateway API CRDs, Cilium, cert-manager, external-dns and
ArgoCD itself, followed by the platform services and the applications."""

from __future__ import annotations

from typing import Any

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.render.applications import application, git_source, helm_source, kustomization
from talos_platform.engine.render.argocd_values import argocd_values
from talos_platform.engine.render.cilium_values import cilium_values
from talos_platform.engine.render.cluster_secrets import EXTERNAL_DNS_CLOUDFLARE
from talos_platform.engine.render.platform_services import platform_enabled
from talos_platform.engine.render.upstream import (
    ARGOCD_NAMESPACE,
    argocd_chart,
    cert_manager_chart,
    cilium_chart,
    external_dns_chart,
    gateway_api_manifest_url,
)

ROOT_APPLICATION = "layer-0"
GATEWAY_API_FOLDER = "gateway-api-crds"

WAVE_GATEWAY_API = -100
WAVE_CILIUM = -99
WAVE_CERT_MANAGER = -98
WAVE_EXTERNAL_DNS = -97
WAVE_ARGOCD = -96
WAVE_PLATFORM = 0
WAVE_APPS = 10


def root_application(config: PlatformConfig) -> dict[str, Any]:
    """The one Application applied by hand (Layer 1); everything else comes from Git."""
    return application(ROOT_APPLICATION, wave=0, source=git_source(config, "layer-0"), namespace=ARGOCD_NAMESPACE)


def layer0_documents(config: PlatformConfig) -> dict[str, Any]:
    components = config.components
    apps: dict[str, dict[str, Any]] = {}
    folders: dict[str, Any] = {}
    if components.gateway_api.enabled:
        # The same release file the bootstrap applied (or its mirror), through a kustomization
        # in this repository: ArgoCD adopts exactly what layer 1 installed.
        folders[f"{GATEWAY_API_FOLDER}/kustomization.yaml"] = kustomization([gateway_api_manifest_url(config)])
        apps["gateway-api-crds.yaml"] = application(
            "gateway-api-crds",
            wave=WAVE_GATEWAY_API,
            source=git_source(config, "layer-0", GATEWAY_API_FOLDER),
            namespace="default",
            server_side_apply=True,
            prune=False,  # removing a CRD deletes every object of its kind
            cascade_delete=False,  # deleting this Application must leave the CRDs (and every Gateway) in place
        )
    if components.cilium.enabled:
        apps["cilium.yaml"] = application(
            "cilium",
            wave=WAVE_CILIUM,
            source=helm_source(cilium_chart(config), cilium_values(config)),
            namespace="kube-system",
            server_side_apply=True,
            prune=False,  # the CNI: a wrong prune cuts every pod off the network
            cascade_delete=False,  # deleting this Application must never uninstall the CNI
        )
    if components.cert_manager.enabled:
        apps["cert-manager.yaml"] = application(
            "cert-manager",
            wave=WAVE_CERT_MANAGER,
            source=helm_source(cert_manager_chart(config), _cert_manager_values(config)),
            namespace="cert-manager",
            server_side_apply=True,
        )
    if components.external_dns.enabled:
        apps["external-dns.yaml"] = application(
            "external-dns",
            wave=WAVE_EXTERNAL_DNS,
            source=helm_source(external_dns_chart(config), _external_dns_values(config)),
            namespace="external-dns",
        )
    if components.argocd.enabled:
        apps["argocd.yaml"] = application(
            "argocd",
            wave=WAVE_ARGOCD,
            source=helm_source(argocd_chart(config), argocd_values(config)),
            namespace=ARGOCD_NAMESPACE,
            server_side_apply=True,
            prune=False,
            cascade_delete=False,  # deleting this Application must not uninstall ArgoCD
        )
    if platform_enabled(config):
        apps["platform.yaml"] = application(
            "platform", wave=WAVE_PLATFORM, source=git_source(config, "platform"), namespace=ARGOCD_NAMESPACE
        )
    apps["apps.yaml"] = application(
        "apps", wave=WAVE_APPS, source=git_source(config, "apps"), namespace=ARGOCD_NAMESPACE
    )
    return {**apps, **folders, "kustomization.yaml": kustomization(sorted(apps))}


def _cert_manager_values(config: PlatformConfig) -> dict[str, Any]:
    values: dict[str, Any] = {"crds": {"enabled": True}}
    if config.components.gateway_api.enabled:
        values["config"] = {
            "apiVersion": "controller.config.cert-manager.io/v1alpha1",
            "kind": "ControllerConfiguration",
            "enableGatewayAPI": True,
        }
    return values


def _external_dns_values(config: PlatformConfig) -> dict[str, Any]:
    sources = ["service", "ingress"]
    if config.components.gateway_api.enabled:
        sources.append("gateway-httproute")
    secret = EXTERNAL_DNS_CLOUDFLARE
    return {
        "provider": {"name": "cloudflare"},
        # The token lives in a Secret the install creates in the cluster, never in Git.
        "env": [
            {
                "name": "CF_API_TOKEN",
                "valueFrom": {"secretKeyRef": {"name": secret.name, "key": secret.key}},
            }
        ],
        "domainFilters": [config.domain.base],
        "sources": sources,
        "txtOwnerId": config.cluster.name,
        # Records carry a TXT ownership marker, so `sync` only ever deletes this cluster's own.
        "policy": "sync",
    }
