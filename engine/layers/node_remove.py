"""Removing a node from a running cluster: refused when it would cost etcd its quorum or leave
2 control planes; then an etcd snapshot (control planes), cordon and drain, `talosctl reset
--graceful` (the node leaves etcd itself), the Node deleted, and the config file updated.

Removing etcd members by hand is where clusters get hurt (a member removed from the wrong
node, or by an ID copied from another cluster: siderolabs/talos#3340, #7903). So the graceful
reset is the way out of etcd; `etcd remove-member` is only the fallback for a control plane
that cannot leave by itself because it no longer answers (never for one that still runs: it
would rejoin), and only with the member's ID shown next to the node it belongs to and given
back explicitly (`--remove-etcd-member ID`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from talos_platform.engine.config.models import Node, PlatformConfig, Role
from talos_platform.engine.config.validation import errors_only, validate
from talos_platform.engine.drivers import talosctl
from talos_platform.engine.drivers.kube_client import cordon_argv, delete_node_argv, drain_argv
from talos_platform.engine.drivers.protocols import PODS, EtcdMember
from talos_platform.engine.errors import ESCAPE_FLAG, EvictionRefused, PermanentError, TransientError, UserError
from talos_platform.engine.layers.base import BaseStep, done, todo
from talos_platform.engine.layers.etcd import EtcdSnapshotStep
from talos_platform.engine.layers.eviction import drain_deleting, evictable
from talos_platform.engine.layers.node_membership import (
    POLL_SECONDS,
    NodesInConfigFile,
    etcd_members_seen,
    kubernetes_node,
    member_named,
)
from talos_platform.engine.plan.context import StepContext
from talos_platform.engine.plan.step import Action, CheckResult

DRAIN_TIMEOUT = 600.0
REMOVE_ETCD_MEMBER = "remove-etcd-member"
"""The recovery (`node remove --remove-etcd-member ID`) that removes a member etcd still lists
for a control plane that could not leave by itself; allowed as `remove-etcd-member:ID`."""


def refuse_removal(before: PlatformConfig, after: PlatformConfig, node: Node) -> None:
    """Raises UserError (before anything runs) when the config forbids removing `node`."""
    refusal = removal_refusal(before, node)
    if refusal:
        raise UserError(
            f"{node.name} is not removed: {refusal}",
            where=f"nodes[{before.nodes.index(node)}]",
            hint="nothing was changed; add a node first (`talos-platform node add`), then remove this one",
        )
    problems = errors_only(validate(after))
    if problems:
        raise UserError(
            f"without {node.name} the config is not valid: " + "; ".join(f"{p.path}: {p.message}" for p in problems),
            where="nodes",
            hint="nothing was changed. " + (problems[0].hint or ""),
        )


def removal_refusal(before: PlatformConfig, node: Node) -> str | None:
    """Why the config forbids removing `node`, in words (None: it may go)."""
    control_planes = len(before.control_planes)
    if node.role is Role.control_plane:
        if control_planes == 1:
            return f"{node.name} is the only control plane: without it there is no cluster"
        if control_planes - 1 == 2:
            return (
                f"removing {node.name} leaves 2 control planes: etcd then needs both to keep its quorum, so losing "
                "either stops the cluster, which is less available than 1 or 3"
            )
    elif len(before.workers) == 1 and before.workers[0] is node:
        return (
            f"{node.name} is the last worker: the control planes would have to run every workload, and their "
            "machine configs, applied with workers present, do not allow it"
        )
    return None


class NodeRemovalPreflight(BaseStep):
    """For a control plane: etcd keeps a quorum of healthy voting members without it. (What the
    config alone forbids, `refuse_removal` refused before the run.)"""

    layer = 0
    timeout = 120.0

    def __init__(self, before: PlatformConfig, after: PlatformConfig, node: Node):
        super().__init__(before, step_id="N.preflight", title=f"Check that {node.name} can be removed")
        self.after = after
        self.node = node

    def inputs(self) -> Any:
        return {"node": self.node, "control planes": [n.name for n in self.config.control_planes]}

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        actions = [Action(f"{self.node.name} is a worker: nothing to check in etcd")]
        if self.node.role is Role.control_plane:
            actions = []
            other = next(n for n in self.config.control_planes if n.name != self.node.name)
            actions.append(
                Action(
                    f"list the etcd members: without {self.node.name}, a majority of the rest must vote and answer",
                    command=tuple(talosctl.etcd_members_argv(self.config.node_ip(other), ctx.state.talosconfig)),
                )
            )
        return tuple(actions)

    async def _check(self, ctx: StepContext) -> CheckResult:
        if self.node.role is not Role.control_plane:
            return done(f"{self.node.name} is a worker; {len(self.after.workers)} worker(s) stay")
        others = [n for n in self.config.control_planes if n.name != self.node.name]
        members = await etcd_members_seen(ctx, others, self.config)
        return done(await self._quorum_kept(ctx, others, members))

    async def _quorum_kept(self, ctx: StepContext, others: list[Node], members: list[EtcdMember]) -> str:
        staying = [m for m in members if m.hostname != self.node.name]
        needed = len(staying) // 2 + 1
        healthy = []
        for member in staying:
            node = next((n for n in others if n.name == member.hostname), None)
            if node is None or member.learner:
                continue
            facts = await ctx.drivers.talos.node_facts(self.config.node_ip(node), insecure=False)
            if facts.reachable and facts.stage == "running":
                healthy.append(member.hostname)
        if len(healthy) < needed:
            unhealthy = sorted({m.hostname for m in staying} - set(healthy))
            raise PermanentError(
                f"removing {self.node.name} would take etcd below quorum: {len(staying)} member(s) stay and need "
                f"{needed} voting and answering, but only {len(healthy)} are ({', '.join(healthy) or 'none'}); "
                f"not healthy: {', '.join(unhealthy)}",
                hint="bring the other control planes back first (`talosctl -n NODE service etcd`), then run again",
            )
        return f"etcd keeps its quorum without {self.node.name}: {len(healthy)} of {len(staying)} members healthy"


class DrainNode(BaseStep):
    """Cordon, then drain: every pod but DaemonSets' and static ones evicted, budgets honoured;
    with `delete_if_eviction_fails`, the pods a budget keeps are then deleted instead."""

    layer = 1
    timeout = 2 * DRAIN_TIMEOUT + 120.0  # an eviction drain, then perhaps a deleting one

    def __init__(
        self, before: PlatformConfig, node: Node, *, needs: tuple[str, ...], delete_if_eviction_fails: bool = False
    ):
        super().__init__(before, step_id=f"N.drain.{node.name}", title=f"Cordon and drain {node.name}", needs=needs)
        self.node = node
        self.delete_if_eviction_fails = delete_if_eviction_fails

    def inputs(self) -> Any:
        return {"node": self.node.name, "delete_if_eviction_fails": self.delete_if_eviction_fails}

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        actions = [
            Action(
                f"cordon {self.node.name}: nothing new is scheduled there",
                command=tuple(cordon_argv(ctx.state.kubeconfig, self.node.name)),
            ),
            Action(
                f"drain {self.node.name}: evict its pods (DaemonSets' stay), honouring PodDisruptionBudgets",
                command=tuple(drain_argv(ctx.state.kubeconfig, self.node.name, DRAIN_TIMEOUT)),
            ),
        ]
        if self.delete_if_eviction_fails:
            actions.append(
                Action(
                    f"{ESCAPE_FLAG}: only if a PodDisruptionBudget refuses an eviction, delete the pods left on "
                    f"{self.node.name} instead (the budgets are bypassed and named)",
                    command=tuple(
                        drain_argv(ctx.state.kubeconfig, self.node.name, DRAIN_TIMEOUT, disable_eviction=True)
                    ),
                )
            )
        return tuple(actions)

    async def _check(self, ctx: StepContext) -> CheckResult:
        node = await kubernetes_node(ctx, self.node.name)
        if node is None:
            return done(f"there is no Node {self.node.name}: nothing to drain")
        if not (node.get("spec") or {}).get("unschedulable"):
            return todo(f"{self.node.name} is schedulable", *self.planned_actions(ctx))
        left = await self._evictable_pods(ctx)
        if left:
            return todo(f"{self.node.name} is cordoned; {len(left)} pod(s) still run there", *self.planned_actions(ctx))
        return done(f"{self.node.name} is cordoned and drained")

    async def _evictable_pods(self, ctx: StepContext) -> list[str]:
        pods = (await ctx.drivers.kube.list(PODS)).items
        return [
            f"{p['metadata'].get('namespace')}/{p['metadata']['name']}" for p in pods if evictable(p, self.node.name)
        ]

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        await ctx.drivers.kube.cordon_node(self.node.name)
        try:
            await ctx.drivers.kube.drain_node(self.node.name, DRAIN_TIMEOUT)
        except EvictionRefused as refused:
            if not self.delete_if_eviction_fails:
                raise
            await drain_deleting(ctx, self.node.name, refused, DRAIN_TIMEOUT)


class LeaveCluster(BaseStep):
    """`talosctl reset --graceful`: the node leaves etcd (a control plane), wipes itself, halts.
    A control plane that cannot because it no longer answers keeps its etcd member until the
    user gives back that member's ID (`--remove-etcd-member ID`)."""

    layer = 1
    timeout = 1800.0

    def __init__(self, before: PlatformConfig, node: Node, *, needs: tuple[str, ...]):
        super().__init__(
            before, step_id=f"N.reset.{node.name}", title=f"Reset {node.name} (leaves etcd, wipes it)", needs=needs
        )
        self.node = node
        self.control_plane = node.role is Role.control_plane
        self.others = [n for n in before.control_planes if n.name != node.name]

    @property
    def address(self) -> str:
        return self.config.node_ip(self.node)

    def inputs(self) -> Any:
        return {"node": self.node}

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        actions = [
            Action(
                f"reset {self.node.name} gracefully: it cordons and drains itself, "
                + ("leaves etcd, " if self.control_plane else "")
                + "wipes its system disk and halts",
                command=tuple(talosctl.reset_argv(self.address, ctx.state.talosconfig)),
            )
        ]
        if self.control_plane:
            actions.append(
                Action(
                    f"wait until {self.node.name} no longer answers and is no etcd member",
                    command=tuple(
                        talosctl.etcd_members_argv(self.config.node_ip(self.others[0]), ctx.state.talosconfig)
                    ),
                )
            )
        return tuple(actions)

    def _removal_action(self, ctx: StepContext, member: EtcdMember) -> Action:
        through = self.config.node_ip(self.others[0])
        return Action(
            f"remove etcd member {member.member_id} ({member.hostname}) through {self.others[0].name}",
            command=tuple(talosctl.etcd_remove_member_argv(through, ctx.state.talosconfig, member.member_id)),
        )

    async def _member(self, ctx: StepContext) -> EtcdMember | None:
        if not self.control_plane:
            return None
        return member_named(await etcd_members_seen(ctx, self.others, self.config), self.node.name)

    async def _check(self, ctx: StepContext) -> CheckResult:
        facts = await ctx.drivers.talos.node_facts(self.address, insecure=False)
        member = await self._member(ctx)
        if facts.reachable and facts.stage == "running" and facts.cluster_name:
            return todo(f"{self.node.name} runs in the cluster", *self.planned_actions(ctx), reset=True)
        if member is None:
            return done(
                f"{self.node.name} does not answer as a member of the cluster"
                + (" and is no etcd member" if self.control_plane else "")
                + (f" ({facts.error})" if facts.error else "")
            )
        if facts.reachable and facts.stage not in ("", "running"):
            return todo(
                f"{self.node.name} is {facts.stage}: waiting for it to leave etcd", *self.planned_actions(ctx)[1:]
            )
        return self._member_left_behind(ctx, member, f"{self.node.name} does not answer ({facts.error or 'no answer'})")

    def _member_left_behind(self, ctx: StepContext, member: EtcdMember, why: str) -> CheckResult:
        if f"{REMOVE_ETCD_MEMBER}:{member.member_id}" in ctx.allowed:
            return todo(
                f"{why}; etcd still lists it as member {member.member_id}: removing that member as allowed",
                self._removal_action(ctx, member),
                remove_member=member.member_id,
            )
        raise PermanentError(
            f"{why}, so it cannot leave etcd by itself; etcd still lists it as member {member.member_id} "
            f"(host name {member.hostname}, node {self.node.name} at {self.address})",
            hint=f"if that is the machine you mean to remove, run the same command with --remove-etcd-member "
            f"{member.member_id} (it shows the member and asks first; with --yes that flag is the consent). "
            "Never remove a member of a node that still runs: it would rejoin",
        )

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        removing = check.facts.get("remove_member")
        if removing:
            await ctx.drivers.talos.etcd_remove_member(
                self.config.node_ip(self.others[0]), ctx.state.talosconfig, str(removing)
            )
            ctx.output(f"etcd member {removing} ({self.node.name}) removed")
            return
        if not check.facts.get("reset"):
            return  # a reset is under way: only waiting for it
        try:
            await ctx.drivers.talos.reset_node(self.address, ctx.state.talosconfig)
        except PermanentError as error:
            if not self.control_plane:
                raise
            member = await self._member(ctx)
            if member is None:
                raise
            facts = await ctx.drivers.talos.node_facts(self.address, insecure=False)
            if facts.reachable and facts.cluster_name:
                # Removing the member of a node that runs on makes its etcd try to rejoin, and its
                # kubelet would register the Node again: the machine has to stop first.
                raise PermanentError(
                    f"the graceful reset of {self.node.name} failed ({error.message}) and it still runs, so its etcd "
                    f"member {member.member_id} is not removed by hand",
                    hint=f"fix what the reset reported and run again; or power {self.node.name} off, then run again: "
                    "a control plane that no longer answers gets its member removed once you give back its ID",
                ) from None
            ctx.output(f"the reset failed: {error.message}")
            result = self._member_left_behind(ctx, member, f"the graceful reset of {self.node.name} failed")
            await self._apply(ctx, result)

    async def _wait(self, ctx: StepContext) -> None:
        deadline = ctx.clock.now() + self.wait_budget
        while True:
            facts = await ctx.drivers.talos.node_facts(self.address, insecure=False)
            gone = not (facts.reachable and facts.cluster_name)
            try:
                member = await self._member(ctx)
            except TransientError as error:
                member, gone = None, False
                ctx.output(f"waiting: {error.message}")
            if gone and member is None:
                ctx.output(f"{self.node.name} left the cluster" + (" and etcd" if self.control_plane else ""))
                return
            if ctx.clock.now() >= deadline:
                raise PermanentError(
                    f"{self.node.name} has not left within {self.timeout:g}s"
                    + (f": etcd still lists member {member.member_id}" if member else ""),
                    hint=f"look at `talosctl -n {self.address} dmesg`; run the same command again to resume",
                )
            await ctx.clock.sleep(POLL_SECONDS)


