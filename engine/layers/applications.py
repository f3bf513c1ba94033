"""Following ArgoCD Applications until they are Synced and Healthy, with the one sentence that
says what blocks them: "wave -98 is blocked by cert-manager: Synced/Degraded: <why>"."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from talos_platform.engine.drivers.protocols import APPLICATIONS
from talos_platform.engine.errors import PermanentError
from talos_platform.engine.layers.argo import blocking_message, is_converged, name_of, wave_of
from talos_platform.engine.layers.base import BaseStep, done, todo
from talos_platform.engine.layers.planned import watch_until
from talos_platform.engine.layers.waiting import Objects, WaitTimedOut, wait_for_objects
from talos_platform.engine.plan.step import Action, CheckResult

if TYPE_CHECKING:
    from talos_platform.engine.config.models import PlatformConfig
    from talos_platform.engine.plan.context import StepContext

ARGOCD_NAMESPACE = "argocd"

Selector = Callable[[dict[str, Any]], bool]


def applications_status(
    objects: Objects, selector: Selector, *, group: str, expected: tuple[str, ...] = (), at_least_one: bool = True
) -> tuple[bool, str, str]:
    """(converged, status line, first blocker's name) for the selected Applications."""
    selected = {name_of(app): app for app in objects.values() if selector(app)}
    missing = [name for name in expected if name not in selected]
    if missing:
        text = f"{group} is waiting for Application {', '.join(missing)} to be created"
        upstream = earliest_blocker(objects, exclude=set(selected))
        if upstream:
            # A parent app creates its children wave by wave: an earlier wave that is stuck
            # is why the child does not exist yet.
            text += f"; the earliest app not ready is {name_of(upstream)}: {blocking_message(upstream)}"
        return False, text, missing[0]
    if not selected:
        if at_least_one:
            return False, f"{group} has no Applications yet", ""
        return True, f"{group} has no Applications", ""
    blockers = sorted(name for name, app in selected.items() if not is_converged(app))
    if not blockers:
        return True, f"{group}: {len(selected)} Applications Synced and Healthy", ""
    first = blockers[0]
    return False, f"{group} is blocked by {first}: {blocking_message(selected[first])}", first


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
        ok, text, _ = applications_status(
            objects, self.selector, group=self.group, expected=self.expected, at_least_one=self.at_least_one
        )
        return ok, text

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
        try:
            await wait_for_objects(ctx, APPLICATIONS, self._status, timeout=self.wait_budget, namespace=self.namespace)
        except WaitTimedOut as timed_out:
            raise PermanentError(
                f"{timed_out.status} (not converged within {self.timeout:g}s)",
                hint="see why with `kubectl -n argocd get application NAME -o yaml` (status.conditions, "
                "status.resources) or the ArgoCD UI; fix the cause in Git or the cluster, then run the install again",
            ) from None
