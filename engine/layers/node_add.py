"""Adding a node to a running cluster: the node written into the config file, checked like the
install checks it, given its machine config in maintenance mode, and waited for until it has
joined: its Node Ready and, on a control plane, its etcd member promoted from learner to voter.

The install's own steps do the Talos part (the node preflight, the machine configs, the
apply-config that records what it sent so a killed run never sends it twice); what this adds
is the cluster's side: etcd healthy before a control plane joins, a snapshot first, and the
join verified rather than assumed. A control plane stays a learner until it caught up with the
leader; one that stays a learner holds no vote, and adding another before it is promoted is how
clusters lose quorum (siderolabs/talos#9145), so the step waits and names it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from talos_platform.engine.config.models import Node, PlatformConfig, Role
from talos_platform.engine.drivers import talosctl
from talos_platform.engine.errors import PermanentError, TransientError
from talos_platform.engine.layers.base import BaseStep, done, todo
from talos_platform.engine.layers.etcd import EtcdSnapshotStep
from talos_platform.engine.layers.node_membership import (
    POLL_SECONDS,
    NodesInConfigFile,
    etcd_members_seen,
    kubernetes_node,
    member_named,
    ready,
)
from talos_platform.engine.layers.talos import read_applied_config
from talos_platform.engine.plan.context import StepContext
from talos_platform.engine.plan.step import Action, CheckResult


class ClusterReadyForNode(BaseStep):
    """The cluster exists (its secrets bundle and talosconfig are in the state directory) and, for a
    control plane, every etcd member votes: a new member joins a healthy etcd or not at all."""

    layer = 0
    timeout = 120.0

    def __init__(self, before: PlatformConfig, node: Node, *, needs: tuple[str, ...]):
        super().__init__(before, step_id="N.preflight", title=f"Check the cluster can take {node.name}", needs=needs)
        self.node = node

    def inputs(self) -> Any:
        return {"node": self.node, "control planes": [n.name for n in self.config.control_planes]}

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        first = self.config.control_planes[0]
        actions = [
            Action(f"check the state directory holds the cluster's secrets bundle and talosconfig ({ctx.state.root})")
        ]
        if self.node.role is Role.control_plane:
            actions.append(
                Action(
                    "list the etcd members: every control plane must be a voting member",
                    command=tuple(talosctl.etcd_members_argv(self.config.node_ip(first), ctx.state.talosconfig)),
                )
            )
        return tuple(actions)

    async def _check(self, ctx: StepContext) -> CheckResult:
        for path, what in ((ctx.state.talos_secrets, "secrets bundle"), (ctx.state.talosconfig, "talosconfig")):
            if not Path(path).exists():
                raise PermanentError(
                    f"the cluster's {what} is not in the state directory ({path})",
                    hint="add nodes to a cluster this tool installed, with its --state-dir; or run the install first",
                )
        if self.node.role is not Role.control_plane:
            return done(f"the cluster's keys are in {ctx.state.root}")
        members = await etcd_members_seen(ctx, self.config.control_planes, self.config)
        learners = [m.hostname for m in members if m.learner]
        if learners:
            raise TransientError(
                f"etcd member(s) {', '.join(learners)} are still learners: another control plane may join only once "
                "every member votes",
                hint="wait for Talos to promote them (`talosctl etcd members`, column LEARNER), then run again",
            )
        missing = [n.name for n in self.config.control_planes if member_named(members, n.name) is None]
        if missing:
            raise PermanentError(
                f"control plane(s) {', '.join(missing)} are not etcd members: etcd is not healthy enough to grow",
                hint="bring them back (`talosctl -n NODE service etcd`) before adding a control plane",
            )
        return done(f"etcd has {len(members)} voting members: {', '.join(sorted(m.hostname for m in members))}")


class NodeJoined(BaseStep):
    """The new node's Node Ready and, on a control plane, its etcd member voting."""

    layer = 1
    timeout = 900.0

    def __init__(self, after: PlatformConfig, node: Node, *, needs: tuple[str, ...]):
        super().__init__(after, step_id=f"N.join.{node.name}", title=f"Wait for {node.name} to join", needs=needs)
        self.node = node
        self.control_plane = node.role is Role.control_plane

    def inputs(self) -> Any:
        return {"node": self.node}

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        actions = [
            Action(f"wait until the Node {self.node.name} is Ready", api_call=f"GET /api/v1/nodes/{self.node.name}")
        ]
        if self.control_plane:
            address = self.config.node_ip(self.node)
            actions.append(
                Action(
                    f"wait until {self.node.name}'s etcd member is promoted from learner to voting member",
                    command=tuple(talosctl.etcd_members_argv(address, ctx.state.talosconfig)),
                )
            )
        return tuple(actions)

    async def _check(self, ctx: StepContext) -> CheckResult:
        waiting = await self._not_yet(ctx)
        if waiting is None:
            return done(self._joined())
        return todo(waiting, *self.planned_actions(ctx))

    def _joined(self) -> str:
        return f"{self.node.name} is Ready" + (" and a voting etcd member" if self.control_plane else "")

    async def _not_yet(self, ctx: StepContext) -> str | None:
        """What the node still lacks, or None once it has joined."""
        try:
            node = await kubernetes_node(ctx, self.node.name)
        except (TransientError, ConnectionError) as error:
            return f"the Kubernetes API does not answer: {error}"
        if node is None:
            return f"{self.node.name} has not registered with Kubernetes yet"
        if not ready(node):
            return f"the Node {self.node.name} is not Ready"
        if self.control_plane:
            try:
                members = await etcd_members_seen(ctx, self.config.control_planes, self.config)
            except TransientError as error:
                return error.message
            member = member_named(members, self.node.name)
            if member is None:
                return f"{self.node.name} is not an etcd member yet"
            if member.learner:
                return f"{self.node.name}'s etcd member {member.member_id} is still a learner"
        return None

    async def _wait(self, ctx: StepContext) -> None:
        deadline = ctx.clock.now() + self.wait_budget
        last = ""
        while True:
            waiting = await self._not_yet(ctx)
            if waiting is None:
                ctx.output(self._joined())
                return
            if ctx.clock.now() >= deadline:
                address = self.config.node_ip(self.node)
                raise PermanentError(
                    f"{self.node.name} took its config but has not joined within {self.timeout:g}s: {waiting}",
                    hint=(
                        f"a learner that is never promoted has not caught up with the leader: look at "
                        f"`talosctl -n {address} logs etcd`; do not add another control plane meanwhile"
                        if "learner" in waiting
                        else f"look at `talosctl -n {address} service kubelet` and `kubectl describe node "
                        f"{self.node.name}`; run the same command again to keep waiting"
                    ),
                )
            if waiting != last:
                ctx.output(f"waiting: {waiting}")
                last = waiting
            await ctx.clock.sleep(POLL_SECONDS)


