"""Upgrading Talos: a preflight, an etcd snapshot, then one node at a time (control planes one by
one, workers in batches), each verified and gated before the next, then the config file.

`talosctl upgrade` (the target's talosctl, whose streaming upgrade API drains, installs, reboots,
waits and uncordons) does one node. What the steps add is what users get wrong by hand: the
target and its Kubernetes compatibility checked first, talosconfig endpoints that are nodes
rather than the VIP (the VIP moves while a control plane reboots, and the command hangs), the
installer image built from the config's schematic (extensions kept), the running version
verified after the reboot (a failed upgrade boots the old partition and looks like success),
and gates before the next node (engine/layers/upgrade_gates.py): the node Ready, etcd healthy
with every member, the ArgoCD Applications in line before the upgrade in line again, Vault
unsealed, the user's object conditions and commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from talos_platform.engine.config.models import Node, PlatformConfig
from talos_platform.engine.config.schematic import installer_image, schematic_id
from talos_platform.engine.config.versions import (
    VersionError,
    kubernetes_supported_by,
    minor,
    parse_version,
    supported_talos_versions,
)
from talos_platform.engine.drivers import talosctl
from talos_platform.engine.drivers.kube_client import annotate_node_argv, drain_argv, uncordon_argv
from talos_platform.engine.drivers.protocols import NODES
from talos_platform.engine.errors import ESCAPE_FLAG, EvictionRefused, PermanentError, TransientError
from talos_platform.engine.layers.base import BaseStep, done, todo
from talos_platform.engine.layers.config_file import VersionInConfig
from talos_platform.engine.layers.eviction import (
    OUR_CORDON_ANNOTATION,
    TALOS_CORDON_ANNOTATION,
    drain_deleting,
    mark_our_cordon,
)
from talos_platform.engine.layers.extensions import dropped_by, node_extensions
from talos_platform.engine.layers.platform import read_vault_init
from talos_platform.engine.layers.upgrade_gates import (
    APPS_HINT,
    ETCD_HINT,
    ArgoBaseline,
    GateCondition,
    apps_not_back,
    condition_not_met,
    etcd_not_healthy,
    gates_passed,
    list_applications,
    read_baseline,
    record_gates_passed,
)
from talos_platform.engine.plan.context import StepContext
from talos_platform.engine.plan.step import Action, CheckResult

_POLL_SECONDS = 10.0
DRAIN_TIMEOUT = 600.0  # the deleting drain of --delete-if-eviction-fails
_GATE_TIMEOUT_SECONDS = 120.0  # one run of a user's gate command; it is run again until the wait ends


def upgrade_step_id(node: Node) -> str:
    return f"T.upgrade.{node.name}"


def target_image(config: PlatformConfig, to: str) -> str:
    """The installer of version `to` with the config's schematic (its extensions and arguments)."""
    upgraded = config.model_copy(update={"cluster": config.cluster.model_copy(update={"talos_version": to})})
    return installer_image(upgraded)


