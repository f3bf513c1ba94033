"""Following ArgoCD Applications until they are Synced and Healthy, with the one sentence that
says what blocks them, named at the leaf: "wave 0 is blocked by monitoring: StatefulSet
monitoring/prometheus Progressing — <ArgoCD's message>" (see engine/observe/blockers.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from talos_platform.engine.drivers.protocols import APPLICATIONS
from talos_platform.engine.layers.argo import blocking_message, is_converged, name_of, wave_of
from talos_platform.engine.layers.base import BaseStep, done, todo
from talos_platform.engine.layers.degraded import DegradedWatch, degraded_failure, timed_out_failure
from talos_platform.engine.layers.planned import watch_until
from talos_platform.engine.layers.pods_behind import PodsBehind
from talos_platform.engine.layers.waiting import Objects, WaitTimedOut, wait_for_objects
from talos_platform.engine.observe.apps import app_view, blocked_or_starting, progressing
from talos_platform.engine.observe.blockers import Blocker, describe, trace
from talos_platform.engine.observe.snapshot import AppView, PodProblem
from talos_platform.engine.plan.step import Action, CheckResult

if TYPE_CHECKING:
    from talos_platform.engine.config.models import PlatformConfig
    from talos_platform.engine.plan.context import StepContext

ARGOCD_NAMESPACE = "argocd"

Selector = Callable[[dict[str, Any]], bool]


def applications_status(
    objects: Objects, selector: Selector, *, group: str, expected: tuple[str, ...] = (), at_least_one: bool = True
) -> tuple[bool, str, str]:
    """(converged, status line, the Application to look at) for the selected Applications."""
    ok, text, blocker = applications_blocker(
        objects, selector, group=group, expected=expected, at_least_one=at_least_one
    )
    return ok, text, blocker.app.name if blocker is not None else (expected[0] if not ok and expected else "")


def applications_blocker(
    objects: Objects,
    selector: Selector,
    *,
    group: str,
    expected: tuple[str, ...] = (),
    at_least_one: bool = True,
    problems: Iterable[PodProblem] = (),
) -> tuple[bool, str, Blocker | None]:
    """(converged, status line, the leaf blocker): an app of apps that only waits on a child is
    followed down to the Application that is unhealthy and the resource it waits on. `problems`:
    the pods behind it (PodsBehind); with only starting ones the group `waits for` it, as the
    dashboard says, instead of `is blocked by` it."""
    views = _Views(objects)
    selected = {name_of(app): app for app in objects.values() if selector(app)}
    missing = [name for name in expected if name not in selected]
    if missing:
        if group == f"Application {missing[0]}" and len(missing) == 1:
            # Waiting for itself would read as a riddle: it waits for its app of apps to create it.
            text = f"{group} does not exist yet: waiting for its app of apps to create it"
        else:
            text = f"{group} is waiting for Application {', '.join(missing)} to be created"
        upstream = earliest_blocker(objects, exclude=set(selected))
        blocker = None
        if upstream:
            # A parent app creates its children wave by wave: an earlier wave that is stuck
            # is why the child does not exist yet.
            blocker = trace(views[name_of(upstream)], views)
            text += f"; the earliest app not ready is {_said(blocker, upstream)}"
        return False, text, blocker
    if not selected:
        if at_least_one:
            return False, f"{group} has no Applications yet", None
        return True, f"{group} has no Applications", None
    blockers = sorted(name for name, app in selected.items() if not is_converged(app))
    if not blockers:
        return True, f"{group}: {len(selected)} Applications Synced and Healthy", None
    first = blockers[0]
    blocker = trace(views[first], views)
    if blocker.resource is None and not blocker.via:
        # ArgoCD said nothing more than the app's own words: those, unless its pods only start.
        starting, said = blocked_or_starting(blocker, problems)
        if not starting:
            said = f"is blocked by {_said(blocker, selected[first])}"
    else:
        _, said = blocked_or_starting(blocker, problems)
    return False, f"{group} {said}", blocker


class _Views(dict[str, AppView]):
    """Application views by name, made only for the apps a trace visits (a step judges every
    change among up to thousands of Applications)."""

    def __init__(self, objects: Objects):
        super().__init__()
        self._raw = {name_of(app): app for app in objects.values()}

    def __missing__(self, name: str) -> AppView:
        raw = self._raw.get(name)
        if raw is None:
            raise KeyError(name)
        self[name] = view = app_view(raw)
        return view

    def get(self, name: str, default: Any = None) -> Any:  # dict.get skips __missing__: look up through it
        try:
            return self[name]
        except KeyError:
            return default


def _said(blocker: Blocker, app: dict[str, Any]) -> str:
    """The leaf and the resource it waits on; the app's own words when ArgoCD has not said more."""
    if blocker.resource is None and not blocker.via:
        return f"{name_of(app)}: {blocking_message(app)}"
    return describe(blocker)


