"""etcd snapshots end to end: a simulated cluster's, and the checksum check against a snapshot the
real etcd (from the test dependencies) writes."""

import json
import subprocess
import time
from pathlib import Path

import pytest
from support.commands import run_simulated_install, talos_platform

from talos_platform.engine.layers.etcd import SnapshotDamaged, verify_snapshot
from talos_platform.rehearsal.binaries import etcd_path
from talos_platform.rehearsal.processes import free_loopback_port


def test_a_snapshot_of_a_simulated_cluster_is_taken_checked_and_recorded(tmp_path):
    state = tmp_path / "state"
    assert run_simulated_install(state, "--yes").returncode == 0

    taken = talos_platform("etcd-snapshot", "--simulate", "--speed", "inf", "--state-dir", str(state), "--yes")

    assert taken.returncode == 0, taken.stderr
    (record_file,) = (state / "etcd-snapshots").glob("*.json")
    record = json.loads(record_file.read_text())
    snapshot = state / "etcd-snapshots" / record["file"]
    assert verify_snapshot(snapshot) == record["sha256"]
    assert record["node"] == "cp-1" and record["revision"] > 0 and record["totalKeys"] > 0
    assert f"snapshot: {snapshot}" in taken.stdout


def test_the_plan_shows_the_talosctl_command(tmp_path):
    planned = talos_platform("plan", "--operation", "etcd-snapshot", "--simulate", "--offline")

    assert planned.returncode == 0, planned.stderr
    assert "etcd snapshot" in planned.stdout and "talosctl" in planned.stdout


def test_no_cluster_no_snapshot_and_it_says_why(tmp_path):
    refused = talos_platform("etcd-snapshot", "--simulate", "--speed", "inf", "--state-dir", str(tmp_path), "--yes")

    assert refused.returncode == 1
    assert "E.snapshot" in refused.stdout + refused.stderr
    assert not list((tmp_path / "etcd-snapshots").glob("*.json"))


@pytest.fixture
def real_etcd(tmp_path):
    client = free_loopback_port()
    endpoint = f"http://127.0.0.1:{client}"
    server = subprocess.Popen(
        [
            str(etcd_path()),
            "--data-dir",
            str(tmp_path / "etcd"),
            "--listen-client-urls",
            endpoint,
            "--advertise-client-urls",
            endpoint,
            "--listen-peer-urls",
            f"http://127.0.0.1:{free_loopback_port()}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    etcdctl = Path(etcd_path()).with_name("etcdctl")
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(
            [etcdctl, "--endpoints", endpoint, "put", "/registry/a", "1"], capture_output=True
        ).returncode:
            assert time.monotonic() < deadline, "etcd did not start"
            time.sleep(0.2)
        yield etcdctl, endpoint
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_checksum_check_agrees_with_real_etcd(real_etcd, tmp_path):
    etcdctl, endpoint = real_etcd
    for number in range(200):
        subprocess.run(
            [etcdctl, "--endpoints", endpoint, "put", f"/registry/k{number}", "v" * 100],
            check=True,
            capture_output=True,
        )
    snapshot = tmp_path / "real.db"
    subprocess.run(
        [etcdctl, "--endpoints", endpoint, "snapshot", "save", str(snapshot)], check=True, capture_output=True
    )

    verify_snapshot(snapshot)  # a snapshot etcd itself wrote passes

    data = bytearray(snapshot.read_bytes())
    data[len(data) // 2] ^= 0x01
    snapshot.write_bytes(bytes(data))
    with pytest.raises(SnapshotDamaged):
        verify_snapshot(snapshot)
