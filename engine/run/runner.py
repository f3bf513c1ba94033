"""The runner: executes a plan, step by step, as events.

Each step runs `check` (done -> skipped with the reason) else `apply` then `wait` (bounded by the
step's timeout on the run's clock). Ready steps run concurrently up to a bound. Errors are
classified: TransientError -> retry with capped exponential backoff; PermanentError -> the step
fails with its hint and no new step starts (steps in flight finish); anything else -> the step
fails with a generic hint, never a crash. An interrupt stops new steps, lets the ones in flight
finish for a short grace period, then cancels them; the run ends `interrupted`.

Every event passes through the redactor before the journal or any subscriber sees it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from talos_platform.engine.drivers.clock import Clock, RealClock
from talos_platform.engine.errors import PermanentError, TransientError, UserError
from talos_platform.engine.plan.context import StepContext
from talos_platform.engine.plan.planner import Plan
from talos_platform.engine.plan.step import Step
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
from talos_platform.engine.run.journal import Journal, new_run_id

log = logging.getLogger(__name__)

SUCCEEDED = "succeeded"
FAILED = "failed"
INTERRUPTED = "interrupted"

ContextFactory = Callable[[str, Callable[[str], None]], StepContext]
"""(step id, output callback) -> the StepContext that step runs with."""

Subscriber = Callable[[Event], None]

UNEXPECTED_HINT = (
    "this is unexpected: run again with --debug for details, and report it if it persists; "
    "the {operation} resumes from here when run again"
)
INTERRUPTED_HINT = "run the {operation} again: it re-checks this step and resumes"


class EventRedactor(Protocol):
    def redact_event(self, event: Event) -> Event: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff for TransientError."""

    max_attempts: int = 6
    initial_delay: float = 2.0
    max_delay: float = 60.0
    multiplier: float = 2.0

    def delay(self, failed_attempt: int) -> float:
        """Seconds to wait after attempt number `failed_attempt` (1-based) failed."""
        return min(self.max_delay, self.initial_delay * self.multiplier ** (failed_attempt - 1))


class _StepOutcome:
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass
class _Attempt:
    """One attempt at a step: which, when it started, and the phase it is in (named when it fails)."""

    step: Step
    number: int
    started: float
    phase: str = "check"


