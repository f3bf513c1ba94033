"""The latest run of a state directory in a line or two, for a dashboard open in another terminal:
which operation, how many nodes are done, whether it still runs (its lock is held) or how it ended,
and the step it is on; for a Talos upgrade, a second line per node being worked on: its phase,
its version before and after and the gate it waits on (node_rollout.py).

Read from the run journal only, so it works for a run of another process. The newest journal is
re-read only when it changed (an install's journal holds thousands of output lines)."""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from talos_platform.engine.run.events import DEFAULT_OPERATION, RunStarted, StepOutput
from talos_platform.engine.run.journal import JOURNAL_NAME, RunRecord, read_lines, read_run
from talos_platform.engine.run.node_rollout import NodeProgress, node_progress, versions_before

if TYPE_CHECKING:
    from talos_platform.engine.state import StateDirectory

LONG_AGO_SECONDS = 3600.0
"""A run that finished longer ago than this is history: the strip shows it dimmed."""

_NODE_STEP = re.compile(r"^[A-Z]+\.(?P<kind>[a-z-]+)\.(?P<node>.+)$")
"""Steps that act on one node name it last: `T.upgrade.cp-2`, `N.join.worker-4`, `N.drain.cp-3`."""
_DOING = {
    "upgrade": "upgrading",
    "join": "joining",
    "drain": "draining",
    "reset": "resetting",
    "delete-node": "deleting its Node",
}


@dataclass(frozen=True)
class RolloutSummary:
    """What the latest run of a state directory is doing, or how it ended."""

    operation: str
    run_id: str
    outcome: str
    """`running`, `succeeded`, `failed`, `interrupted` or `killed` (the journal just stops)."""
    started_at: float
    """Wall-clock start (from the run id), also for simulated runs, whose events carry simulated time."""
    ended_at: float | None
    """Wall-clock time the journal was last written, once the run is over."""
    current: tuple[str, ...] = ()
    """What it is doing now (`cp-2 upgrading`), or for a failed run, the step that failed."""
    phase: str = ""
    """The last thing the current step said (`waiting: ArgoCD Applications not healthy: vault`), or the error."""
    nodes_done: int = 0
    nodes_total: int = 0
    """Over the steps that go node by node (0 when the operation has none or just one)."""
    steps_done: int = 0
    steps_total: int = 0
    version_from: str = ""
    version_to: str = ""
    simulated: bool = False
    nodes: tuple[NodeProgress, ...] = ()
    """The nodes a Talos upgrade works on now (or, once it ended, failed or stopped at)."""

    @property
    def live(self) -> bool:
        return self.outcome == "running"

    def long_ago(self, now: float) -> bool:
        return self.ended_at is not None and now - self.ended_at >= LONG_AGO_SECONDS

    def text(self, now: float | None = None) -> str:
        """The strip's lines, joined."""
        return "\n".join(self.lines(now))

    def lines(self, now: float | None = None) -> tuple[str, ...]:
        """`upgrade-talos · 2/6 nodes done · started 4 min ago · run …`, then the nodes worked on
        (`cp-2 · gates · v1.14.0 → v1.14.1 · ArgoCD Applications not healthy: vault`). Without such
        nodes, one line: `node-add · worker-4 joining → waiting: … · 0/2 steps done · …`."""
        now = time.time() if now is None else now
        parts = [self.operation + (" (simulated)" if self.simulated else "")]
        doing = ", ".join(self.current)
        if self.nodes:
            parts.append("" if self.live else self.outcome)
        elif self.live:
            parts.append(f"{doing} → {self.phase}" if doing and self.phase else doing or self.phase or "starting")
        elif self.outcome == "failed":
            failed = f"failed at {doing}" if doing else "failed"
            parts.append(f"{failed}: {self.phase}" if self.phase else failed)
        else:
            parts.append(self.outcome)
        if self.nodes_total:
            parts.append(f"{self.nodes_done}/{self.nodes_total} nodes done")
        elif self.steps_total:
            parts.append(f"{self.steps_done}/{self.steps_total} steps done")
        if self.version_to and not self.nodes:
            parts.append(f"{self.version_from or '?'} → {self.version_to}")
        if self.live or self.ended_at is None:
            parts.append(f"started {ago(now - self.started_at)}")
        else:
            parts.append(f"ended {ago(now - self.ended_at)}")
        parts.append(f"run {self.run_id}")
        headline = " · ".join(part for part in parts if part)
        if not self.nodes:
            return (headline,)
        return headline, " │ ".join(node.text() for node in self.nodes)


def ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600:.0f} h ago"
    return f"{seconds // 86400:.0f} days ago"


