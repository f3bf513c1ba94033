"""Every event type reaches every consumer and means something there: the headless plain, rich and
JSON output, the TUI's install state, and the journal. The types come from EVENT_TYPES, which every
Event subclass enters as it is defined: a new event cannot be forgotten by one consumer."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import ClassVar

import pytest
from support.events import STEP_ID, example_event

from talos_platform.engine.plan.planner import Plan
from talos_platform.engine.run import events
from talos_platform.engine.run.events import EVENT_TYPES, Event, event_from_record
from talos_platform.engine.run.journal import Journal, read_events
from talos_platform.headless import JsonLinesRenderer, PlainRenderer, RichRenderer, describe
from talos_platform.tui.install_state import InstallProgress

EXAMPLES = [example_event(cls) for _, cls in sorted(EVENT_TYPES.items())]


def type_name(event: Event) -> str:
    return event.type


@dataclass(eq=False)
class ExampleStep:
    """Just what the renderers read of a step."""

    id: str = STEP_ID
    layer: int = 0
    title: str = "an example step"
    needs: tuple[str, ...] = ()


PLAN = Plan([ExampleStep()])


def test_every_event_class_of_the_module_is_a_known_type():
    defined = {
        cls
        for cls in vars(events).values()
        if isinstance(cls, type) and issubclass(cls, Event) and cls is not Event and cls.__module__ == events.__name__
    }
    assert defined == set(EVENT_TYPES.values())
    assert all(name == cls.__name__ for name, cls in EVENT_TYPES.items())


def test_an_event_type_without_its_own_type_name_is_refused():
    with pytest.raises(TypeError, match="Forgotten"):

        @dataclass(frozen=True, kw_only=True)
        class Forgotten(Event):
            note: str

    with pytest.raises(TypeError, match="Misnamed"):

        class Misnamed(Event):
            type: ClassVar[str] = "StepStarted"

    assert "Forgotten" not in EVENT_TYPES and EVENT_TYPES["StepStarted"] is events.StepStarted


@pytest.mark.parametrize("event", EXAMPLES, ids=type_name)
def test_the_json_output_is_the_record_and_reads_back(event):
    stream = io.StringIO()
    JsonLinesRenderer(stream)(event)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0]) == json.loads(json.dumps(event.to_record()))
    assert event_from_record(json.loads(lines[0])) == event


@pytest.mark.parametrize("simulated", [False, True], ids=["real", "simulated"])
@pytest.mark.parametrize("event", EXAMPLES, ids=type_name)
def test_the_plain_output_has_a_line_for_every_event(event, simulated):
    stream = io.StringIO()
    renderer = PlainRenderer(stream, PLAN, simulated=simulated)
    renderer(event)
    assert describe(event, renderer.tally)
    assert stream.getvalue().endswith("\n") and stream.getvalue().strip()


@pytest.mark.parametrize("event", EXAMPLES, ids=type_name)
def test_the_rich_output_takes_every_event(event):
    renderer = RichRenderer(io.StringIO(), PLAN, simulated=False)
    try:
        renderer(event)
    finally:
        renderer.close()


def progress_view(progress: InstallProgress) -> tuple:
    """All an install screen shows of the progress (`now` moves with every event: left out)."""
    steps = tuple(
        (s.id, s.layer, s.title, s.state, s.started_at, s.duration, s.attempts, s.error, s.hint, s.lines_written)
        for s in progress.steps.values()
    )
    return (progress.outcome, progress.run_id, progress.simulated, progress.failed_step, progress.last_started, steps)


@pytest.mark.parametrize("event", EXAMPLES, ids=type_name)
def test_the_tui_install_state_changes_with_every_event(event):
    progress = InstallProgress([(STEP_ID, 0, "an example step")])
    before = progress_view(progress)
    progress.apply(event)
    assert progress_view(progress) != before
    assert progress.now == event.at


def test_the_journal_gives_back_every_event(tmp_path):
    with Journal(tmp_path / "runs", run_id="20260101-000000") as journal:
        for event in EXAMPLES:
            journal.append(event)
    assert read_events(journal.path) == EXAMPLES
