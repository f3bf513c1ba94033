"""Each node of a Talos upgrade from the run journal (issue 15, item 5): the phase its step's output
last said (the simulator's and talosctl's progress lines, then the step's own waits), its version
before (the preflight's) and after (the run's `--to`), and the gate it waits on."""

import pytest

from talos_platform.engine.run.events import (
    RunStarted,
    StepFailed,
    StepOutput,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from talos_platform.engine.run.journal import Journal, read_run
from talos_platform.engine.run.node_rollout import NodeProgress, node_progress, phase_of, versions_before
from talos_platform.engine.state import StateDirectory

PREFLIGHT = (
    "Talos v1.14.1 supports Kubernetes v1.37.2; nodes run v1.14.0 on cp-1, cp-2, worker-1; "
    "v1.14.1 on cp-3; ? on worker-2; installer factory.talos.dev/installer/376567988ad3:v1.14.1"
)
STEPS = ("T.preflight", "E.snapshot", *(f"T.upgrade.{n}" for n in ("cp-1", "cp-2", "cp-3", "worker-1", "worker-2")))


@pytest.mark.parametrize(
    ("line", "said"),
    [
        # The simulator's upgrade, as its talosctl stand-in says it.
        ("cp-2: draining", ("draining", "")),
        ("cp-2: installing factory.talos.dev/installer/376567988ad3:v1.14.1", ("upgrading", "")),
        ("cp-2: rebooting into v1.14.1", ("rebooting", "")),
        ("cp-2: back, uncordoned", ("gates", "")),
        # talosctl upgrade's progress (its action tracker, without a terminal).
        ("watching nodes: [10.0.0.12]", None),
        ("    * 10.0.0.12: phase: drain action: START", ("draining", "")),
        ("    * 10.0.0.12: task: cordonAndDrainNode action: START", None),
        ("    * 10.0.0.12: phase: upgrade action: START", ("upgrading", "")),
        ("    * 10.0.0.12: phase: reboot action: START", ("rebooting", "")),
        ("    * 10.0.0.12: unavailable, retrying...", ("rebooting", "")),
        ('    * 10.0.0.12: stage: BOOTING ready: false unmetCond: [name:"nodename"]', ("rebooting", "")),
        ("    * 10.0.0.12: post check passed", ("gates", "")),
        # The step's own waits and gates.
        ("cp-2 is away (rebooting): waiting for it instead of upgrading", ("rebooting", "")),
        ("waiting: cp-2 is not back yet (dial tcp 10.0.0.12:50000: i/o timeout)", ("rebooting", "")),
        ("waiting: the Kubernetes node cp-2 is not Ready", ("gates", "the Kubernetes node cp-2 is not Ready")),
        ("waiting: etcd members back: 2 of 3", ("gates", "etcd members back: 2 of 3")),
        ("Vault came back sealed after the drain: unsealing it with the saved keys", None),
        ("gate `ceph health` passed", None),
        ("cp-2 runs Talos v1.14.1; gates passed", ("done", "")),
    ],
)
def test_the_phase_a_line_says(line, said):
    assert phase_of(line) == said


def journal_of(state: StateDirectory, *events) -> Journal:
    state.ensure()
    journal = Journal(state.runs)
    resume = "talos-platform upgrade-talos --yes --to v1.14.1"
    journal.append(RunStarted(run_id=journal.run_id, steps=STEPS, operation="upgrade-talos", resume_command=resume))
    journal.append(StepSkipped(step_id="T.preflight", reason=PREFLIGHT))
    for event in events:
        journal.append(event)
    journal.close()
    return journal


def test_versions_before_are_the_preflights_per_node(tmp_path):
    journal = journal_of(StateDirectory(tmp_path))
    assert versions_before(read_run(journal.directory)) == {
        "cp-1": "v1.14.0",
        "cp-2": "v1.14.0",
        "worker-1": "v1.14.0",
        "cp-3": "v1.14.1",
        "worker-2": "?",
    }


def test_a_batch_of_workers_each_at_its_own_phase_and_gate(tmp_path):
    journal = journal_of(
        StateDirectory(tmp_path),
        StepStarted(step_id="T.upgrade.worker-1", layer=2, title="Upgrade worker-1"),
        StepStarted(step_id="T.upgrade.worker-2", layer=2, title="Upgrade worker-2"),
        StepOutput(step_id="T.upgrade.worker-1", line="worker-1: draining"),
        StepOutput(step_id="T.upgrade.worker-2", line="worker-2: rebooting into v1.14.1"),
        StepOutput(step_id="T.upgrade.worker-2", line="worker-2: back, uncordoned"),
        StepOutput(step_id="T.upgrade.worker-2", line="waiting: gate `ceph health` has not passed: HEALTH_WARN"),
        StepOutput(step_id="T.upgrade.worker-2", line="Vault is unsealed"),  # says no phase: the gate stays
    )
    assert node_progress(read_run(journal.directory, live=True), "v1.14.1", live=True) == (
        NodeProgress("worker-1", "draining", "v1.14.0", "v1.14.1"),
        NodeProgress("worker-2", "gates", "?", "v1.14.1", "gate `ceph health` has not passed: HEALTH_WARN"),
    )


def test_a_retried_step_starts_its_phase_again_and_names_the_retry(tmp_path):
    journal = journal_of(
        StateDirectory(tmp_path),
        StepSucceeded(step_id="T.upgrade.cp-1", duration=150.0),
        StepStarted(step_id="T.upgrade.cp-2", layer=1, title="Upgrade cp-2"),
        StepOutput(step_id="T.upgrade.cp-2", line="cp-2: rebooting into v1.14.1"),
        StepRetrying(step_id="T.upgrade.cp-2", attempt=1, delay=5.0, error="cp-2 does not answer"),
    )
    record = read_run(journal.directory, live=True)
    assert node_progress(record, "v1.14.1", live=True) == (
        NodeProgress("cp-2", "rebooting", "v1.14.0", "v1.14.1", "retrying: cp-2 does not answer"),
    )
    journal = journal_of(
        StateDirectory(tmp_path / "again"),
        StepStarted(step_id="T.upgrade.cp-2", layer=1, title="Upgrade cp-2"),
        StepOutput(step_id="T.upgrade.cp-2", line="cp-2: rebooting into v1.14.1"),
        StepStarted(step_id="T.upgrade.cp-2", layer=1, title="Upgrade cp-2", attempt=2),
    )
    assert node_progress(read_run(journal.directory, live=True), "v1.14.1", live=True) == (
        NodeProgress("cp-2", "upgrading", "v1.14.0", "v1.14.1"),
    )


def test_an_ended_run_shows_the_node_that_failed_and_none_when_it_succeeded(tmp_path):
    failed = journal_of(
        StateDirectory(tmp_path / "failed"),
        StepStarted(step_id="T.upgrade.cp-1", layer=1, title="Upgrade cp-1"),
        StepFailed(step_id="T.upgrade.cp-1", error="cp-1 came back running Talos v1.14.0"),
    )
    assert node_progress(read_run(failed.directory), "v1.14.1", live=False) == (
        NodeProgress("cp-1", "failed", "v1.14.0", "v1.14.1", "cp-1 came back running Talos v1.14.0"),
    )
    done = journal_of(StateDirectory(tmp_path / "done"), *(StepSucceeded(step_id=s, duration=1.0) for s in STEPS[1:]))
    assert node_progress(read_run(done.directory), "v1.14.1", live=False) == ()
