"""Failing early when an Application's outcome is known: a leaf Application that stays Degraded
past a short grace (`gitops.degradedGrace`) fails its step with the app's message and the pods
behind it, instead of waiting out the whole timeout; and both failures name the app to look at."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from talos_platform.engine.drivers.clock import Clock
from talos_platform.engine.drivers.protocols import PODS
from talos_platform.engine.errors import PermanentError
from talos_platform.engine.observe.blockers import Blocker, describe, pods_behind
from talos_platform.engine.observe.pods import classify_pod
from talos_platform.engine.observe.snapshot import PodProblem

if TYPE_CHECKING:
    from talos_platform.engine.plan.context import StepContext


def is_degraded(blocker: Blocker | None) -> bool:
    if blocker is None:
        return False
    resource = blocker.resource
    return blocker.app.health == "Degraded" or (resource is not None and resource.health == "Degraded")


class DegradedWatch:
    """Told the current blocker on every change; `expired()` returns the blocker once the same
    Application has been Degraded for `grace` seconds without a break."""

    def __init__(self, clock: Clock, grace: float):
        self.clock = clock
        self.grace = grace
        self.blocker: Blocker | None = None
        self.status = ""
        self.since: float | None = None
        self._changed = asyncio.Event()

    def see(self, blocker: Blocker | None, status: str = "") -> None:
        previous = self.blocker
        self.blocker, self.status = blocker, status
        if blocker is None or not is_degraded(blocker):
            self.since = None
        elif self.since is None or previous is None or previous.app.name != blocker.app.name:
            self.since = self.clock.now()
        self._changed.set()

    async def expired(self) -> Blocker:
        while True:
            self._changed.clear()
            if self.since is not None and self.blocker is not None:
                remaining = self.since + self.grace - self.clock.now()
                if remaining <= 0:
                    return self.blocker
                try:
                    await self.clock.wait_for(self._changed.wait(), remaining)
                except TimeoutError:
                    pass
            else:
                await self._changed.wait()


async def problem_pods(ctx: StepContext, blocker: Blocker) -> list[PodProblem]:
    """The problem pods behind the blocker, read once (best effort: the failure stands without)."""
    namespace = blocker.resource.namespace if blocker.resource is not None else ""
    try:
        listed = await ctx.drivers.kube.list(PODS, namespace=namespace or None)
    except Exception:  # noqa: BLE001 - the message is still worth giving without the pods
        return []
    now = ctx.clock.now()  # judged as the dashboard judges them: one within its start grace is starting
    problems = [problem for problem in (classify_pod(pod).problem_at(now) for pod in listed.items) if problem]
    return pods_behind(blocker, problems)


def _hint(blocker: Blocker | None, pods: list[PodProblem], *, degraded: bool, name: str = "") -> str:
    name = blocker.app.name if blocker is not None else name
    parts = [
        f"see why with `kubectl -n argocd get application {name} -o yaml` (status.resources, status.conditions)"
        if name
        else "see why with `kubectl -n argocd get applications`"
    ]
    if pods:
        parts.append(f"`kubectl -n {pods[0].namespace} describe pod {pods[0].name}` (its events)")
    elif blocker is not None and blocker.resource is not None and blocker.resource.namespace:
        resource = blocker.resource
        parts.append(f"`kubectl -n {resource.namespace} describe {resource.kind.lower()} {resource.name}`")
    text = " and ".join(parts) + " or the ArgoCD UI; fix the cause in Git or the cluster, then run the install again"
    if degraded:
        text += " (a Degraded app fails the step after gitops.degradedGrace seconds)"
    return text


def _with_pods(message: str, pods: list[PodProblem]) -> str:
    if not pods:
        return message
    return message + "; pods behind it: " + "; ".join(f"{p.namespace}/{p.name} {p.kind}: {p.detail}" for p in pods[:3])


async def degraded_failure(ctx: StepContext, status: str, blocker: Blocker, grace: float) -> PermanentError:
    """`status` is the step's last status line, which names the leaf and what it waits on."""
    pods = await problem_pods(ctx, blocker)
    message = f"{status or describe(blocker)} (Degraded for {grace:g}s: the outcome is known)"
    return PermanentError(_with_pods(message, pods), hint=_hint(blocker, pods, degraded=True))


async def timed_out_failure(
    ctx: StepContext, message: str, blocker: Blocker | None, *, name: str = ""
) -> PermanentError:
    """The step's timeout; `name` is the Application to look at when no blocker was seen."""
    pods = await problem_pods(ctx, blocker) if blocker is not None else []
    return PermanentError(_with_pods(message, pods), hint=_hint(blocker, pods, degraded=False, name=name))
