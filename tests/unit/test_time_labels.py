"""Issue 14, item 6: a simulated run's step times are on the simulator's clock, its total on the
real one as well; each figure says which clock it is from. A real run's wording is unchanged."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import pytest
from support.cluster_data import install_progress

from talos_platform.engine.plan.planner import Plan
from talos_platform.engine.run.events import RunFinished, RunStarted, StepStarted, StepSucceeded
from talos_platform.headless import PlainRenderer, RichRenderer
from talos_platform.tui.install_state import InstallProgress
from talos_platform.tui.widgets.steps import steps_content

STEP = "L0.secrets"


@dataclass(eq=False)
class OneStep:
    id: str = STEP
    layer: int = 0
    title: str = "Generate the Talos secrets bundle"
    needs: tuple[str, ...] = ()


def plain_output(simulated: bool, renderer_class: type = PlainRenderer) -> list[str]:
    """A run of one step that took 1,234.5 s on the run's clock and 2,000 s in all."""
    stream = io.StringIO()
    renderer = renderer_class(stream, Plan([OneStep()]), simulated=simulated)
    for event in (
        RunStarted(at=10_000.0, run_id="r1", steps=(STEP,), simulated=simulated),
        StepStarted(at=10_000.0, step_id=STEP, layer=0, title=OneStep.title),
        StepSucceeded(at=11_234.5, step_id=STEP, duration=1_234.5),
        RunFinished(at=12_000.0, run_id="r1", outcome="succeeded"),
    ):
        renderer(event)
    renderer.close()
    return stream.getvalue().splitlines()


def test_a_simulated_step_says_its_time_is_simulated():
    assert "SIMULATED [L0] L0.secrets: done in 1,234.5 s simulated" in plain_output(simulated=True)


def test_a_simulated_total_gives_the_real_and_the_simulated_time_each_named():
    summary = plain_output(simulated=True)[-1]
    # The real time is the renderer's own (a fraction of a second here); the simulated one the run's clock.
    assert re.fullmatch(
        r"SIMULATED install succeeded in \d+\.\d s real time, 2,000\.0 s simulated "
        r"\(1 applied, 0 already done, 0 failed\); run r1",
        summary,
    ), summary


def test_a_real_run_keeps_its_wording():
    lines = plain_output(simulated=False)
    assert "[L0] L0.secrets: done in 1234.5s" in lines
    assert re.fullmatch(r"install succeeded in \d+\.\ds \(1 applied, 0 already done, 0 failed\); run r1", lines[-1])
    assert not any("simulated" in line or "real time" in line for line in lines)


def test_the_terminals_layer_bars_say_their_elapsed_time_is_real_in_a_simulation():
    simulated = "\n".join(plain_output(simulated=True, renderer_class=RichRenderer))
    assert "[L0] L0.secrets: done in 1,234.5 s simulated" in simulated
    assert re.search(r"SIMULATED layer 0 .* 1/1 \d+:\d\d:\d\d real", simulated), simulated
    real = "\n".join(plain_output(simulated=False, renderer_class=RichRenderer))
    assert "real" not in real and "simulated" not in real and "done in 1234.5s" in real


@pytest.mark.parametrize("simulated", [True, False], ids=["simulated", "real"])
def test_the_step_checklist_names_the_clock_of_its_times(simulated):
    if simulated:
        progress = install_progress()
    else:
        progress = InstallProgress([(STEP, 0, OneStep.title)])
        progress.apply(RunStarted(at=0.0, run_id="r1", steps=(STEP,)))
        progress.apply(StepStarted(at=0.0, step_id=STEP, layer=0, title=OneStep.title))
        progress.apply(StepSucceeded(at=3.1, step_id=STEP, duration=3.1))
    content = steps_content(progress)
    assert content.columns[2] == ("Sim time" if simulated else "Time")
    timed = [str(row.cells[2]) for row in content.rows if row.key.startswith("step:") and str(row.cells[2])]
    assert timed and all(re.fullmatch(r"\d+\.\ds", cell) for cell in timed)
