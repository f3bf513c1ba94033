"""`talos-platform upgrade-kubernetes --to VERSION`: preflight, etcd snapshot, `talosctl
upgrade-k8s`, verified on the nodes, then the config file updated."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talos_platform.engine.errors import UserError
from talos_platform.engine.operations import Operation, register

if TYPE_CHECKING:
    from talos_platform.engine.config.models import PlatformConfig
    from talos_platform.engine.plan.step import Step
    from talos_platform.engine.state import StateDirectory


def upgrade_steps(config: PlatformConfig, options: Mapping[str, Any]) -> list[Step]:
    """Options: `to` (the target version, required) and `config_path` (the file to update)."""
    from talos_platform.engine.layers.kubernetes_upgrade import kubernetes_upgrade_steps

    to = options.get("to")
    if not to:
        raise UserError("which version? give --to VERSION, e.g. --to v1.37.2", where="--to")
    path = options.get("config_path")
    return list(kubernetes_upgrade_steps(config, str(to), Path(path) if path else None))


def after_upgrade(config: PlatformConfig, state: StateDirectory, simulated: bool) -> list[str]:
    return ["the etcd snapshot taken before it is in " + str(state.etcd_snapshots)]


UPGRADE_KUBERNETES = register(
    Operation(
        name="upgrade-kubernetes",
        title="Kubernetes upgrade",
        plan_steps=upgrade_steps,
        summary="upgrade Kubernetes (talosctl upgrade-k8s) after a preflight and an etcd snapshot",
        notes_after_success=after_upgrade,
    )
)
