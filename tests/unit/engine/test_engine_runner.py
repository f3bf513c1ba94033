"""The runner over small fake steps: ordering, concurrency, retries, timeouts, failures,
cancellation, selection, redaction."""

import asyncio
import json

import pytest
from support.clock import ManualClock
from support.steps import CANARY, FakeStep, FakeWorld, context_factory, of_type

from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.errors import PermanentError, TransientError, UserError
from talos_platform.engine.plan.planner import Plan
from talos_platform.engine.run.events import (
    RunFinished,
    RunStarted,
    StepFailed,
    StepOutput,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from talos_platform.engine.run.journal import Journal, read_events, read_run
from talos_platform.engine.run.redaction import Redactor
from talos_platform.engine.run.runner import RetryPolicy, Runner


def make_runner(steps, tmp_path, **options):
    clock = options.pop("clock", None) or ManualClock()
    journal = Journal(tmp_path / "runs")
    runner = Runner(
        Plan(steps),
        context_factory(tmp_path / "state", clock=clock),
        journal=journal,
        redactor=Redactor([CANARY]),
        clock=clock,
        **options,
    )
    events = []
    runner.subscribe(events.append)
    return runner, events, journal


async def run(steps, tmp_path, **options):
    runner, events, journal = make_runner(steps, tmp_path, **options)
    outcome = await runner.run()
    journal.close()
    return outcome, events


def index(events, kind, step_id):
    return next(i for i, e in enumerate(events) if isinstance(e, kind) and e.step_id == step_id)


async def test_steps_run_after_what_they_need(tmp_path):
    world = FakeWorld()
    steps = [
        FakeStep("c", world, layer=1, needs=("a", "b")),
        FakeStep("a", world),
        FakeStep("b", world, needs=("a",)),
    ]
    outcome, events = await run(steps, tmp_path)
    assert outcome == "succeeded"
    assert world.applied == ["a", "b", "c"]
    assert index(events, StepSucceeded, "a") < index(events, StepStarted, "b")
    assert index(events, StepSucceeded, "b") < index(events, StepStarted, "c")
    assert isinstance(events[0], RunStarted) and events[0].steps == ("a", "b", "c")
    assert isinstance(events[-1], RunFinished) and events[-1].outcome == "succeeded"


async def test_independent_steps_run_concurrently_up_to_the_bound(tmp_path):
    world = FakeWorld()
    gate = asyncio.Event()
    steps = [FakeStep(f"node-{i}", world, gate=gate) for i in range(6)]
    runner, events, journal = make_runner(steps, tmp_path, concurrency=2)
    task = asyncio.ensure_future(runner.run())
    for _ in range(50):
        await asyncio.sleep(0)
    assert world.active == 2  # two held in apply, the other four not started
    assert len(of_type(events, StepStarted)) == 2
    gate.set()
    assert await task == "succeeded"
    assert world.max_active == 2 and sorted(world.applied) == [f"node-{i}" for i in range(6)]


async def test_transient_errors_retry_with_capped_exponential_backoff(tmp_path):
    world = FakeWorld()
    flaky = FakeStep("flaky", world, apply_errors=[TransientError("node still booting")] * 4)
    clock = ManualClock()
    policy = RetryPolicy(max_attempts=6, initial_delay=1.0, multiplier=2.0, max_delay=5.0)
    outcome, events = await run([flaky], tmp_path, clock=clock, retry=policy)
    assert outcome == "succeeded"
    assert clock.sleeps == [1.0, 2.0, 4.0, 5.0]
    retries = of_type(events, StepRetrying)
    assert [(r.attempt, r.delay) for r in retries] == [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0)]
    assert retries[0].error == "node still booting"
    assert [s.attempt for s in of_type(events, StepStarted)] == [1, 2, 3, 4, 5]
    assert world.checks.count("flaky") == 5  # each attempt re-checks the facts


