"""Layer 0, second half: bootstrap etcd exactly once, fetch the kubeconfig, and wait until the
Kubernetes API answers and every node registered (NotReady is expected until the CNI runs).
Also the Docker platform's single `talosctl cluster create`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talos_platform.engine.config.versions import TalosFeatures
from talos_platform.engine.drivers import talosctl
from talos_platform.engine.drivers.protocols import NODES, AlreadyBootstrapped
from talos_platform.engine.errors import PermanentError, TransientError
from talos_platform.engine.layers.base import BaseStep, done, todo
from talos_platform.engine.layers.planned import watch_until
from talos_platform.engine.layers.talos import (
    PATCH_ALL,
    PATCH_CONTROL_PLANE,
    PATCH_WORKER,
    patches_dir,
    rendered_patches,
)
from talos_platform.engine.layers.waiting import NOTHING_SEEN, Objects, WaitTimedOut, wait_for_objects
from talos_platform.engine.plan.step import Action, CheckResult

if TYPE_CHECKING:
    from talos_platform.engine.config.models import PlatformConfig
    from talos_platform.engine.plan.context import StepContext

POLL_SECONDS = 5.0


# The marker's `state`: the call is about to go out, or it went through (or the node said it
# already had etcd). Either way a resumed run looks for etcd before it ever asks again.
SENDING, BOOTSTRAPPED = "sending", "bootstrapped"
# How long a run that finds a bootstrap cut off mid-call waits for etcd before asking the node
# (which then answers AlreadyExists if the call had gone through): etcd starts within seconds.
INTERRUPTED_CALL_WAIT = 120.0


def read_bootstrap_marker(ctx: StepContext) -> dict[str, Any] | None:
    """The record of an earlier bootstrap (None when there is none, or it is unreadable: it is
    written atomically, so unreadable means someone else damaged it)."""
    try:
        record = json.loads(ctx.state.bootstrap_marker.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_bootstrap_marker(ctx: StepContext, address: str, state: str) -> None:
    record = {"address": address, "state": state, "at": datetime.now(UTC).isoformat(timespec="seconds")}
    ctx.state.write_file(ctx.state.bootstrap_marker, json.dumps(record, sort_keys=True) + "\n", mode=0o600)


class Bootstrap(BaseStep):
    """`talosctl bootstrap` on the first control plane, exactly once: not when a control plane
    runs etcd, not when this state directory records an earlier bootstrap (etcd takes a few
    seconds to answer: a run killed in between waits for it instead), and a node's answer that
    etcd is already bootstrapped counts as done."""

    layer = 0
    timeout: float = 600

    def __init__(self, config: PlatformConfig) -> None:
        control_planes = config.control_planes
        super().__init__(
            config,
            step_id="L0.bootstrap",
            title=f"Bootstrap etcd on {control_planes[0].name}",
            needs=("L0.talosconfig-endpoints", *(f"L0.apply-config.{n.name}" for n in control_planes)),
        )

    def inputs(self) -> Any:
        return {"first": self.config.control_planes[0].address, "cluster": self.config.cluster.name}

    def _first(self) -> str:
        return self.config.node_ip(self.config.control_planes[0])

    async def _check(self, ctx: StepContext) -> CheckResult:
        marker = read_bootstrap_marker(ctx)
        for node in self.config.control_planes:
            try:
                members = await ctx.drivers.talos.etcd_members(self.config.node_ip(node), ctx.state.talosconfig)
            except TransientError:
                if marker is None:
                    raise  # nobody bootstraps on a guess
                members = []
            if members:
                return done(
                    f"etcd already runs on {node.name} with members {', '.join(members)}; not bootstrapping again"
                )
        if marker is not None and marker.get("state") == SENDING:
            return todo(
                f"an earlier run was stopped while bootstrapping etcd ({marker.get('at', '')}); waiting up to "
                f"{INTERRUPTED_CALL_WAIT:g}s for etcd before asking the node again",
                *self.planned_actions(ctx),
                interrupted_call=True,
            )
        if marker is not None:
            return todo(
                f"etcd was bootstrapped on {marker.get('address', self._first())} at "
                f"{marker.get('at', 'an earlier run')} "
                "but does not answer yet; waiting for etcd, never bootstrapping again",
                self._wait_action(ctx),
                bootstrapped=True,
            )
        return todo("no control plane runs etcd yet", *self.planned_actions(ctx))

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        first = self.config.control_planes[0].name
        return (
            Action(
                f"bootstrap etcd on {first} ({self._first()}), recorded in {ctx.state.bootstrap_marker}",
                command=tuple(talosctl.bootstrap_argv(self._first(), ctx.state.talosconfig)),
            ),
            self._wait_action(ctx),
        )

    def _wait_action(self, ctx: StepContext) -> Action:
        return Action(
            f"wait until etcd on {self.config.control_planes[0].name} lists its members (asked every "
            f"{POLL_SECONDS:g}s)",
            command=tuple(talosctl.etcd_members_argv(self._first(), ctx.state.talosconfig)),
        )

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        first = self.config.control_planes[0].name
        if check.facts.get("bootstrapped"):
            ctx.output("bootstrapped by an earlier run: waiting for etcd instead of bootstrapping again")
            return
        if check.facts.get("interrupted_call"):
            ctx.output(f"the last bootstrap call may have reached {first}: waiting for etcd before asking again")
            try:
                await ctx.clock.wait_for(self._members(ctx, quiet=True), INTERRUPTED_CALL_WAIT)
            except TimeoutError:
                ctx.output(f"etcd did not appear within {INTERRUPTED_CALL_WAIT:g}s: the call had not gone through")
            else:
                write_bootstrap_marker(ctx, self._first(), BOOTSTRAPPED)
                return
        # Recorded before the call goes out: a run killed just after it must not call it again.
        write_bootstrap_marker(ctx, self._first(), SENDING)
        try:
            await ctx.drivers.talos.bootstrap(self._first(), ctx.state.talosconfig)
        except AlreadyBootstrapped as refused:
            # The node remembers a bootstrap this state directory lost track of.
            ctx.output(f"{first} is already bootstrapped ({refused.message}); waiting for etcd")
        except Exception:  # the node answered with a failure: it did not bootstrap
            ctx.state.bootstrap_marker.unlink(missing_ok=True)
            raise
        write_bootstrap_marker(ctx, self._first(), BOOTSTRAPPED)

    async def _members(self, ctx: StepContext, *, quiet: bool = False) -> list[str]:
        """Ask the first control plane for etcd members until it lists some."""
        while True:
            try:
                found = await ctx.drivers.talos.etcd_members(self._first(), ctx.state.talosconfig)
            except TransientError as error:
                if not quiet:
                    ctx.output(f"etcd not answering yet: {error.message}")
                found = []
            if found:
                return found
            await ctx.clock.sleep(POLL_SECONDS)

    async def _wait(self, ctx: StepContext) -> None:
        try:
            found = await ctx.clock.wait_for(self._members(ctx), self.wait_budget)
        except TimeoutError:
            raise PermanentError(
                f"etcd did not start on {self.config.control_planes[0].name} within {self.timeout:g}s",
                hint=f"run `talosctl -n {self._first()} -e {self._first()} service etcd` and "
                f"`talosctl -n {self._first()} -e {self._first()} dmesg` to see why; if these "
                f"machines were reset since the bootstrap recorded in {ctx.state.bootstrap_marker}, delete that file "
                "and run again",
            ) from None
        ctx.output(f"etcd members: {', '.join(found)}")


class Kubeconfig(BaseStep):
    """Fetch the admin kubeconfig (it holds credentials: kept 0600 in the state directory)."""

    layer = 0
    timeout: float = 120

    def __init__(
        self, config: PlatformConfig, *, address: str | None = None, needs: tuple[str, ...] = ("L0.bootstrap",)
    ):
        super().__init__(config, step_id="L0.kubeconfig", title="Fetch the kubeconfig", needs=needs)
        self.address = address or config.node_ip(config.control_planes[0])

    def inputs(self) -> Any:
        return {"address": self.address, "endpoint": self.config.api_endpoint_host}

    async def _check(self, ctx: StepContext) -> CheckResult:
        path: Path = ctx.state.kubeconfig
        if path.exists() and path.stat().st_size > 0:
            return done(f"the kubeconfig is at {path}")
        return todo("no kubeconfig yet", *self.planned_actions(ctx))

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        path: Path = ctx.state.kubeconfig
        argv = talosctl.kubeconfig_argv(self.address, ctx.state.talosconfig, path)
        return (Action(f"fetch the kubeconfig into {path}", command=tuple(argv)),)

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        path: Path = ctx.state.kubeconfig
        path.parent.mkdir(parents=True, exist_ok=True)
        await ctx.drivers.talos.kubeconfig(self.address, ctx.state.talosconfig, path)


def expected_node_count(config: PlatformConfig) -> int:
    return len(config.nodes)


class KubernetesApi(BaseStep):
    """The API answers through the endpoint (the VIP on metal) and every node registered."""

    layer = 0
    timeout: float = 900

    def __init__(self, config: PlatformConfig) -> None:
        super().__init__(
            config, step_id="L0.kubernetes-api", title="Wait for the Kubernetes API and nodes", needs=("L0.kubeconfig",)
        )

    def inputs(self) -> Any:
        return {"nodes": [n.name for n in self.config.nodes], "endpoint": self.config.api_endpoint_host}

    def _registered(self, objects: Objects) -> tuple[bool, str]:
        names = sorted(name for _, name in objects)
        wanted = expected_node_count(self.config)
        text = f"{len(names)}/{wanted} nodes registered" + (f": {', '.join(names)}" if names else "")
        return len(names) >= wanted, text

    async def _check(self, ctx: StepContext) -> CheckResult:
        try:
            listed = await ctx.drivers.kube.list(NODES)
        except (ConnectionError, OSError, TransientError) as error:
            return todo(
                f"the API at {self.config.api_endpoint_host}:6443 does not answer yet ({error})",
                *self.planned_actions(ctx),
            )
        ok, text = self._registered({("", o["metadata"]["name"]): o for o in listed.items})
        if ok:
            return done(text + " (NotReady until the CNI runs is expected)")
        return todo(text, *self.planned_actions(ctx))

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        wanted = expected_node_count(self.config)
        return (
            Action(
                f"wait for the API at {self.config.api_endpoint_host}:6443 and every node to register (NotReady is "
                "fine)",
                api_call=watch_until(NODES, f"{wanted} {'node is' if wanted == 1 else 'nodes are'} registered"),
            ),
        )

    async def _wait(self, ctx: StepContext) -> None:
        # A dropped or refused connection is retried inside the wait (the API comes up late).
        seen: list[str] = []

        def registered(objects: Objects) -> tuple[bool, str]:
            seen[:] = [name for _, name in objects]
            return self._registered(objects)

        try:
            await wait_for_objects(ctx, NODES, registered, timeout=self.wait_budget)
        except WaitTimedOut as timed_out:
            if timed_out.status.startswith(NOTHING_SEEN):
                first = self.config.node_ip(self.config.control_planes[0])
                endpoint = f"{self.config.api_endpoint_host}:6443"
                raise PermanentError(
                    f"the Kubernetes API at {endpoint} did not answer within {self.timeout:g}s: {timed_out.status}",
                    hint="the VIP only answers after bootstrap; "
                    f"check `talosctl -n {first} -e {first} service kube-apiserver`",
                ) from None
            raise PermanentError(
                f"not every node registered within {self.timeout:g}s: {timed_out.status}",
                hint=self._missing_hint(seen),
            ) from None

    def _missing_hint(self, registered: list[str]) -> str:
        """Name the nodes that did not register and the exact talosctl commands for each."""
        missing = [n for n in self.config.nodes if n.name not in registered]
        if self.config.cluster.platform.value == "docker" or not missing:
            missing = list(self.config.nodes)  # Docker nodes are named by talosctl, not by the config
        if len(missing) > 3:
            addresses = ",".join(self.config.node_ip(n) for n in missing)
            return f"a missing node did not start the kubelet: check `talosctl -n {addresses} service kubelet`"
        checks = []
        for node in missing:
            address = self.config.node_ip(node)
            checks.append(
                f"{node.name}: `talosctl -n {address} -e {address} service kubelet`, or if it fell back to maintenance "
                f"mode `talosctl -n {address} --insecure get machinestatus -o yaml`"
            )
        return "a missing node did not start the kubelet: check " + "; ".join(checks)


def docker_control_plane_address(config: PlatformConfig) -> str:
    """talosctl gives the first control plane the network's second address (10.5.0.2 in
    10.5.0.0/24), whatever host part the config's address has."""
    return str(config.node_interface(config.control_planes[0]).network.network_address + 2)


