"""The upgrades and the etcd snapshot killed with SIGKILL at their phases on a simulated cluster,
then run again: the run finishes, no node is upgraded twice, every snapshot kept is whole and
recorded, and the config file ends with the new version.

The simulator journals every change made to the cluster (`simulation.jsonl`): `talos_upgraded`
when a node came back from `talosctl upgrade`, `kubelet_upgraded` when upgrade-k8s moved a node."""

import json
import shutil
import time
from pathlib import Path

import pytest
from support.commands import run_simulated_install
from support.operations import (
    assert_snapshots_whole_and_recorded,
    kill_when,
    run_operation,
    simulated_changes,
    skipped,
    step_succeeded,
)

from talos_platform.engine.layers.eviction import OUR_CORDON_ANNOTATION

ADDRESSES = {
    "cp-1": "192.168.10.11",
    "cp-2": "192.168.10.12",
    "cp-3": "192.168.10.13",
    "worker-1": "192.168.10.21",
    "worker-2": "192.168.10.22",
    "worker-3": "192.168.10.23",
}
TALOS_TO = "v1.14.2"
KUBERNETES_TO = "v1.37.3"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "metal-3cp-3w.yaml"
MARK = OUR_CORDON_ANNOTATION


def failed(events: list[dict]) -> list[str]:
    return [e["step_id"] for e in events if e["type"] == "StepFailed"]


def assert_snapshot_reused(events: list[dict], state: Path) -> None:
    """The resumed run skipped its snapshot step, naming the file the first run took."""
    (record,) = [json.loads(path.read_text()) for path in (state / "etcd-snapshots").glob("*.json")]
    (reason,) = [e["reason"] for e in events if e["type"] == "StepSkipped" and e["step_id"] == "E.snapshot"]
    assert "was resumed: the snapshot its first run took is kept" in reason
    assert record["file"] in reason and f"taken {record['takenAt']}" in reason


# --- upgrade-talos --------------------------------------------------------------------------------


def node_upgraded(name: str):
    def moment(event: dict, state: Path) -> bool:
        return simulated_changes(state, "talos_upgraded", address=ADDRESSES[name]) > 0

    return moment


def test_a_talos_upgrade_killed_after_its_snapshot_and_after_the_first_node_finishes_upgrading_each_node_once(
    example_cluster,
):
    config, state = example_cluster
    argv = ["upgrade-talos", "--to", TALOS_TO]

    kill_when(config, state, argv, step_succeeded("E.snapshot"))
    assert simulated_changes(state, "talos_upgraded") == 0
    assert assert_snapshots_whole_and_recorded(state) == 1
    # cp-1 came back on the new version; killed while its gates are checked.
    kill_when(config, state, argv, node_upgraded("cp-1"))
    assert "talosVersion: v1.14.1" in config.read_text()  # the file is written last
    finished, events = run_operation(config, state, *argv)

    assert finished.returncode == 0, finished.stderr
    assert failed(events) == []
    # Found on the target: not upgraded again (counted below), but its gates are checked again.
    assert "T.upgrade.cp-1" not in skipped(events)
    for name, address in ADDRESSES.items():
        assert simulated_changes(state, "talos_upgraded", address=address, version=TALOS_TO) == 1, name
    assert simulated_changes(state, "talos_upgraded") == len(ADDRESSES)
    assert f"talosVersion: {TALOS_TO}" in config.read_text()
    assert config.read_text().startswith("# yaml-language-server:")  # comments kept
    # The resumed runs kept the snapshot the first run took, and said which.
    assert assert_snapshots_whole_and_recorded(state) == 1
    assert_snapshot_reused(events, state)

    again, events = run_operation(config, state, *argv)
    assert again.returncode == 0 and simulated_changes(state, "talos_upgraded") == len(ADDRESSES)
    assert {f"T.upgrade.{name}" for name in ADDRESSES} <= skipped(events)
    assert assert_snapshots_whole_and_recorded(state) == 2  # after a success, a new attempt takes its own


def rebooting(name: str):
    """While `name` reboots into the new version: its journalled start seen, its end not yet."""

    def moment(event: dict, state: Path) -> bool:
        if event["type"] != "StepOutput" or event.get("line") != f"{name}: rebooting into {TALOS_TO}":
            return False
        deadline = time.monotonic() + 5
        while not simulated_changes(state, "talos_rebooting", address=ADDRESSES[name]):
            assert time.monotonic() < deadline, "the reboot was never journalled"
            time.sleep(0.02)
        return True

    return moment


def test_a_talos_upgrade_killed_while_a_node_reboots_waits_for_it_instead_of_upgrading_it_again(example_cluster):
    config, state = example_cluster
    argv = ["upgrade-talos", "--to", TALOS_TO]

    kill_when(config, state, argv, rebooting("cp-1"), speed="10")  # the reboot takes 9 s of real time
    assert simulated_changes(state, "talos_upgraded", address=ADDRESSES["cp-1"]) == 0  # killed mid-reboot
    finished, events = run_operation(config, state, *argv)

    assert finished.returncode == 0, finished.stdout[-2000:]
    checked = [e["line"] for e in events if e["type"] == "StepOutput" and e["step_id"] == "T.preflight"]
    assert any(line.startswith("cp-1 does not answer") and "its step waits for it" in line for line in checked)
    said = [e["line"] for e in events if e["type"] == "StepOutput" and e["step_id"] == "T.upgrade.cp-1"]
    assert "cp-1 is away (rebooting): waiting for it instead of upgrading" in said
    assert simulated_changes(state, "talos_rebooting", address=ADDRESSES["cp-1"]) == 1  # not upgraded again
    for name, address in ADDRESSES.items():
        assert simulated_changes(state, "talos_upgraded", address=address, version=TALOS_TO) == 1, name
    assert f"talosVersion: {TALOS_TO}" in config.read_text()