async def test_retries_stop_at_the_attempt_limit(tmp_path):
    world = FakeWorld()
    hopeless = FakeStep("hopeless", world, apply_errors=[TransientError("api away", hint="is the VIP up?")] * 10)
    outcome, events = await run([hopeless], tmp_path, retry=RetryPolicy(max_attempts=3, initial_delay=0.1))
    assert outcome == "failed"
    [failed] = of_type(events, StepFailed)
    assert failed.error == "gave up after 3 attempts: api away" and failed.hint == "is the VIP up?"
    assert len(of_type(events, StepRetrying)) == 2


async def test_a_wait_longer_than_the_step_timeout_fails_naming_the_step(tmp_path):
    world = FakeWorld()
    slow = FakeStep("L1.cilium", world, wait_forever=True, timeout=0.05)
    after = FakeStep("L1.argocd", world, needs=("L1.cilium",))
    outcome, events = await run([slow, after], tmp_path)
    assert outcome == "failed"
    [failed] = of_type(events, StepFailed)
    assert failed.step_id == "L1.cilium" and "L1.cilium did not become ready within 0.05 s" in failed.error
    assert not [e for e in events if getattr(e, "step_id", "") == "L1.argocd"]


async def test_permanent_failure_stops_new_steps_shows_the_hint_and_lets_in_flight_finish(tmp_path):
    world = FakeWorld()
    gate = asyncio.Event()
    broken = FakeStep("broken", world, apply_errors=[PermanentError("disk /dev/sdz not found", hint="set installDisk")])
    in_flight = FakeStep("in-flight", world, gate=gate)
    later = FakeStep("later", world, needs=("in-flight",))
    runner, events, journal = make_runner([in_flight, broken, later], tmp_path)
    task = asyncio.ensure_future(runner.run())
    for _ in range(50):
        await asyncio.sleep(0)
    assert of_type(events, StepFailed)  # broken failed while in-flight is still held
    gate.set()
    assert await task == "failed"
    [failed] = of_type(events, StepFailed)
    assert (failed.step_id, failed.error, failed.hint) == ("broken", "disk /dev/sdz not found", "set installDisk")
    assert world.applied == ["in-flight"]  # finished, and nothing new started after the failure
    assert "later" not in world.order
    assert of_type(events, RunFinished)[0].outcome == "failed"


async def test_an_unexpected_exception_is_a_failed_step_not_a_crash(tmp_path):
    world = FakeWorld()
    buggy = FakeStep("buggy", world, apply_errors=[KeyError("spec")])
    outcome, events = await run([buggy], tmp_path)
    assert outcome == "failed"
    [failed] = of_type(events, StepFailed)
    assert "unexpected KeyError during apply" in failed.error and "--debug" in failed.hint


async def test_done_steps_are_skipped_with_the_reason(tmp_path):
    world = FakeWorld(done={"a"})
    outcome, events = await run([FakeStep("a", world), FakeStep("b", world, needs=("a",))], tmp_path)
    assert outcome == "succeeded"
    [skipped] = of_type(events, StepSkipped)
    assert (skipped.step_id, skipped.reason, skipped.input_digest) == ("a", "a found in place", "v1")
    assert world.applied == ["b"]


async def test_interrupt_lets_the_step_in_flight_finish_and_starts_nothing_new(tmp_path):
    world = FakeWorld()
    gate = asyncio.Event()
    first = FakeStep("first", world, gate=gate)
    second = FakeStep("second", world, needs=("first",))
    runner, events, journal = make_runner([first, second], tmp_path, interrupt_grace=5.0)
    task = asyncio.ensure_future(runner.run())
    while world.active == 0:
        await asyncio.sleep(0)
    runner.interrupt()
    await asyncio.sleep(0.01)
    gate.set()
    assert await task == "interrupted"
    journal.close()
    assert world.applied == ["first"] and "second" not in world.order
    assert of_type(events, StepSucceeded)[0].step_id == "first"
    journaled = read_events(journal.path)
    assert isinstance(journaled[-1], RunFinished) and journaled[-1].outcome == "interrupted"