class DockerCluster(BaseStep):
    """Docker platform: one `talosctl cluster create` with the same patches (bootstrapped by it)."""

    layer = 0
    timeout: float = 900

    def __init__(self, config: PlatformConfig) -> None:
        super().__init__(
            config, step_id="L0.docker-cluster", title="Create the local Docker cluster", needs=("L0.preflight.tools",)
        )

    def inputs(self) -> Any:
        return {"cluster": self.config.cluster, "workers": len(self.config.workers), "nodes": self.config.nodes}

    def _arguments(self, ctx: StepContext) -> dict[str, Any]:
        folder = patches_dir(ctx)
        return dict(
            cluster_name=self.config.cluster.name,
            talos_version=self.config.cluster.talos_version,
            kubernetes_version=self.config.cluster.kubernetes_version,
            workers=len(self.config.workers),
            patches_all=folder / PATCH_ALL,
            patches_control_plane=folder / PATCH_CONTROL_PLANE,
            patches_worker=folder / PATCH_WORKER,
            talosconfig=ctx.state.talosconfig,
        )

    async def _check(self, ctx: StepContext) -> CheckResult:
        address = docker_control_plane_address(self.config)
        facts = await ctx.drivers.talos.node_facts(address, insecure=False)
        if facts.reachable and facts.cluster_name == self.config.cluster.name:
            return done(f"the Docker cluster {facts.cluster_name} runs (stage {facts.stage})")
        if facts.reachable and facts.cluster_name:
            raise PermanentError(
                f"another Talos cluster ({facts.cluster_name}) already answers at {address}",
                hint=f"remove it with `talosctl cluster destroy --name {facts.cluster_name}` or use its name",
            )
        client = await ctx.drivers.talos.client_version()
        return todo("no Docker cluster yet", *self._actions(ctx, client, f"with talosctl {client}"))

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        """Offline the local talosctl is not asked: the flags are those of a talosctl of the
        nodes' version (the oldest the tools preflight accepts; 1.12 changed them)."""
        client = self.config.cluster.talos_version
        return self._actions(
            ctx, client, f"flags of talosctl {TalosFeatures.for_version(client).contract}, the nodes' version"
        )

    def _actions(self, ctx: StepContext, client: str, how: str) -> tuple[Action, ...]:
        argv = talosctl.docker_cluster_argv(
            client_version=client, network=self.config.docker_network, **self._arguments(ctx)
        )
        return (
            Action(
                f"write the Talos patches ({PATCH_ALL}, {PATCH_CONTROL_PLANE}, {PATCH_WORKER}) into {patches_dir(ctx)}"
            ),
            Action(f"create the Docker cluster ({how})", command=tuple(argv)),
        )

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        from talos_platform.engine.files import atomic_write

        patches = rendered_patches(self.config)
        folder = patches_dir(ctx)
        for name in (PATCH_ALL, PATCH_CONTROL_PLANE, PATCH_WORKER):
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, patches.get(name, "{}\n").encode(), mode=0o600)
        await ctx.drivers.talos.create_docker_cluster(**self._arguments(ctx))