class TalosPreflight(BaseStep):
    """Target supported, Kubernetes compatible, the target's talosctl, node endpoints, no downgrade."""

    layer = 0
    timeout = 300.0

    def __init__(self, config: PlatformConfig, to: str, *, drop_extensions: bool = False):
        super().__init__(config, step_id="T.preflight", title=f"Check that Talos {to} can be installed")
        self.to = to
        self.drop_extensions = drop_extensions

    def inputs(self) -> Any:
        return {"to": self.to, "drop_extensions": self.drop_extensions}

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        return (
            Action(
                f"check {self.to}: supported, runs Kubernetes {self.config.cluster.kubernetes_version}, talosctl "
                "of the same version, talosconfig endpoints are nodes (not the VIP), no node runs a newer Talos, "
                "the installer carries every system extension the nodes run (their Node objects' "
                "extensions.talos.dev/* labels)"
            ),
        )

    async def _check(self, ctx: StepContext) -> CheckResult:
        try:
            target = minor(self.to)
            parse_version(self.to)
        except VersionError as error:
            raise PermanentError(str(error), hint="give --to as vMAJOR.MINOR.PATCH, e.g. v1.14.1") from None
        supported = supported_talos_versions()
        if f"v{target[0]}.{target[1]}" not in supported:
            raise PermanentError(
                f"Talos {self.to} is not a version this tool supports ({', '.join(supported)})",
                hint="choose a supported version",
            )
        kubernetes = self.config.cluster.kubernetes_version
        if f"v{minor(kubernetes)[0]}.{minor(kubernetes)[1]}" not in kubernetes_supported_by(self.to):
            raise PermanentError(
                f"Talos {self.to} does not run Kubernetes {kubernetes}, which the cluster runs",
                hint="upgrade Kubernetes first (talos-platform upgrade-kubernetes), or choose another Talos version",
            )
        await self._check_client(ctx)
        self._check_endpoints(ctx)
        running = await self._running_versions(ctx)
        await self._check_extensions(ctx)
        return done(
            f"Talos {self.to} supports Kubernetes {kubernetes}; nodes run {_summary(running)}; "
            f"installer {target_image(self.config, self.to)}"
        )

    async def _check_client(self, ctx: StepContext) -> None:
        client = await ctx.drivers.talos.client_version()
        try:
            same = minor(client) == minor(self.to)
        except VersionError:
            same = False
        if not same:
            raise PermanentError(
                f"talosctl is {client or 'of an unknown version'}; upgrading to {self.to} needs the talosctl of "
                f"{'.'.join(self.to.split('.')[:2])} (its upgrade API streams the new version's progress)",
                hint=f"install talosctl {self.to} and run the upgrade again",
            )

    def _check_endpoints(self, ctx: StepContext) -> None:
        endpoints = talosctl.read_talosconfig_endpoints(ctx.state.talosconfig, ctx.state)
        vip = self.config.cluster.vip
        if vip and vip in endpoints:
            nodes = " ".join(self.config.node_ip(n) for n in self.config.control_planes)
            raise PermanentError(
                f"the talosconfig uses the VIP {vip} as an endpoint: it moves while a control plane reboots, "
                "and the upgrade command then hangs",
                hint=f"point it at the control planes: talosctl --talosconfig {ctx.state.talosconfig} "
                f"config endpoint {nodes}",
            )

    async def _check_extensions(self, ctx: StepContext) -> None:
        nodes = {n["metadata"]["name"]: n for n in (await ctx.drivers.kube.list(NODES)).items}
        schematic = self.config.cluster.schematic
        dropped: dict[str, list[str]] = {}
        for node in self.config.nodes:
            if node.name in nodes:
                lost = dropped_by(schematic, node_extensions(nodes[node.name]))
                if lost:
                    dropped[node.name] = lost
        if not dropped:
            return
        by_extensions: dict[tuple[str, ...], list[str]] = {}
        for name, lost in dropped.items():
            by_extensions.setdefault(tuple(lost), []).append(name)
        where = "; ".join(
            f"{', '.join(lost)} on {'every node' if len(names) == len(self.config.nodes) else ', '.join(names)}"
            for lost, names in by_extensions.items()
        )
        if self.drop_extensions:
            ctx.output(f"--drop-extensions: the upgrade removes system extensions the config does not list ({where})")
            return
        names = sorted({name for lost in dropped.values() for name in lost})
        raise PermanentError(
            f"the installer of the config's schematic ({schematic_id(schematic)[:12]}…) lacks system extensions the "
            f"nodes run today, and the upgrade would remove them: {where}",
            hint="add them to cluster.schematic.systemExtensions in the config file (e.g. "
            + ", ".join(f"siderolabs/{name}" for name in names)
            + ") and run the upgrade again; or pass --drop-extensions if removing them is intended",
        )

    async def _running_versions(self, ctx: StepContext) -> dict[str, str]:
        target = parse_version(self.to)
        running: dict[str, str] = {}
        for node in self.config.nodes:
            facts = await ctx.drivers.talos.node_facts(self.config.node_ip(node), insecure=False)
            if not facts.reachable and upgrade_step_id(node) in ctx.left_unfinished:
                # Most likely rebooting into the target: its own step waits for it and checks it.
                ctx.output(
                    f"{node.name} does not answer ({facts.error}): an earlier run of this upgrade was upgrading it, "
                    "so its step waits for it"
                )
                continue
            if not facts.reachable:
                raise TransientError(
                    f"{node.name} does not answer: {facts.error}",
                    hint="every node must be up before an upgrade starts",
                )
            running[node.name] = facts.talos_version
            try:
                newer = parse_version(facts.talos_version) > target
            except VersionError:
                continue
            if newer:
                raise PermanentError(
                    f"{node.name} runs Talos {facts.talos_version}, newer than {self.to}: a downgrade is not supported",
                    hint="choose a version at or above the one the nodes run",
                )
        return running


