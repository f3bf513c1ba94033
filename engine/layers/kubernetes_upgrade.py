"""Upgrading Kubernetes: a preflight, an etcd snapshot, `talosctl upgrade-k8s`, then the config
file brought in line.

`talosctl upgrade-k8s` does the work (control-plane static pods one node at a time, then every
kubelet) and skips what is already done, so running it again resumes it. What the steps add:
the version is checked before anything changes (supported by the Talos the nodes run, no
downgrade, one minor at a time as Kubernetes requires), a snapshot is taken first, the result
is verified on the Node objects rather than taken from the command's word, and a kubelet that
stays behind is named.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.versions import VersionError, kubernetes_supported_by, parse_version
from talos_platform.engine.drivers.process import output_to
from talos_platform.engine.drivers.protocols import NODES
from talos_platform.engine.drivers.talosctl import upgrade_k8s_argv
from talos_platform.engine.drivers.upgrade_k8s_progress import KUBELET, UpgradeProgress, failed_node
from talos_platform.engine.errors import PermanentError, TransientError
from talos_platform.engine.layers.base import BaseStep, done, todo
from talos_platform.engine.layers.config_file import VersionInConfig
from talos_platform.engine.plan.context import StepContext
from talos_platform.engine.plan.step import Action, CheckResult

_POLL_SECONDS = 10.0
KUBELET_STALL_SECONDS = 600.0
"""upgrade-k8s silent this long while it waits on a node's kubelet: stalled. It pre-pulls the
kubelet image before it restarts any kubelet, so a healthy restart takes well under a minute;
its own wait for the restart has no timeout (siderolabs/talos#6976, #9441)."""


async def kubelet_versions(ctx: StepContext) -> dict[str, str]:
    """Node name -> the kubelet version it reports."""
    nodes = await ctx.drivers.kube.list(NODES)
    return {
        node["metadata"]["name"]: ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")
        for node in nodes.items
    }


class KubernetesPreflight(BaseStep):
    """The target is a version the nodes' Talos supports, no downgrade, at most one minor up."""

    layer = 0
    timeout = 120.0

    def __init__(self, config: PlatformConfig, to: str):
        super().__init__(config, step_id="K.preflight", title=f"Check that Kubernetes {to} can be installed")
        self.to = to

    def inputs(self) -> Any:
        return {"to": self.to, "talos": self.config.cluster.talos_version}

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        return (Action(f"check {self.to} against Talos {self.config.cluster.talos_version} and every node's kubelet"),)

    async def _check(self, ctx: StepContext) -> CheckResult:
        try:
            target = parse_version(self.to)
        except VersionError as error:
            raise PermanentError(str(error), hint="give --to as vMAJOR.MINOR.PATCH, e.g. v1.37.2") from None
        talos = self.config.cluster.talos_version
        supported = kubernetes_supported_by(talos)
        if f"v{target[0]}.{target[1]}" not in supported:
            raise PermanentError(
                f"Talos {talos} does not support Kubernetes {self.to} (it supports {', '.join(supported)})",
                hint="upgrade Talos first, or choose a version it supports",
            )
        versions = await kubelet_versions(ctx)
        if not versions:
            raise TransientError(
                "the cluster reports no nodes yet", hint="is the Kubernetes API up? (`kubectl get nodes`)"
            )
        for name, version in sorted(versions.items()):
            try:
                running = parse_version(version)
            except VersionError:
                continue  # reported later, by the upgrade's own check
            if running > target:
                raise PermanentError(
                    f"{name} runs Kubernetes {version}, newer than {self.to}: a downgrade is not supported",
                    hint="choose a version at or above the one the cluster runs",
                )
            if (target[0], target[1]) > (running[0], running[1] + 1):
                raise PermanentError(
                    f"{name} runs Kubernetes {version}; {self.to} is more than one minor version up",
                    hint=f"upgrade one minor version at a time: first to v{running[0]}.{running[1] + 1}.x",
                )
        return done(f"Kubernetes {self.to} is supported by Talos {talos}; nodes run {_summary(versions)}")


class KubernetesUpgrade(BaseStep):
    """`talosctl upgrade-k8s --to`, after its dry run; done when every Node reports the version."""

    layer = 1
    timeout = 3600.0

    def __init__(self, config: PlatformConfig, to: str):
        super().__init__(
            config, step_id="K.upgrade", title=f"Upgrade Kubernetes to {to}", needs=("K.preflight", "E.snapshot")
        )
        self.to = to

    def inputs(self) -> Any:
        return {"to": self.to}

    def _through(self) -> str:
        return self.config.node_ip(self.config.control_planes[0])

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        talosconfig = ctx.state.talosconfig
        return (
            Action(
                "upgrade-k8s's own dry run: what would change per component and node (shown before you confirm)",
                command=tuple(upgrade_k8s_argv(self._through(), talosconfig, self.to, dry_run=True)),
            ),
            Action(
                f"upgrade the control-plane components node by node, then every kubelet, to {self.to}",
                command=tuple(upgrade_k8s_argv(self._through(), talosconfig, self.to, dry_run=False)),
            ),
        )

    async def _check(self, ctx: StepContext) -> CheckResult:
        behind = _behind(await kubelet_versions(ctx), self.to)
        if not behind:
            return done(f"every node runs Kubernetes {self.to}")
        return todo(f"{len(behind)} node(s) not at {self.to}: {_summary(behind)}", *self.planned_actions(ctx))

    async def own_dry_run(self, ctx: StepContext) -> tuple[str, ...]:
        """What `talosctl upgrade-k8s --dry-run` prints: per component and node, what would change."""
        lines: list[str] = []
        with output_to(lambda line, stream: lines.append(line)):
            await ctx.drivers.talos.upgrade_kubernetes(self._through(), ctx.state.talosconfig, self.to, dry_run=True)
        return tuple(lines)

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        # The dry run again, here: the journal keeps what upgrade-k8s meant to change right before it did.
        ctx.output("talosctl upgrade-k8s --dry-run: what would change, per component and node")
        await ctx.drivers.talos.upgrade_kubernetes(self._through(), ctx.state.talosconfig, self.to, dry_run=True)
        ctx.output(f"talosctl upgrade-k8s --to {self.to}: upgrading")
        await self._upgrade_watched(ctx)

    async def _upgrade_watched(self, ctx: StepContext) -> None:
        """upgrade-k8s with its raw lines shown, a progress line after each one that moved it,
        and a watch for a kubelet it waits on with nothing more to say (it would wait forever)."""
        progress = UpgradeProgress()
        names = {self.config.node_ip(node): node.name for node in self.config.nodes}
        last_line_at = ctx.clock.now()
        shown: tuple[str, str, int] | None = None

        def show(line: str, stream: str) -> None:
            nonlocal last_line_at, shown
            ctx.output(line)
            last_line_at = ctx.clock.now()
            moved = progress.feed(line)
            # One progress line per component, node and count (and per wait on a kubelet), not per line.
            if (
                moved is not None
                and (moved.node or moved.done)
                and ((moved.component, moved.node, moved.done) != shown or moved.waiting_for_kubelet)
            ):
                shown = (moved.component, moved.node, moved.done)
                ctx.output(f"progress {moved.describe(names)}")

        talos = ctx.drivers.talos
        with output_to(show):  # the task copies this context: its lines come to `show`
            upgrade = asyncio.ensure_future(
                talos.upgrade_kubernetes(self._through(), ctx.state.talosconfig, self.to, dry_run=False)
            )
        try:
            while not await self._finished_within(ctx, upgrade, progress, names):
                stalled_on = progress.kubelet_wait
                if stalled_on and ctx.clock.now() - last_line_at >= KUBELET_STALL_SECONDS:
                    raise self._kubelet_stalled(stalled_on, names, progress, KUBELET_STALL_SECONDS)
        finally:
            if not upgrade.done():
                upgrade.cancel()
                await asyncio.gather(upgrade, return_exceptions=True)

    async def _finished_within(
        self, ctx: StepContext, upgrade: asyncio.Future[None], progress: UpgradeProgress, names: dict[str, str]
    ) -> bool:
        """True once upgrade-k8s ended well; False while it runs; its failure on a kubelet explained."""
        try:
            await ctx.clock.wait_for(asyncio.shield(upgrade), _POLL_SECONDS)
        except TimeoutError:
            return False
        except PermanentError as error:
            on_kubelet = progress.current is not None and progress.current.component == KUBELET
            node = failed_node(error.message) or (progress.current.node if progress.current and on_kubelet else "")
            if node and (on_kubelet or "failed upgrading kubelet" in error.message):
                raise self._kubelet_failed(node, names, error.message) from None
            raise
        return True

    def _kubelet_stalled(
        self, node: str, names: dict[str, str], progress: UpgradeProgress, seconds: float
    ) -> PermanentError:
        state = progress.current.state if progress.current else ""
        return PermanentError(
            f"upgrade-k8s stalled on {_named(node, names)}: its kubelet did not report Kubernetes {self.to} "
            f"for {seconds / 60:g} minutes (upgrade-k8s was at: {state}); the upgrade was stopped",
            hint=_kubelet_hint(node, names, self.to),
        )

    def _kubelet_failed(self, node: str, names: dict[str, str], message: str) -> PermanentError:
        return PermanentError(
            f"upgrade-k8s gave up on the kubelet of {_named(node, names)}: {message}",
            hint=_kubelet_hint(node, names, self.to),
        )

    async def _wait(self, ctx: StepContext) -> None:
        deadline = ctx.clock.now() + self.wait_budget
        while True:
            behind = _behind(await kubelet_versions(ctx), self.to)
            if not behind:
                ctx.output(f"every node reports kubelet {self.to}")
                return
            if ctx.clock.now() >= deadline:
                raise PermanentError(
                    f"upgrade-k8s finished but these kubelets still report the old version: {_summary(behind)}",
                    hint="a kubelet that does not restart stalls the upgrade: look at `talosctl -n NODE service "
                    "kubelet` and `talosctl -n NODE logs kubelet`; then run the upgrade again to resume",
                )
            ctx.output(f"waiting for {_summary(behind)} to report {self.to}")
            await ctx.clock.sleep(_POLL_SECONDS)


def _named(address: str, names: dict[str, str]) -> str:
    name = names.get(address)
    return f"{name} ({address})" if name else address


def _kubelet_hint(address: str, names: dict[str, str], to: str) -> str:
    name = names.get(address, address)
    return (
        f"look at the node: `talosctl -n {address} service kubelet`, `talosctl -n {address} logs kubelet`, "
        f"`kubectl get node {name} -o wide`. If the kubelet runs and the node shows {to}, upgrade-k8s only missed "
        "its restart: run the same upgrade again, it resumes where it stopped (upgrade-k8s skips what is done). "
        "If the kubelet's log shows an image pull error, let the node reach the registry first; if the kubelet "
        f"does not answer at all, reboot the node (`talosctl -n {address} reboot`); then run the upgrade again"
    )


def _behind(versions: dict[str, str], to: str) -> dict[str, str]:
    return {name: version for name, version in versions.items() if version != to}


def _summary(versions: dict[str, str]) -> str:
    by_version: dict[str, list[str]] = {}
    for name, version in sorted(versions.items()):
        by_version.setdefault(version or "?", []).append(name)
    return "; ".join(f"{version} on {', '.join(names)}" for version, names in sorted(by_version.items()))


def kubernetes_upgrade_steps(config: PlatformConfig, to: str, config_path: Path | None) -> list[BaseStep]:
    from talos_platform.engine.layers.etcd import EtcdSnapshotStep

    return [
        KubernetesPreflight(config, to),
        EtcdSnapshotStep(config, needs=("K.preflight",)),
        KubernetesUpgrade(config, to),
        VersionInConfig(
            config, "kubernetesVersion", to, config_path, step_id="K.config", layer=2, needs=("K.upgrade",)
        ),
    ]