class RolloutReader:
    """Polls one state directory's newest run. Creates nothing there."""

    def __init__(self, state: StateDirectory, now: Callable[[], float] = time.time):
        self.state = state
        self.now = now
        """Wall-clock time for the strip's ages (fixed in screenshots)."""
        self._seen: tuple[Path, int, int, bool] | None = None
        self._record: RunRecord | None = None

    def read(self) -> RolloutSummary | None:
        """The newest run, or None when the directory holds none."""
        journal = newest_journal(self.state.runs)
        if journal is None:
            return None
        try:
            stat = journal.stat()
        except OSError:
            return None
        # Live: its lock is held by a run of its operation (a journal without an end whose lock is
        # free was killed). Checked every time: a kill changes no journal.
        live = holds_lock(self.state, self._operation(journal))
        seen = (journal, stat.st_size, stat.st_mtime_ns, live)
        if seen != self._seen or self._record is None:
            self._record = read_run(journal.parent, live=live)
            self._seen = seen
        live = live and self._record.finished is None
        return summarise(self._record, stat.st_mtime, live=live)

    def _operation(self, journal: Path) -> str:
        if self._record is not None and self._seen is not None and self._seen[0] == journal:
            return self._record.operation
        return first_event_operation(journal)


def newest_journal(runs: Path) -> Path | None:
    """Run ids sort by their start time."""
    try:
        folders = sorted((p for p in runs.iterdir() if p.is_dir()), reverse=True)
    except OSError:
        return None
    return next((p / JOURNAL_NAME for p in folders if (p / JOURNAL_NAME).is_file()), None)


def first_event_operation(journal: Path) -> str:
    """The operation its `RunStarted` (the first line) names, without reading the rest."""
    try:
        with open(journal, encoding="utf-8", errors="replace", newline="") as handle:
            first = handle.readline()
    except OSError:
        first = ""
    started = read_lines(first)
    return started[0].operation if started and isinstance(started[0], RunStarted) else DEFAULT_OPERATION


def holds_lock(state: StateDirectory, operation: str) -> bool:
    """Whether a run of `operation` holds one of the directory's locks right now: the lock file
    names its holder (`<operation> <pid>`), the OS lock says whether it is still held."""
    for scope in state.busy_scopes():
        try:
            holder = state.lock_file(scope).read_text(encoding="utf-8").split(" ", 1)[0].strip()
        except OSError:
            continue
        if holder == operation:
            return True
    return False


def summarise(record: RunRecord, modified_at: float, *, live: bool) -> RolloutSummary:
    steps = record.steps
    outcome = "running" if live else record.outcome
    running = [s for s in steps.values() if s.state in ("running", "retrying")]
    failed = [s for s in steps.values() if s.state == "failed"]
    focus = running if live else failed
    last_line = _last_lines(record)
    current = tuple(_doing(step.step_id, live) for step in focus)
    phase = ""
    if focus:
        step = focus[-1]
        phase = step.detail if step.state in ("retrying", "failed") else last_line.get(step.step_id, "")
    groups: dict[str, list[bool]] = {}
    for step in steps.values():
        match = _NODE_STEP.match(step.step_id)
        if match:
            groups.setdefault(match["kind"], []).append(step.done)
    widest = max(groups.values(), key=len, default=[])
    started = record.started
    version_to = _target(started.resume_command if started else "")
    return RolloutSummary(
        operation=record.operation,
        run_id=record.run_id,
        outcome=outcome,
        started_at=_start_time(record.run_id, started.at if started else modified_at),
        ended_at=None if live else modified_at,
        current=current,
        phase=phase,
        nodes_done=sum(widest) if len(widest) > 1 else 0,
        nodes_total=len(widest) if len(widest) > 1 else 0,
        steps_done=sum(1 for s in steps.values() if s.done),
        steps_total=len(steps),
        version_from=", ".join(dict.fromkeys(v for v in versions_before(record).values() if v not in ("", "?"))),
        version_to=version_to,
        simulated=record.simulated,
        nodes=node_progress(record, version_to, live=live),
    )


def _doing(step_id: str, live: bool) -> str:
    match = _NODE_STEP.match(step_id)
    if not match:
        return step_id
    return f"{match['node']} {_DOING.get(match['kind'], match['kind'])}" if live else match["node"]


def _last_lines(record: RunRecord) -> dict[str, str]:
    lines: dict[str, str] = {}
    for event in record.events:
        if isinstance(event, StepOutput) and event.line.strip():
            lines[event.step_id] = event.line.strip()
    return lines


def _target(command: str) -> str:
    """The `--to` of the command line that resumes the run (it holds no secret)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return ""
    for index, word in enumerate(words):
        if word == "--to" and index + 1 < len(words):
            return words[index + 1]
        if word.startswith("--to="):
            return word[len("--to=") :]
    return ""


def _start_time(run_id: str, fallback: float) -> float:
    try:
        return datetime.strptime(run_id.split("-", 1)[0], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return fallback
