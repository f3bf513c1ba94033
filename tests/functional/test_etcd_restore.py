"""etcd-restore end to end on a simulated cluster: the snapshot checked first, every control plane
wiped only when confirmed, the bootstrap from the snapshot, the wait for etcd and the API; a
damaged snapshot refused before anything is wiped; killed and resumed without wiping twice.

The simulator journals every change the restore makes (`simulation.jsonl`): `etcd_reset` per
wiped control plane, `etcd_recovered` for the bootstrap from the snapshot."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.commands import ENVIRONMENT, run_simulated_install, talos_platform

UNDERSTOOD = "--i-understand-this-wipes-etcd"
CONTROL_PLANES = {"192.168.10.11", "192.168.10.12", "192.168.10.13"}


def changes(state: Path) -> list[dict]:
    found = []
    for line in (state / "simulation.jsonl").read_text().splitlines()[1:]:
        try:
            found.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut by a kill
    return found


def resets(state: Path) -> list[str]:
    return [entry["address"] for entry in changes(state) if entry["change"] == "etcd_reset"]


def recoveries(state: Path) -> list[str]:
    return [entry["address"] for entry in changes(state) if entry["change"] == "etcd_recovered"]


def events(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def restore(state: Path, snapshot: Path, *extra: str, scenario: str = "default") -> subprocess.CompletedProcess:
    return talos_platform(
        "etcd-restore",
        str(snapshot),
        "--simulate",
        "--scenario",
        scenario,
        "--speed",
        "inf",
        "--state-dir",
        str(state),
        *extra,
    )


@pytest.fixture(scope="module")
def installed_with_snapshot(tmp_path_factory):
    """A simulated cluster with one recorded snapshot, copied afresh for each test."""
    state = tmp_path_factory.mktemp("installed") / "state"
    assert run_simulated_install(state, "--yes").returncode == 0
    taken = talos_platform("etcd-snapshot", "--simulate", "--speed", "inf", "--state-dir", str(state), "--yes")
    assert taken.returncode == 0, taken.stderr
    return state


@pytest.fixture
def cluster(installed_with_snapshot, tmp_path):
    import shutil

    state = tmp_path / "state"
    shutil.copytree(installed_with_snapshot, state)
    (snapshot,) = (state / "etcd-snapshots").glob("*.db")
    return state, snapshot


def test_a_restore_checks_wipes_every_control_plane_recovers_and_reports_the_revision(cluster):
    state, snapshot = cluster
    record = json.loads(snapshot.with_suffix(".json").read_text())

    restored = restore(state, snapshot, "--yes", UNDERSTOOD, "--output", "json")

    assert restored.returncode == 0, restored.stderr
    run = events(restored.stdout)
    assert [e["step_id"] for e in run if e["type"] == "StepSucceeded"] == ["R.reset", "R.recover", "R.healthy"]
    (verified,) = [e for e in run if e["type"] == "StepSkipped"]  # a check only: it found the file sound
    assert verified["step_id"] == "R.verify" and f"revision {record['revision']:,}" in verified["reason"]
    assert set(resets(state)) == CONTROL_PLANES and len(resets(state)) == 3
    assert recoveries(state) == ["192.168.10.11"]
    said = " ".join(e.get("line", "") for e in run if e["type"] == "StepOutput")
    assert "etcd waits in Preparing on every control plane" in said
    assert f"the snapshot was taken at revision {record['revision']:,}" in said
    kept = json.loads((state / "etcd-restore.json").read_text())
    assert kept["phase"] == "finished" and kept["sha256"] == record["sha256"] and kept["apiRevision"]
    assert (state / "etcd-restore.json").stat().st_mode & 0o777 == 0o600


def test_the_plan_shows_every_command(cluster):
    state, snapshot = cluster

    planned = talos_platform(
        "plan", "--operation", "etcd-restore", "--snapshot", str(snapshot), "--simulate", "--state-dir", str(state)
    )

    assert planned.returncode == 0, planned.stderr
    for command in ("reset --system-labels-to-wipe EPHEMERAL --reboot --graceful=false", "service etcd"):
        assert command in planned.stdout
    assert f"bootstrap --recover-from {snapshot}" in planned.stdout
    assert planned.stdout.count("reset --system-labels-to-wipe") == 3
    assert "etcd on the control planes: cp-1: Running, cp-2: Running, cp-3: Running" in planned.stdout
    assert not resets(state)


def test_yes_alone_wipes_nothing_and_says_what_to_add(cluster):
    state, snapshot = cluster

    refused = restore(state, snapshot, "--yes")

    assert refused.returncode == 2
    assert UNDERSTOOD in refused.stderr and "cp-1, cp-2, cp-3" in refused.stderr
    assert not resets(state)


def test_without_a_terminal_and_without_yes_nothing_is_wiped(cluster):
    state, snapshot = cluster

    refused = restore(state, snapshot)

    assert refused.returncode == 2 and "no terminal" in refused.stderr
    assert not resets(state)


def test_a_file_changed_after_it_was_recorded_is_refused(cluster):
    state, snapshot = cluster
    database = b"\0" * 512  # a whole snapshot by its checksum, but not the one recorded under that name
    snapshot.write_bytes(database + hashlib.sha256(database).digest())

    refused = restore(state, snapshot, "--yes", UNDERSTOOD)

    assert refused.returncode == 1
    assert "R.verify" in refused.stdout + refused.stderr
    assert "is not the snapshot that was recorded" in refused.stdout + refused.stderr
    assert not resets(state)


def test_a_missing_file_is_named(cluster):
    state, snapshot = cluster

    refused = restore(state, snapshot.with_name("nothing.db"), "--yes", UNDERSTOOD)

    assert refused.returncode == 1 and "there is no snapshot file at" in refused.stdout + refused.stderr
    assert not resets(state)


def test_a_damaged_snapshot_is_never_recorded_nor_restored_from(tmp_path):
    """The `etcd-snapshot-damaged` scenario: every snapshot arrives with a byte changed."""
    state = tmp_path / "state"
    assert run_simulated_install(state, "--yes", "--scenario", "etcd-snapshot-damaged").returncode == 0

    taken = talos_platform(
        "etcd-snapshot",
        "--simulate",
        "--scenario",
        "etcd-snapshot-damaged",
        "--speed",
        "inf",
        "--state-dir",
        str(state),
        "--yes",
    )
    assert taken.returncode == 1 and "fails its checksum" in taken.stdout + taken.stderr
    (damaged,) = (state / "etcd-snapshots").glob("*.corrupt")
    assert not list((state / "etcd-snapshots").glob("*.json"))

    refused = restore(state, damaged, "--yes", UNDERSTOOD, scenario="etcd-snapshot-damaged")

    assert refused.returncode == 1
    said = refused.stdout + refused.stderr
    assert "R.verify" in said and "fails its checksum" in said and "nothing was wiped" in said
    assert not resets(state) and not recoveries(state)


# --- killed and resumed ---------------------------------------------------------------------------


def start_restore(state: Path, snapshot: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "talos_platform", "etcd-restore", str(snapshot), "--simulate", "--speed", "10"]
        + ["--state-dir", str(state), "--yes", UNDERSTOOD, "--output", "json"],
        env=ENVIRONMENT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def step_started(step_id: str):
    def started(state: Path) -> bool:
        for journal in (state / "runs").glob("*/events.jsonl"):
            for line in journal.read_text().splitlines():
                if '"StepStarted"' in line and f'"{step_id}"' in line:
                    return True
        return False

    return started


@pytest.mark.parametrize(
    ("point", "reached"),
    [
        ("the first control plane wiped, the others not yet", lambda state: len(resets(state)) >= 1),
        ("right after the bootstrap from the snapshot", lambda state: len(recoveries(state)) >= 1),
        ("waiting for every member and the API", step_started("R.healthy")),
    ],
)
def test_killed_and_resumed_it_finishes_without_wiping_twice(cluster, point, reached):
    state, snapshot = cluster
    process = start_restore(state, snapshot)
    deadline = time.monotonic() + 60
    try:
        while not reached(state):
            assert process.poll() is None, f"the restore ended before {point}"
            assert time.monotonic() < deadline, f"never reached: {point}"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    bootstrapped_before = bool(recoveries(state))

    resumed = restore(state, snapshot, "--yes", UNDERSTOOD, "--output", "json")

    assert resumed.returncode == 0, resumed.stderr
    assert set(resets(state)) == CONTROL_PLANES
    assert recoveries(state) == ["192.168.10.11"]  # bootstrapped from the snapshot exactly once
    run = events(resumed.stdout)
    if bootstrapped_before:
        assert len(resets(state)) == 3  # after the bootstrap nothing is wiped again
        (reset,) = [e for e in run if e.get("step_id") == "R.reset" and e["type"] == "StepSkipped"]
        assert "nothing is wiped again" in reset["reason"]
    assert [e["step_id"] for e in run if e["type"] == "StepFailed"] == []
    assert json.loads((state / "etcd-restore.json").read_text())["phase"] == "finished"


# --- on a terminal --------------------------------------------------------------------------------


def on_a_terminal(state: Path, snapshot: Path, answers: str) -> subprocess.CompletedProcess:
    """The restore with a terminal as its input, answered line by line."""
    import pty

    controller, terminal = pty.openpty()
    try:
        os.write(controller, answers.encode())
        return subprocess.run(
            [sys.executable, "-m", "talos_platform", "etcd-restore", str(snapshot), "--simulate", "--speed", "inf"]
            + ["--state-dir", str(state)],
            env=ENVIRONMENT,
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        os.close(terminal)
        os.close(controller)


def test_on_a_terminal_every_wipe_is_asked_for_by_name(cluster):
    state, snapshot = cluster

    declined = on_a_terminal(state, snapshot, "y\nn\n")

    assert declined.returncode == 2 and "cp-2: not confirmed: nothing was wiped" in declined.stderr
    assert "Wipe EPHEMERAL on cp-2 (192.168.10.12)" in declined.stdout and not resets(state)

    confirmed = on_a_terminal(state, snapshot, "y\ny\ny\ny\n")

    assert confirmed.returncode == 0, confirmed.stderr
    assert f"Bootstrap etcd on cp-1 (192.168.10.11) from {snapshot.name}?" in confirmed.stdout
    assert len(resets(state)) == 3 and recoveries(state) == ["192.168.10.11"]
