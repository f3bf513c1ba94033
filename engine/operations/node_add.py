"""`talos-platform node add`: a node written into the config file (comments kept, the diff
shown), validated as the install validates it, given its machine config in maintenance mode and
waited for until it joined (Ready; a control plane's etcd member voting)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic

from talos_platform.engine.errors import UserError
from talos_platform.engine.operations import Operation, register

if TYPE_CHECKING:
    from talos_platform.engine.config.models import Node, PlatformConfig
    from talos_platform.engine.plan.step import Step
    from talos_platform.engine.state import StateDirectory


def new_node(options: Mapping[str, Any]) -> Node:
    """The node of the options (`node`: its fields as the config file spells them)."""
    from talos_platform.engine.config.loading import format_path
    from talos_platform.engine.config.models import Node

    data = options.get("node")
    if not data or not data.get("name") or not data.get("address"):
        raise UserError(
            "which node? give at least --name and --address (and --role, --install-disk, --link)",
            where="node add",
            hint="e.g. talos-platform node add --name worker-3 --address 10.0.0.23/24 --role worker",
        )
    try:
        return Node.model_validate({key: value for key, value in data.items() if value is not None})
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        raise UserError(
            f"the new node: {format_path(first['loc'])}: {first['msg']}",
            where="node add",
            hint="--role is control-plane or worker",
        ) from None


def before_and_after(config: PlatformConfig, node: Node) -> tuple[PlatformConfig, PlatformConfig]:
    """The cluster without the node and with it. The config may hold it already (a run that
    wrote the file and stopped): then it must be the same node."""
    from talos_platform.engine.config.models import Platform
    from talos_platform.engine.config.validation import errors_only, validate
    from talos_platform.engine.layers.node_membership import node_named, with_nodes

    if config.cluster.platform is not Platform.metal:
        raise UserError(
            "node add is for metal clusters: a docker cluster has its one control plane and the workers it was "
            "created with",
            where="cluster.platform",
        )
    listed = node_named(config, node.name)
    if listed is not None and listed != node:
        raise UserError(
            f"the config already has a node named {node.name}, and not this one "
            f"({listed.address}, {listed.role.value}, {listed.install_disk})",
            where=f"nodes[{config.nodes.index(listed)}]",
            hint="choose another name, or give exactly the node the config lists to finish adding it",
        )
    before = with_nodes(config, [n for n in config.nodes if n.name != node.name])
    after = config if listed is not None else with_nodes(config, [*config.nodes, node])
    problems = errors_only(validate(after))
    if problems:
        raise UserError(
            f"with {node.name} the config is not valid: "
            + "; ".join(f"{p.path}: {p.message}" + (f" ({p.hint})" if p.hint else "") for p in problems),
            where="node add",
            hint="nothing was changed; fix the node's flags (or the config) and run again",
        )
    return before, after


def node_add_plan(config: PlatformConfig, options: Mapping[str, Any]) -> list[Step]:
    """Options: `node` (its fields, required) and `config_path` (the file to update)."""
    from talos_platform.engine.layers.node_add import node_add_steps

    node = new_node(options)
    before, after = before_and_after(config, node)
    path = options.get("config_path")
    return list(node_add_steps(before, after, node, Path(path) if path else None))


def after_adding(config: PlatformConfig, state: StateDirectory, simulated: bool) -> list[str]:
    return [
        "the node is in the config file (the previous one kept as .bak); commit the file and the re-rendered "
        "GitOps tree (`talos-platform render`) as you do after any config change"
    ]


NODE_ADD = register(
    Operation(
        name="node-add",
        title="Add a node",
        plan_steps=node_add_plan,
        summary="add a node: config file updated, machine config applied, joined (etcd voter for a control plane)",
        notes_after_success=after_adding,
    )
)
