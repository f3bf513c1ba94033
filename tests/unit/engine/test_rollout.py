"""The rollout strip's reader: the state directory's newest run summarised from journals written by
the real journal writer, live only while its operation holds the directory's lock (issue 15, item 5)."""

import json
import os

from talos_platform.engine.run.events import (
    RunFinished,
    RunStarted,
    StepFailed,
    StepOutput,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from talos_platform.engine.run.journal import Journal
from talos_platform.engine.run.rollout import LONG_AGO_SECONDS, RolloutReader
from talos_platform.engine.state import StateDirectory

NODES = ("cp-1", "cp-2", "cp-3", "worker-1", "worker-2", "worker-3")
STEPS = ("T.preflight", "E.snapshot", *(f"T.upgrade.{n}" for n in NODES), "T.config")
RESUME = "talos-platform upgrade-talos --config /tmp/p.yaml --yes --to v1.14.1"


def upgrade_on_cp2(state: StateDirectory, *, end: str = "") -> Journal:
    """An upgrade-talos run: preflight and snapshot done, cp-1 upgraded, cp-2 waiting on a gate."""
    state.ensure()
    journal = Journal(state.runs)
    journal.append(RunStarted(run_id=journal.run_id, steps=STEPS, operation="upgrade-talos", resume_command=RESUME))
    journal.append(StepStarted(step_id="T.preflight", layer=0, title="Check"))
    journal.append(
        StepSkipped(
            step_id="T.preflight",
            reason="Talos v1.14.1 supports Kubernetes v1.37.2; nodes run v1.14.0 on cp-1, cp-2; installer x:v1.14.1",
        )
    )
    journal.append(StepStarted(step_id="E.snapshot", layer=0, title="Take an etcd snapshot"))
    journal.append(StepSucceeded(step_id="E.snapshot", duration=1.0))
    journal.append(StepStarted(step_id="T.upgrade.cp-1", layer=1, title="Upgrade cp-1 to Talos v1.14.1"))
    journal.append(StepSucceeded(step_id="T.upgrade.cp-1", duration=150.0))
    journal.append(StepStarted(step_id="T.upgrade.cp-2", layer=1, title="Upgrade cp-2 to Talos v1.14.1"))
    journal.append(StepOutput(step_id="T.upgrade.cp-2", line="cp-2: draining"))
    journal.append(StepOutput(step_id="T.upgrade.cp-2", line="waiting: ArgoCD Applications not healthy: vault"))
    if end == "failed":
        journal.append(StepFailed(step_id="T.upgrade.cp-2", error="cp-2 came back running Talos v1.14.0"))
        journal.append(RunFinished(run_id=journal.run_id, outcome="failed"))
    journal.close()
    return journal


def test_no_state_directory_or_no_run_shows_nothing_and_creates_nothing(tmp_path):
    assert RolloutReader(StateDirectory(tmp_path / "absent")).read() is None
    assert not (tmp_path / "absent").exists()
    state = StateDirectory(tmp_path / "state").ensure()
    assert RolloutReader(state).read() is None


def test_a_run_holding_the_lock_in_another_process_shows_its_node_phase_and_progress(tmp_path):
    runner = StateDirectory(tmp_path)
    journal = upgrade_on_cp2(runner)
    with open(journal.path, "a", encoding="utf-8") as torn:  # the writer was mid-line
        torn.write('{"type":"StepOutput","at":1.0,"step_id":"T.upgrade.cp-2","li')
    reader = RolloutReader(StateDirectory(tmp_path))  # its own object: another process's view
    with runner.lock(holder="upgrade-talos"):
        summary = reader.read()
    assert summary is not None
    assert summary.live
    assert (summary.nodes_done, summary.nodes_total) == (1, 6)
    assert summary.lines(now=summary.started_at + 240) == (
        f"upgrade-talos · 1/6 nodes done · started 4 min ago · run {journal.run_id}",
        "cp-2 · gates · v1.14.0 → v1.14.1 · ArgoCD Applications not healthy: vault",
    )


def test_without_the_lock_a_journal_that_stops_is_a_killed_run(tmp_path):
    upgrade_on_cp2(StateDirectory(tmp_path))
    summary = RolloutReader(StateDirectory(tmp_path)).read()
    assert summary is not None
    assert summary.outcome == "killed"
    assert summary.ended_at is not None
    headline, node = summary.lines()
    assert headline.startswith("upgrade-talos · killed · 1/6 nodes done · ended ")
    assert node == "cp-2 · stopped at gates · v1.14.0 → v1.14.1 · ArgoCD Applications not healthy: vault"


def test_the_lock_held_by_another_operation_does_not_make_the_run_live(tmp_path):
    upgrade_on_cp2(StateDirectory(tmp_path))
    with StateDirectory(tmp_path).lock(holder="etcd-snapshot"):
        summary = RolloutReader(StateDirectory(tmp_path)).read()
    assert summary is not None and summary.outcome == "killed"


def test_a_failed_run_names_the_node_and_the_error_and_dims_when_long_ago(tmp_path):
    journal = upgrade_on_cp2(StateDirectory(tmp_path), end="failed")
    summary = RolloutReader(StateDirectory(tmp_path)).read()
    assert summary is not None and summary.ended_at is not None
    headline, node = summary.lines()
    assert headline.startswith("upgrade-talos · failed · 1/6 nodes done · ended ")
    assert node == "cp-2 · failed · v1.14.0 → v1.14.1 · cp-2 came back running Talos v1.14.0"
    assert not summary.long_ago(summary.ended_at + 60)
    assert summary.long_ago(summary.ended_at + LONG_AGO_SECONDS)
    old = summary.ended_at - 2 * LONG_AGO_SECONDS
    os.utime(journal.path, (old, old))
    assert RolloutReader(StateDirectory(tmp_path)).read().long_ago(summary.ended_at)


def test_the_newest_run_is_shown_an_install_too(tmp_path):
    state = StateDirectory(tmp_path)
    upgrade_on_cp2(state, end="failed")
    with Journal(state.runs) as install:
        install.append(RunStarted(run_id=install.run_id, steps=("L0.secrets", "L0.configs")))
        install.append(StepStarted(step_id="L0.secrets", layer=0, title="Generate secrets"))
        install.append(StepSucceeded(step_id="L0.secrets", duration=1.0))
        install.append(RunFinished(run_id=install.run_id, outcome="succeeded"))
    summary = RolloutReader(state).read()
    assert summary is not None
    assert (summary.operation, summary.run_id, summary.outcome) == ("install", install.run_id, "succeeded")
    assert "1/2 steps done" in summary.text()
    assert summary.nodes_total == 0 and not summary.version_to


def test_the_journal_is_read_again_only_once_it_changed(tmp_path):
    state = StateDirectory(tmp_path)
    journal = upgrade_on_cp2(state)
    reader = RolloutReader(StateDirectory(tmp_path))
    with state.lock(holder="upgrade-talos"):
        assert reader.read().phase == "waiting: ArgoCD Applications not healthy: vault"
        with open(journal.path, "a", encoding="utf-8") as more:
            event = StepOutput(step_id="T.upgrade.cp-2", line="waiting: etcd members back: 2 of 3")
            more.write(json.dumps(event.to_record()) + "\n")
        assert reader.read().phase == "waiting: etcd members back: 2 of 3"
