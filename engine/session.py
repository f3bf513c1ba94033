"""OperationSession: the one way a front end (headless CLI, TUI, wizard) runs an operation
(see engine/operations); InstallSession is the install's.

Given the operation, config, secrets, state directory, drivers and clock, it builds the plan,
the redactor, the journal and the runner, under the operation's lock scope. Front ends only
subscribe to events and may ask it to stop; they never touch steps or drivers themselves.

    session = OperationSession(operation, config, secrets, state, drivers, clock)
    session.subscribe(render)
    outcome = await session.run()          # "succeeded" | "failed" | "interrupted"
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from talos_platform.engine.drivers.clock import Clock, RealClock
from talos_platform.engine.errors import UserError
from talos_platform.engine.operations import Operation, operation_named
from talos_platform.engine.plan.context import StepContext
from talos_platform.engine.plan.planner import Plan
from talos_platform.engine.plan.preview import OwnDryRun, StepPreview, own_dry_runs, preview_plan
from talos_platform.engine.plan.step import Step
from talos_platform.engine.run.events import DEFAULT_OPERATION, Event
from talos_platform.engine.run.journal import Journal, last_known_done
from talos_platform.engine.run.runner import RetryPolicy, Runner, report_subscriber_failure, select_steps

if TYPE_CHECKING:
    from talos_platform.engine.config.models import PlatformConfig
    from talos_platform.engine.config.secrets import Secrets
    from talos_platform.engine.drivers.protocols import Drivers
    from talos_platform.engine.run.redaction import Redactor
    from talos_platform.engine.state import StateDirectory

log = logging.getLogger(__name__)


def config_digest(config: PlatformConfig) -> str:
    """Digest of the whole config, recorded in RunStarted."""
    text = json.dumps(config.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class OperationSession:
    def __init__(
        self,
        operation: Operation,
        config: PlatformConfig,
        secrets: Secrets,
        state: StateDirectory,
        drivers: Drivers,
        clock: Clock | None = None,
        *,
        steps: Sequence[Step] | None = None,
        options: Mapping[str, Any] | None = None,
        concurrency: int = 4,
        from_layer: int | None = None,
        only: str | Iterable[str] | None = None,
        retry: RetryPolicy = RetryPolicy(),
        redactor: Redactor | None = None,
        interrupt_grace: float = 10.0,
        allow: Iterable[str] = (),
        resume_command: str = "",
    ):
        """`options` are the operation's own (install: `push`); `steps` replaces the steps the
        operation would plan (tests, demos, the rehearsal); `resume_command` is the command line
        that resumes this run (journaled, for `status`). A bad `only`/`from_layer` raises
        UserError here, before anything runs."""
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise UserError(
                f"concurrency must be a whole number of at least 1, not {concurrency!r}", where="--concurrency"
            )
        self.operation = operation
        self.config = config
        self.secrets = secrets
        self.state = state
        self.drivers = drivers
        self.clock = clock or RealClock()
        self.plan: Plan = Plan(operation.steps(config, options) if steps is None else steps)
        self.simulated = bool(getattr(drivers, "simulated", False))
        self._options: dict[str, Any] = dict(
            concurrency=concurrency,
            from_layer=from_layer,
            only=only,
            retry=retry,
            interrupt_grace=interrupt_grace,
            resume_command=resume_command,
        )
        selected, prerequisites = select_steps(self.plan, from_layer, only)
        self.selected = tuple(s.id for s in self.plan if s.id in selected)
        """Steps this session will run (prerequisites outside the selection are only checked)."""
        self.prerequisites = tuple(s.id for s in self.plan if s.id in prerequisites)
        self.allowed = frozenset(allow)
        """Destructive recoveries the user allowed (see StepContext.allowed)."""
        self._redactor = redactor
        self._subscribers: list[Callable[[Event], None]] = []
        self._lock = threading.Lock()
        self._runner: Runner | None = None
        self._interrupt_before_start = False
        self.run_id: str | None = None
        self.outcome: str | None = None

    @property
    def interrupt_grace(self) -> float:
        """Real seconds the steps in flight get to finish after a first interrupt."""
        return float(self._options["interrupt_grace"])

    @property
    def redactor(self) -> Redactor:
        """Redacts events (the runner) and plain text (the plan preview)."""
        if self._redactor is None:
            from talos_platform.engine.run.redaction import Redactor

            self._redactor = Redactor.from_secrets(self.secrets)
        return self._redactor

    def context_for(self, step_id: str, output: Callable[[str], None]) -> StepContext:
        return StepContext(
            config=self.config,
            secrets=self.secrets,
            state=self.state,
            drivers=self.drivers,
            clock=self.clock,
            step_id=step_id,
            output=output,
            allowed=self.allowed,
        )

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Receive every (redacted) event of the run, in order. May be called before or during
        `run`; returns an unsubscribe function."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def _forward(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception as error:  # noqa: BLE001 - a broken front end must not stop the run
                report_subscriber_failure(callback, error)

    def interrupt(self) -> None:
        """Stop the run (Ctrl-C, SIGTERM, a UI action); safe from any thread. A second call
        stops the steps in flight at once."""
        with self._lock:
            runner = self._runner
            if runner is None:
                self._interrupt_before_start = True
        if runner is not None:
            runner.interrupt()

    async def run(self) -> str:
        """Run the operation; returns `succeeded`, `failed` or `interrupted`."""
        scope = self.operation.lock_scope
        try:
            with self.state.lock(scope, holder=self.operation.name):
                self.state.ensure()
                if self.state.busy_scopes() == [scope]:  # no other run may be writing a temp file
                    self.state.remove_stale_temp_files()
                return await self._run_locked()
        except OSError as error:
            raise UserError(
                f"cannot write the state directory {self.state.root}: {error.strerror or error}",
                where=str(getattr(error, "filename", "") or self.state.root),
                hint="check free disk space and that the directory is yours and writable; then run again to resume",
            ) from error

    async def _run_locked(self) -> str:
        journal = Journal(self.state.runs)
        runner = Runner(
            self.plan,
            self.context_for,
            journal=journal,
            redactor=self.redactor,
            clock=self.clock,
            known_done=last_known_done(self.state.runs, self.operation.name),
            config_digest=config_digest(self.config),
            simulated=self.simulated,
            operation=self.operation.name,
            **self._options,
        )
        runner.subscribe(self._forward)
        with self._lock:
            self._runner = runner
            interrupt_now = self._interrupt_before_start
        self.run_id = runner.run_id
        if interrupt_now:
            runner.interrupt()
        try:
            self.outcome = await runner.run()
        finally:
            journal.close()
        return self.outcome

    async def preview(self, *, offline: bool = False) -> list[StepPreview]:
        """What a run would do, step by step, without changing anything (see preview.py)."""
        return await preview_plan(self.plan, self.context_for, offline=offline, redactor=self.redactor)

    async def own_dry_runs(self) -> list[OwnDryRun]:
        """The own dry runs of the selected steps that have one (what their tools would change),
        shown before the run is confirmed; raises OwnDryRunFailed naming the step."""
        return await own_dry_runs(self.plan, self.selected, self.context_for, redactor=self.redactor)


class InstallSession(OperationSession):
    """The install's session: layers 0-4 of the platform (`steps` replaces them)."""

    def __init__(
        self,
        config: PlatformConfig,
        secrets: Secrets,
        state: StateDirectory,
        drivers: Drivers,
        clock: Clock | None = None,
        **keywords: Any,
    ):
        super().__init__(operation_named(DEFAULT_OPERATION), config, secrets, state, drivers, clock, **keywords)