class DeleteNodeObject(BaseStep):
    """`kubectl delete node`: the Node object and what is bound to it go."""

    layer = 1
    timeout = 120.0

    def __init__(self, before: PlatformConfig, node: Node, *, needs: tuple[str, ...]):
        super().__init__(
            before, step_id=f"N.delete-node.{node.name}", title=f"Delete the Node {node.name}", needs=needs
        )
        self.node = node

    def inputs(self) -> Any:
        return {"node": self.node.name}

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        return (
            Action(
                f"delete the Node {self.node.name}",
                command=tuple(delete_node_argv(ctx.state.kubeconfig, self.node.name)),
            ),
        )

    async def _check(self, ctx: StepContext) -> CheckResult:
        if await kubernetes_node(ctx, self.node.name) is None:
            return done(f"there is no Node {self.node.name}")
        return todo(f"the Node {self.node.name} is still there", *self.planned_actions(ctx))

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        await ctx.drivers.kube.delete_node(self.node.name)


class SnapshotBeforeLeaving(EtcdSnapshotStep):
    """The etcd snapshot before a control plane leaves, from one that stays; beyond the rule every
    snapshot step keeps, a run resumed after it left etcd needs none."""

    def __init__(self, staying: PlatformConfig, node: Node, *, needs: tuple[str, ...]):
        super().__init__(staying, needs=needs)
        self.node = node

    async def past_the_change(self, ctx: StepContext) -> str | None:
        members = await etcd_members_seen(ctx, self.config.control_planes, self.config)
        if member_named(members, self.node.name) is None:
            return f"{self.node.name} left etcd in an earlier run, after that run's snapshot"
        return None


