"""Operations: the registry, per-operation journals and locks, status over every operation, and
the command line an operation gets without code of its own. The operations here are tiny ones
registered by the tests (fake steps on a FakeWorld), never product features."""

import asyncio
import json

import pytest
from support.clock import ManualClock
from support.steps import FakeStep, FakeWorld, fake_drivers, small_config

from talos_platform import exit_codes
from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.errors import UserError
from talos_platform.engine.operations import Operation, operation_named, register, registered_operations, unregister
from talos_platform.engine.run.events import RunStarted, StepOutput, StepSkipped, event_from_record
from talos_platform.engine.run.journal import (
    Journal,
    attempt_run_ids,
    earlier_runs_of_attempt,
    last_known_done,
    left_unfinished,
    list_runs,
    new_run_id,
    read_run,
)
from talos_platform.engine.session import InstallSession, OperationSession
from talos_platform.engine.state import StateDirectory, StateDirectoryBusy
from talos_platform.main import main
from talos_platform.tui.install_state import InstallProgress
from talos_platform.tui.widgets.steps import steps_content

WORLD = FakeWorld()


def probe_steps(config, options):
    return [
        FakeStep("P.one", WORLD, title="Look once"),
        FakeStep("P.two", WORLD, layer=1, needs=("P.one",), digest=options.get("digest", "v1")),
    ]


@pytest.fixture
def probe():
    """A small operation of the cluster's lock scope, registered for one test."""
    WORLD.__init__()
    operation = register(Operation(name="probe", title="Probe", plan_steps=probe_steps))
    yield operation
    unregister("probe")


@pytest.fixture
def aside():
    """An operation with a lock scope of its own."""
    operation = register(Operation(name="probe-aside", title="Probe aside", plan_steps=probe_steps, lock_scope="aside"))
    yield operation
    unregister("probe-aside")


def session_of(operation, root, *, steps=None, **keywords):
    return OperationSession(
        operation,
        small_config(),
        Secrets(),
        StateDirectory(root),
        fake_drivers(),
        ManualClock(),
        steps=steps,
        **keywords,
    )


def install_of(root, steps):
    return InstallSession(small_config(), Secrets(), StateDirectory(root), fake_drivers(), ManualClock(), steps=steps)


# --- the registry ---------------------------------------------------------------------------------


def test_the_install_is_the_first_operation_and_takes_the_clusters_lock(probe):
    operations = registered_operations()
    assert [operation.name for operation in operations][:1] == ["install"]
    assert operations[-1] is probe
    install = operation_named("install")
    assert (install.title, install.lock_scope) == ("Install", "cluster")
    assert probe.lock_scope == "cluster"


def test_an_unknown_operation_is_a_clear_error_naming_the_known_ones(probe):
    with pytest.raises(UserError, match="no operation named 'upgrade'") as raised:
        operation_named("upgrade")
    assert "install" in raised.value.hint and "probe" in raised.value.hint


def test_a_second_operation_of_the_same_name_or_a_bad_name_is_refused(probe):
    with pytest.raises(ValueError, match="already registered"):
        register(Operation(name="probe", title="Another", plan_steps=probe_steps))
    assert register(probe) is probe  # the same object again is harmless
    with pytest.raises(ValueError, match="operation name"):
        Operation(name="Node Add", title="Node add", plan_steps=probe_steps)
    with pytest.raises(ValueError, match="operation lock_scope"):
        Operation(name="node-add", title="Node add", plan_steps=probe_steps, lock_scope="../x")


def test_the_session_plans_the_operations_steps_with_its_options(probe, tmp_path):
    session = session_of(probe, tmp_path, options={"digest": "v9"})
    assert session.plan.ids == ("P.one", "P.two")
    assert session.plan.step("P.two").input_digest() == "v9"


# --- journals ---------------------------------------------------------------------------------------


async def test_two_operations_runs_do_not_mix(probe, tmp_path):
    world = FakeWorld()
    assert await install_of(tmp_path, [FakeStep("shared", world, digest="install-inputs")]).run() == "succeeded"
    probe_session = session_of(probe, tmp_path, steps=[FakeStep("shared", world, digest="probe-inputs")])
    events = []
    probe_session.subscribe(events.append)
    assert await probe_session.run() == "succeeded"

    # The install's success under other inputs says nothing to the probe: its step is checked,
    # found done and skipped, not re-run as "inputs changed".
    assert world.applied == ["shared"]
    assert [e.reason for e in events if isinstance(e, StepSkipped)] == ["shared found in place"]
    assert next(e for e in events if isinstance(e, RunStarted)).operation == "probe"

    runs = StateDirectory(tmp_path).runs
    assert [run.operation for run in list_runs(runs)] == ["install", "probe"]
    assert [run.run_id for run in list_runs(runs, "probe")] == [probe_session.run_id]
    assert last_known_done(runs, "install") == {"shared": "install-inputs"}
    assert last_known_done(runs, "probe") == {"shared": "probe-inputs"}