class Runner:
    def __init__(
        self,
        plan: Plan,
        context_factory: ContextFactory,
        *,
        journal: Journal | None = None,
        redactor: EventRedactor | None = None,
        clock: Clock | None = None,
        concurrency: int = 4,
        from_layer: int | None = None,
        only: str | Iterable[str] | None = None,
        retry: RetryPolicy = RetryPolicy(),
        known_done: Mapping[str, str] | None = None,
        config_digest: str = "",
        simulated: bool = False,
        interrupt_grace: float = 10.0,
        operation: str = DEFAULT_OPERATION,
        resume_command: str = "",
    ):
        """`known_done` maps step ids to the input digest under which earlier runs saw them
        done (from the journal): such steps are still re-checked, and re-run when their digest
        changed. `interrupt_grace` is how long (real seconds) steps in flight may take to finish
        after an interrupt before they are cancelled. `operation` names what runs (RunStarted
        records it, hints say what to run again)."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.plan = plan
        self._context_factory = context_factory
        self._journal = journal
        self._redactor = redactor
        self._clock = clock or RealClock()
        self._concurrency = concurrency
        self._retry = retry
        self._known_done = dict(known_done or {})
        self._config_digest = config_digest
        self._simulated = simulated
        self._interrupt_grace = interrupt_grace
        self._operation = operation
        self._resume_command = resume_command
        self.run_id = journal.run_id if journal else new_run_id()
        self._selected, self._prerequisites = select_steps(plan, from_layer, only)
        self._subscribers: list[Subscriber] = []
        self._subscribers_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._interrupt_requested = asyncio.Event()
        self._interrupt_count = 0
        self._stopping = False
        self.outcome: str | None = None

    # --- consumers -----------------------------------------------------------------------

    @property
    def considered(self) -> tuple[str, ...]:
        """Ids this run looks at, in plan order: the selection and what it needs."""
        wanted = self._selected | self._prerequisites
        return tuple(step.id for step in self.plan if step.id in wanted)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback` with every (redacted) event, in order. Returns an unsubscribe
        function. Callbacks run on the runner's loop and must return quickly."""
        with self._subscribers_lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._subscribers_lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def interrupt(self) -> None:
        """Ask the run to stop (Ctrl-C, SIGTERM, a UI button). Safe from any thread. A second
        call cancels the steps in flight without waiting for the grace period."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self._interrupt_count += 1
            self._interrupt_requested.set()
            return
        try:
            running_here = asyncio.get_running_loop() is loop
        except RuntimeError:
            running_here = False
        if running_here:
            self._on_interrupt()
        else:
            loop.call_soon_threadsafe(self._on_interrupt)

    def _on_interrupt(self) -> None:
        self._interrupt_count += 1
        self._interrupt_requested.set()

    # --- running -------------------------------------------------------------------------

    async def run(self) -> str:
        """Run the plan; returns `succeeded`, `failed` or `interrupted`."""
        self._loop = asyncio.get_running_loop()
        self._emit(
            RunStarted(
                at=self._clock.now(),
                run_id=self.run_id,
                steps=self.considered,
                config_digest=self._config_digest,
                simulated=self._simulated,
                operation=self._operation,
                resume_command=self._resume_command,
            )
        )
        in_flight: dict[asyncio.Task[str], str] = {}
        try:
            outcome = await self._schedule(in_flight)
        except asyncio.CancelledError:
            await self._cancel(in_flight)
            self._finish(INTERRUPTED)
            raise
        except BaseException:
            await self._cancel(in_flight)  # e.g. the journal cannot be written: stop every step
            raise
        self._finish(outcome)
        return outcome

    def _finish(self, outcome: str) -> None:
        self.outcome = outcome
        self._emit(RunFinished(at=self._clock.now(), run_id=self.run_id, outcome=outcome))

    async def _schedule(self, in_flight: dict[asyncio.Task[str], str]) -> str:
        states = {step_id: "pending" for step_id in self.considered}
        outcome = SUCCEEDED
        interrupt_waiter = asyncio.ensure_future(self._interrupt_requested.wait())
        try:
            while True:
                if not self._stopping and not self._interrupt_requested.is_set():
                    self._start_ready(states, in_flight)
                if in_flight:
                    await asyncio.wait([*in_flight, interrupt_waiter], return_when=asyncio.FIRST_COMPLETED)
                elif not self._interrupt_requested.is_set():
                    break
                for task in [t for t in in_flight if t.done()]:
                    step_id = in_flight.pop(task)
                    result = task.result()
                    states[step_id] = result
                    if result == _StepOutcome.FAILED and outcome == SUCCEEDED:
                        outcome = FAILED
                        self._stopping = True
                if self._interrupt_requested.is_set():
                    self._stopping = True
                    outcome = INTERRUPTED
                    await self._drain_after_interrupt(in_flight)
                    break
        finally:
            interrupt_waiter.cancel()
        if outcome == SUCCEEDED and any(state == "pending" for state in states.values()):
            outcome = FAILED  # only possible if a need could not be met; _start_ready prevents it
        return outcome

    def _start_ready(self, states: dict[str, str], in_flight: dict[asyncio.Task[str], str]) -> None:
        for step_id, state in states.items():
            if len(in_flight) >= self._concurrency:
                return
            if state != "pending":
                continue
            step = self.plan.step(step_id)
            if all(states.get(needed) == _StepOutcome.SUCCEEDED for needed in step.needs):
                states[step_id] = "running"
                verify_only = step_id in self._prerequisites
                in_flight[asyncio.ensure_future(self._run_step(step, verify_only))] = step_id

    async def _drain_after_interrupt(self, in_flight: dict[asyncio.Task[str], str]) -> None:
        """Steps in flight get the grace period to finish; then (or on a second interrupt)
        they are cancelled. Files are written atomically, so a cancelled apply leaves each
        file either old or new, and the next run's `check` sees which."""
        if in_flight and self._interrupt_count < 2:
            self._interrupt_requested.clear()
            second = asyncio.ensure_future(self._interrupt_requested.wait())
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._interrupt_grace
            try:
                while in_flight and not second.done() and loop.time() < deadline:
                    await asyncio.wait(
                        [*in_flight, second], timeout=deadline - loop.time(), return_when=asyncio.FIRST_COMPLETED
                    )
                    for task in [t for t in in_flight if t.done()]:
                        in_flight.pop(task)
            finally:
                second.cancel()
        await self._cancel(in_flight)

    async def _cancel(self, in_flight: dict[asyncio.Task[str], str]) -> None:
        for task in in_flight:
            task.cancel()
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)
        in_flight.clear()

    # --- one step ------------------------------------------------------------------------

    async def _run_step(self, step: Step, verify_only: bool) -> str:
        """Attempts, one after another, until one ends the step: only a TransientError leads to
        another (after the backoff), every other end is the step's outcome."""
        attempt = 1
        while True:
            try:
                return await self._attempt(_Attempt(step, attempt, self._clock.now()), verify_only)
            except TransientError as error:
                delay = self._retry_delay(step, attempt, error)
            if delay is None:
                return _StepOutcome.FAILED
            await self._sleep_before_retry(step, delay)
            attempt += 1

    async def _attempt(self, attempt: _Attempt, verify_only: bool) -> str:
        """One attempt: its phases, with every error but a TransientError (which goes back to
        the retry loop) turned into the step's failure, naming the phase it happened in."""
        step = attempt.step
        self._emit(
            StepStarted(at=attempt.started, step_id=step.id, layer=step.layer, title=step.title, attempt=attempt.number)
        )
        try:
            return await self._phases(attempt, verify_only)
        except TransientError:
            raise
        except PermanentError as error:
            return self._fail(step, error.message, error.hint)
        except asyncio.CancelledError:
            self._fail(step, f"interrupted during {attempt.phase}", self._interrupted_hint, interrupted=True)
            raise
        except UserError as error:
            return self._fail(step, error.message, error.hint or "")
        except Exception as error:  # noqa: BLE001 - a step bug must not crash the run
            log.debug("step %s raised", step.id, exc_info=True)
            return self._fail(
                step, f"unexpected {type(error).__name__} during {attempt.phase}: {error}", self._unexpected_hint
            )

    async def _phases(self, attempt: _Attempt, verify_only: bool) -> str:
        """check, then (unless done, only verified, or the run stops) apply and wait."""
        step = attempt.step
        context = self._context_factory(step.id, self._output_for(step.id))
        check = await step.check(context)
        digest = step.input_digest()
        previous = self._known_done.get(step.id)
        config_changed = previous is not None and previous != digest
        if verify_only:
            reason = "its config inputs changed since it last ran" if config_changed else check.reason
            return self._verify_prerequisite(step, check.done and not config_changed, reason, digest)
        if check.done and not config_changed:
            reason = check.reason or "already done"
            self._emit(StepSkipped(at=self._clock.now(), step_id=step.id, reason=reason, input_digest=digest))
            return _StepOutcome.SUCCEEDED
        if self._stopping:  # no new change once the run stops (interrupt or failure)
            return self._fail_stopping(step, attempt.phase, check.reason)
        if config_changed:
            self._output_for(step.id)("config inputs changed since this step last ran: running it again")
        attempt.phase = "apply"
        await step.apply(context, check)
        attempt.phase = "wait"
        if not await self._wait_ready(step, context):
            return _StepOutcome.FAILED
        self._known_done[step.id] = digest
        self._emit(
            StepSucceeded(
                at=self._clock.now(), step_id=step.id, duration=self._clock.now() - attempt.started, input_digest=digest
            )
        )
        return _StepOutcome.SUCCEEDED

    async def _wait_ready(self, step: Step, context: StepContext) -> bool:
        """`wait`, bounded by the step's timeout on the run's clock; a timeout fails the step."""
        try:
            await self._clock.wait_for(step.wait(context), step.timeout)
        except TimeoutError:
            self._fail(
                step,
                f"{step.id} did not become ready within {step.timeout:g} s",
                f"look at the step's output and the cluster; run the {self._operation} again to resume",
            )
            return False
        return True

    def _retry_delay(self, step: Step, attempt: int, error: TransientError) -> float | None:
        """Seconds to wait before the next attempt (told as StepRetrying), or None when the step
        failed instead: out of attempts, or the run is stopping."""
        if attempt >= self._retry.max_attempts:
            self._fail(step, f"gave up after {attempt} attempts: {error.message}", error.hint)
            return None
        if self._stopping:
            self._fail_stopping(step, "retry", error.message)
            return None
        delay = self._retry.delay(attempt)
        self._emit(
            StepRetrying(at=self._clock.now(), step_id=step.id, attempt=attempt, delay=delay, error=error.message)
        )
        return delay

    async def _sleep_before_retry(self, step: Step, delay: float) -> None:
        try:
            await self._clock.sleep(delay)
        except asyncio.CancelledError:
            self._fail(step, "interrupted during retry", self._interrupted_hint, interrupted=True)
            raise

    @property
    def _interrupted_hint(self) -> str:
        return INTERRUPTED_HINT.format(operation=self._operation)

    @property
    def _unexpected_hint(self) -> str:
        return UNEXPECTED_HINT.format(operation=self._operation)

    def _verify_prerequisite(self, step: Step, done: bool, reason: str, digest: str) -> str:
        if done:
            self._emit(
                StepSkipped(
                    at=self._clock.now(),
                    step_id=step.id,
                    reason=f"{reason or 'already done'} (outside the selection, checked only)",
                    input_digest=digest,
                )
            )
            return _StepOutcome.SUCCEEDED
        needed_by = sorted(s for s in self._selected if step.id in self.plan.dependencies(s))
        return self._fail(
            step,
            f"{step.id} is not done, and {', '.join(needed_by)} need{'s' if len(needed_by) == 1 else ''} it"
            + (f" ({reason})" if reason else ""),
            f"run the {self._operation} without --only/--from-layer first, or include this step",
        )

    def _fail_stopping(self, step: Step, phase: str, detail: str) -> str:
        """A step that will not go on because the run stops."""
        suffix = f" ({detail})" if detail else ""
        if self._interrupt_count:
            return self._fail(step, f"interrupted during {phase}{suffix}", self._interrupted_hint, interrupted=True)
        return self._fail(
            step, f"not continued after {phase}, another step failed{suffix}", "fix the failed step, then run again"
        )

    def _fail(self, step: Step, error: str, hint: str, *, interrupted: bool = False) -> str:
        self._stopping = True  # at once: a step between phases must not begin a change now
        self._emit(StepFailed(at=self._clock.now(), step_id=step.id, error=error, hint=hint, interrupted=interrupted))
        return _StepOutcome.FAILED

    def _output_for(self, step_id: str) -> Callable[[str], None]:
        def output(text: str) -> None:
            for line in str(text).splitlines() or [""]:
                self._emit(StepOutput(at=self._clock.now(), step_id=step_id, line=line))

        return output

    def _emit(self, event: Event) -> None:
        if self._redactor is not None:
            event = self._redactor.redact_event(event)
        if self._journal is not None:
            self._journal.append(event)
        with self._subscribers_lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception as error:  # noqa: BLE001 - a broken consumer must not stop the run
                report_subscriber_failure(callback, error)