def node_remove_steps(
    before: PlatformConfig,
    after: PlatformConfig,
    node: Node,
    config_path: Path | None,
    *,
    delete_if_eviction_fails: bool = False,
) -> list[BaseStep]:
    """Preflight, snapshot (control planes), drain, reset, delete the Node, talosconfig endpoints
    (control planes), and the config file last: until then the same command resumes."""
    from talos_platform.engine.layers.talos import TalosconfigEndpoints

    refuse_removal(before, after, node)
    steps: list[BaseStep] = [NodeRemovalPreflight(before, after, node)]
    previous = "N.preflight"
    if node.role is Role.control_plane:
        staying = before.model_copy(update={"nodes": [n for n in before.nodes if n.name != node.name]})
        steps.append(SnapshotBeforeLeaving(staying, node, needs=(previous,)))  # from a control plane that stays
        previous = "E.snapshot"
    drain = DrainNode(before, node, needs=(previous,), delete_if_eviction_fails=delete_if_eviction_fails)
    reset = LeaveCluster(before, node, needs=(drain.id,))
    delete = DeleteNodeObject(before, node, needs=(reset.id,))
    steps += [drain, reset, delete]
    previous = delete.id
    if node.role is Role.control_plane:
        endpoints = TalosconfigEndpoints(after)
        endpoints.needs = (previous,)
        endpoints.layer = 1
        steps.append(endpoints)
        previous = endpoints.id
    steps.append(NodesInConfigFile(after, config_path, layer=2, what=f"remove node {node.name}", needs=(previous,)))
    return steps
