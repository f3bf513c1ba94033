"""Starting points of a simulated platform that are not "fresh machines":

- the scenario's tenant applications (a Git repository of app folders and an ApplicationSet
  for them that the cluster already has), which give the large scenario its 1,000 apps;
- a finished install (`installed=True`, for the dashboard), reached by doing what the install
  does, through the same model, on virtual time run to completion synchronously.
"""

from __future__ import annotations

import gc
import json
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import yaml

from talos_platform.engine.sim.model import MAINTENANCE

if TYPE_CHECKING:
    from talos_platform.engine.config.models import PlatformConfig
    from talos_platform.engine.sim.model import PlatformModel

TENANT_REPOSITORY = "https://git.example.com/tenants/apps.git"
TENANT_NAMESPACES = ("shop", "payments", "search", "media", "analytics", "identity", "notify", "billing")


def seed_workload_repository(model: PlatformModel) -> None:
    """Tenant apps, as folders with a Deployment each, and the ApplicationSet that serves them."""
    workloads = model.scenario.workloads
    if not workloads.applications:
        return
    files: dict[str, bytes] = {}
    for index in range(workloads.applications):
        namespace = TENANT_NAMESPACES[index % len(TENANT_NAMESPACES)]
        name = f"{namespace}-svc-{index + 1:04d}"
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/name": name}},
            "spec": {
                "replicas": workloads.pods_per_application,
                "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/name": name}},
                    "spec": {
                        "containers": [
                            {"name": "app", "image": f"registry.example.com/{namespace}/{name}:1.0.{index % 7}"}
                        ]
                    },
                },
            },
        }
        # JSON is YAML too, and much quicker to write for a thousand apps.
        files[f"{namespace}/{name}/deployment.yaml"] = json.dumps(deployment, indent=2).encode()
    model.git.commit(TENANT_REPOSITORY, "main", files, "tenant applications")
    model.argo.extra_appsets.append(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "ApplicationSet",
            "metadata": {"name": "tenants", "namespace": "argocd"},
            "spec": {
                "goTemplate": True,
                "generators": [
                    {"git": {"repoURL": TENANT_REPOSITORY, "revision": "main", "directories": [{"path": "*/*"}]}}
                ],
                "template": {
                    "metadata": {"name": "{{ .path.basename }}", "annotations": {"argocd.argoproj.io/sync-wave": "20"}},
                    "spec": {
                        "project": "default",
                        "source": {"repoURL": TENANT_REPOSITORY, "targetRevision": "main", "path": "{{ .path.path }}"},
                        "destination": {
                            "server": "https://kubernetes.default.svc",
                            "namespace": "{{ .path.basename }}",
                        },
                        "syncPolicy": {"automated": {"prune": True}, "syncOptions": ["CreateNamespace=true"]},
                    },
                },
            },
        }
    )


def rendered_files(model: PlatformModel) -> dict[str, bytes]:
    """The rendered GitOps tree as it sits in the repository (under `gitops.path`)."""
    from talos_platform.engine.render import render_tree

    config = model.config
    prefix = "" if config.gitops.path in ("", ".") else config.gitops.path.strip("/") + "/"
    tree = without(render_tree(config), model.scenario.gitops_repository_without)
    return {prefix + name: content for name, content in tree.items()}


def without(tree: dict[str, bytes], paths: list[str]) -> dict[str, bytes]:
    """The tree lacking `paths` (files or folders), with the kustomizations beside them no longer
    listing them: what a repository holding an older render looks like."""
    if not paths:
        return tree
    gone = [path.strip("/") for path in paths]
    kept = {
        name: content for name, content in tree.items() if not any(name == p or name.startswith(p + "/") for p in gone)
    }
    for name, content in kept.items():
        if PurePosixPath(name).name != "kustomization.yaml":
            continue
        folder = PurePosixPath(name).parent
        document = yaml.safe_load(content) or {}
        resources = [r for r in document.get("resources") or [] if str(folder / str(r)).removeprefix("./") not in gone]
        if resources != document.get("resources"):
            document["resources"] = resources
            kept[name] = yaml.safe_dump(document, sort_keys=True).encode()
    return kept


def seed_gitops_repository(model: PlatformModel) -> None:
    """The scenario's GitOps repository already holds the rendered tree (the user pushed it, or
    the install will push the same bytes); `gitopsRepository: empty` starts it empty."""
    if model.scenario.gitops_repository == "rendered":
        config = model.config
        model.git.commit(
            config.gitops.repo_url, config.gitops.branch, rendered_files(model), "talos-platform: rendered platform"
        )


