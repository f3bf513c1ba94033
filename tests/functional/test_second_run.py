"""A finished install, run again with the same inputs, finds every step done and applies nothing,
and the simulated journal never holds a Secret's value."""

import json
import subprocess
import sys

from support.commands import ENVIRONMENT, run_simulated_install, talos_platform


def test_a_second_install_of_a_finished_cluster_applies_nothing(tmp_path):
    state = tmp_path / "state"
    assert run_simulated_install(state, "--yes").returncode == 0

    again = run_simulated_install(state, "--yes", "--output", "json")

    assert again.returncode == 0, again.stderr
    events = [json.loads(line) for line in again.stdout.splitlines() if line.startswith("{")]
    steps = next(e["steps"] for e in events if e["type"] == "RunStarted")
    applied = [e["step_id"] for e in events if e["type"] == "StepSucceeded"]
    skipped = [e["step_id"] for e in events if e["type"] == "StepSkipped"]
    assert applied == [], applied
    assert sorted(skipped) == sorted(steps)
    assert [e["outcome"] for e in events if e["type"] == "RunFinished"] == ["succeeded"]


def test_plan_after_a_finished_install_shows_every_step_done(tmp_path):
    state = tmp_path / "state"
    assert run_simulated_install(state, "--yes").returncode == 0

    plan = talos_platform("plan", "--simulate", "--state-dir", str(state), "--output", "json")
    text = talos_platform("plan", "--simulate", "--state-dir", str(state))

    assert plan.returncode == 0, plan.stderr
    steps = json.loads(plan.stdout)["steps"]
    assert len(steps) > 40
    assert {step["stepId"]: step["state"] for step in steps if step["state"] != "done"} == {}
    assert all(step["actions"] == [] for step in steps)
    assert text.returncode == 0, text.stderr
    assert text.stdout.rstrip().endswith(f"\n{len(steps)} done")


def test_the_simulation_journal_keeps_secrets_as_digests_only(tmp_path):
    state = tmp_path / "state"
    assert run_simulated_install(state, "--yes").returncode == 0

    journal = (state / "simulation.jsonl").read_text()
    secrets = [
        obj
        for line in journal.splitlines()[1:]
        for obj in json.loads(line).get("objects", [])
        if obj.get("kind") == "Secret"
    ]
    assert secrets
    for secret in secrets:
        assert "stringData" not in secret
        assert all(value.startswith("SIMULATION-REDACTED:") for value in secret["data"].values())


def test_status_of_a_failed_run_gives_the_exact_command_that_resumes_it_and_labels_simulated_time(tmp_path):
    state = tmp_path / "state"
    failed = run_simulated_install(state, "--yes", "--scenario", "pod-security-refused")
    assert failed.returncode == 1

    status = subprocess.run(
        [sys.executable, "-m", "talos_platform", "status", "--state-dir", str(state)],
        env=ENVIRONMENT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert (
        f"resume with: talos-platform install --state-dir {state} --simulate --scenario pod-security-refused "
        "--speed inf --yes" in status.stdout
    )
    assert "(simulated clock: 2026-01-01" in status.stdout  # the real start comes first
