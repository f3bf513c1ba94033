"""The unit of work: a step with a stable id and three phases.

`check` gathers facts and returns what `apply` would do (or that nothing is needed): it makes
every step idempotent and the dry run honest. `apply` does it. `wait` blocks until the result
is ready (watches and streams, not sleeps), bounded by `timeout`.

Steps never touch the outside world directly: they call the drivers in `StepContext`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from talos_platform.engine.plan.context import StepContext


@dataclass(frozen=True)
class Action:
    """One thing `apply` will do, in words and as the exact command or API call."""

    description: str
    command: tuple[str, ...] = ()
    """argv of a process (talosctl, kubectl, git), secrets already replaced by placeholders."""
    api_call: str = ""
    """An API call in words, e.g. `PATCH apps/v1 DaemonSet kube-system/cilium`."""


@dataclass(frozen=True)
class CheckResult:
    """What `check` found: done (no actions), or the actions `apply` would take."""

    actions: tuple[Action, ...] = ()
    facts: dict[str, Any] = field(default_factory=dict)
    """Facts gathered, handed to `apply` so it does not ask twice."""
    reason: str = ""
    """Why the step is done (shown when it is skipped), or why it needs work."""

    @property
    def done(self) -> bool:
        return not self.actions


class Step(Protocol):
    id: str
    """Stable id, e.g. `L0.apply-config.cp-1`; the journal keys on it."""
    layer: int
    title: str
    needs: tuple[str, ...]
    """Ids of steps that must succeed first (the DAG's edges)."""
    timeout: float
    """Seconds `wait` may take before the step fails."""

    def input_digest(self) -> str:
        """Digest of the config inputs this step depends on (resume re-runs on change)."""
        ...

    async def check(self, ctx: StepContext) -> CheckResult: ...

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        """What `apply` (and `wait`) do on machines where nothing is done yet, told without any
        driver (the offline plan). A `check` that finds that work returns these same actions:
        `todo(reason, *self.planned_actions(ctx))`. Raises NotImplementedError when only the
        machines can tell; the offline plan then tries `check` with drivers that refuse contact."""
        ...

    async def apply(self, ctx: StepContext, check: CheckResult) -> None: ...

    async def wait(self, ctx: StepContext) -> None: ...


@runtime_checkable
class ShowsOwnDryRun(Protocol):
    """A step whose tool has a dry run of its own (`talosctl upgrade-k8s --dry-run`): shown in
    `plan` and before the run's confirmation, so the user sees what the tool itself would change."""

    id: str
    title: str

    async def own_dry_run(self, ctx: StepContext) -> tuple[str, ...]:
        """The lines the tool's dry run prints; changes nothing. Raises StepError when it fails."""
        ...