def earliest_blocker(objects: Objects, exclude: set[str]) -> dict[str, Any] | None:
    """The not-converged Application of the lowest wave, preferring one that deploys workloads
    (an app of apps only waits for its children) and one that says why."""
    waiting = [app for app in objects.values() if name_of(app) not in exclude and not is_converged(app)]
    if not waiting:
        return None
    return min(
        waiting, key=lambda app: (is_app_of_apps(app), ":" not in blocking_message(app), wave_of(app), name_of(app))
    )


def is_app_of_apps(app: dict[str, Any]) -> bool:
    return any(resource.get("kind") == "Application" for resource in (app.get("status") or {}).get("resources") or [])


class FollowApplications(BaseStep):
    """Wait until the selected Applications exist and are Synced and Healthy."""

    timeout: float = 900

    def __init__(
        self,
        config: PlatformConfig,
        *,
        step_id: str,
        title: str,
        group: str,
        selector: Selector,
        expected: tuple[str, ...] = (),
        at_least_one: bool = True,
        needs: tuple[str, ...] = (),
        layer: int,
        timeout: float | None = None,
        namespace: str = ARGOCD_NAMESPACE,
    ):
        super().__init__(config, step_id=step_id, title=title, needs=needs)
        self.group = group
        self.selector = selector
        self.expected = expected
        self.at_least_one = at_least_one
        self.layer = layer
        self.namespace = namespace
        if timeout is not None:
            self.timeout = timeout

    def inputs(self) -> Any:
        return {"group": self.group, "expected": list(self.expected), "gitops": self.config.gitops}

    def _status(self, objects: Objects) -> tuple[bool, str]:
        ok, text, _ = self._judge(objects)
        return ok, text

    def _judge(self, objects: Objects, problems: Iterable[PodProblem] = ()) -> tuple[bool, str, Blocker | None]:
        return applications_blocker(
            objects,
            self.selector,
            group=self.group,
            expected=self.expected,
            at_least_one=self.at_least_one,
            problems=problems,
        )

    async def _judge_with_pods(self, objects: Objects, pods: PodsBehind) -> tuple[bool, str, Blocker | None]:
        """Judged again with the pods behind a Progressing blocker: starting pods make the line
        `waits for`, problem pods are named, as on the dashboard."""
        ok, text, blocker = self._judge(objects)
        if ok or blocker is None or not progressing(blocker):
            pods.forget()
            return ok, text, blocker
        problems = await pods.problems(blocker)
        return self._judge(objects, problems) if problems else (ok, text, blocker)

    async def _check(self, ctx: StepContext) -> CheckResult:
        listed = await ctx.drivers.kube.list(APPLICATIONS, self.namespace)
        ok, text = self._status({(self.namespace, name_of(a)): a for a in listed.items})
        if ok:
            return done(text)
        return todo(text, *self.planned_actions(ctx))

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        # One list + watch of the namespace's Applications, judged by the step's selector.
        named = all(name in self.group for name in self.expected)
        label = self.group if named else f"{self.group} ({', '.join(self.expected)})"
        return (
            Action(
                f"follow {label} until Synced and Healthy",
                api_call=watch_until(APPLICATIONS, f"{label} is Synced and Healthy", namespace=self.namespace),
            ),
        )

    async def _wait(self, ctx: StepContext) -> None:
        watch = DegradedWatch(ctx.clock, self.config.gitops.degraded_grace)
        pods = PodsBehind(ctx)

        async def judge(objects: Objects) -> tuple[bool, str]:
            ok, text, blocker = await self._judge_with_pods(objects, pods)
            watch.see(None if ok else blocker, text)
            return ok, text

        waiting = asyncio.ensure_future(
            wait_for_objects(
                ctx,
                APPLICATIONS,
                judge,
                timeout=self.wait_budget,
                namespace=self.namespace,
                recheck=pods.until_a_grace_ends,
            )
        )
        expiring = asyncio.ensure_future(watch.expired())
        try:
            await asyncio.wait((waiting, expiring), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiting, expiring):
                task.cancel()
            await asyncio.gather(waiting, expiring, return_exceptions=True)
        if waiting.done() and not waiting.cancelled() and waiting.exception() is None:
            return
        if expiring.done() and not expiring.cancelled() and expiring.exception() is None:
            raise await degraded_failure(ctx, watch.status, expiring.result(), watch.grace)
        try:
            waiting.result()
        except WaitTimedOut as timed_out:
            raise await timed_out_failure(
                ctx,
                f"{timed_out.status} (not converged within {self.timeout:g}s)",
                watch.blocker,
                name=self.expected[0] if self.expected else "",
            ) from None