def fast_forward_install(model: PlatformModel, *, settle_seconds: float = 3600.0) -> None:
    """Bring the model to the state a finished install leaves: Talos configured and bootstrapped,
    the rendered bootstrap applied, the GitOps tree published, the root app synced, Vault
    initialised and unsealed. Runs synchronously, before any event loop uses the platform."""
    # Building tens of thousands of long-lived objects: the cyclic collector would rescan them
    # over and over for nothing (they are all reachable), so it rests until the end.
    collecting = gc.isenabled()
    gc.disable()
    try:
        _fast_forward(model, settle_seconds)
    finally:
        if collecting:
            gc.enable()


def _fast_forward(model: PlatformModel, settle_seconds: float) -> None:
    model.day_two_deferred = True
    from talos_platform.engine.render import render_tree
    from talos_platform.engine.sim.kube import kustomization_objects

    clock = model.clock
    config = model.config
    if config.cluster.platform.value == "docker":
        model.create_docker_machines(len(config.workers))
    clock.run_callbacks_until(clock.now() + model.timings.node_boot * (1 + model.timings.jitter) + 1)
    for machine in model.machines.values():
        if machine.stage == MAINTENANCE:
            model.configure(
                machine, "controlplane" if machine.planned_role == "control-plane" else "worker", "installed"
            )
    _run_until(
        model, lambda: all(m.stage == "running" or m.stuck_in_maintenance for m in model.machines.values()), 1800
    )
    first = next(m for m in model.machines.values() if m.is_control_plane)
    model.bootstrap(first)
    _run_until(model, lambda: model.api_up, 600)
    tree = render_tree(config)
    with tempfile.TemporaryDirectory(prefix="sim-render-") as directory:
        root = Path(directory)
        for relative, content in tree.items():
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        objects = kustomization_objects(root / "bootstrap")
    root_app = yaml.safe_load(tree["bootstrap-app.yaml"])
    if model.git.branch(config.gitops.repo_url, config.gitops.branch) is None:
        model.git.commit(
            config.gitops.repo_url, config.gitops.branch, rendered_files(model), "talos-platform: rendered platform"
        )
    objects += cluster_secret_objects(config)
    for obj in sorted(objects, key=lambda o: 0 if o.get("kind") == "CustomResourceDefinition" else 1):
        model.apply_object(obj)
    _run_until(model, lambda: model.argo.running(), 1200)
    model.apply_object(root_app)
    deadline = clock.now() + settle_seconds
    while clock.now() < deadline:
        clock.run_callbacks_until(clock.now() + 30)
        if not model.vault.unsealed and model.vault.server_running():
            _unseal(model)
        if model.vault.unsealed and model.argo.quiet():
            break
    model.hubble.relay_ready(clock.now())
    model.schedule_day_two_faults()
    model.store.forget_history()


def cluster_secret_objects(config: PlatformConfig) -> list[dict[str, Any]]:
    """The Secrets the install creates in layer 1, with the simulation's fake values."""
    from talos_platform.engine.render.cluster_secrets import cluster_secrets
    from talos_platform.engine.sim.secrets import FAKE_SECRET_VALUES

    objects = []
    for secret in cluster_secrets(config):
        data = {secret.key: FAKE_SECRET_VALUES.get(secret.source, "simulated-not-real")}
        if secret.labels.get("argocd.argoproj.io/secret-type") == "repository":
            data.update({"type": "git", "url": config.gitops.repo_url, "username": FAKE_SECRET_VALUES["git_username"]})
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {"name": secret.name, "namespace": secret.namespace, "labels": dict(secret.labels)},
                "stringData": data,
            }
        )
    return objects


def _run_until(model: PlatformModel, done: Callable[[], bool], limit: float) -> None:
    deadline = model.clock.now() + limit
    while not done() and model.clock.now() < deadline:
        model.clock.run_callbacks_until(model.clock.now() + 5)


def _unseal(model: PlatformModel) -> None:
    state = model.vault
    state.initialized = True
    state.keys = [f"SIMULATED-unseal-key-{index + 1}" for index in range(5)]
    state.threshold = 3
    state.root_token = "SIMULATED-root-token"
    state.unsealed = True
    state.kubernetes_auth = True
    model.workloads.vault_unsealed()
