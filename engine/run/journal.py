"""The run journal: every event of a run, one JSON object per line, in
`runs/<run-id>/events.jsonl`, appended and fsynced so a killed process loses at most the line
it was writing. Reading tolerates that torn last line.

Every operation's runs share `runs/`; each run's `RunStarted` names its operation (a journal
written before operations existed names none: it is the install's). Previous runs are read back
for resume, per operation (which steps were done, under which config digest), and for `status`.
"""

from __future__ import annotations

import json
import logging
import os
import secrets as random_tokens
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from talos_platform.engine.files import fsync_folder
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
    event_from_record,
)

log = logging.getLogger(__name__)

JOURNAL_NAME = "events.jsonl"


def new_run_id() -> str:
    """Sortable by start time (UTC, microseconds) with a random tail against collisions."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{random_tokens.token_hex(3)}"


class Journal:
    """Appends one run's events. Output lines are flushed; every other event is also fsynced,
    so the step progress on disk is never behind what a consumer was told by more than the
    event being written."""

    def __init__(self, runs_dir: str | os.PathLike[str], run_id: str | None = None):
        self.run_id = run_id or new_run_id()
        self.directory = Path(runs_dir) / self.run_id
        self.directory.mkdir(parents=True, exist_ok=False, mode=0o700)
        self.path = self.directory / JOURNAL_NAME
        self._handle: IO[str] | None = open(self.path, "a", encoding="utf-8")
        os.chmod(self.path, 0o600)
        for folder in (self.directory, self.directory.parent):  # the new entries survive a power cut
            fsync_folder(folder)

    def append(self, event: Event) -> None:
        if self._handle is None:
            raise RuntimeError("journal is closed")
        self._handle.write(json.dumps(event.to_record(), ensure_ascii=False, separators=(",", ":")) + "\n")
        self._handle.flush()
        if not isinstance(event, StepOutput):
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_events(path: str | os.PathLike[str]) -> list[Event]:
    """Events of one journal file. A torn or unreadable line (a kill during a write) is
    skipped: the events before it are still true.

    Lines end at `\\n` only: records are written with `ensure_ascii=False`, so a step's text may
    hold U+2028, U+0085 or a form feed, which `str.splitlines()` would wrongly split on."""
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as handle:
            text = handle.read()
    except FileNotFoundError:
        return []
    return read_lines(text, path)


def read_lines(text: str, path: str | os.PathLike[str] = "") -> list[Event]:
    """The events of journal text (see `read_events`)."""
    events: list[Event] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            events.append(event_from_record(json.loads(line)))
        except (ValueError, TypeError) as error:
            log.debug("skipping unreadable line %d of %s: %s", number, path, error)
    return events


@dataclass
class StepRecord:
    """What one run says about one step."""

    step_id: str
    state: str = "pending"
    """`pending`, `running`, `retrying`, `succeeded`, `skipped`, `failed` or `interrupted`."""
    attempt: int = 0
    detail: str = ""
    """Skip reason, or the error of a failure/retry."""
    hint: str = ""
    duration: float | None = None
    input_digest: str = ""
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def done(self) -> bool:
        return self.state in ("succeeded", "skipped")


@dataclass
class RunRecord:
    """One run read back from its journal."""

    run_id: str
    path: Path
    events: list[Event]
    steps: dict[str, StepRecord] = field(default_factory=dict)
    live: bool = False
    """Read while it still runs (see `read_run`)."""

    @property
    def started(self) -> RunStarted | None:
        return next((e for e in self.events if isinstance(e, RunStarted)), None)

    @property
    def finished(self) -> RunFinished | None:
        return next((e for e in reversed(self.events) if isinstance(e, RunFinished)), None)

    @property
    def outcome(self) -> str:
        """The recorded outcome; `running` while its run still holds the state directory's lock;
        `killed` when the journal simply stops (kill -9, power loss)."""
        finished = self.finished
        if finished:
            return finished.outcome
        return "running" if self.live else "killed"

    @property
    def simulated(self) -> bool:
        started = self.started
        return bool(started and started.simulated)

    @property
    def operation(self) -> str:
        """The operation this run is; a journal that lost its first line counts as the install's,
        as do those written before operations (they hold installs only)."""
        started = self.started
        return started.operation if started else DEFAULT_OPERATION


def read_run(directory: str | os.PathLike[str], *, live: bool = False) -> RunRecord:
    """One run from its journal. `live`: the run is still going (its lock scope is held),
    so steps without an end are running, not interrupted."""
    folder = Path(directory)
    events = read_events(folder / JOURNAL_NAME)
    record = RunRecord(run_id=folder.name, path=folder / JOURNAL_NAME, events=events)
    started = record.started
    if started:
        for step_id in started.steps:
            record.steps[step_id] = StepRecord(step_id)
    for event in events:
        _apply(record.steps, event)
    if live and record.finished is None:
        record.live = True
    elif record.finished is None or record.finished.outcome == "interrupted":
        for step in record.steps.values():
            if step.state in ("running", "retrying"):
                step.state = "interrupted"
    return record


def _apply(steps: dict[str, StepRecord], event: Event) -> None:
    step_id = getattr(event, "step_id", None)
    if step_id is None:
        return
    step = steps.setdefault(step_id, StepRecord(step_id))
    if isinstance(event, StepStarted):
        step.state, step.attempt, step.started_at = "running", event.attempt, event.at
        step.detail = step.hint = ""
    elif isinstance(event, StepRetrying):
        step.state, step.attempt, step.detail = "retrying", event.attempt, event.error
    elif isinstance(event, StepSucceeded):
        step.state, step.duration, step.finished_at = "succeeded", event.duration, event.at
        step.input_digest, step.detail = event.input_digest, ""
    elif isinstance(event, StepSkipped):
        step.state, step.detail, step.finished_at = "skipped", event.reason, event.at
        step.input_digest = event.input_digest
    elif isinstance(event, StepFailed):
        state = "interrupted" if event.interrupted else "failed"
        step.state, step.detail, step.hint, step.finished_at = state, event.error, event.hint, event.at


def list_runs(runs_dir: str | os.PathLike[str], operation: str | None = None) -> list[RunRecord]:
    """Every run with a journal, oldest first (run ids sort by start time); only the runs of
    `operation` when given."""
    folder = Path(runs_dir)
    if not folder.is_dir():
        return []
    directories = sorted(p for p in folder.iterdir() if (p / JOURNAL_NAME).is_file())
    runs = [read_run(p) for p in directories]
    return runs if operation is None else [run for run in runs if run.operation == operation]


def earlier_runs_of_attempt(runs_dir: str | os.PathLike[str], operation: str, current: str) -> list[RunRecord]:
    """The runs run `current` resumes, oldest first: the unbroken line of runs of `operation`
    before it that did not succeed (each resumed by the next). A succeeded run, or a run of
    another operation (the cluster may have changed in between), ends the line: what comes after
    it is a new attempt."""
    earlier: list[RunRecord] = []
    for run in reversed(list_runs(runs_dir)):
        if run.run_id >= current:
            continue  # this run itself (ids sort by start time)
        if run.operation != operation or run.outcome == "succeeded":
            break
        earlier.insert(0, run)
    return earlier


def attempt_run_ids(runs_dir: str | os.PathLike[str], operation: str, current: str) -> frozenset[str]:
    """The runs of the attempt run `current` belongs to: it and those it resumes."""
    return frozenset({current, *(run.run_id for run in earlier_runs_of_attempt(runs_dir, operation, current))})


def left_unfinished(runs: list[RunRecord]) -> frozenset[str]:
    """Steps whose last word in `runs` (oldest first) is not done: started, then killed,
    interrupted or failed; their work may be half done."""
    last: dict[str, StepRecord] = {}
    for run in runs:
        for step_id, step in run.steps.items():
            if step.state != "pending":
                last[step_id] = step
    return frozenset(step_id for step_id, step in last.items() if not step.done)


def last_known_done(runs_dir: str | os.PathLike[str], operation: str) -> dict[str, str]:
    """Step id -> the config input digest under which it was last seen done (succeeded, or
    found done by `check`), over the previous runs of `operation` (another operation's steps
    say nothing about this one's). Resume re-checks these steps and re-runs those whose digest
    changed."""
    known: dict[str, str] = {}
    for run in list_runs(runs_dir, operation):
        for event in run.events:
            if isinstance(event, StepSucceeded):
                known[event.step_id] = event.input_digest
            elif isinstance(event, StepSkipped) and event.input_digest:
                known[event.step_id] = event.input_digest
    return known
