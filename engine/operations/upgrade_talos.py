"""`talos-platform upgrade-talos --to VERSION`: preflight, etcd snapshot, node by node with
gates, then the config file updated."""

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
    """Options: `to` (required), `config_path` (the file to update), `max_parallel` (workers at once),
    `drop_extensions` (let the upgrade remove system extensions the config's schematic lacks),
    `gates` (the user's gate commands, run after each node), `conditions` (the user's
    `--gate-condition` texts, checked after each node; refused here, before anything runs, when
    one does not parse), `delete_if_eviction_fails` (delete the pods a PodDisruptionBudget keeps
    on a node being drained)."""
    from talos_platform.engine.layers.talos_upgrade import talos_upgrade_steps
    from talos_platform.engine.layers.upgrade_gates import parse_gate_conditions

    to = options.get("to")
    if not to:
        raise UserError("which version? give --to VERSION, e.g. --to v1.14.1", where="--to")
    path = options.get("config_path")
    conditions = parse_gate_conditions(tuple(options.get("conditions") or ()))
    return list(
        talos_upgrade_steps(
            config,
            str(to),
            Path(path) if path else None,
            max_parallel=int(options.get("max_parallel") or 1),
            drop_extensions=bool(options.get("drop_extensions")),
            gates=tuple(options.get("gates") or ()),
            delete_if_eviction_fails=bool(options.get("delete_if_eviction_fails")),
            conditions=conditions,
        )
    )


def after_upgrade(config: PlatformConfig, state: StateDirectory, simulated: bool) -> list[str]:
    return ["the etcd snapshot taken before it is in " + str(state.etcd_snapshots)]


UPGRADE_TALOS = register(
    Operation(
        name="upgrade-talos",
        title="Talos upgrade",
        plan_steps=upgrade_steps,
        summary="upgrade Talos node by node (control planes one at a time), each verified and gated",
        notes_after_success=after_upgrade,
    )
)
