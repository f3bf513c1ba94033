"""Rendering: the GitOps repository ArgoCD syncs from, and the Talos config patches.

- `render_tree(config)` -> {relative path: bytes}; pure and deterministic (same config, same
  bytes), never containing a secret value.
- `render_repository(config, out_dir)` writes that tree atomically into an absent or empty folder
  after validating the config; it refuses anything else with a `UserError`.
- `talos_patches(config)` -> {name: YAML text}: `all.yaml`, `controlplane.yaml`, `worker.yaml`
  and on metal `nodes/<name>.yaml`, shaped for the configured Talos version.
- `cluster_secrets(config)`: the Kubernetes Secrets the tree names but never contains; the
  install creates them in the cluster before ArgoCD syncs.
"""

from talos_platform.engine.render.cluster_secrets import ClusterSecret, cluster_secrets
from talos_platform.engine.render.layer0 import ROOT_APPLICATION
from talos_platform.engine.render.talos_patches import certificate_sans, talos_patches
from talos_platform.engine.render.tree import render_tree
from talos_platform.engine.render.writer import render_repository

__all__ = [
    "ROOT_APPLICATION",
    "ClusterSecret",
    "certificate_sans",
    "cluster_secrets",
    "render_repository",
    "render_tree",
    "talos_patches",
]
