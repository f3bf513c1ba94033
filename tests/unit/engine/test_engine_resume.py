"""InstallSession over a state directory: journal, resume, config changes."""

import json

from support.clock import ManualClock
from support.steps import CANARY, FakeStep, FakeWorld, fake_drivers, of_type, small_config

from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.errors import PermanentError
from talos_platform.engine.run.events import RunStarted, StepFailed, StepOutput, StepSkipped, StepSucceeded
from talos_platform.engine.run.journal import last_known_done, list_runs, read_events
from talos_platform.engine.session import InstallSession, config_digest
from talos_platform.engine.state import StateDirectory


def session(state, steps, **options):
    events = []
    s = InstallSession(
        small_config(), Secrets(git_token=CANARY), state, fake_drivers(), ManualClock(), steps=steps, **options
    )
    s.subscribe(events.append)
    return s, events


def three_steps(world, digests=("v1", "v1", "v1")):
    return [
        FakeStep("secrets", world, digest=digests[0]),
        FakeStep("node", world, needs=("secrets",), digest=digests[1]),
        FakeStep("apps", world, layer=1, needs=("node",), digest=digests[2]),
    ]


async def test_a_second_run_rechecks_and_skips_what_is_still_done(tmp_path):
    state = StateDirectory(tmp_path)
    world = FakeWorld()
    first, _ = session(state, three_steps(world))
    assert await first.run() == "succeeded"
    second, events = session(state, three_steps(world))
    assert await second.run() == "succeeded"
    assert world.applied == ["secrets", "node", "apps"]  # nothing applied twice
    assert world.checks.count("node") == 2  # re-checked, never blindly trusted
    assert [e.step_id for e in of_type(events, StepSkipped)] == ["secrets", "node", "apps"]
    runs = list_runs(state.runs)
    assert [r.run_id for r in runs] == [first.run_id, second.run_id]
    assert runs[0].started.config_digest == config_digest(small_config())
    assert runs[0].simulated is True


async def test_a_step_undone_outside_the_tool_is_applied_again(tmp_path):
    state = StateDirectory(tmp_path)
    world = FakeWorld()
    await session(state, three_steps(world))[0].run()
    world.done.discard("node")  # someone wiped the node
    await session(state, three_steps(world))[0].run()
    assert world.applied == ["secrets", "node", "apps", "node"]


async def test_a_changed_config_reruns_the_steps_it_affects(tmp_path):
    state = StateDirectory(tmp_path)
    world = FakeWorld()
    await session(state, three_steps(world))[0].run()
    changed, events = session(state, three_steps(world, digests=("v1", "v2", "v1")))
    assert await changed.run() == "succeeded"
    assert world.applied == ["secrets", "node", "apps", "node"]
    assert [e.step_id for e in of_type(events, StepSucceeded)] == ["node"]
    assert any("config inputs changed" in e.line for e in of_type(events, StepOutput))
    assert last_known_done(state.runs, "install")["node"] == "v2"
    third, _ = session(state, three_steps(world, digests=("v1", "v2", "v1")))
    await third.run()
    assert world.applied.count("node") == 2  # the new digest is now the known one


async def test_resume_after_a_failure_continues_where_it_stopped(tmp_path):
    state = StateDirectory(tmp_path)
    world = FakeWorld()
    steps = three_steps(world)
    steps[1].apply_errors.append(PermanentError("node unreachable", hint="power it on"))
    failed_run, events = session(state, steps)
    assert await failed_run.run() == "failed"
    assert of_type(events, StepFailed)[0].hint == "power it on"
    assert await session(state, three_steps(world))[0].run() == "succeeded"
    assert world.applied == ["secrets", "node", "apps"]
    runs = list_runs(state.runs)
    assert [r.outcome for r in runs] == ["failed", "succeeded"]
    assert runs[0].steps["node"].state == "failed" and runs[0].steps["apps"].state == "pending"


async def test_journal_is_private_redacted_and_tolerates_a_torn_last_line(tmp_path):
    state = StateDirectory(tmp_path)
    world = FakeWorld()
    steps = three_steps(world)
    steps[0].output = (f"secret is {CANARY}",)
    s, _ = session(state, steps)
    await s.run()
    [run] = list_runs(state.runs)
    assert CANARY not in run.path.read_text()
    assert run.path.stat().st_mode & 0o777 == 0o600
    assert (state.root.stat().st_mode & 0o777) == 0o700
    full = read_events(run.path)
    with open(run.path, "a") as handle:
        handle.write('{"type":"StepStarted","step_id":"ap')  # a kill in the middle of a write
    assert read_events(run.path) == full
    records = [json.loads(line) for line in run.path.read_text().splitlines()[:-1]]
    assert records[0]["type"] == "RunStarted"


async def test_a_killed_run_shows_as_killed_with_its_step_interrupted(tmp_path):
    runs = tmp_path / "runs" / "20260101T000000000000Z-abcdef"
    runs.mkdir(parents=True)
    started = RunStarted(run_id=runs.name, steps=("a", "b"))
    lines = [
        json.dumps(started.to_record()),
        json.dumps({"type": "StepStarted", "step_id": "a", "layer": 0, "title": "A"}),
    ]
    (runs / "events.jsonl").write_text("\n".join(lines) + "\n")
    [run] = list_runs(tmp_path / "runs")
    assert run.outcome == "killed"
    assert run.steps["a"].state == "interrupted" and run.steps["b"].state == "pending"


async def test_interrupt_before_start_still_journals_an_interrupted_run(tmp_path):
    state = StateDirectory(tmp_path)
    world = FakeWorld()
    s, events = session(state, three_steps(world))
    s.interrupt()
    assert await s.run() == "interrupted"
    assert world.applied == []
    assert list_runs(state.runs)[0].outcome == "interrupted"


async def test_unsubscribed_front_ends_stop_receiving(tmp_path):
    state = StateDirectory(tmp_path)
    world = FakeWorld()
    s, events = session(state, three_steps(world))
    later = []
    unsubscribe = s.subscribe(later.append)
    unsubscribe()
    await s.run()
    assert events and later == []


async def test_an_unwritable_state_directory_is_a_clear_error(tmp_path):
    import pytest

    from talos_platform.engine.errors import UserError

    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    s, _ = session(StateDirectory(blocked / "state"), three_steps(FakeWorld()))
    with pytest.raises(UserError, match="cannot write the state directory") as raised:
        await s.run()
    assert "disk space" in raised.value.hint


async def test_a_journal_that_cannot_be_written_stops_every_step(tmp_path, monkeypatch):
    import pytest

    from talos_platform.engine.errors import UserError
    from talos_platform.engine.run.journal import Journal

    world = FakeWorld()
    writes = []

    def failing_append(self, event):
        writes.append(event)
        if len(writes) > 3:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(Journal, "append", failing_append)
    s, _ = session(StateDirectory(tmp_path), three_steps(world))
    with pytest.raises(UserError, match="No space left"):
        await s.run()
    assert world.active == 0
