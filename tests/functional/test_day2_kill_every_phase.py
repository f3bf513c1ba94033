"""Every day-2 operation on the simulated platform killed with SIGKILL at every one of its steps,
then run again with the same command: the resumed run succeeds, nothing that must happen once
happened twice, every etcd snapshot kept is whole and recorded, the config file ends as a run
never killed leaves it, and `status` shows the operation finished.

Each operation is first run once, never killed, on a copy of the same cluster: its JSON events
name its steps (so a step added to an operation gets its cases without a change here), say when
each started and how long it took in simulated seconds, and its simulated cluster journal
(`simulation.jsonl`) says what it changed. These runs happen when the tests are collected, since
the cases are made from them (about 10 s, once per pytest process).

Two cases per step at most:
- `started`: killed the moment its `StepStarted` event is read.
- `mid-step`: for a step that applied something lasting (a node's upgrade, a drain, a snapshot
  streaming, a join), killed inside it: right after its first change to the simulated cluster
  (a node gone to reboot, a node cordoned, a control plane wiped) or, for a step that changes
  nothing there, halfway through it. Made only where the simulator's pacing can land the kill
  inside the step within a few seconds; the killed run's journal must show the step unfinished.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.commands import run_simulated_install
from support.operations import assert_snapshots_whole_and_recorded, kill_in_step, run_operation

from talos_platform.main import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "metal-3cp-3w.yaml"
NEW_CONTROL_PLANE = ["--name", "cp-4", "--address", "192.168.10.14/24", "--role", "control-plane", "--link", "enp1s0"]
UNDERSTOOD = "--i-understand-this-wipes-etcd"

# The pace of a killed run: the step it is killed in lasts about STEP_SECONDS of real time where
# its simulated duration allows, and the run gets there within about REACH_SECONDS.
STEP_SECONDS = 0.15
REACH_SECONDS = 0.4
# A mid-step kill leaves at least MID_STEP_SECONDS of the step after its moment, and is made
# only if the run gets to that moment within MID_STEP_REACH_SECONDS at that pace.
MID_STEP_SECONDS = 0.1
MID_STEP_REACH_SECONDS = 3.0
MID_STEP_ATTEMPTS = 3
LONG_WAIT = 1.0  # simulated seconds: a step changing nothing in the cluster this long gets a mid-step case


def only_snapshot(state: Path) -> Path:
    (snapshot,) = sorted((state / "etcd-snapshots").glob("*.db"))
    return snapshot


@dataclass(frozen=True)
class Day2:
    name: str
    """The case ids' first part."""
    cluster: str
    """The cluster it starts from: a key of CLUSTERS."""
    argv: Callable[[Path], list[str]]
    """Its command line, given the state directory."""
    once: tuple[str, ...]
    """Simulated changes it must make exactly as often (per node) as the run never killed: a node's
    reboot into the new version, its config sent, its reset, an etcd member removed or wiped, the
    bootstrap from a snapshot. Cordons and drains are not among them: done again, they change
    nothing."""


OPERATIONS = (
    Day2("etcd-snapshot", "installed", lambda state: ["etcd-snapshot"], ()),
    Day2(
        "upgrade-talos",
        "installed",
        lambda state: ["upgrade-talos", "--to", "v1.14.2"],
        ("talos_rebooting", "talos_upgraded"),
    ),
    Day2(
        "upgrade-kubernetes",
        "installed",
        lambda state: ["upgrade-kubernetes", "--to", "v1.37.3"],
        ("kubelet_upgraded",),
    ),
    Day2("node-add", "installed", lambda state: ["node", "add", *NEW_CONTROL_PLANE], ("configure", "machine_racked")),
    Day2(
        "node-remove-worker",
        "installed",
        lambda state: ["node", "remove", "worker-1"],
        ("node_reset", "node_deleted", "etcd_member_removed"),
    ),
    Day2(
        "node-remove-control-plane",
        "cp-4-added",
        lambda state: ["node", "remove", "cp-4"],
        ("node_reset", "node_deleted", "etcd_member_removed"),
    ),
    Day2(
        "etcd-restore",
        "snapshot-taken",
        lambda state: ["etcd-restore", str(only_snapshot(state)), UNDERSTOOD],
        ("etcd_reset", "etcd_recovered"),
    ),
)

CLUSTERS: dict[str, list[list[str]]] = {
    "installed": [],
    "snapshot-taken": [["etcd-snapshot"]],
    "cp-4-added": [["node", "add", *NEW_CONTROL_PLANE]],
}
"""The clusters the operations start from: the example installed, then these operations run."""


# --- the runs never killed ------------------------------------------------------------------------


