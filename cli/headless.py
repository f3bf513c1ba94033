"""Headless progress: the engine's events rendered for a terminal, a pipe, or a machine.

- a terminal gets a live rich display: one progress bar per layer, finished steps printed above;
- a pipe (CI logs) gets one plain line per event;
- `--output json` gets one JSON object per event and line, exactly the journal's records.

`run_with_signals` runs an OperationSession with Ctrl-C and SIGTERM wired to a clean interrupt.
Lines name the operation the run is (`install started: ...`).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from typing import TYPE_CHECKING, TextIO

from rich.markup import escape

from talos_platform import exit_codes
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

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType
    from typing import Any, TypeAlias

    from talos_platform.engine.plan.planner import Plan
    from talos_platform.engine.session import OperationSession

    SignalHandler: TypeAlias = Callable[[int, FrameType | None], Any] | int | None

OUTCOME_EXIT_CODES = {
    "succeeded": exit_codes.OK,
    "failed": exit_codes.STEP_FAILED,
    "interrupted": exit_codes.INTERRUPTED,
}


class Renderer:
    """Receives every event; `close` ends the display (prints the summary)."""

    stream: TextIO
    reader_gone = False
    """The reading end of a pipe closed (`install ... | head`): the run goes on silently,
    the journal still records everything."""

    def __call__(self, event: Event) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def _write(self, text: str) -> None:
        if self.reader_gone:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except BrokenPipeError:
            self.reader_gone = True


class JsonLinesRenderer(Renderer):
    def __init__(self, stream: TextIO):
        self.stream = stream

    def __call__(self, event: Event) -> None:
        self._write(json.dumps(event.to_record(), ensure_ascii=False, separators=(",", ":")) + "\n")


class _Tally:
    """What the plain and rich renderers both need to know about the run so far."""

    def __init__(self, plan: Plan, simulated: bool):
        self.layer_of = {step.id: step.layer for step in plan}
        self.title_of = {step.id: step.title for step in plan}
        self.simulated = simulated
        self.counts = {"succeeded": 0, "skipped": 0, "failed": 0, "stopped": 0}
        self.failures: list[StepFailed] = []
        self.started_at = time.monotonic()
        self.run_span = (0.0, 0.0)
        """When the run started and finished by its own clock: the simulator's in a simulation."""
        self.run_id = ""
        self.operation = DEFAULT_OPERATION

    def count(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.run_id = event.run_id
            self.operation = event.operation
            self.run_span = (event.at, event.at)
        elif isinstance(event, RunFinished):
            self.run_span = (self.run_span[0], event.at)
        elif isinstance(event, StepSucceeded):
            self.counts["succeeded"] += 1
        elif isinstance(event, StepSkipped):
            self.counts["skipped"] += 1
        elif isinstance(event, StepFailed) and _interrupted(event):
            self.counts["stopped"] += 1
        elif isinstance(event, StepFailed):
            self.counts["failed"] += 1
            self.failures.append(event)

    def prefix(self, step_id: str) -> str:
        layer = self.layer_of.get(step_id)
        return f"[L{layer}] {step_id}" if layer is not None else step_id

    def summary(self, outcome: str) -> str:
        elapsed = time.monotonic() - self.started_at
        label = f"SIMULATED {self.operation}" if self.simulated else self.operation
        parts = (
            f"{self.counts['succeeded']} applied, {self.counts['skipped']} already done, {self.counts['failed']} failed"
        )
        if self.counts["stopped"]:
            parts += f", {self.counts['stopped']} stopped in flight"
        return f"{label} {outcome} in {self.took(elapsed)} ({parts}); run {self.run_id}"

    def took(self, elapsed: float) -> str:
        """The run's duration. A simulation's clock runs faster than the real one: both are
        given, each named."""
        if not self.simulated:
            return f"{elapsed:.1f}s"
        simulated = self.run_span[1] - self.run_span[0]
        return f"{elapsed:.1f} s real time, {simulated:,.1f} s simulated"


def describe(event: Event, tally: _Tally) -> str | None:
    """One plain line for an event (None for events that need no line)."""
    if isinstance(event, RunStarted):
        label = f"SIMULATED {event.operation}" if event.simulated else event.operation
        return f"{label} started: run {event.run_id}, {len(event.steps)} steps"
    if isinstance(event, StepStarted):
        again = f" (attempt {event.attempt})" if event.attempt > 1 else ""
        return f"{tally.prefix(event.step_id)}: {event.title}{again}"
    if isinstance(event, StepOutput):
        return f"{tally.prefix(event.step_id)} | {event.line}"
    if isinstance(event, StepSkipped):
        return f"{tally.prefix(event.step_id)}: already done: {event.reason}"
    if isinstance(event, StepRetrying):
        return (
            f"{tally.prefix(event.step_id)}: attempt {event.attempt} failed, "
            f"retrying in {event.delay:g}s: {event.error}"
        )
    if isinstance(event, StepSucceeded):
        # Step durations are on the run's clock: in a simulation, the simulator's.
        took = f"{event.duration:,.1f} s simulated" if tally.simulated else f"{event.duration:.1f}s"
        return f"{tally.prefix(event.step_id)}: done in {took}"
    if isinstance(event, StepFailed) and _interrupted(event):
        return f"{tally.prefix(event.step_id)}: stopped ({event.error}); {event.hint}"
    if isinstance(event, StepFailed):
        text = f"{tally.prefix(event.step_id)}: FAILED: {event.error}"
        return text + (f"\n  hint: {event.hint}" if event.hint else "")
    if isinstance(event, RunFinished):
        return tally.summary(event.outcome)
    return None


def _interrupted(event: StepFailed) -> bool:
    """A step cancelled by Ctrl-C/SIGTERM, as opposed to one that failed on its own."""
    return event.interrupted


class PlainRenderer(Renderer):
    def __init__(self, stream: TextIO, plan: Plan, simulated: bool):
        self.stream = stream
        self.tally = _Tally(plan, simulated)

    def __call__(self, event: Event) -> None:
        self.tally.count(event)
        line = describe(event, self.tally)
        if line is not None:
            label = "SIMULATED " if self.tally.simulated and not isinstance(event, (RunStarted, RunFinished)) else ""
            self._write(label + line + "\n")


class RichRenderer(Renderer):
    """Live bars per layer; step results and failures scroll above them."""

    def __init__(self, stream: TextIO, plan: Plan, simulated: bool):
        from rich.console import Console
        from rich.live import Live
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.tally = _Tally(plan, simulated)
        self.console = Console(file=stream)
        # A layer's elapsed time is real time; in a simulation the steps' own are simulated.
        clock = [TextColumn("[dim]real")] if simulated else []
        self.progress = Progress(
            TextColumn("{task.description}", justify="left"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            *clock,
            TextColumn("[dim]{task.fields[current]}"),
            console=self.console,
        )
        self.layer_tasks = {}
        for layer in plan.layers:
            label = f"{'SIMULATED ' if simulated else ''}layer {layer}"
            self.layer_tasks[layer] = self.progress.add_task(
                label,
                total=len(plan.steps_in_layer(layer)),
                current="",
                start=False,  # clock starts with its first step
            )
        self.running: dict[int, list[str]] = {layer: [] for layer in plan.layers}
        self.live = Live(self.progress, console=self.console, refresh_per_second=8, transient=False)
        self.live.start()

    def __call__(self, event: Event) -> None:
        self.tally.count(event)
        step_id = getattr(event, "step_id", None)
        layer = self.tally.layer_of.get(step_id) if step_id else None
        if isinstance(event, RunStarted):
            self._total_selected(event.steps)
            style = "bold magenta" if event.simulated else "bold"
            self.console.print(describe(event, self.tally), style=style, markup=False, highlight=False)
        elif isinstance(event, StepStarted) and layer is not None:
            self.progress.start_task(self.layer_tasks[layer])
            if event.step_id not in self.running[layer]:
                self.running[layer].append(event.step_id)
            self._refresh(layer)
        elif isinstance(event, StepOutput) and layer is not None:
            self.progress.update(self.layer_tasks[layer], current=escape(f"{step_id}: {event.line[:80]}"))
        elif isinstance(event, (StepSucceeded, StepSkipped, StepFailed)) and layer is not None:
            if step_id in self.running[layer]:
                self.running[layer].remove(step_id)
            self.progress.advance(self.layer_tasks[layer])
            self._refresh(layer)
            style = {StepSucceeded: "green", StepSkipped: "dim", StepFailed: "bold red"}[type(event)]
            if isinstance(event, StepFailed) and _interrupted(event):
                style = "yellow"
            self.console.print(describe(event, self.tally), style=style, markup=False, highlight=False)
        elif isinstance(event, StepRetrying):
            self.console.print(describe(event, self.tally), style="yellow", markup=False, highlight=False)
        elif isinstance(event, RunFinished):
            self.live.stop()
            style = "bold green" if event.outcome == "succeeded" else "bold red"
            self.console.print(describe(event, self.tally), style=style, markup=False, highlight=False)

    def _total_selected(self, considered: tuple[str, ...]) -> None:
        for layer, task in self.layer_tasks.items():
            total = sum(1 for step_id in considered if self.tally.layer_of.get(step_id) == layer)
            self.progress.update(task, total=total, visible=total > 0)

    def _refresh(self, layer: int) -> None:
        names = self.running[layer]
        current = ", ".join(names[:3]) + (" ..." if len(names) > 3 else "")
        self.progress.update(self.layer_tasks[layer], current=escape(current))

    def close(self) -> None:
        self.live.stop()


def make_renderer(output: str, stream: TextIO, plan: Plan, simulated: bool) -> Renderer:
    if output == "json":
        return JsonLinesRenderer(stream)
    if stream.isatty():
        return RichRenderer(stream, plan, simulated)
    return PlainRenderer(stream, plan, simulated)


async def run_with_signals(session: OperationSession, notices: TextIO | None = None) -> str:
    """Run the session; Ctrl-C or SIGTERM asks for a clean stop (twice: stop at once). What the
    stop does, grace period included, is said on `notices` (stderr) as it begins."""
    loop = asyncio.get_running_loop()
    installed: list[tuple[signal.Signals, SignalHandler]] = []
    received = []

    def on_signal(signal_number: int) -> None:
        received.append(signal_number)
        session.interrupt()
        _say(notices or sys.stderr, stopping_notice(signal_number, len(received), session.interrupt_grace))

    for signal_number in (signal.SIGINT, signal.SIGTERM):
        try:
            previous = signal.getsignal(signal_number)
            loop.add_signal_handler(signal_number, on_signal, signal_number)
            installed.append((signal_number, previous))
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or a platform without signal support in asyncio
    try:
        return await session.run()
    finally:
        for signal_number, previous in installed:
            loop.remove_signal_handler(signal_number)
            if previous is not None:
                signal.signal(signal_number, previous)  # asyncio leaves the default behind


def stopping_notice(signal_number: int, count: int, grace: float) -> str:
    name = "Ctrl-C" if signal_number == signal.SIGINT else signal.Signals(signal_number).name
    if count == 1:
        return (
            f"{name}: stopping. No new step starts; steps in flight get up to {grace:g} s to finish "
            "(Ctrl-C again stops them at once)"
        )
    return f"{name} again: stopping the steps in flight now"


def _say(stream: TextIO, text: str) -> None:
    try:
        stream.write(text + "\n")
        stream.flush()
    except (BrokenPipeError, ValueError):
        pass


def print_notes(session: OperationSession, stream: TextIO) -> None:
    """What the operation says after success, e.g. where the kubeconfig and the installed
    services' logins are kept (places only, never a value). The install screen shows the same
    lines and the guided install prints them once it closes."""
    label = "SIMULATED " if session.simulated else ""
    for note in session.operation.notes(session.config, session.state, simulated=session.simulated):
        stream.write(label + note + "\n")
    stream.flush()


def run_session(session: OperationSession, output: str = "text", stream: TextIO | None = None) -> int:
    """Render and run `session` to the end; returns the exit code for its outcome."""
    renderer = make_renderer(output, stream or sys.stdout, session.plan, session.simulated)
    session.subscribe(renderer)
    try:
        outcome = asyncio.run(run_with_signals(session))
    finally:
        renderer.close()
    if outcome == "succeeded" and output != "json" and not renderer.reader_gone:
        print_notes(session, stream or sys.stdout)
    if renderer.reader_gone and stream is None:
        # Nobody reads stdout any more: keep the interpreter's final flush from failing loudly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return OUTCOME_EXIT_CODES.get(outcome, exit_codes.STEP_FAILED)
