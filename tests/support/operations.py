"""Running a day-2 operation's real command line on a simulated cluster kept in a state
directory: to the end, or killed with SIGKILL at a chosen moment of its JSON event stream; and
what the simulator journalled (`simulation.jsonl`: every change made to the simulated cluster)."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from support.commands import ENVIRONMENT

Moment = Callable[[dict[str, Any], Path], bool]
"""Given a JSON event of the run and the state directory: kill now?"""


def operation_argv(config: Path, state: Path, *argv: str, speed: str = "inf") -> list[str]:
    """`talos-platform ARGV --simulate --yes --output json` on the cluster of `config` and `state`."""
    return [sys.executable, "-m", "talos_platform", *argv, "--simulate", "--speed", speed, "--yes"] + [
        "--config",
        str(config),
        "--state-dir",
        str(state),
        "--output",
        "json",
    ]


def run_operation(config: Path, state: Path, *argv: str) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    """Run it to the end at full speed: the process and its JSON events."""
    done = subprocess.run(
        operation_argv(config, state, *argv),
        env=ENVIRONMENT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )
    return done, [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def kill_when(config: Path, state: Path, argv: list[str], moment: Moment, *, speed: str = "40") -> None:
    """Run at a pace where phases take real time; SIGKILL at the first event `moment` accepts."""
    process = subprocess.Popen(
        operation_argv(config, state, *argv, speed=speed),
        env=ENVIRONMENT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            if line.startswith("{") and moment(json.loads(line), state):
                process.send_signal(signal.SIGKILL)
                break
    finally:
        process.wait(timeout=120)
    assert process.returncode == -signal.SIGKILL, "the run ended before the moment to kill it came"


def simulated_changes(state: Path, change: str, **fields: object) -> int:
    """How many changes of kind `change` (with these fields) the simulated cluster went through."""
    count = 0
    for line in (state / "simulation.jsonl").read_text().splitlines()[1:]:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            break  # a line cut by a kill: that change never happened
        count += entry["change"] == change and all(entry.get(k) == v for k, v in fields.items())
    return count


def succeeded(events: list[dict]) -> list[str]:
    return [e["step_id"] for e in events if e["type"] == "StepSucceeded"]


def skipped(events: list[dict]) -> set[str]:
    return {e["step_id"] for e in events if e["type"] == "StepSkipped"}


def step_succeeded(step_id: str) -> Moment:
    def moment(event: dict[str, Any], state: Path) -> bool:
        return event["type"] == "StepSucceeded" and event["step_id"] == step_id

    return moment


def assert_snapshots_whole_and_recorded(state: Path) -> int:
    """Every snapshot file has its record and matches it, nothing half-written is left; how many."""
    folder = state / "etcd-snapshots"
    records = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
    for record in records:
        data = (folder / record["file"]).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (record["size"], record["sha256"]), record["file"]
        assert (folder / record["file"]).stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in folder.glob("*.db")) == sorted(r["file"] for r in records)
    assert not list(folder.glob("*.part")) and not list(folder.glob("*.corrupt"))
    return len(records)


def kill_in_step(
    config: Path,
    state: Path,
    argv: list[str],
    step_id: str,
    *,
    speed: float,
    ready: Callable[[Path], bool] | None = None,
    delay: float = 0.0,
) -> None:
    """Run at `speed`; SIGKILL as soon as `step_id` starts or, inside it, once `ready(state)` holds and
    `delay` more real seconds have passed. Its output is read to the end meanwhile, so a full pipe
    never holds the run back."""
    process = subprocess.Popen(
        operation_argv(config, state, *argv, speed=f"{speed:g}"),
        env=ENVIRONMENT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    started = threading.Event()

    def read(output: IO[str]) -> None:
        for line in output:
            if line.startswith("{"):
                event = json.loads(line)
                if event["type"] == "StepStarted" and event["step_id"] == step_id:
                    started.set()

    assert process.stdout is not None
    reader = threading.Thread(target=read, args=(process.stdout,), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not started.is_set() or (ready is not None and not ready(state)):
            assert process.poll() is None, f"the run ended (exit {process.returncode}) before the moment in {step_id}"
            assert time.monotonic() < deadline, f"no moment to kill the run in {step_id} within 60 s"
            time.sleep(0.005)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=120)
        reader.join(timeout=10)
    assert process.returncode == -signal.SIGKILL, f"the run ended (exit {process.returncode}) before it was killed"