def test_a_talos_upgrade_killed_between_two_nodes_resumes_at_the_next(example_cluster):
    config, state = example_cluster
    argv = ["upgrade-talos", "--to", TALOS_TO]

    kill_when(config, state, argv, step_succeeded("T.upgrade.cp-2"))
    finished, events = run_operation(config, state, *argv)

    assert finished.returncode == 0, finished.stderr
    assert {"T.upgrade.cp-1", "T.upgrade.cp-2"} <= skipped(events)
    started = [e["step_id"] for e in events if e["type"] == "StepStarted" and e["step_id"].startswith("T.upgrade.")]
    assert started[2:] == ["T.upgrade.cp-3", "T.upgrade.worker-1", "T.upgrade.worker-2", "T.upgrade.worker-3"]
    for name, address in ADDRESSES.items():
        assert simulated_changes(state, "talos_upgraded", address=address) == 1, name
    assert f"talosVersion: {TALOS_TO}" in config.read_text()


def drained_by_deletion(name: str):
    """Once the deleting drain of `name` is journalled: before the upgrade again and the uncordon."""

    def moment(event: dict, state: Path) -> bool:
        return (
            event["type"] == "StepOutput"
            and event.get("line", "").startswith(f"!!! {name} drained by deletion")
            and simulated_changes(state, "drain", name=name, deleting=True) > 0
        )

    return moment


def test_a_talos_upgrade_killed_after_its_deleting_drain_uncordons_the_node_it_cordoned(tmp_path):
    """The deleting drain cordons the node; a run killed before it uncordons leaves it cordoned,
    with our mark on it: the resumed run uncordons it (and removes the mark)."""
    config, state = tmp_path / "platform.yaml", tmp_path / "state"
    shutil.copy(EXAMPLE, config)
    scenario = ["--scenario", "upgrade-drain-blocked"]
    installed = run_simulated_install(state, "--yes", "--config", str(config), *scenario)
    assert installed.returncode == 0, installed.stderr
    argv = ["upgrade-talos", "--to", TALOS_TO, *scenario, "--delete-if-eviction-fails"]

    kill_when(config, state, argv, drained_by_deletion("worker-2"))
    assert simulated_changes(state, "uncordon", name="worker-2") == 0  # killed while it is cordoned
    assert simulated_changes(state, "annotate_node", name="worker-2", key=MARK, value="true") == 1
    finished, events = run_operation(config, state, *argv)

    assert finished.returncode == 0, finished.stdout[-2000:]
    said = [e["line"] for e in events if e["type"] == "StepOutput" and e["step_id"] == "T.upgrade.worker-2"]
    assert "worker-2 uncordoned (kubectl cordoned it for the deleting drain)" in said
    assert not any("worker-2 is still cordoned" in line for line in said)
    changes = node_changes(state, "worker-2")
    assert changes[-2:] == [("uncordon", None), ("annotate_node", None)]  # uncordoned, then unmarked
    assert simulated_changes(state, "talos_upgraded", address=ADDRESSES["worker-2"], version=TALOS_TO) == 1


def node_changes(state: Path, name: str) -> list[tuple[str, object]]:
    """The cordon, uncordon and annotate changes the simulated cluster journalled for node `name`."""
    kinds = ("cordon", "uncordon", "annotate_node")
    entries = [json.loads(line) for line in (state / "simulation.jsonl").read_text().splitlines()[1:] if line]
    return [(e["change"], e.get("value")) for e in entries if e["change"] in kinds and e.get("name") == name]


# --- upgrade-kubernetes ---------------------------------------------------------------------------


def first_kubelet_upgraded(event: dict, state: Path) -> bool:
    return simulated_changes(state, "kubelet_upgraded") > 0


@pytest.mark.parametrize(
    ("point", "moment"),
    [
        ("after the etcd snapshot", step_succeeded("E.snapshot")),
        ("in upgrade-k8s, the first node moved", first_kubelet_upgraded),
        ("every node moved, before the config file", step_succeeded("K.upgrade")),
    ],
)
def test_a_kubernetes_upgrade_killed_resumes_moving_each_node_once(example_cluster, point, moment):
    config, state = example_cluster
    argv = ["upgrade-kubernetes", "--to", KUBERNETES_TO]

    kill_when(config, state, argv, moment)
    assert "kubernetesVersion: v1.37.2" in config.read_text(), point
    finished, events = run_operation(config, state, *argv)

    assert finished.returncode == 0, finished.stderr
    assert failed(events) == []
    for name, address in ADDRESSES.items():
        assert simulated_changes(state, "kubelet_upgraded", address=address, version=KUBERNETES_TO) == 1, name
    assert f"kubernetesVersion: {KUBERNETES_TO}" in config.read_text()
    assert assert_snapshots_whole_and_recorded(state) == 1, point
    assert_snapshot_reused(events, state)


# --- etcd-snapshot --------------------------------------------------------------------------------


def snapshot_started(event: dict, state: Path) -> bool:
    return event["type"] == "StepStarted" and event["step_id"] == "E.snapshot"


def test_a_snapshot_killed_while_it_streams_leaves_nothing_half_written_and_the_next_run_takes_a_whole_one(
    example_cluster,
):
    config, state = example_cluster

    kill_when(config, state, ["etcd-snapshot"], snapshot_started, speed="1")
    finished, events = run_operation(config, state, "etcd-snapshot")

    assert finished.returncode == 0, finished.stderr
    assert assert_snapshots_whole_and_recorded(state) == 1