def changes(state: Path) -> list[dict[str, Any]]:
    """The simulated cluster's journal, as far as it was written (a line cut by a kill is left out)."""
    found = []
    for line in (state / "simulation.jsonl").read_text().splitlines()[1:]:
        try:
            found.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return found


def folder_files(folder: Path) -> dict[str, bytes]:
    """The config file and what the operations keep beside it (its backup), by name."""
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


@dataclass(frozen=True)
class Step:
    id: str
    outcome: str
    """`StepSucceeded` or `StepSkipped`."""
    start: float
    """Simulated seconds after the run started."""
    duration: float
    """Simulated seconds."""
    changed: tuple[tuple[float, int], ...]
    """Its changes to the simulated cluster: (simulated seconds after the step started, how many
    changes of that kind to that node the run had made by then, itself included)."""
    first_change: tuple[Any, ...] | None = None
    """The kind of its first change and the node it changed."""


@dataclass(frozen=True)
class Reference:
    operation: Day2
    folder: Path
    """The cluster it started from: the config file and the state directory beside it."""
    run_operation: str
    """The operation name its runs are journalled under."""
    steps: tuple[Step, ...]
    files: dict[str, bytes]
    """The config file's folder when it finished."""
    once: Counter[tuple[Any, ...]]
    snapshots: int


def key(entry: dict[str, Any]) -> tuple[Any, ...]:
    """A simulated change's kind and the node (or Kubernetes Node) it changed."""
    return entry["change"], entry.get("address"), entry.get("name")


def once_counts(entries: list[dict[str, Any]], kinds: tuple[str, ...]) -> Counter[tuple[Any, ...]]:
    return Counter(key(e) for e in entries if e["change"] in kinds)


def prepare(root: Path) -> dict[str, Path]:
    """Each of CLUSTERS in its folder: the config file and the state directory."""
    installed = root / "clusters" / "installed"
    installed.mkdir(parents=True)
    shutil.copy(EXAMPLE, installed / "platform.yaml")
    done = run_simulated_install(installed / "state", "--yes", "--config", str(installed / "platform.yaml"))
    assert done.returncode == 0, done.stderr[-2000:]
    folders = {}
    for name, operations in CLUSTERS.items():
        folders[name] = root / "clusters" / name
        if operations:
            shutil.copytree(installed, folders[name])
        for argv in operations:
            ran, _ = run_operation(folders[name] / "platform.yaml", folders[name] / "state", *argv)
            assert ran.returncode == 0, ran.stderr[-2000:]
    return folders


def reference_run(root: Path, operation: Day2, cluster: Path) -> Reference:
    folder = root / "never-killed" / operation.name
    shutil.copytree(cluster, folder)
    state = folder / "state"
    before = len(changes(state))
    done, events = run_operation(folder / "platform.yaml", state, *operation.argv(state))
    assert done.returncode == 0, f"{operation.name} never killed: {done.stderr[-2000:]}"
    made = changes(state)[before:]
    started = events[0]["at"]
    steps, began = [], {}
    for event in events:
        if event["type"] == "StepStarted":
            began[event["step_id"]] = event["at"]
        elif event["type"] in ("StepSucceeded", "StepSkipped"):
            at = began[event["step_id"]]
            # A change stamped with the step's very first instant belongs to the step before.
            inside = [i for i, e in enumerate(made) if at < e["at"] <= event["at"] and e["change"] != "time"]
            changed = tuple((made[i]["at"] - at, sum(key(e) == key(made[i]) for e in made[: i + 1])) for i in inside)
            first = key(made[inside[0]]) if inside else None
            steps.append(Step(event["step_id"], event["type"], at - started, event["at"] - at, changed, first))
    return Reference(
        operation,
        cluster,
        events[0]["operation"],
        tuple(steps),
        folder_files(folder),
        once_counts(made, operation.once),
        assert_snapshots_whole_and_recorded(state),
    )


