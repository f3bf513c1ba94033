"""A step's own dry run (ShowsOwnDryRun) in the plan and before a confirmation: shown for steps
with work to do, said to be not run offline, a failure shown in the plan and, before a
confirmation, raised naming the step."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from support.steps import FakeStep, FakeWorld, context_factory

from talos_platform.engine.errors import PermanentError
from talos_platform.engine.plan.planner import Plan
from talos_platform.engine.plan.preview import (
    OFFLINE_OWN_DRY_RUN,
    OwnDryRunFailed,
    own_dry_runs,
    preview_plan,
)
from talos_platform.engine.plan.step import ShowsOwnDryRun


@dataclass(eq=False)
class ToolStep(FakeStep):
    """A step whose tool has its own dry run."""

    said: tuple[str, ...] = (" > update kubelet: 1.37.2 -> 1.37.3", " > skipped in dry-run")
    refusal: str = ""

    async def own_dry_run(self, ctx) -> tuple[str, ...]:
        if self.refusal:
            raise PermanentError(self.refusal, hint="do this")
        return self.said


class Redactor:
    def redact(self, text: str) -> str:
        return text.replace("1.37.3", "[V]")


def plan_of(world: FakeWorld, **tool: object) -> Plan:
    return Plan([FakeStep("A", world), ToolStep("B", world, needs=("A",), **tool)])


def test_only_a_step_with_its_own_dry_run_is_one():
    world = FakeWorld()
    assert isinstance(ToolStep("B", world), ShowsOwnDryRun)
    assert not isinstance(FakeStep("A", world), ShowsOwnDryRun)


async def test_the_plan_shows_it_under_a_step_with_work_to_do_redacted(tmp_path):
    previews = await preview_plan(plan_of(FakeWorld()), context_factory(tmp_path), offline=False, redactor=Redactor())
    assert previews[0].own_dry_run == ()
    assert previews[1].own_dry_run == (" > update kubelet: 1.37.2 -> [V]", " > skipped in dry-run")


async def test_a_step_already_done_runs_no_dry_run(tmp_path):
    world = FakeWorld(done={"B"})
    previews = await preview_plan(plan_of(world, refusal="must not run"), context_factory(tmp_path), offline=False)
    assert previews[1].state == "done" and previews[1].own_dry_run == ()


async def test_offline_it_is_not_run_and_the_plan_says_so(tmp_path):
    previews = await preview_plan(plan_of(FakeWorld(), refusal="must not run"), context_factory(tmp_path), offline=True)
    assert previews[1].own_dry_run == (OFFLINE_OWN_DRY_RUN,)


async def test_a_failing_dry_run_is_shown_in_the_plan(tmp_path):
    previews = await preview_plan(
        plan_of(FakeWorld(), refusal="unsupported upgrade path"), context_factory(tmp_path), offline=False
    )
    assert previews[1].own_dry_run == ("its own dry run failed: unsupported upgrade path",)


async def test_before_a_confirmation_only_selected_steps_run_theirs(tmp_path):
    plan = plan_of(FakeWorld())
    assert [run.step_id for run in await own_dry_runs(plan, ("A", "B"), context_factory(tmp_path))] == ["B"]
    assert await own_dry_runs(plan, ("A",), context_factory(tmp_path)) == []


async def test_before_a_confirmation_a_failure_names_the_step(tmp_path):
    with pytest.raises(OwnDryRunFailed) as failed:
        await own_dry_runs(plan_of(FakeWorld(), refusal="unsupported upgrade path"), ("B",), context_factory(tmp_path))
    assert str(failed.value) == "B: its dry run failed: unsupported upgrade path"
    assert failed.value.hint == "do this"
