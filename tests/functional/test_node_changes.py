"""`node add` and `node remove` end to end on a simulated cluster: the config file edited with
its comments kept, the join verified (a control plane's learner promoted), removals refused
before anything changes, and runs killed with SIGKILL at several phases finishing on the next
run with nothing applied twice."""

import json
import shutil
from pathlib import Path

import pytest
from support.commands import run_simulated_install, talos_platform
from support.operations import kill_when, simulated_changes, skipped, step_succeeded, succeeded
from support.operations import run_operation as run

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "metal-3cp-3w.yaml"
NEW_CONTROL_PLANE = ["--name", "cp-4", "--address", "192.168.10.14/24", "--role", "control-plane", "--link", "enp1s0"]
NEW_WORKER = ["--name", "worker-4", "--ip", "192.168.10.24/24", "--install-disk", "/dev/nvme0n1", "--link", "enp2s0"]


def test_a_worker_is_added_then_removed_and_the_install_finds_the_cluster_as_the_file_says(example_cluster):
    config, state = example_cluster
    original = config.read_text()

    added, events = run(config, state, "node", "add", *NEW_WORKER)

    assert added.returncode == 0, added.stderr
    assert succeeded(events) == [
        "N.config",
        "L0.machine-configs",
        "L0.talosconfig-endpoints",
        "L0.apply-config.worker-4",
        "N.join.worker-4",
    ]
    text = config.read_text()
    assert "name: worker-4" in text and text.startswith("# yaml-language-server:")  # comments kept
    assert "link: enp1s0                # interface with the static address" in text
    assert (config.parent / "platform.yaml.bak").read_text() == original
    outputs = [e.get("line", "") for e in events if e["type"] == "StepOutput" and e["step_id"] == "N.config"]
    assert "+  - name: worker-4" in outputs  # the diff, shown

    removed, events = run(config, state, "node", "remove", "worker-4")

    assert removed.returncode == 0, removed.stderr
    assert succeeded(events) == ["N.drain.worker-4", "N.reset.worker-4", "N.delete-node.worker-4", "N.config"]
    assert config.read_text() == original
    install = run_simulated_install(state, "--yes", "--config", str(config))
    assert install.returncode == 0 and "resuming the simulated cluster" in install.stdout + install.stderr


def test_removing_a_worker_evicts_its_pods_and_they_run_elsewhere(example_cluster):
    config, state = example_cluster
    removed, events = run(config, state, "node-remove", "worker-1")

    assert removed.returncode == 0, removed.stderr
    evicted = [e["line"] for e in events if e["type"] == "StepOutput" and e["line"].startswith("evicting pod")]
    assert evicted, "worker-1 ran pods of Deployments or StatefulSets"
    assert "name: worker-1" not in config.read_text()
    install = run_simulated_install(state, "--yes", "--config", str(config))
    assert install.returncode == 0, install.stdout + install.stderr  # every workload healthy on the rest


@pytest.mark.parametrize(
    ("argv", "refusal"),
    [
        (["node", "remove", "cp-2"], "leaves 2 control planes"),
        (["node", "remove", "cp-9"], "no node named cp-9"),
        (["node", "add", "--name", "worker-4", "--address", "192.168.10.21/24"], "nodes[6].address"),
        (["node", "add", "--name", "cp-1", "--address", "192.168.10.31/24"], "already has a node named cp-1"),
    ],
)
def test_a_refused_change_changes_nothing(example_cluster, argv, refusal):
    config, state = example_cluster
    before, journal = config.read_text(), (state / "simulation.jsonl").read_text()

    refused, _ = run(config, state, *argv)

    assert refused.returncode == 2
    assert refusal in refused.stderr
    assert config.read_text() == before
    assert (state / "simulation.jsonl").read_text() == journal