@functools.cache
def references() -> dict[str, Reference]:
    root = Path(tempfile.mkdtemp(prefix="day2-never-killed-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    clusters = prepare(root)
    return {op.name: reference_run(root, op, clusters[op.cluster]) for op in OPERATIONS}


# --- the cases ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kill:
    """Where in the step to kill the run, and at what pace."""

    speed: float
    mid_step: bool = False
    nth_change: tuple[tuple[Any, ...], int] | None = None
    """Kill once the simulated cluster made this change (kind, address, name) this many times
    since the run started."""
    delay: float = 0.0
    """Real seconds to wait after the step started (or after the change), before the kill."""


def pace(reach: float, lasting: float) -> float:
    """A speed that gets to a moment `reach` simulated seconds into the run within about
    REACH_SECONDS, leaving what comes after it `lasting` simulated seconds, about STEP_SECONDS
    where that allows. Never infinite: later waits are paced too, so a kill lands close."""
    return max(lasting / STEP_SECONDS, reach / REACH_SECONDS, 1.0)


def kills(step: Step) -> dict[str, Kill]:
    found = {"started": Kill(speed=pace(step.start, step.duration))}
    if step.outcome != "StepSucceeded":
        return found  # its check found nothing to do: there is no apply to land in
    if step.changed:
        after, nth = step.changed[0]
        reach, lasting, nth_change = step.start + after, step.duration - after, (step.first_change, nth)
    elif step.duration >= LONG_WAIT:
        reach, lasting, nth_change = step.start + step.duration / 2, step.duration / 2, None
    else:
        return found
    if lasting <= 0:
        return found  # its first change was its last moment
    speed = min(pace(reach, lasting), lasting / MID_STEP_SECONDS)
    if reach / speed <= MID_STEP_REACH_SECONDS:
        delay = 0.0 if step.changed else lasting / speed
        found["mid-step"] = Kill(speed, True, nth_change, delay)
    return found


def cases() -> list[Any]:
    made = []
    for name, reference in references().items():
        for step in reference.steps:
            for where, kill in kills(step).items():
                made.append(pytest.param(name, step.id, kill, id=f"{name}/{step.id}/{where}"))
    return made


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if {"operation", "step_id", "kill"} <= set(metafunc.fixturenames):
        metafunc.parametrize(("operation", "step_id", "kill"), cases())


# --- the test -------------------------------------------------------------------------------------


def run_journal(state: Path, known: set[str]) -> list[dict[str, Any]]:
    """The events the one run not in `known` journalled (a line cut by the kill left out)."""
    (folder,) = [path for path in (state / "runs").iterdir() if path.name not in known]
    found = []
    for line in (folder / "events.jsonl").read_text().splitlines():
        try:
            found.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return found


def made_since(kill: Kill, before: int) -> Callable[[Path], bool] | None:
    """The kill's moment inside its step: its change made `nth` times since change number `before`."""
    if not kill.nth_change:
        return None
    change, nth = kill.nth_change
    return lambda state: sum(key(e) == change for e in changes(state)[before:]) >= nth


def test_killed_at_a_step_then_run_again_it_finishes_doing_nothing_twice(operation, step_id, kill, tmp_path, capsys):
    reference = references()[operation]
    # A busy machine can let the step end before the kill lands: a mid-step case then starts
    # again from a fresh copy at half the pace, and fails only if it never lands inside.
    for attempt in range(MID_STEP_ATTEMPTS):
        folder = tmp_path / f"cluster-{attempt}"
        shutil.copytree(reference.folder, folder)
        config, state = folder / "platform.yaml", folder / "state"
        argv = reference.operation.argv(state)
        before = len(changes(state))
        known_runs = {path.name for path in (state / "runs").iterdir()}

        ready = made_since(kill, before)
        slower = 2**attempt  # the same simulated moment, reached at a slower pace
        kill_in_step(config, state, argv, step_id, speed=kill.speed / slower, ready=ready, delay=kill.delay * slower)
        killed = run_journal(state, known_runs)
        ended = {e["step_id"] for e in killed if e["type"] in ("StepSucceeded", "StepSkipped", "StepFailed")}
        if not kill.mid_step or step_id not in ended:
            break
    else:
        pytest.fail(f"the kill came after {step_id} ended {MID_STEP_ATTEMPTS} times: no mid-step kill")

    finished, events = run_operation(config, state, *argv)

    assert finished.returncode == 0, finished.stderr[-3000:]
    assert [e["step_id"] for e in events if e["type"] == "StepFailed"] == []
    assert once_counts(changes(state)[before:], reference.operation.once) == reference.once
    assert assert_snapshots_whole_and_recorded(state) == reference.snapshots
    assert folder_files(config.parent) == reference.files
    assert main(["status", "--state-dir", str(state), "--simulate", "--operation", reference.run_operation,
                 "--output", "json"]) == 0  # fmt: skip
    status = json.loads(capsys.readouterr().out)
    assert status["outcome"] == "succeeded"
    assert [s["stepId"] for s in status["steps"]] == [s.id for s in reference.steps]
    assert {s["state"] for s in status["steps"]} <= {"succeeded", "skipped"}


def test_every_operation_is_covered():
    """A new day-2 operation gets cases here: OPERATIONS names every registered one but the install."""
    from talos_platform.engine.operations import registered_operations

    covered = {references()[op.name].run_operation for op in OPERATIONS}
    assert covered == {op.name for op in registered_operations()} - {"install"}