class TalosNodeUpgrade(BaseStep):
    """One node: `talosctl upgrade --image` (drain, install, reboot, uncordon), then verified and
    gated before the next node may start."""

    timeout = 1800.0

    def __init__(
        self,
        config: PlatformConfig,
        node: Node,
        to: str,
        *,
        needs: tuple[str, ...],
        gates: tuple[str, ...] = (),
        delete_if_eviction_fails: bool = False,
        conditions: tuple[GateCondition, ...] = (),
    ):
        control_plane = node in config.control_planes
        super().__init__(
            config,
            step_id=upgrade_step_id(node),
            title=f"Upgrade {node.name} to Talos {to}",
            needs=needs,
        )
        self.layer = 1 if control_plane else 2
        self.node = node
        self.to = to
        self.control_plane = control_plane
        self.gates = gates
        """The user's gate commands (`--gate-command`): each must exit 0 before the next node."""
        self.delete_if_eviction_fails = delete_if_eviction_fails
        """`--delete-if-eviction-fails`: when Talos' drain meets a PodDisruptionBudget, delete the pods."""
        self.conditions = conditions
        """The user's object conditions (`--gate-condition`): each must hold before the next node."""
        self._gate_hint = ""
        """What to do about the gate the node last waited for, when it has its own advice."""

    def inputs(self) -> Any:
        inputs: dict[str, Any] = {
            "to": self.to,
            "image": target_image(self.config, self.to),
            "gates": list(self.gates),
            "delete_if_eviction_fails": self.delete_if_eviction_fails,
        }
        if self.conditions:
            inputs["conditions"] = [condition.text for condition in self.conditions]
        return inputs

    @property
    def address(self) -> str:
        return self.config.node_ip(self.node)

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        image = target_image(self.config, self.to)
        return (
            Action(
                f"upgrade {self.node.name}: drain, install {image}, reboot, uncordon (talosctl's own sequence)",
                command=tuple(talosctl.upgrade_argv(self.address, ctx.state.talosconfig, image)),
            ),
            *self._escape_actions(ctx),
            Action(
                f"verify {self.node.name} runs {self.to}, then wait for it Ready"
                + (
                    ", etcd healthy (every control plane a started member that answers, no learner, no alarm)"
                    if self.control_plane
                    else ""
                )
                + ", Vault unsealed (with the saved keys, when the drain restarted it sealed)"
                + " and every ArgoCD Application that was Synced and Healthy before the upgrade so again,"
                " before the next node"
            ),
            *(
                Action(
                    f"gate: {condition.describe()} ({condition.text})",
                    api_call=f"GET {condition.resource.api_version} {condition.resource.kind} "
                    + (f"{condition.namespace}/" if condition.namespace else "")
                    + condition.name,
                )
                for condition in self.conditions
            ),
            *(
                Action(
                    f"gate: `{command}` must exit 0 (NODE={self.node.name}, NODE_IP={self.address})",
                    command=("sh", "-c", command),
                )
                for command in self.gates
            ),
        )

    def _escape_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        if not self.delete_if_eviction_fails:
            return ()
        kubeconfig, name = ctx.state.kubeconfig, self.node.name
        return (
            Action(
                f"{ESCAPE_FLAG}: only if a PodDisruptionBudget refuses Talos' drain, mark {name} as cordoned for "
                "the upgrade (unless you cordoned it yourself)",
                command=tuple(annotate_node_argv(kubeconfig, name, OUR_CORDON_ANNOTATION, "true")),
            ),
            Action(
                f"then delete the pods left on {name} (the budgets are bypassed and named)",
                command=tuple(drain_argv(kubeconfig, name, DRAIN_TIMEOUT, disable_eviction=True)),
            ),
            Action(
                f"then upgrade {name} again (Talos' drain finds nothing left to evict)",
                command=tuple(
                    talosctl.upgrade_argv(self.address, ctx.state.talosconfig, target_image(self.config, self.to))
                ),
            ),
            Action(
                f"and uncordon {name} once back: Talos uncordons only a node it cordoned itself",
                command=tuple(uncordon_argv(kubeconfig, name)),
            ),
            Action(
                f"then remove the mark from {name}",
                command=tuple(annotate_node_argv(kubeconfig, name, OUR_CORDON_ANNOTATION, None)),
            ),
        )

    async def _check(self, ctx: StepContext) -> CheckResult:
        facts = await ctx.drivers.talos.node_facts(self.address, insecure=False)
        if facts.reachable and facts.talos_version == self.to and facts.stage == "running":
            if gates_passed(ctx.state, self.to, self.node.name):
                return done(f"{self.node.name} runs Talos {self.to}; its gates passed")
            # Upgraded, but its gates never passed (a run stopped or failed while they held).
            return todo(
                f"{self.node.name} runs Talos {self.to}; its gates have not passed yet",
                *self.planned_actions(ctx)[1:],
                upgraded=True,
            )
        running = facts.talos_version if facts.reachable else f"unknown ({facts.error})"
        return todo(f"{self.node.name} runs {running}", *self.planned_actions(ctx))

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        if check.facts.get("upgraded"):
            ctx.output(f"{self.node.name} runs Talos {self.to} already: waiting for its gates, not upgrading it again")
            return
        facts = await ctx.drivers.talos.node_facts(self.address, insecure=False)
        if not facts.reachable or facts.stage != "running":
            # Away: most likely rebooting from an upgrade an interrupted run started. Upgrading
            # it again now would fail; the wait tells which version it comes back with.
            ctx.output(f"{self.node.name} is away ({facts.stage or facts.error}): waiting for it instead of upgrading")
            return
        image = target_image(self.config, self.to)
        try:
            await ctx.drivers.talos.upgrade_talos(self.address, ctx.state.talosconfig, image)
        except EvictionRefused as refused:
            if not self.delete_if_eviction_fails:
                raise
            # Talos' drain runs inside `talosctl upgrade` and has no way past a budget. The escape
            # is taken only after a budget refused (pods that may be evicted were, by Talos, and a
            # budget that allows it is honoured; a pre-drain by deletion would bypass them all),
            # and the refusal comes before Talos installs anything: the same upgrade again is safe.
            await mark_our_cordon(ctx, self.node.name)
            await drain_deleting(ctx, self.node.name, refused, DRAIN_TIMEOUT)
            await ctx.drivers.talos.upgrade_talos(self.address, ctx.state.talosconfig, image)
        # kubectl cordoned the node for the deleting drain, not Talos (no talos.dev/cordoned
        # annotation): Talos leaves it cordoned after the reboot, so it is uncordoned here, also
        # when an earlier run was killed after that drain (the node carries our mark).
        await self._release_our_cordon(ctx, name_other_cordon=False)

    async def _wait(self, ctx: StepContext) -> None:
        deadline = ctx.clock.now() + self.wait_budget
        said = ""
        while True:
            self._gate_hint = ""
            waiting = await self._not_yet(ctx)
            if waiting is None:
                record_gates_passed(ctx.state, self.to, self.node.name)
                ctx.output(f"{self.node.name} runs Talos {self.to}; gates passed")
                await self._release_our_cordon(ctx, name_other_cordon=True)
                return
            if ctx.clock.now() >= deadline:
                away = waiting.startswith(f"{self.node.name} is not back")
                raise PermanentError(
                    f"{self.node.name} upgraded, but {waiting}",
                    hint=(
                        f"{self.node.name} does not answer: look at its console (a boot stuck on the new version, "
                        "a disk, the network)"
                        if away
                        else self._gate_hint or f"look at `talosctl -n {self.address} dmesg` and `kubectl get nodes`"
                    )
                    + "; the next node waits. Run the upgrade again to resume",
                )
            if waiting != said:  # once per change: the last line says what the node waits for
                ctx.output(f"waiting: {waiting}")
                said = waiting
            # The last look lands on the deadline, so the gate's own message beats the runner's timeout.
            await ctx.clock.sleep(max(0.0, min(_POLL_SECONDS, deadline - ctx.clock.now())))

    async def _not_yet(self, ctx: StepContext) -> str | None:
        """What the node still waits for, or None when every gate passed. A node back on
        another version fails at once: it booted the old partition."""
        facts = await ctx.drivers.talos.node_facts(self.address, insecure=False)
        if not facts.reachable or facts.stage != "running":
            return f"{self.node.name} is not back yet ({facts.stage or facts.error or 'no answer'})"
        if facts.talos_version != self.to:
            raise PermanentError(
                f"{self.node.name} came back running Talos {facts.talos_version}, not {self.to}: the upgrade failed "
                "and the node booted its previous version",
                hint=f"look at `talosctl -n {self.address} dmesg` for why the new version did not boot; "
                "nothing further is upgraded",
            )
        nodes = {n["metadata"]["name"]: n for n in (await ctx.drivers.kube.list(NODES)).items}
        if not _ready(nodes.get(self.node.name)):
            return f"the Kubernetes node {self.node.name} is not Ready"
        running = node_extensions(nodes[self.node.name]).schematic
        expected = schematic_id(self.config.cluster.schematic)
        if running and running != expected:
            # Talos republishes it once the node is back; a lasting difference is the wrong image.
            return f"{self.node.name} reports schematic {running[:12]}…, not the installer's {expected[:12]}…"
        if self.control_plane:
            etcd = await etcd_not_healthy(ctx.drivers, self.config)
            if etcd is not None:
                self._gate_hint = ETCD_HINT.format(address=self.address)
                return etcd
        vault = await self._vault_gate(ctx)
        if vault is not None:
            return vault
        apps = apps_not_back(await list_applications(ctx.drivers.kube), read_baseline(ctx.state, self.to))
        if apps is not None:
            self._gate_hint = APPS_HINT
            return apps
        for condition in self.conditions:
            waiting = await condition_not_met(ctx.drivers.kube, condition)
            if waiting is not None:
                self._gate_hint = condition.hint()
                return f"gate {condition.text}: {waiting}"
        return await self._user_gates(ctx)

    async def _release_our_cordon(self, ctx: StepContext, *, name_other_cordon: bool) -> None:
        """Talos uncordons after the reboot only a node it cordoned itself (its annotation
        talos.dev/cordoned). A node carrying our mark was cordoned for our deleting drain (in this
        run or one killed before it uncordoned): uncordoned, then unmarked. One cordoned otherwise
        (by you) stays so: said, not undone, since it may be meant."""
        node = await ctx.drivers.kube.get(NODES, self.node.name)
        if not node:
            return
        annotations = (node.get("metadata") or {}).get("annotations") or {}
        cordoned = bool((node.get("spec") or {}).get("unschedulable"))
        if OUR_CORDON_ANNOTATION in annotations:
            if cordoned:
                await ctx.drivers.kube.uncordon_node(self.node.name)
                ctx.output(f"{self.node.name} uncordoned (kubectl cordoned it for the deleting drain)")
            # Removed only after the uncordon: a run killed in between still finds the mark.
            await ctx.drivers.kube.annotate_node(self.node.name, OUR_CORDON_ANNOTATION, None)
            return
        if not name_other_cordon or not cordoned or TALOS_CORDON_ANNOTATION in annotations:
            return
        ctx.output(
            f"{self.node.name} is still cordoned (not by Talos, which uncordons only nodes it cordoned): "
            f"`kubectl uncordon {self.node.name}` when it should take pods again"
        )

    async def _user_gates(self, ctx: StepContext) -> str | None:
        """The user's own gates last (storage rebuilt, a service answering): polled like the
        others until they pass or the wait runs out."""
        if self.gates and ctx.drivers.tools is None:
            raise PermanentError(
                "this front end cannot run gate commands", hint="run the upgrade from the command line"
            )
        env = {"NODE": self.node.name, "NODE_IP": self.address, "TALOS_VERSION": self.to}
        for command in self.gates:
            assert ctx.drivers.tools is not None
            result = await ctx.drivers.tools.gate(command, env, timeout=_GATE_TIMEOUT_SECONDS)
            if not result.passed:
                return f"gate `{command}` has not passed: {result.said}"
            ctx.output(f"gate `{command}` passed")
        return None

    async def _vault_gate(self, ctx: StepContext) -> str | None:
        """Vault unsealed. The drain evicts a Vault server on this node and it starts sealed, as
        Vault always does: the install unsealed it with the saved keys, and so does this gate."""
        if ctx.drivers.vault is None:
            return None
        try:
            status = await ctx.drivers.vault.status()
        except TransientError as error:
            return f"Vault does not answer yet ({error})"
        if not status.initialized or not status.sealed:
            return None  # never initialised is the install's business, not a gate of the upgrade
        material = read_vault_init(ctx)
        if not material or not material.get("unseal_keys"):
            return (
                f"Vault is sealed and {ctx.state.vault_init} holds no unseal keys: unseal it "
                "(`vault operator unseal`, from its keys' holders)"
            )
        ctx.output("Vault came back sealed after the drain: unsealing it with the saved keys")
        for key in material["unseal_keys"]:
            if not (await ctx.drivers.vault.unseal(key)).sealed:
                ctx.output("Vault is unsealed")
                return None
        return f"Vault is still sealed after every key saved in {ctx.state.vault_init}"


