"""Install progress as plain state, updated by run events: the step checklist's model. The same
model serves every operation's run (`operation` names it; the install's by default)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from talos_platform.engine.run.events import (
    DEFAULT_OPERATION,
    Event,
    RunFinished,
    RunStarted,
    StepFailed,
    StepOutput,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)

OUTPUT_LINES_KEPT = 2000


@dataclass
class StepState:
    id: str
    layer: int
    title: str
    state: str = "pending"
    """`pending`, `running`, `retrying`, `succeeded`, `skipped`, `failed`."""
    started_at: float | None = None
    duration: float | None = None
    attempts: int = 0
    error: str = ""
    hint: str = ""
    output: deque[str] = field(default_factory=lambda: deque(maxlen=OUTPUT_LINES_KEPT))
    lines_written: int = 0
    """Every line ever added (the deque forgets old ones; the output view counts from this)."""

    def add_line(self, line: str) -> None:
        self.output.append(line)
        self.lines_written += 1

    @property
    def retries(self) -> int:
        return max(0, self.attempts - 1)


class InstallProgress:
    def __init__(self, steps: Iterable[tuple[str, int, str]], operation: str = DEFAULT_OPERATION):
        self.steps: dict[str, StepState] = {sid: StepState(sid, layer, title) for sid, layer, title in steps}
        self.operation = operation
        """The operation this run is (`install`, ...); RunStarted says it too."""
        self.outcome = ""
        self.run_id = ""
        self.simulated = False
        self.now = 0.0
        self.failed_step: str | None = None
        self.last_started: str | None = None
        self.stop_requested = False
        """The user asked to stop (q, Ctrl+C): said on screen at once, while the steps in flight finish."""
        self.notes: tuple[str, ...] = ()
        """What to do next, shown once the run succeeded (the operation's notes)."""

    @property
    def title(self) -> str:
        """The operation's title (`Install`), for headings."""
        from talos_platform.engine.errors import UserError
        from talos_platform.engine.operations import operation_named

        try:
            return operation_named(self.operation).title
        except UserError:  # not registered here (a journal of a newer version)
            return self.operation.capitalize()

    def add_steps(self, steps: Iterable[tuple[str, int, str]]) -> None:
        for sid, layer, title in steps:
            self.steps.setdefault(sid, StepState(sid, layer, title))

    def _step(self, step_id: str, layer: int = 0, title: str = "") -> StepState:
        if step_id not in self.steps:
            self.steps[step_id] = StepState(step_id, layer, title or step_id)
        return self.steps[step_id]

    def apply(self, event: Event) -> None:
        self.now = max(self.now, event.at)
        if isinstance(event, RunStarted):
            self.run_id, self.simulated, self.outcome, self.failed_step = event.run_id, event.simulated, "", None
            self.stop_requested, self.notes = False, ()
            self.operation = event.operation
            for sid in event.steps:
                self._step(sid)
        elif isinstance(event, StepStarted):
            step = self._step(event.step_id, event.layer, event.title)
            step.layer, step.title = event.layer, event.title or step.title
            step.state, step.started_at, step.attempts = "running", event.at, event.attempt
            step.duration, step.error, step.hint = None, "", ""
            self.last_started = step.id
        elif isinstance(event, StepOutput):
            self._step(event.step_id).add_line(event.line)
        elif isinstance(event, StepRetrying):
            step = self._step(event.step_id)
            step.state, step.error = "retrying", event.error
            step.add_line(f"! attempt {event.attempt} failed: {event.error}; retrying in {event.delay:.1f}s")
        elif isinstance(event, StepSkipped):
            step = self._step(event.step_id)
            step.state, step.error = "skipped", ""
            step.add_line(f"skipped: {event.reason}")
        elif isinstance(event, StepSucceeded):
            step = self._step(event.step_id)
            step.state, step.duration = "succeeded", event.duration
        elif isinstance(event, StepFailed):
            step = self._step(event.step_id)
            step.state = "interrupted" if event.interrupted else "failed"
            step.error, step.hint = event.error, event.hint
            if step.started_at is not None:
                step.duration = event.at - step.started_at
            if not event.interrupted:
                self.failed_step = step.id
        elif isinstance(event, RunFinished):
            self.outcome = event.outcome
            for step in self.steps.values():
                if step.state in ("running", "retrying") and event.outcome != "succeeded":
                    step.state = "interrupted" if event.outcome == "interrupted" else step.state

    def elapsed(self, step: StepState) -> float | None:
        if step.duration is not None:
            return step.duration
        if step.started_at is not None and step.state in ("running", "retrying"):
            return max(0.0, self.now - step.started_at)
        return None

    def layer_done(self, layer: int) -> bool:
        steps = [s for s in self.steps.values() if s.layer == layer]
        return bool(steps) and all(s.state in ("succeeded", "skipped") for s in steps)

    @property
    def running(self) -> bool:
        return any(s.state in ("running", "retrying") for s in self.steps.values()) and not self.outcome
