"""`talos-platform node remove NAME`: refused below quorum or to 2 control planes; then a
snapshot (control planes), cordon and drain, `talosctl reset --graceful`, the Node deleted, and
the config file updated (comments kept)."""

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


def node_remove_plan(config: PlatformConfig, options: Mapping[str, Any]) -> list[Step]:
    """Options: `name` (required), `config_path` (the file to update) and
    `delete_if_eviction_fails` (delete the pods a PodDisruptionBudget keeps on the node)."""
    from talos_platform.engine.config.models import Platform
    from talos_platform.engine.layers.node_membership import node_named, with_nodes
    from talos_platform.engine.layers.node_remove import node_remove_steps

    name = options.get("name")
    if not name:
        raise UserError("which node? give its name: talos-platform node remove NAME", where="node remove")
    if config.cluster.platform is not Platform.metal:
        raise UserError("node remove is for metal clusters", where="cluster.platform")
    node = node_named(config, str(name))
    if node is None:
        raise UserError(
            f"the config has no node named {name}",
            where="nodes",
            hint=f"its nodes are {', '.join(n.name for n in config.nodes)}; a node removed before is no longer listed",
        )
    after = with_nodes(config, [n for n in config.nodes if n.name != node.name])
    path = options.get("config_path")
    return list(
        node_remove_steps(
            config,
            after,
            node,
            Path(path) if path else None,
            delete_if_eviction_fails=bool(options.get("delete_if_eviction_fails")),
        )
    )


def after_removing(config: PlatformConfig, state: StateDirectory, simulated: bool) -> list[str]:
    return [
        "the node is out of the config file (the previous one kept as .bak); its machine is wiped and halted. "
        "Commit the file and the re-rendered GitOps tree (`talos-platform render`)"
    ]


NODE_REMOVE = register(
    Operation(
        name="node-remove",
        title="Remove a node",
        plan_steps=node_remove_plan,
        summary="remove a node: quorum kept, drained, reset gracefully (leaves etcd), Node deleted, config updated",
        notes_after_success=after_removing,
    )
)