async def test_a_journal_written_before_operations_resumes_as_the_installs(probe, tmp_path):
    state = StateDirectory(tmp_path).ensure()
    with Journal(state.runs) as journal:  # as an older version wrote it: RunStarted names no operation
        for record in (
            {"type": "RunStarted", "at": 1.0, "run_id": journal.run_id, "steps": ["a"]},
            {"type": "StepStarted", "at": 2.0, "step_id": "a", "layer": 0, "title": "a"},
            {"type": "StepSucceeded", "at": 3.0, "step_id": "a", "duration": 1.0, "input_digest": "old"},
            {"type": "RunFinished", "at": 4.0, "run_id": journal.run_id, "outcome": "succeeded"},
        ):
            journal.append(event_from_record(record))
    assert read_run(journal.directory).operation == "install"

    world = FakeWorld(done={"a"})
    install = install_of(tmp_path, [FakeStep("a", world, digest="new")])
    lines = []
    install.subscribe(lambda e: lines.append(e.line) if isinstance(e, StepOutput) else None)
    assert await install.run() == "succeeded"
    assert world.applied == ["a"]  # the old run's digest was read as the install's: inputs changed
    assert "config inputs changed since this step last ran: running it again" in lines

    other = FakeWorld(done={"a"})
    assert await session_of(probe, tmp_path, steps=[FakeStep("a", other, digest="new")]).run() == "succeeded"
    assert other.applied == []  # the probe never ran: it has no record of "a"


# --- locks ----------------------------------------------------------------------------------------


async def test_a_second_run_of_the_same_operation_is_refused_with_a_clear_message(probe, tmp_path):
    gate = asyncio.Event()
    first = session_of(probe, tmp_path, steps=[FakeStep("held", FakeWorld(), gate=gate)])
    running = asyncio.ensure_future(first.run())
    while not StateDirectory(tmp_path).busy():
        await asyncio.sleep(0.01)

    second = session_of(probe, tmp_path, steps=[FakeStep("held", FakeWorld())])
    with pytest.raises(StateDirectoryBusy) as refused:
        await second.run()
    assert str(refused.value).startswith(f"another probe is running on {tmp_path}\n")
    assert "wait for it to finish" in refused.value.hint

    gate.set()
    assert await running == "succeeded"
    assert [run.run_id for run in list_runs(StateDirectory(tmp_path).runs)] == [first.run_id]  # nothing of the second


async def test_the_same_lock_scope_keeps_out_another_operation_and_another_scope_does_not(probe, aside, tmp_path):
    state = StateDirectory(tmp_path)
    with state.lock(holder="install"):
        with pytest.raises(
            StateDirectoryBusy, match="another install is running on .*; the probe cannot run beside it"
        ):
            await session_of(probe, tmp_path, steps=[FakeStep("x", FakeWorld())]).run()
        # An operation of its own scope is not held up by the install.
        assert await session_of(aside, tmp_path, steps=[FakeStep("x", FakeWorld())]).run() == "succeeded"
        assert state.busy() and not state.busy("aside")
    assert state.lock_file("aside").name == ".lock-aside" and state.lock_file().name == ".lock"


# --- status and the command line --------------------------------------------------------------------


async def test_status_lists_the_runs_of_every_operation(probe, tmp_path, capsys):
    assert await install_of(tmp_path, [FakeStep("a", FakeWorld())]).run() == "succeeded"
    failing = FakeStep("P.one", FakeWorld())
    failing.apply_errors.append(UserError("no answer", hint="look"))
    probe_run = session_of(probe, tmp_path, steps=[failing])
    assert await probe_run.run() == "failed"
    install_id, probe_id = (run.run_id for run in list_runs(StateDirectory(tmp_path).runs))

    assert main(["status", "--state-dir", str(tmp_path)]) == exit_codes.STEP_FAILED  # the latest run: the probe's
    text = capsys.readouterr().out
    assert text.startswith(f"SIMULATED probe run {probe_id} (2 runs in {tmp_path})")
    history = text.split("\nruns:\n", 1)[1].splitlines()
    assert history[0].split()[:2] == ["install", install_id] and history[0].split()[-2] == "succeeded"
    assert history[1].split()[:3] == ["*", "probe", probe_id] and history[1].split()[-2] == "failed"
    assert "resume with: talos-platform probe" in text

    assert main(["status", "--state-dir", str(tmp_path), "--operation", "install", "--output", "json"]) == exit_codes.OK
    record = json.loads(capsys.readouterr().out)
    assert (record["operation"], record["runId"]) == ("install", install_id)
    assert [(run["operation"], run["runId"], run["outcome"]) for run in record["history"]] == [
        ("install", install_id, "succeeded"),
        ("probe", probe_id, "failed"),
    ]
    assert all(isinstance(run["startedAt"], float) for run in record["history"])

    assert main(["status", "--state-dir", str(tmp_path), "--operation", "upgrade"]) == exit_codes.INVALID_CONFIG
    assert "no upgrade run recorded" in capsys.readouterr().err