class SnapshotBeforeJoin(EtcdSnapshotStep):
    """The etcd snapshot before a control plane joins. Beyond the rule every snapshot step keeps
    (a resumed attempt reuses its snapshot): once the node took its config, etcd has been
    changing, and a new snapshot would not be "before" (its attempt's may be gone or another
    operation ran since)."""

    def __init__(self, before: PlatformConfig, node: Node, *, needs: tuple[str, ...]):
        super().__init__(before, needs=needs)
        self.node = node

    async def past_the_change(self, ctx: StepContext) -> str | None:
        if read_applied_config(ctx, self.node) is not None:
            return f"{self.node.name} took its config in an earlier run, after that run's snapshot"
        return None


def node_add_steps(
    before: PlatformConfig, after: PlatformConfig, node: Node, config_path: Path | None
) -> list[BaseStep]:
    """The config file first (so a failed or killed run is resumed by the same command, or by the
    install), then the install's Talos steps for the new node, then the join."""
    from talos_platform.engine.layers import talos

    control_plane = node.role is Role.control_plane
    steps: list[BaseStep] = [
        NodesInConfigFile(after, config_path, layer=0, what=f"add node {node.name}"),
        ClusterReadyForNode(before, node, needs=("N.config",)),
    ]
    preflight = talos.NodePreflight(after, node)
    preflight.needs = ("N.preflight",)
    configs = talos.MachineConfigs(after)
    configs.needs = (preflight.id,)
    endpoints = talos.TalosconfigEndpoints(after)
    steps += [preflight, configs, endpoints]
    apply_needs: tuple[str, ...] = (configs.id, preflight.id, endpoints.id)
    if control_plane:
        steps.append(SnapshotBeforeJoin(before, node, needs=(endpoints.id,)))
        apply_needs += ("E.snapshot",)
    apply = talos.ApplyConfig(after, node)
    apply.needs = apply_needs
    apply.layer = 1
    steps += [apply, NodeJoined(after, node, needs=(apply.id,))]
    return steps