async def test_interrupt_cancels_a_step_that_outlives_the_grace_period(tmp_path):
    world = FakeWorld()
    stuck = FakeStep("stuck", world, gate=asyncio.Event())  # never released
    runner, events, journal = make_runner([stuck], tmp_path, interrupt_grace=0.02)
    task = asyncio.ensure_future(runner.run())
    while world.active == 0:
        await asyncio.sleep(0)
    runner.interrupt()
    assert await task == "interrupted"
    [failed] = of_type(events, StepFailed)
    assert failed.error == "interrupted during apply" and "again" in failed.hint
    assert failed.interrupted
    assert world.active == 0 and world.applied == []


async def test_a_second_interrupt_does_not_wait_for_the_grace_period(tmp_path):
    world = FakeWorld()
    stuck = FakeStep("stuck", world, gate=asyncio.Event())
    runner, events, journal = make_runner([stuck], tmp_path, interrupt_grace=60.0)
    task = asyncio.ensure_future(runner.run())
    while world.active == 0:
        await asyncio.sleep(0)
    runner.interrupt()
    await asyncio.sleep(0.01)
    runner.interrupt()
    assert await asyncio.wait_for(task, 2.0) == "interrupted"


async def test_cancelling_the_run_task_journals_an_interrupted_finish(tmp_path):
    world = FakeWorld()
    stuck = FakeStep("stuck", world, gate=asyncio.Event())
    runner, events, journal = make_runner([stuck], tmp_path)
    task = asyncio.ensure_future(runner.run())
    while world.active == 0:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    journal.close()
    journaled = read_events(journal.path)
    assert journaled[-1].outcome == "interrupted"
    [failed] = of_type(journaled, StepFailed)
    assert failed.error == "interrupted during apply" and failed.interrupted
    assert read_run(journal.path.parent).steps["stuck"].state == "interrupted"


async def test_only_runs_the_named_step_and_just_checks_what_it_needs(tmp_path):
    world = FakeWorld(done={"a"})
    steps = [FakeStep("a", world), FakeStep("b", world, needs=("a",)), FakeStep("c", world, needs=("b",))]
    outcome, events = await run(steps, tmp_path, only="b")
    assert outcome == "succeeded"
    assert world.applied == ["b"] and "c" not in world.checks
    assert events[0].steps == ("a", "b")
    assert "checked only" in of_type(events, StepSkipped)[0].reason


async def test_only_fails_clearly_when_a_needed_step_is_not_done(tmp_path):
    world = FakeWorld()
    steps = [FakeStep("a", world), FakeStep("b", world, needs=("a",))]
    outcome, events = await run(steps, tmp_path, only="b")
    assert outcome == "failed" and world.applied == []
    [failed] = of_type(events, StepFailed)
    assert failed.step_id == "a" and "a is not done, and b needs it" in failed.error
    assert "--only" in failed.hint


async def test_from_layer_skips_earlier_layers_not_needed(tmp_path):
    world = FakeWorld(done={"l0"})
    steps = [
        FakeStep("l0", world, layer=0),
        FakeStep("l0-unrelated", world, layer=0),
        FakeStep("l1", world, layer=1, needs=("l0",)),
        FakeStep("l2", world, layer=2, needs=("l1",)),
    ]
    outcome, events = await run(steps, tmp_path, from_layer=1)
    assert outcome == "succeeded"
    assert world.applied == ["l1", "l2"]
    assert "l0-unrelated" not in world.checks


async def test_bad_selection_is_a_user_error(tmp_path):
    world = FakeWorld()
    with pytest.raises(UserError, match="no step named"):
        make_runner([FakeStep("a", world)], tmp_path, only="typo")
    with pytest.raises(UserError, match="no layer 3"):
        make_runner([FakeStep("a", world)], tmp_path / "2", from_layer=3)


async def test_output_lines_become_redacted_events_everywhere(tmp_path):
    world = FakeWorld()
    chatty = FakeStep(
        "chatty",
        world,
        output=(f"token={CANARY}", "line two\nline three"),
        apply_errors=[PermanentError(f"auth failed for {CANARY}", hint=f"check {CANARY}")],
    )
    runner, events, journal = make_runner([chatty], tmp_path)
    await runner.run()
    journal.close()
    lines = [e.line for e in of_type(events, StepOutput)]
    assert lines == ["token=[REDACTED]", "line two", "line three"]
    for source in (events, read_events(journal.path)):
        assert all(CANARY not in repr(event) for event in source)
    assert CANARY not in journal.path.read_text()
    assert of_type(events, StepFailed)[0].error == "auth failed for [REDACTED]"


