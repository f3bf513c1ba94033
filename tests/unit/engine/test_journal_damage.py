"""The run journal read back after damage: lines split only at `\n`, records of the wrong shape
skipped (issue 17, items 4 and 7)."""

import json

import pytest

from talos_platform.engine.run.events import RunFinished, RunStarted, StepFailed, StepStarted, event_from_record
from talos_platform.engine.run.journal import Journal, list_runs, read_run

SEPARATORS = "\u2028\u2029\u0085\x0b\x0c\x1c"


def test_an_error_text_holding_unicode_line_separators_stays_one_event(tmp_path):
    with Journal(tmp_path) as journal:
        journal.append(RunStarted(at=1.0, run_id=journal.run_id, steps=("L0.secrets",)))
        journal.append(StepStarted(at=2.0, step_id="L0.secrets", layer=0, title="t"))
        journal.append(StepFailed(at=3.0, step_id="L0.secrets", error=f"talosctl said: a{SEPARATORS}b", hint="h"))
        journal.append(RunFinished(at=4.0, run_id=journal.run_id, outcome="failed"))
    run = read_run(journal.directory)
    assert len(run.events) == 4
    assert run.steps["L0.secrets"].state == "failed"  # not "running": the failure was read
    assert run.steps["L0.secrets"].detail == f"talosctl said: a{SEPARATORS}b"
    assert run.outcome == "failed"


BAD_RECORDS = [
    [1, 2],
    "StepStarted",
    {"type": ["RunStarted"]},
    {"type": "RunStarted", "run_id": "r", "steps": 5},
    {"type": "RunStarted", "run_id": "r", "steps": [1, 2]},
    {"type": "StepSucceeded", "step_id": ["a"], "duration": 1},
    {"type": "StepSucceeded", "step_id": "a", "duration": "long"},
    {"type": "StepFailed", "step_id": "a", "error": "e", "at": "yesterday"},
    {"type": "StepFailed", "step_id": "a"},
    {"type": "StepStarted", "step_id": "a", "layer": True, "title": "t"},
]


@pytest.mark.parametrize("record", BAD_RECORDS, ids=[json.dumps(r) for r in BAD_RECORDS])
def test_a_record_of_the_wrong_shape_is_refused_as_a_value_error(record):
    with pytest.raises(ValueError):
        event_from_record(record)


def test_records_of_the_wrong_shape_are_skipped_by_every_reader(tmp_path):
    folder = tmp_path / "runs" / "20260101T000000000000Z-abcdef"
    folder.mkdir(parents=True)
    good = [
        {"type": "RunStarted", "at": 1, "run_id": folder.name, "steps": ["a"]},
        {"type": "StepStarted", "at": 2, "step_id": "a", "layer": 0, "title": "t"},
    ]
    lines = [json.dumps(r) for r in good[:1] + BAD_RECORDS + good[1:]]
    (folder / "events.jsonl").write_text("\n".join(lines) + "\n")
    (run,) = list_runs(tmp_path / "runs")
    assert [type(e).__name__ for e in run.events] == ["RunStarted", "StepStarted"]
    assert run.steps["a"].state == "interrupted"
