"""The dry run behind `plan`: for every step, whether it is already done and the exact commands or
API calls `apply` would make, with secrets redacted.

Online, each step's `check` runs (the drivers are expected to be in their record-only mode, so
reads happen and changes do not). A check that cannot run yet (the cluster does not exist
before its earlier steps) shows as `unknown` with the reason.

Offline nothing is contacted: every step is `to do`, listed with the actions it would take on
machines where nothing is done yet: its `planned_actions(ctx)`, which uses no driver. A step
whose actions only the machines can tell raises NotImplementedError there; its `check` is then
tried with drivers that refuse every use (`offline_drivers`), which still works for checks that
only look at local files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from talos_platform.engine.plan.context import StepContext
from talos_platform.engine.plan.planner import Plan
from talos_platform.engine.plan.step import Action, ShowsOwnDryRun, Step

if TYPE_CHECKING:
    from talos_platform.engine.drivers.protocols import Drivers

DONE = "done"
TO_DO = "to do"
UNKNOWN = "unknown"


class TextRedactor(Protocol):
    def redact(self, text: str) -> str: ...


@dataclass(frozen=True)
class StepPreview:
    step_id: str
    layer: int
    title: str
    state: str
    """`done`, `to do` or `unknown` (the check could not run)."""
    reason: str = ""
    actions: tuple[Action, ...] = ()
    needs: tuple[str, ...] = ()
    own_dry_run: tuple[str, ...] = ()
    """What the step's tool says it would change, from its own dry run (see ShowsOwnDryRun)."""

    def to_record(self) -> dict[str, Any]:
        return {
            "stepId": self.step_id,
            "layer": self.layer,
            "title": self.title,
            "state": self.state,
            "reason": self.reason,
            "needs": list(self.needs),
            "ownDryRun": list(self.own_dry_run),
            "actions": [
                {"description": a.description, "command": list(a.command), "apiCall": a.api_call} for a in self.actions
            ],
        }


async def preview_plan(
    plan: Plan,
    context_factory: Callable[[str, Callable[[str], None]], StepContext],
    *,
    offline: bool,
    redactor: TextRedactor | None = None,
) -> list[StepPreview]:
    previews: list[StepPreview] = []
    state_of: dict[str, str] = {}
    for step in plan:
        context = context_factory(step.id, lambda line: None)  # a dry run's output is not shown
        if offline:
            preview = await _offline(step, context)
        else:
            preview = await _online(step, context, state_of)
        preview = await _with_own_dry_run(step, context, preview, offline)
        preview = _redacted(preview, redactor)
        state_of[step.id] = preview.state
        previews.append(preview)
    return previews


async def _offline(step: Step, context: StepContext) -> StepPreview:
    actions = _planned_actions(step, context)
    if actions is None:
        # No description: a check that needs no driver (e.g. one that looks at local files)
        # still tells its actions; the offline drivers refuse any contact.
        try:
            check = await step.check(context)
        except Exception:  # noqa: BLE001 - it needed the machines
            check = None
        if check is None or check.done:
            return _preview(step, TO_DO, "this step cannot list its commands without contacting the machines")
        return _preview(step, TO_DO, "", check.actions)
    # The plan's heading says it is offline: no per-step reason is needed.
    return _preview(step, TO_DO, "", actions)


async def _online(step: Step, context: StepContext, state_of: dict[str, str]) -> StepPreview:
    pending = [needed for needed in step.needs if state_of.get(needed) != DONE]
    try:
        check = await step.check(context)
    except Exception as error:  # noqa: BLE001 - a check that cannot run yet is expected in a plan
        reason = f"cannot check yet: {error}"
        if pending:
            reason = f"cannot check until {', '.join(pending)} {'is' if len(pending) == 1 else 'are'} done"
        actions = _planned_actions(step, context)
        return _preview(step, UNKNOWN, reason, actions or ())
    if check.done:
        return _preview(step, DONE, check.reason or "already done")
    return _preview(step, TO_DO, check.reason, check.actions)


