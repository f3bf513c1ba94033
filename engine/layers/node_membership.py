"""What adding and removing nodes share: the config with the node list changed, the config file
edited in place (comments kept, the diff shown), and how Kubernetes and etcd see a node.

A node's membership has two sides that change at different speeds: the Node object (Ready
once its kubelet and the CNI run) and, on a control plane, its etcd member (a learner first,
a voting member once Talos promoted it). Both are read here the same way for `node add` and
`node remove`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from talos_platform.engine.config.editing import ConfigEdit, edited_text
from talos_platform.engine.config.loading import read_config
from talos_platform.engine.config.models import Node, PlatformConfig
from talos_platform.engine.drivers.protocols import NODES, EtcdMember
from talos_platform.engine.errors import TransientError
from talos_platform.engine.files import replace_keeping_backup
from talos_platform.engine.layers.base import BaseStep, done, todo
from talos_platform.engine.plan.context import StepContext
from talos_platform.engine.plan.step import Action, CheckResult

POLL_SECONDS = 5.0


def with_nodes(config: PlatformConfig, nodes: list[Node]) -> PlatformConfig:
    return config.model_copy(update={"nodes": list(nodes)})


def node_named(config: PlatformConfig, name: str) -> Node | None:
    return next((node for node in config.nodes if node.name == name), None)


def ready(node: dict[str, Any] | None) -> bool:
    conditions = ((node or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


async def kubernetes_node(ctx: StepContext, name: str) -> dict[str, Any] | None:
    nodes = (await ctx.drivers.kube.list(NODES)).items
    return next((n for n in nodes if n["metadata"]["name"] == name), None)


async def etcd_members_seen(ctx: StepContext, control_planes: list[Node], config: PlatformConfig) -> list[EtcdMember]:
    """The members as the first of `control_planes` that answers sees them."""
    errors = []
    for node in control_planes:
        try:
            return await ctx.drivers.talos.etcd_member_list(config.node_ip(node), ctx.state.talosconfig)
        except TransientError as error:
            errors.append(f"{node.name}: {error.message}")
    raise TransientError(
        "no control plane could list the etcd members: " + "; ".join(errors),
        hint="check that the control planes are up and etcd runs (`talosctl -n NODE service etcd`)",
    )


def member_named(members: list[EtcdMember], name: str) -> EtcdMember | None:
    return next((m for m in members if m.hostname == name), None)


class NodesInConfigFile(BaseStep):
    """The config file's `nodes` made those of the new config, every comment and the layout kept,
    the old file kept as `.bak`. Other edits made to the file meanwhile are kept too: only the
    node list is written."""

    timeout = 60.0

    def __init__(
        self,
        config: PlatformConfig,
        config_path: Path | None,
        *,
        layer: int,
        what: str,
        needs: tuple[str, ...] = (),
    ):
        super().__init__(config, step_id="N.config", title=f"Write the node list into the config ({what})", needs=needs)
        self.layer = layer
        self.config_path = config_path
        self.what = what

    def inputs(self) -> Any:
        return {"nodes": self.config.nodes, "file": str(self.config_path or "")}

    def edit(self) -> ConfigEdit:
        assert self.config_path is not None
        before = self.config_path.read_text(encoding="utf-8")
        current = read_config(self.config_path)
        return ConfigEdit(before, edited_text(before, with_nodes(current, self.config.nodes)))

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        if self.config_path is None:
            return (Action("no config file given: nothing to write"),)
        try:
            diff = self.edit().diff
        except (OSError, ValueError):
            diff = []
        shown = "\n".join(diff[2:]) if diff else "(no change)"
        return (Action(f"{self.what} in {self.config_path} (comments kept, the old file as .bak):\n{shown}"),)

    async def _check(self, ctx: StepContext) -> CheckResult:
        if self.config_path is None:
            return done("no config file given (simulated scenario): nothing to write")
        if read_config(self.config_path).nodes == self.config.nodes:
            return done(f"{self.config_path} lists the nodes already")
        return todo(f"{self.config_path} does not list the nodes yet", *self.planned_actions(ctx))

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        assert self.config_path is not None
        edit = self.edit()
        assert edit.before is not None
        replace_keeping_backup(self.config_path, edit.before.encode(), edit.after.encode())
        for line in edit.diff[2:]:
            ctx.output(line)
        ctx.output(f"{self.config_path}: {self.what} (the old file kept as {self.config_path.name}.bak)")