def select_steps(plan: Plan, from_layer: int | None, only: str | Iterable[str] | None) -> tuple[set[str], set[str]]:
    """(steps to run, steps they need that are outside the selection and are only verified)."""
    selected = {step.id for step in plan}
    if only is not None:
        names = [only] if isinstance(only, str) else list(only)
        selected = {plan.step(name).id for name in names}  # plan.step names the known steps on a typo
    if from_layer is not None:
        if from_layer not in plan.layers:
            raise UserError(
                f"there is no layer {from_layer} in this plan",
                hint=f"layers are: {', '.join(str(layer) for layer in plan.layers)}",
            )
        selected = {step_id for step_id in selected if plan.step(step_id).layer >= from_layer}
    prerequisites: set[str] = set()
    for step_id in selected:
        prerequisites |= plan.dependencies(step_id)
    return selected, prerequisites - selected


_reported_subscribers: set[int] = set()


def report_subscriber_failure(callback: Callable[..., object], error: Exception) -> None:
    """Warn once per failing subscriber (the run goes on); the traceback only at debug level."""
    if id(callback) not in _reported_subscribers:
        _reported_subscribers.add(id(callback))
        log.warning("event subscriber %r failed, later failures are not shown: %s", callback, error)
    log.debug("event subscriber %r failed", callback, exc_info=error)