OFFLINE_OWN_DRY_RUN = (
    "not run (offline): online, its dry run command above runs here and shows what would change, before anything does"
)


async def _with_own_dry_run(step: Step, context: StepContext, preview: StepPreview, offline: bool) -> StepPreview:
    """The step's own dry run beside its actions, when it has one and has work to do."""
    if not isinstance(step, ShowsOwnDryRun) or preview.state == DONE:
        return preview
    if offline:
        return replace(preview, own_dry_run=(OFFLINE_OWN_DRY_RUN,))
    try:
        lines = await step.own_dry_run(context)
    except Exception as error:  # noqa: BLE001 - a plan shows what it could not learn
        lines = (f"its own dry run failed: {getattr(error, 'message', None) or error}",)
    return replace(preview, own_dry_run=tuple(lines))


@dataclass(frozen=True)
class OwnDryRun:
    """A step's own dry run, shown before a run is confirmed."""

    step_id: str
    title: str
    lines: tuple[str, ...]


class OwnDryRunFailed(Exception):
    """A step's own dry run failed before the run was confirmed: nothing was changed."""

    def __init__(self, step_id: str, error: Exception):
        super().__init__(f"{step_id}: its dry run failed: {getattr(error, 'message', None) or error}")
        self.step_id = step_id
        self.hint = getattr(error, "hint", "") or ""


async def own_dry_runs(
    plan: Plan,
    selected: tuple[str, ...],
    context_factory: Callable[[str, Callable[[str], None]], StepContext],
    redactor: TextRedactor | None = None,
) -> list[OwnDryRun]:
    """The own dry run of every selected step that has one, for the confirmation. Raises
    OwnDryRunFailed naming the step when one fails."""
    clean = redactor.redact if redactor is not None else (lambda text: text)
    runs: list[OwnDryRun] = []
    for step in plan:
        if step.id not in selected or not isinstance(step, ShowsOwnDryRun):
            continue
        try:
            lines = await step.own_dry_run(context_factory(step.id, lambda line: None))
        except Exception as error:  # noqa: BLE001 - reported, naming the step
            raise OwnDryRunFailed(step.id, error) from None
        runs.append(OwnDryRun(step.id, clean(step.title), tuple(clean(line) for line in lines)))
    return runs


def _planned_actions(step: Step, context: StepContext) -> tuple[Action, ...] | None:
    """The step's planned actions; None when only the machines can tell."""
    try:
        return tuple(step.planned_actions(context))
    except NotImplementedError:
        return None


def _preview(step: Step, state: str, reason: str, actions: tuple[Action, ...] = ()) -> StepPreview:
    return StepPreview(
        step_id=step.id,
        layer=step.layer,
        title=step.title,
        state=state,
        reason=reason,
        actions=tuple(actions),
        needs=tuple(step.needs),
    )


def _redacted(preview: StepPreview, redactor: TextRedactor | None) -> StepPreview:
    if redactor is None:
        return preview
    clean = redactor.redact
    actions = tuple(
        Action(
            description=clean(a.description),
            command=tuple(clean(part) for part in a.command),
            api_call=clean(a.api_call),
        )
        for a in preview.actions
    )
    return replace(
        preview,
        title=clean(preview.title),
        reason=clean(preview.reason),
        actions=actions,
        own_dry_run=tuple(clean(line) for line in preview.own_dry_run),
    )


class OfflineRefused(RuntimeError):
    """An offline plan tried to reach an outside system."""


class _Refusing:
    """Stands in for a driver in an offline plan: any use is refused, so nothing is contacted."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str) -> NoReturn:
        raise OfflineRefused(f"offline plan: the {self._name} driver may not be used ({attribute})")


def offline_drivers() -> Drivers:
    """Drivers for `plan --offline`: every driver refuses to be used."""
    from talos_platform.engine.drivers.protocols import Drivers

    return Drivers(
        talos=_Refusing("talos"),
        kube=_Refusing("kube"),
        hubble=_Refusing("hubble"),
        git=_Refusing("git"),
        vault=_Refusing("vault"),
        tools=_Refusing("tools"),
    )