async def test_a_failing_subscriber_does_not_stop_the_run(tmp_path):
    world = FakeWorld()
    runner, events, journal = make_runner([FakeStep("a", world)], tmp_path)

    def broken(event):
        raise RuntimeError("ui went away")

    runner.subscribe(broken)
    assert await runner.run() == "succeeded"
    assert world.applied == ["a"]


async def test_secrets_in_context_reach_steps_but_never_events(tmp_path):
    seen = []

    class Leaky(FakeStep):
        async def apply(self, ctx, check):
            seen.append(ctx.secrets.git_token)
            ctx.output(f"using {ctx.secrets.git_token}")
            await super().apply(ctx, check)

    world = FakeWorld()
    runner = Runner(
        Plan([Leaky("leaky", world)]),
        context_factory(tmp_path, secrets=Secrets(git_token=CANARY)),
        redactor=Redactor([CANARY]),
        clock=ManualClock(),
    )
    events = []
    runner.subscribe(events.append)
    await runner.run()
    assert seen == [CANARY]
    assert of_type(events, StepOutput)[0].line == "using [REDACTED]"


async def test_every_event_type_is_redacted_before_journal_and_subscribers(tmp_path):
    world = FakeWorld(done={f"skip-{CANARY}"})

    class Talkative(FakeStep):
        async def check(self, ctx):
            result = await super().check(ctx)
            return type(result)(actions=result.actions, reason=f"{result.reason} {CANARY}")

    steps = [
        Talkative(f"skip-{CANARY}", world, title=f"skipped {CANARY}"),
        Talkative(
            "noisy",
            world,
            title=f"noisy {CANARY}",
            output=(f"out {CANARY}",),
            apply_errors=[TransientError(f"retry {CANARY}"), PermanentError(f"fail {CANARY}", hint=f"hint {CANARY}")],
        ),
        Talkative("fine", world, title=f"fine {CANARY}"),
    ]
    runner, events, journal = make_runner(steps, tmp_path, retry=RetryPolicy(initial_delay=0.01), config_digest=CANARY)
    await runner.run()
    journal.close()
    kinds = {type(e).__name__ for e in events}
    assert kinds == {
        "RunStarted",
        "StepStarted",
        "StepOutput",
        "StepSkipped",
        "StepRetrying",
        "StepSucceeded",
        "StepFailed",
        "RunFinished",
    }
    assert CANARY not in journal.path.read_text()
    assert all(CANARY not in json.dumps(e.to_record()) for e in events)
    assert "[REDACTED]" in of_type(events, StepRetrying)[0].error


async def test_a_step_still_checking_when_the_run_stops_changes_nothing(tmp_path):
    world = FakeWorld()
    release = asyncio.Event()

    class SlowCheck(FakeStep):
        async def check(self, ctx):
            await release.wait()
            return await super().check(ctx)

    checking = SlowCheck("checking", world)
    broken = FakeStep("broken", world, apply_errors=[PermanentError("no", hint="fix it")])
    runner, events, journal = make_runner([checking, broken], tmp_path)
    task = asyncio.ensure_future(runner.run())
    while not of_type(events, StepFailed):
        await asyncio.sleep(0)
    release.set()
    assert await task == "failed"
    assert "checking" not in world.order  # its apply never began
    failed = {e.step_id: e for e in of_type(events, StepFailed)}
    assert "another step failed" in failed["checking"].error


async def test_a_retrying_step_gives_up_when_interrupted(tmp_path):
    world = FakeWorld()
    flaky = FakeStep("flaky", world, apply_errors=[TransientError("busy")] * 3)

    class InterruptingClock(ManualClock):
        async def sleep(self, seconds):
            runner.interrupt()
            await super().sleep(seconds)

    runner, events, journal = make_runner([flaky], tmp_path, clock=InterruptingClock())
    assert await runner.run() == "interrupted"
    [failed] = of_type(events, StepFailed)
    assert failed.error.startswith("interrupted during")
    assert world.applied == []
