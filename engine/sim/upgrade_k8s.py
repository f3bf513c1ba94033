"""The simulated `talosctl upgrade-k8s`: the lines the real one prints, in its order (see
engine/drivers/upgrade_k8s_progress.py), with virtual time passing while it waits.

The model keeps one Kubernetes version per node: a node's control-plane components count as
updated when its kubelet is, so a run interrupted between the two redoes the components (as
the real command does: it skips only what already runs the target). The `kubeletStalls` fault
holds one node's kubelet back: upgrade-k8s then waits on it with nothing more to say, as it
does in siderolabs/talos#6976, #9441 and #13109.
"""

from __future__ import annotations

from collections.abc import Callable

from talos_platform.engine.drivers.upgrade_k8s_progress import STATIC_PODS
from talos_platform.engine.sim.model import Machine, PlatformModel
from talos_platform.engine.sim.scenarios import KubeletStalls

_STATIC_POD_SECONDS = 8.0  # per control plane and component: the new image pulled, the pod Ready
_KUBELET_SECONDS = 25.0  # per node: the kubelet restarted and its Node reporting the version
_STALLED_POLL_SECONDS = 30.0  # how often the stalled wait lets virtual time move on
_MANIFESTS = (
    "v1.ConfigMap/kube-system/coredns",
    "apps/v1.Deployment/kube-system/coredns",
    "rbac.authorization.k8s.io/v1.ClusterRoleBinding/system:talos-nodes",
)


async def upgrade_k8s(model: PlatformModel, to: str, *, dry_run: bool, say: Callable[[str], None]) -> None:
    target = to.removeprefix("v")
    joined = [m for m in model.machines.values() if m.registered]
    control_planes = sorted((m for m in joined if m.is_control_plane), key=lambda m: m.name)
    workers = sorted((m for m in joined if not m.is_control_plane), key=lambda m: m.name)
    lowest = min((_version(model, m) for m in joined), key=_key, default=target)
    say(f"automatically detected the lowest Kubernetes version {lowest}")
    say(f"discovered controlplane nodes {_quoted(control_planes)}")
    say(f"discovered worker nodes {_quoted(workers)}")
    talos = model.config.cluster.talos_version.removeprefix("v")
    for machine in control_planes + workers:
        say(
            f'> "{machine.address}": Talos version {machine.talos_version.removeprefix("v") or talos} '
            f"is compatible with Kubernetes version {target}"
        )
    say("checking for removed Kubernetes component flags")
    say("checking for removed Kubernetes API resource versions")
    for component in STATIC_PODS:
        say(f'updating "{component}" to version "{target}"')
        for machine in control_planes:
            await _static_pod(model, machine, component, target, dry_run, say)
    say(f'updating kube-proxy to version "{target}"')
    for machine in control_planes:
        say(f' > "{machine.address}": starting update')
        if dry_run:
            say(" > skipped in dry-run")
    say(f'updating kubelet to version "{target}"')
    stalls = {fault.node for fault in model.scenario.fault(KubeletStalls)}
    for machine in control_planes + workers:
        await _kubelet(model, machine, target, dry_run, say, stalls=machine.name in stalls)
    say("updating manifests")
    for manifest in _MANIFESTS:
        say(f" > processing manifest {manifest}")
        say(" < no changes")
    if not dry_run:
        say("waiting for all manifests to be applied")


async def _static_pod(
    model: PlatformModel, machine: Machine, component: str, target: str, dry_run: bool, say: Callable[[str], None]
) -> None:
    node = f'"{machine.address}"'
    behind = _start_update(model, machine, f"{component}: v{_version(model, machine)}", target, dry_run, say)
    if behind is None:
        return
    say(f" > {node}: waiting for {component} pod update")
    if behind:
        await model.clock.sleep(_STATIC_POD_SECONDS)
        say(f" > {node}: {component}: pod is not ready, waiting")
    say(f" < {node}: successfully updated")


async def _kubelet(
    model: PlatformModel, machine: Machine, target: str, dry_run: bool, say: Callable[[str], None], *, stalls: bool
) -> None:
    node = f'"{machine.address}"'
    behind = _start_update(model, machine, f"kubelet: {_version(model, machine)}", target, dry_run, say)
    if behind is None:
        return
    if behind:
        say(f" > {node}: waiting for kubelet restart")
        if stalls:
            while True:  # the restart is never seen: upgrade-k8s waits with no timeout of its own
                await model.clock.sleep(_STALLED_POLL_SECONDS)
        await model.clock.sleep(_KUBELET_SECONDS)
        model.changes.kubelet_upgraded(machine.address, f"v{target}")
    say(f" > {node}: waiting for node update")
    say(f" < {node}: successfully updated")


def _start_update(
    model: PlatformModel, machine: Machine, update: str, target: str, dry_run: bool, say: Callable[[str], None]
) -> bool | None:
    """The lines upgrade-k8s prints as it starts on a node (`update` is `COMPONENT: FROM`): whether
    the node is behind, or None when a dry run ends here."""
    node = f'"{machine.address}"'
    say(f" > {node}: starting update")
    behind = _version(model, machine) != target
    if behind:
        say(f" > update {update} -> {target}")
        if dry_run:
            say(" > skipped in dry-run")
            return None
    elif dry_run:
        return None
    say(f" > {node}: machine configuration patched")
    return behind


def _version(model: PlatformModel, machine: Machine) -> str:
    return (machine.kubernetes_version or model.config.cluster.kubernetes_version).removeprefix("v")


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _quoted(machines: list[Machine]) -> str:
    return "[" + " ".join(f'"{m.address}"' for m in machines) + "]"
