"""Builders for ArgoCD Application manifests and the repository paths they point at."""

from __future__ import annotations

import posixpath
from typing import Any

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.render.pod_security import namespace_labels
from talos_platform.engine.render.upstream import ARGOCD_NAMESPACE, IN_CLUSTER, HelmChart

WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave"

# Retries ride out the usual ordering races (a CRD or webhook not ready yet) without a person.
RETRY = {"limit": 10, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}}


def repo_path(config: PlatformConfig, *parts: str) -> str:
    """A folder of the rendered tree as a path inside the Git repository."""
    return posixpath.normpath(posixpath.join(config.gitops.path.strip("/") or ".", *parts))


def git_source(config: PlatformConfig, *parts: str) -> dict[str, Any]:
    return {
        "repoURL": config.gitops.repo_url,
        "targetRevision": config.gitops.branch,
        "path": repo_path(config, *parts),
    }


def helm_source(chart: HelmChart, values: dict[str, Any]) -> dict[str, Any]:
    source: dict[str, Any] = {
        "repoURL": chart.repo,
        "chart": chart.name,
        "targetRevision": chart.version,
        "helm": {"releaseName": chart.release},
    }
    if values:
        source["helm"]["valuesObject"] = values
    return source


def application(
    name: str,
    *,
    wave: int,
    source: dict[str, Any],
    namespace: str,
    server_side_apply: bool = False,
    prune: bool = True,
    cascade_delete: bool = True,
    sync_options_extra: tuple[str, ...] = (),
) -> dict[str, Any]:
    sync_options = ["CreateNamespace=true"]
    if server_side_apply:
        # Large CRDs do not fit in the last-applied annotation of a client-side apply.
        sync_options.append("ServerSideApply=true")
    sync_options += sync_options_extra
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": ARGOCD_NAMESPACE,
        # A string: ArgoCD reads the annotation as text.
        "annotations": {WAVE_ANNOTATION: str(wave)},
    }
    if cascade_delete:
        # Deleting the Application deletes what it deployed, in order.
        metadata["finalizers"] = ["resources-finalizer.argocd.argoproj.io"]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": metadata,
        "spec": {
            "project": "default",
            "source": source,
            "destination": {"server": IN_CLUSTER, "namespace": namespace},
            "syncPolicy": _sync_policy(namespace, prune, sync_options),
        },
    }


def _sync_policy(namespace: str, prune: bool, sync_options: list[str]) -> dict[str, Any]:
    policy: dict[str, Any] = {
        "automated": {"prune": prune, "selfHeal": True},
        "syncOptions": sync_options,
        "retry": RETRY,
    }
    labels = namespace_labels(namespace)
    if labels:
        # The namespace ArgoCD creates carries the PodSecurity level its pods need (Talos
        # enforces `baseline` everywhere else); see render/pod_security.py.
        policy["managedNamespaceMetadata"] = {"labels": labels}
    return policy


def kustomization(resources: list[str], **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
        **fields,
    }