def test_plan_shows_every_command_of_both(example_cluster):
    config, state = example_cluster
    added = talos_platform(
        "plan", "--operation", "node-add", *NEW_CONTROL_PLANE, "--simulate", "--config", str(config),
        "--state-dir", str(state),
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    for command in ("talosctl apply-config --insecure --nodes 192.168.10.14", "etcd snapshot", "etcd members"):
        assert command in added.stdout
    assert "+  - name: cp-4" in added.stdout  # the config file's diff, before anything is applied

    removed = talos_platform(
        "plan", "--operation", "node-remove", "--node", "worker-2", "--simulate", "--config", str(config),
        "--state-dir", str(state), "--output", "json",
    )  # fmt: skip
    assert removed.returncode == 0, removed.stderr
    commands = [" ".join(a["command"]) for s in json.loads(removed.stdout)["steps"] for a in s["actions"]]
    assert any(c.endswith("cordon worker-2") for c in commands)
    assert any(" drain worker-2 --ignore-daemonsets" in c for c in commands)
    assert any(c.endswith("reset --graceful=true --reboot=false") for c in commands)
    assert any(c.endswith("delete node worker-2 --ignore-not-found") for c in commands)
    assert not any("--disable-eviction" in c for c in commands)

    escaped = talos_platform(
        "plan", "--operation", "node-remove", "--node", "worker-2", "--delete-if-eviction-fails", "--simulate",
        "--config", str(config), "--state-dir", str(state), "--output", "json",
    )  # fmt: skip
    assert escaped.returncode == 0, escaped.stderr
    commands = [" ".join(a["command"]) for s in json.loads(escaped.stdout)["steps"] for a in s["actions"]]
    assert any(" drain worker-2 --ignore-daemonsets --delete-emptydir-data --disable-eviction" in c for c in commands)


def test_adding_a_control_plane_killed_while_it_installs_and_while_it_joins_resumes(example_cluster):
    config, state = example_cluster

    def took_its_config(event, state):
        return simulated_changes(state, "configure", address="192.168.10.14") > 0

    def waiting_to_join(event, state):
        return event["type"] == "StepOutput" and event["step_id"] == "N.join.cp-4"

    kill_when(config, state, ["node", "add", *NEW_CONTROL_PLANE], took_its_config)
    assert "name: cp-4" in config.read_text()  # the file came first
    kill_when(config, state, ["node", "add", *NEW_CONTROL_PLANE], waiting_to_join)
    finished, events = run(config, state, "node", "add", *NEW_CONTROL_PLANE)

    assert finished.returncode == 0, finished.stderr
    assert simulated_changes(state, "configure", address="192.168.10.14") == 1  # its config sent once
    assert "N.config" in skipped(events)
    # A killed simulation loses the virtual time since its last change, so the node may still be
    # installing here: it is waited for, never sent its config again.
    applying = [e.get("line", "") for e in events if e.get("step_id") == "L0.apply-config.cp-4"]
    assert "L0.apply-config.cp-4" in skipped(events) or any(
        "not applying again" in x or "earlier run" in x for x in applying
    )
    assert "N.join.cp-4" in succeeded(events) + list(skipped(events))
    assert len(list((state / "etcd-snapshots").glob("*.json"))) == 1  # taken before the apply, once


def test_removing_a_control_plane_killed_while_it_resets_and_before_the_file_resumes(example_cluster):
    config, state = example_cluster
    assert run(config, state, "node", "add", *NEW_CONTROL_PLANE)[0].returncode == 0

    def resetting(event, state):
        return event["type"] == "StepOutput" and event.get("line") == "cp-4: leaving etcd"

    def node_deleted(event, state):
        return event["type"] == "StepSucceeded" and event["step_id"] == "N.delete-node.cp-4"

    kill_when(config, state, ["node", "remove", "cp-4"], resetting)
    kill_when(config, state, ["node", "remove", "cp-4"], node_deleted)
    assert "name: cp-4" in config.read_text()  # the file is written last
    finished, events = run(config, state, "node", "remove", "cp-4")

    assert finished.returncode == 0, finished.stderr
    assert {"N.drain.cp-4", "N.reset.cp-4", "N.delete-node.cp-4"} <= skipped(events)
    assert "name: cp-4" not in config.read_text()
    assert simulated_changes(state, "node_reset", address="192.168.10.14") == 1
    assert simulated_changes(state, "etcd_member_removed") == 0  # it left etcd by itself


def with_fault(tmp_path: Path, fault: str) -> tuple[Path, Path, Path]:
    """A simulated install of the example under the default scenario plus `fault`."""
    scenario, config, state = tmp_path / "faulty.yaml", tmp_path / "platform.yaml", tmp_path / "state"
    scenario.write_text(
        (Path(__file__).resolve().parents[2] / "engine" / "sim" / "scenario_files" / "default.yaml").read_text()
        + f"faults:\n  - {fault}\n"
    )
    shutil.copy(EXAMPLE, config)
    assert run_simulated_install(state, "--yes", "--config", str(config), "--scenario", str(scenario)).returncode == 0
    return scenario, config, state


def test_a_drain_a_disruption_budget_blocks_stops_the_removal_before_the_reset(tmp_path):
    scenario, config, state = with_fault(tmp_path, "{type: drainBlocked, node: worker-1, pod: apps/web-0}")
    before = config.read_text()

    blocked, events = run(config, state, "node", "remove", "worker-1", "--scenario", str(scenario))

    assert blocked.returncode == 1
    failed = [e for e in events if e["type"] == "StepFailed"]
    assert [e["step_id"] for e in failed] == ["N.drain.worker-1"]
    assert "disruption budget" in failed[0]["error"] and "kubectl get pdb -A" in failed[0]["hint"]
    assert "--delete-if-eviction-fails" in failed[0]["hint"]  # the escape, named
    assert simulated_changes(state, "node_reset") == 0 and config.read_text() == before

    escaped, events = run(
        config, state, "node", "remove", "worker-1", "--scenario", str(scenario), "--delete-if-eviction-fails"
    )

    assert escaped.returncode == 0, escaped.stdout[-2000:]
    said = [e["line"] for e in events if e["type"] == "StepOutput" and e["step_id"] == "N.drain.worker-1"]
    assert any(line.startswith("!!! DELETING the pods left on worker-1") for line in said)
    assert simulated_changes(state, "drain", name="worker-1", deleting=True) == 1
    assert simulated_changes(state, "node_reset") == 1 and "name: worker-1" not in config.read_text()


def test_a_control_plane_whose_learner_is_never_promoted_fails_naming_it(tmp_path):
    scenario, config, state = with_fault(tmp_path, "{type: etcdLearnerStuck, node: cp-4}")

    stuck, events = run(config, state, "node", "add", *NEW_CONTROL_PLANE, "--scenario", str(scenario))

    assert stuck.returncode == 1
    failed = [e for e in events if e["type"] == "StepFailed"]
    assert [e["step_id"] for e in failed] == ["N.join.cp-4"]
    assert "is still a learner" in failed[0]["error"] and "logs etcd" in failed[0]["hint"]


def test_adding_a_control_plane_killed_right_after_its_snapshot_resumes_and_configures_it_once(example_cluster):
    config, state = example_cluster

    kill_when(config, state, ["node", "add", *NEW_CONTROL_PLANE], step_succeeded("E.snapshot"))
    assert simulated_changes(state, "configure", address="192.168.10.14") == 0
    finished, events = run(config, state, "node", "add", *NEW_CONTROL_PLANE)

    assert finished.returncode == 0, finished.stderr
    assert simulated_changes(state, "configure", address="192.168.10.14") == 1
    assert "N.join.cp-4" in succeeded(events)
    # The resumed run kept the snapshot its first run took, before the join.
    assert len(list((state / "etcd-snapshots").glob("*.json"))) == 1
    assert "E.snapshot" in skipped(events)


def test_removing_a_worker_killed_while_it_drains_resumes_and_removes_it_once(example_cluster):
    config, state = example_cluster

    def cordoned(event, state):
        return simulated_changes(state, "cordon", name="worker-1") > 0

    kill_when(config, state, ["node", "remove", "worker-1"], cordoned)
    assert simulated_changes(state, "node_reset") == 0
    finished, events = run(config, state, "node", "remove", "worker-1")

    assert finished.returncode == 0, finished.stderr
    assert "N.drain.worker-1" in succeeded(events) + list(skipped(events))
    # Drained once by the drain step and once more by `reset --graceful` itself, as in a run never killed.
    assert simulated_changes(state, "drain", name="worker-1") == 2
    assert simulated_changes(state, "node_reset", address="192.168.10.21") == 1
    assert simulated_changes(state, "node_deleted", name="worker-1") == 1
    assert "name: worker-1" not in config.read_text()