def test_an_operation_gets_its_command_plan_and_json_output_without_code_of_its_own(probe, tmp_path, capsys):
    state = tmp_path / "state"
    argv = ["probe", "--simulate", "--speed", "inf", "--state-dir", str(state), "--output", "json"]
    assert main(argv) == exit_codes.OK
    events = [event_from_record(json.loads(line)) for line in capsys.readouterr().out.splitlines()]
    assert events[0].type == "RunStarted" and events[0].operation == "probe"
    assert events[0].steps == ("P.one", "P.two") and events[-1].outcome == "succeeded"
    assert WORLD.applied == ["P.one", "P.two"]

    assert main(["plan", "--operation", "probe", "--simulate", "--state-dir", str(state), "--output", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["operation"] == "probe"
    assert [(step["stepId"], step["state"]) for step in plan["steps"]] == [("P.one", "done"), ("P.two", "done")]

    assert main(["plan", "--operation", "probe", "--simulate", "--state-dir", str(state)]) == 0
    assert "SIMULATED probe plan for cluster" in capsys.readouterr().out


def test_the_run_screen_is_titled_by_the_operation(probe):
    progress = InstallProgress([("P.one", 0, "Look once")])
    assert steps_content(progress).title == "Install steps"
    progress.apply(RunStarted(run_id="r1", steps=("P.one",), operation="probe"))
    progress.outcome = "failed"
    content = steps_content(progress)
    assert content.title == "Probe steps" and "probe failed" in content.summary.plain


def test_an_attempt_is_the_unbroken_line_of_unfinished_runs_of_one_operation(tmp_path):
    state = StateDirectory(tmp_path).ensure()

    def run_of(operation: str, outcome: str | None) -> str:
        with Journal(state.runs) as journal:
            journal.append(RunStarted(at=1.0, run_id=journal.run_id, steps=(), operation=operation))
            if outcome:
                journal.append(
                    event_from_record({"type": "RunFinished", "at": 2.0, "run_id": journal.run_id, "outcome": outcome})
                )
        return journal.run_id

    run_of("upgrade-talos", "failed")
    run_of("install", "succeeded")
    run_of("upgrade-talos", "succeeded")
    killed = run_of("upgrade-talos", None)
    failed = run_of("upgrade-talos", "failed")
    current = run_of("upgrade-talos", None)

    assert attempt_run_ids(state.runs, "upgrade-talos", current) == {killed, failed, current}
    assert attempt_run_ids(state.runs, "upgrade-talos", killed) == {killed}  # after a success: a new attempt
    later = run_of("upgrade-kubernetes", None)
    assert attempt_run_ids(state.runs, "upgrade-kubernetes", later) == {later}


def test_the_steps_left_unfinished_are_those_whose_last_word_is_not_done(tmp_path):
    state = StateDirectory(tmp_path).ensure()
    for steps in (
        [("a", "StepSucceeded"), ("b", "StepStarted")],  # killed while b ran
        [("b", "StepSucceeded"), ("c", "StepStarted"), ("c", "StepFailed")],
    ):
        with Journal(state.runs) as journal:
            journal.append(RunStarted(at=1.0, run_id=journal.run_id, steps=("a", "b", "c"), operation="probe"))
            for step_id, kind in steps:
                record = {"type": kind, "at": 2.0, "step_id": step_id}
                extra = {
                    "StepStarted": {"layer": 0, "title": step_id, "attempt": 1},
                    "StepSucceeded": {"duration": 1.0, "input_digest": "d"},
                    "StepFailed": {"error": "no", "hint": ""},
                }[kind]
                journal.append(event_from_record(record | extra))
    current = new_run_id()

    assert left_unfinished(earlier_runs_of_attempt(state.runs, "probe", current)) == {"c"}
