"""`apps/`: Layer 4. An ApplicationSet turns every folder under `apps/` into an Application
(namespace = folder name); `apps/hello` is a tiny example to copy."""

from __future__ import annotations

from typing import Any

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.render import app_network_policy
from talos_platform.engine.render.applications import RETRY, kustomization, repo_path
from talos_platform.engine.render.upstream import ARGOCD_NAMESPACE, IN_CLUSTER

EXAMPLE_APP = "hello"
EXAMPLE_IMAGE = "docker.io/traefik/whoami:v1.10.3"


def apps_documents(config: PlatformConfig) -> dict[str, Any]:
    example = _example_app()
    files: dict[str, Any] = {
        "applicationset.yaml": _application_set(config),
        "kustomization.yaml": kustomization(["applicationset.yaml"]),
    }
    files.update({f"{EXAMPLE_APP}/{name}": document for name, document in example.items()})
    return files


def _application_set(config: PlatformConfig) -> dict[str, Any]:
    gitops = config.gitops
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "apps", "namespace": ARGOCD_NAMESPACE},
        "spec": {
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [
                {
                    "git": {
                        "repoURL": gitops.repo_url,
                        "revision": gitops.branch,
                        "directories": [{"path": repo_path(config, "apps", "*")}],
                    }
                }
            ],
            "template": {
                "metadata": {"name": "{{ .path.basename }}"},
                "spec": {
                    "project": "default",
                    **_sources(config),
                    "destination": {"server": IN_CLUSTER, "namespace": "{{ .path.basename }}"},
                    "syncPolicy": {
                        "automated": {"prune": True, "selfHeal": True},
                        "syncOptions": ["CreateNamespace=true"],
                        "retry": RETRY,
                    },
                },
            },
        },
    }


def _sources(config: PlatformConfig) -> dict[str, Any]:
    """The app's own folder and, with the default network policy on, `app-defaults/` too."""
    gitops = config.gitops
    own = {"repoURL": gitops.repo_url, "targetRevision": gitops.branch, "path": "{{ .path.path }}"}
    if not app_network_policy.enabled(config):
        return {"source": own}
    defaults = {
        "repoURL": gitops.repo_url,
        "targetRevision": gitops.branch,
        "path": repo_path(config, app_network_policy.FOLDER),
    }
    return {"sources": [own, defaults]}


def _example_app() -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": EXAMPLE_APP}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": EXAMPLE_APP, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 65534},
                    "containers": [
                        {
                            "name": EXAMPLE_APP,
                            "image": EXAMPLE_IMAGE,
                            "args": ["--port", "8080"],
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}},
                            "resources": {"requests": {"cpu": "5m", "memory": "16Mi"}},
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
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": EXAMPLE_APP, "labels": labels},
        "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }
    return {
        "deployment.yaml": deployment,
        "service.yaml": service,
        "kustomization.yaml": kustomization(["deployment.yaml", "service.yaml"]),
    }