def _ready(node: dict[str, Any] | None) -> bool:
    conditions = ((node or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _summary(versions: dict[str, str]) -> str:
    by_version: dict[str, list[str]] = {}
    for name, version in sorted(versions.items()):
        by_version.setdefault(version or "?", []).append(name)
    return "; ".join(f"{version} on {', '.join(names)}" for version, names in sorted(by_version.items()))


def talos_upgrade_steps(
    config: PlatformConfig,
    to: str,
    config_path: Path | None,
    *,
    max_parallel: int = 1,
    drop_extensions: bool = False,
    gates: tuple[str, ...] = (),
    delete_if_eviction_fails: bool = False,
    conditions: tuple[GateCondition, ...] = (),
) -> list[BaseStep]:
    """Preflight, the ArgoCD baseline, snapshot, control planes one by one, workers `max_parallel` at a time (each
    batch after the one before), then the config file."""
    from talos_platform.engine.layers.etcd import EtcdSnapshotStep

    steps: list[BaseStep] = [
        TalosPreflight(config, to, drop_extensions=drop_extensions),
        ArgoBaseline(config, to, needs=("T.preflight",)),
        EtcdSnapshotStep(config, needs=("T.baseline",)),
    ]
    previous: tuple[str, ...] = ("E.snapshot",)
    for node in config.control_planes:
        step = TalosNodeUpgrade(
            config,
            node,
            to,
            needs=previous,
            gates=gates,
            delete_if_eviction_fails=delete_if_eviction_fails,
            conditions=conditions,
        )
        steps.append(step)
        previous = (step.id,)
    workers = [n for n in config.nodes if n not in config.control_planes]
    for start in range(0, len(workers), max(1, max_parallel)):
        batch = [
            TalosNodeUpgrade(
                config,
                n,
                to,
                needs=previous,
                gates=gates,
                delete_if_eviction_fails=delete_if_eviction_fails,
                conditions=conditions,
            )
            for n in workers[start : start + max_parallel]
        ]
        steps.extend(batch)
        previous = tuple(step.id for step in batch)
    steps.append(VersionInConfig(config, "talosVersion", to, config_path, step_id="T.config", layer=3, needs=previous))
    return steps
