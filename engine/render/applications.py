"""Builders for ArgoCD Application manifests and the repository paths they point at."""

from __future__ import annotations

import posixpath
from typing import Any

from talos_platform.engine.config.models import PlatformConfig
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
) -> dict[str, Any]:
    sync_options = ["CreateNamespace=true"]
    if server_side_apply:
        # Large CRDs do not fit in the last-applied annotation of a client-side apply.
        sync_options.append("ServerSideApply=true")
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
            "syncPolicy": {
                "automated": {"prune": prune, "selfHeal": True},
                "syncOptions": sync_options,
                "retry": RETRY,
            },
        },
    }


def kustomization(resources: list[str], **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
        **fields,
    }
