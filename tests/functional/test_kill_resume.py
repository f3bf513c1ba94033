"""Kill -9 an install at many points, run it again until done, and prove that no step was applied
twice and no file was lost or corrupted (see kill_resume_install.py for the fake install)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from kill_resume_install import SECRET_STEPS, expected_content, install_steps

from talos_platform.engine.run.journal import list_runs
from talos_platform.engine.state import StateDirectory

SCRIPT = Path(__file__).with_name("kill_resume_install.py")

KILLS_WANTED = 16


def start(state_dir: Path, ledger: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), str(state_dir), str(ledger)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def current_journal(runs: Path, known: set[str]) -> bytes:
    """The journal of the run not in `known` (the one in progress), as written so far."""
    if not runs.is_dir():
        return b""
    for folder in runs.iterdir():
        if folder.name not in known:
            path = folder / "events.jsonl"
            if path.exists():
                return path.read_bytes()
    return b""


def ledger_lines(ledger: Path) -> list[list[str]]:
    """[pid, "start", step, missing-file count] or [pid, "end", step]."""
    if not ledger.exists():
        return []
    return [line.split() for line in ledger.read_text().splitlines()]


def ledger_entries(ledger: Path) -> list[tuple[str, str]]:
    return [(fields[1], fields[2]) for fields in ledger_lines(ledger)]


def done_steps(ledger: Path) -> set[str]:
    return {step for kind, step in ledger_entries(ledger) if kind == "end"}


def test_kill_minus_nine_anywhere_then_resume_finishes_with_nothing_applied_twice(tmp_path):
    state = StateDirectory(tmp_path / "state")
    ledger = tmp_path / "ledger"
    chooser = random.Random(20261126)
    total_steps = len(install_steps(ledger=None))
    kills = 0
    mid_run_kills = 0  # kills after the run's journal got its first line and before it finished
    kill_points: set[tuple[int, tuple[str, ...]]] = set()
    secrets_seen: dict[str, bytes] = {}
    rounds = 0
    while kills < KILLS_WANTED and rounds < 40:
        rounds += 1
        known_runs = {p.name for p in state.runs.iterdir()} if state.runs.is_dir() else set()
        # Kill once this run has finished `steps_first` new steps and then written `lines_more`
        # more journal lines: each round makes some progress, and kills land between steps,
        # mid-step (after StepStarted or an output line) and even before the journal exists.
        # Spread the kills over the whole install: advance about (steps left / kills left).
        steps_left = total_steps - len(done_steps(ledger))
        steps_first = chooser.randint(0, max(0, round(2 * steps_left / (KILLS_WANTED - kills + 2)) - 1))
        lines_more = chooser.randint(0, 4)
        process = start(state.root, ledger)
        while (
            process.poll() is None and current_journal(state.runs, known_runs).count(b'"StepSucceeded"') < steps_first
        ):
            time.sleep(0.001)
        mark = current_journal(state.runs, known_runs).count(b"\n")
        while process.poll() is None and current_journal(state.runs, known_runs).count(b"\n") < mark + lines_more:
            time.sleep(0.001)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
            written = current_journal(state.runs, known_runs)
            mid_run_kills += bool(written) and b'"RunFinished"' not in written
            in_flight = {f[2] for f in ledger_lines(ledger) if f[0] == str(process.pid) and f[1] == "start"}
            in_flight -= {f[2] for f in ledger_lines(ledger) if f[0] == str(process.pid) and f[1] == "end"}
            kill_points.add((len(done_steps(ledger)), tuple(sorted(in_flight))))
        else:
            assert process.returncode == 0, process.stderr.read().decode()
            break  # finished before the kill point: the install is complete
        # Between runs: secrets, once written, never change.
        for name in SECRET_STEPS.values():
            path = state.root / name
            if path.exists():
                content = path.read_bytes()
                if content.startswith(b"random:") and len(content) == len(b"random:") + 1024:
                    assert secrets_seen.setdefault(name, content) == content, f"{name} was replaced"
    assert mid_run_kills >= 10, f"only {mid_run_kills} kills landed in the middle of a run"
    # Kills landed at many different places: between steps and with steps in flight.
    assert len({done for done, _ in kill_points}) >= 6, kill_points
    assert any(in_flight for _, in_flight in kill_points), kill_points

    # Run again until done.
    final = subprocess.run(
        [sys.executable, str(SCRIPT), str(state.root), str(ledger)], capture_output=True, timeout=120
    )
    assert final.returncode == 0, final.stderr.decode()

    lines = ledger_lines(ledger)
    steps = install_steps(ledger=None)
    starts = Counter(fields[2] for fields in lines if fields[1] == "start")
    ends = Counter(fields[2] for fields in lines if fields[1] == "end")
    assert set(starts) == {step.id for step in steps}
    # No apply ever began on a step whose effects were all in place (its honest check said
    # done)...
    applied_twice = [fields[2] for fields in lines if fields[1] == "start" and fields[3] == "0"]
    assert applied_twice == []
    # ...no apply completed twice, and none began again after one completed. A step killed in
    # flight shows a start without an end; it re-applies only when files were still missing
    # (its apply was cut short before its last write), else the next run skipped it.
    assert all(count == 1 for count in ends.values())
    completed: set[str] = set()
    for fields in lines:
        if fields[1] == "start":
            assert fields[2] not in completed, f"{fields[2]} applied again after it was done"
        else:
            completed.add(fields[2])
    reapplied = [step for step, count in starts.items() if count > 1]
    print(f"{kills} kills at {sorted(kill_points)}; re-applied after a kill mid-apply: {sorted(reapplied)}")

    # No file lost or corrupted: each holds exactly what its step writes, derived from the one
    # secrets bundle; secrets were never replaced (no backups) and are private.
    for step in steps:
        for name in step.files:
            path = state.root / name
            assert path.exists(), f"{name} lost"
            if step.id in SECRET_STEPS:
                assert path.stat().st_mode & 0o777 == 0o600
                assert path.read_bytes() == secrets_seen.get(name, path.read_bytes())
            else:
                assert path.read_bytes() == expected_content(state, step.id, name), f"{name} corrupted"
    assert not state.backups.exists()

    # The journals tell the same story: killed runs, then a finished one; all readable.
    runs = list_runs(state.runs)
    assert [r.outcome for r in runs].count("killed") == mid_run_kills
    assert runs[-1].outcome == "succeeded"
    assert all(r.started is not None for r in runs if r.events)


def test_sigterm_stops_cleanly_and_is_journaled_as_interrupted(tmp_path):
    state = StateDirectory(tmp_path / "state")
    ledger = tmp_path / "ledger"
    process = start(state.root, ledger)
    while process.poll() is None and not ledger_entries(ledger):
        time.sleep(0.001)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 130
    [run] = list_runs(state.runs)
    assert run.outcome == "interrupted"
    entries = ledger_entries(ledger)
    # The step in flight was allowed to finish: every start has its end.
    assert Counter(k for k, _ in entries)["start"] == Counter(k for k, _ in entries)["end"]
    leftovers = [p for p in state.root.rglob("*.tmp")]
    assert leftovers == []
    records = [json.loads(line) for line in run.path.read_text().splitlines()]
    assert records[-1]["type"] == "RunFinished"
