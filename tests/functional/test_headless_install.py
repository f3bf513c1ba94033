"""The headless CLI end to end on the simulated platform, as a script or CI would run it."""

import json
import os
import subprocess
import sys


def talos_platform(*args, **kwargs):
    env = {**os.environ, "TALOS_PLATFORM_LOOPBACK_ONLY": "1"}
    return subprocess.run(
        [sys.executable, "-m", "talos_platform", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        stdin=subprocess.DEVNULL,
        **kwargs,
    )


def test_simulated_install_as_json_lines_then_status(tmp_path):
    state = tmp_path / "state"
    result = talos_platform("install", "--simulate", "--speed", "inf", "--state-dir", str(state), "--output", "json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0]["type"] == "RunStarted" and records[0]["simulated"] is True
    assert records[-1] == {**records[-1], "type": "RunFinished", "outcome": "succeeded"}
    started = {r["step_id"] for r in records if r["type"] == "StepStarted"}
    assert started == set(records[0]["steps"])
    assert any(r["type"] == "StepOutput" for r in records)

    status = talos_platform("status", "--state-dir", str(state), "--output", "json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["outcome"] == "succeeded"


def test_piped_install_prints_plain_lines_labelled_simulated(tmp_path):
    result = talos_platform("install", "--simulate", "--speed", "inf", "--state-dir", str(tmp_path / "s"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("SIMULATED: a new simulated cluster, kept in")  # where it is kept
    assert lines[1].startswith("SIMULATED install started")
    assert all(line.startswith(("SIMULATED", "  hint:")) for line in lines)
    assert "\x1b[" not in result.stdout


def test_the_same_simulated_install_run_again_resumes_the_same_simulated_cluster(tmp_path):
    state = tmp_path / "s"
    first = talos_platform("install", "--simulate", "--speed", "inf", "--state-dir", str(state), "--output", "json")
    assert first.returncode == 0, first.stderr
    assert first.stderr.startswith("SIMULATED: a new simulated cluster")  # stdout stays JSON lines
    again = talos_platform("install", "--simulate", "--speed", "inf", "--state-dir", str(state))
    assert again.returncode == 0, again.stderr
    first_line = again.stdout.splitlines()[0]
    assert (
        first_line.startswith("SIMULATED: resuming the simulated cluster kept in") and "changes replayed" in first_line
    )
    # Found as the first run left it: etcd and Vault are not set up a second time.
    assert "L0.bootstrap: already done" in again.stdout and "L3.vault-init: already done" in again.stdout
    plan = talos_platform("plan", "--simulate", "--state-dir", str(state))
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.splitlines()[0].startswith("SIMULATED: resuming the simulated cluster")


def test_a_simulated_install_with_a_config_simulates_that_config(tmp_path):
    import yaml

    config = yaml.safe_load(open("examples/metal-3cp-3w.yaml"))
    config["cluster"]["name"] = "other-lab"
    config["nodes"] = config["nodes"][:4]  # three control planes and one worker
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(config))
    state = tmp_path / "s"
    result = talos_platform(
        "install", "--simulate", "--speed", "inf", "--config", str(path), "--state-dir", str(state), "--output", "json"
    )
    assert result.returncode == 0, result.stderr
    changes = [json.loads(line) for line in (state / "simulation.jsonl").read_text().splitlines()[1:]]
    configured = sorted(c["address"] for c in changes if c["change"] == "configure")
    assert configured == sorted(node["address"].split("/")[0] for node in config["nodes"])


def test_real_install_without_yes_and_without_a_terminal_stops(tmp_path):
    result = talos_platform("install", "--config", "examples/docker-single.yaml", "--state-dir", str(tmp_path))
    assert result.returncode == 2
    assert "--yes" in result.stderr and "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())


def test_offline_plan_of_an_example_config_contacts_nothing_and_writes_nothing(tmp_path):
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "metal-3cp-3w.yaml"
    state = tmp_path / "state"
    result = talos_platform(
        "plan", "--offline", "--config", str(example), "--state-dir", str(state), "--output", "json"
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["offline"] is True and plan["steps"]
    assert {step["state"] for step in plan["steps"]} == {"to do"}
    commands = [action["command"] for step in plan["steps"] for action in step["actions"] if action["command"]]
    assert any(command[:3] == ["talosctl", "gen", "secrets"] for command in commands)
    assert not state.exists()

    text = talos_platform("plan", "--offline", "--config", str(example), "--state-dir", str(state))
    assert text.returncode == 0 and "Layer 0" in text.stdout and "$ talosctl gen secrets" in text.stdout


def test_on_a_terminal_install_asks_first_and_a_no_changes_nothing(tmp_path):
    from pathlib import Path

    import pexpect

    example = Path(__file__).resolve().parents[2] / "examples" / "docker-single.yaml"
    env = {**os.environ, "TALOS_PLATFORM_LOOPBACK_ONLY": "1"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "talos_platform", "install", "--config", str(example), "--state-dir", str(tmp_path / "s")],
        env=env,
        encoding="utf-8",
        timeout=60,
    )
    child.expect(r"layer 0: \d+ steps")
    child.expect(r"Proceed with the install\? \[y/N\]")
    child.sendline("n")
    child.expect("nothing was changed")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert not (tmp_path / "s" / "runs").exists()


def test_a_simulated_plan_never_changes_the_simulated_cluster_it_looks_at(tmp_path):
    state = tmp_path / "s"
    first = talos_platform("install", "--simulate", "--speed", "inf", "--state-dir", str(state), "--only", "L0.secrets")
    assert first.returncode == 0, first.stderr
    journal = (state / "simulation.jsonl").read_bytes()
    other_seed = talos_platform("plan", "--simulate", "--seed", "99", "--state-dir", str(state))
    assert other_seed.returncode == 0, other_seed.stderr
    assert "starting a new simulated cluster" in other_seed.stdout.splitlines()[0]
    assert (state / "simulation.jsonl").read_bytes() == journal  # another seed's plan wiped nothing
