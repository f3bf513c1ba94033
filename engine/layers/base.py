"""What every install step shares: identity, the digest of its inputs, and output routing.

Subclasses implement `_check`, `_apply` and `_wait`, and `planned_actions(ctx)`: the actions
`apply` (and `wait`) take on machines where nothing is done yet, told without any driver (for
`plan --offline`); a `_check` that finds work returns the same actions. The public phases run
them with the step's output callback installed, so the lines of every command a driver runs for this step
become this step's output events (steps run concurrently and share the drivers).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from talos_platform.engine.drivers.process import LineCallback, output_to
from talos_platform.engine.plan.step import Action, CheckResult

if TYPE_CHECKING:
    from talos_platform.engine.config.models import PlatformConfig
    from talos_platform.engine.plan.context import StepContext


def digest_of(value: Any) -> str:
    """Stable digest of JSON-able inputs (pydantic models are dumped first)."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json", by_alias=True)
    text = json.dumps(value, sort_keys=True, default=_plain, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True)
    return str(value)


def done(reason: str, **facts: Any) -> CheckResult:
    return CheckResult(actions=(), facts=facts, reason=reason)


def todo(reason: str, *actions: Action, **facts: Any) -> CheckResult:
    """Work to do. The actions are the step's `planned_actions(ctx)` (all, or the part still
    left), so the offline plan and the dry run list the same: `todo(reason, *self.planned_actions(ctx))`."""
    return CheckResult(actions=tuple(actions), facts=facts, reason=reason)


class BaseStep:
    """A step built from the config. `inputs()` names exactly the config parts it depends on."""

    layer: int = 0
    timeout: float = 300.0
    reapply_when_inputs_change: bool = False
    """The runner calls `apply` when the config inputs changed even if `check` found the step
    done. Most checks already compare against the config, so then there is nothing to do; a
    step whose `check` cannot see the change (a configured node) sets this and handles it."""

    def __init__(self, config: PlatformConfig, *, step_id: str, title: str, needs: tuple[str, ...] = ()):
        self.config = config
        self.id = step_id
        self.title = title
        self.needs = tuple(needs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"

    @property
    def wait_budget(self) -> float:
        """How long `wait` itself waits: a little less than `timeout`, so the step's own message
        (what blocks, and why) reaches the user before the runner's generic timeout does."""
        return self.timeout - min(5.0, self.timeout * 0.1)

    def inputs(self) -> Any:
        """The config values this step depends on; a change re-runs it on resume."""
        return None

    def input_digest(self) -> str:
        return digest_of({"step": self.id, "inputs": self.inputs()})

    async def check(self, ctx: StepContext) -> CheckResult:
        with output_to(_line_sink(ctx)):
            return await self._check(ctx)

    async def apply(self, ctx: StepContext, check: CheckResult) -> None:
        if check.done and not self.reapply_when_inputs_change:
            # Never repeat a once-only action (bootstrap, Vault init) because an input changed.
            ctx.output(f"nothing to change: {check.reason}")
            return
        with output_to(_line_sink(ctx)):
            await self._apply(ctx, check)

    async def wait(self, ctx: StepContext) -> None:
        with output_to(_line_sink(ctx)):
            await self._wait(ctx)

    async def _check(self, ctx: StepContext) -> CheckResult:
        raise NotImplementedError

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        """See `Step.planned_actions`: every step of the platform tells its actions offline."""
        raise NotImplementedError

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        """Nothing to do by default (steps that only gather facts or wait)."""

    async def _wait(self, ctx: StepContext) -> None:
        """Nothing to wait for by default."""


def _line_sink(ctx: StepContext) -> LineCallback:
    def sink(line: str, stream: str) -> None:
        ctx.output(line)

    return sink
