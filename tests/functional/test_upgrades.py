"""The upgrades end to end on a simulated cluster: snapshot first, every node upgraded and
verified, the config file edited in place, and a second run finds it all done."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

from support.commands import ENVIRONMENT, run_simulated_install

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "metal-3cp-3w.yaml"


def upgrade(state: Path, config: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "talos_platform", "upgrade-kubernetes", "--to", "v1.37.3", "--simulate"]
        + ["--speed", "inf", "--yes", "--config", str(config), "--state-dir", str(state), *extra],
        env=ENVIRONMENT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_upgrade_snapshots_upgrades_verifies_and_records_the_version(tmp_path):
    config, state = tmp_path / "platform.yaml", tmp_path / "state"
    shutil.copy(EXAMPLE, config)
    assert run_simulated_install(state, "--yes", "--config", str(config)).returncode == 0

    first = upgrade(state, config, "--output", "json")

    assert first.returncode == 0, first.stderr
    events = [json.loads(line) for line in first.stdout.splitlines() if line.startswith("{")]
    finished = [e["step_id"] for e in events if e["type"] == "StepSucceeded"]
    assert finished == ["E.snapshot", "K.upgrade", "K.config"]
    assert list((state / "etcd-snapshots").glob("*.json"))
    assert "kubernetesVersion: v1.37.3" in config.read_text()
    assert config.read_text().startswith("# yaml-language-server:")  # the file's comments kept

    again = upgrade(state, config, "--output", "json")
    events = [json.loads(line) for line in again.stdout.splitlines() if line.startswith("{")]
    assert again.returncode == 0
    assert {e["step_id"] for e in events if e["type"] == "StepSkipped"} >= {"K.upgrade", "K.config"}


def test_an_impossible_version_changes_nothing(tmp_path):
    config, state = tmp_path / "platform.yaml", tmp_path / "state"
    shutil.copy(EXAMPLE, config)
    assert run_simulated_install(state, "--yes", "--config", str(config)).returncode == 0
    before = config.read_text()

    refused = subprocess.run(
        [sys.executable, "-m", "talos_platform", "upgrade-kubernetes", "--to", "v1.39.0", "--simulate"]
        + ["--speed", "inf", "--yes", "--config", str(config), "--state-dir", str(state)],
        env=ENVIRONMENT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert refused.returncode == 1
    assert "does not support Kubernetes v1.39.0" in refused.stdout + refused.stderr
    assert config.read_text() == before
    assert not (state / "etcd-snapshots").exists()


def test_a_talos_upgrade_goes_node_by_node_and_records_the_version(tmp_path):
    config, state = tmp_path / "platform.yaml", tmp_path / "state"
    config.write_text(EXAMPLE.read_text().replace("talosVersion: v1.14.1", "talosVersion: v1.14.0"))
    assert run_simulated_install(state, "--yes", "--config", str(config)).returncode == 0

    upgraded = subprocess.run(
        [sys.executable, "-m", "talos_platform", "upgrade-talos", "--to", "v1.14.1", "--simulate", "--speed", "inf"]
        + ["--yes", "--config", str(config), "--state-dir", str(state), "--max-parallel", "2", "--output", "json"],
        env=ENVIRONMENT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert upgraded.returncode == 0, upgraded.stderr
    events = [json.loads(line) for line in upgraded.stdout.splitlines() if line.startswith("{")]
    order = [e["step_id"] for e in events if e["type"] == "StepSucceeded"]
    assert order[:5] == ["T.baseline", "E.snapshot", "T.upgrade.cp-1", "T.upgrade.cp-2", "T.upgrade.cp-3"]
    assert order[-1] == "T.config"
    assert "talosVersion: v1.14.1" in config.read_text()

    again = run_simulated_install(state, "--yes", "--config", str(config))  # the same cluster, upgraded
    assert again.returncode == 0 and "resuming the simulated cluster" in again.stdout + again.stderr


def upgrade_talos(state: Path, config: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "talos_platform", "upgrade-talos", "--to", "v1.14.2", "--simulate"]
        + ["--scenario", "extensions-outside-config", "--speed", "inf", "--yes"]
        + ["--config", str(config), "--state-dir", str(state), *extra],
        env=ENVIRONMENT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_talos_upgrade_that_would_drop_an_extension_is_refused_until_the_config_lists_it(tmp_path):
    """The nodes run siderolabs/iscsi-tools, which the config's schematic lacks: upgrading with
    that installer would remove it on every node (siderolabs/talos#8467)."""
    config, state = tmp_path / "platform.yaml", tmp_path / "state"
    shutil.copy(EXAMPLE, config)
    install = run_simulated_install(state, "--yes", "--config", str(config), "--scenario", "extensions-outside-config")
    assert install.returncode == 0, install.stderr

    refused = upgrade_talos(state, config)
    assert refused.returncode == 1
    assert "would remove them: iscsi-tools on every node" in refused.stdout + refused.stderr
    assert "siderolabs/iscsi-tools" in refused.stdout + refused.stderr  # the hint names what to add
    assert "talosVersion: v1.14.1" in config.read_text()  # nothing upgraded, nothing written

    text = config.read_text().replace(
        "      - siderolabs/intel-ucode\n", "      - siderolabs/intel-ucode\n      - siderolabs/iscsi-tools\n"
    )
    config.write_text(text)
    listed = upgrade_talos(state, config, "--output", "json")
    assert listed.returncode == 0, listed.stdout[-2000:]
    assert "talosVersion: v1.14.2" in config.read_text()


def test_drop_extensions_lets_the_upgrade_remove_them_and_the_nodes_then_run_the_configs_schematic(tmp_path):
    config, state = tmp_path / "platform.yaml", tmp_path / "state"
    shutil.copy(EXAMPLE, config)
    assert (
        run_simulated_install(
            state, "--yes", "--config", str(config), "--scenario", "extensions-outside-config"
        ).returncode
        == 0
    )

    dropped = upgrade_talos(state, config, "--drop-extensions")

    assert dropped.returncode == 0, dropped.stdout[-2000:]
    assert "--drop-extensions: the upgrade removes" in dropped.stdout
    # The drain restarted the Vault server of one node sealed; the gate unsealed it before the next node.
    assert "Vault came back sealed after the drain: unsealing it with the saved keys" in dropped.stdout
    again = upgrade_talos(state, config)  # nothing left to drop: the preflight passes without the flag
    assert again.returncode == 0, again.stdout[-2000:]


def test_a_node_back_on_its_old_version_stops_the_rollout_naming_it(tmp_path):
    """talosctl reports success, but cp-2 booted its previous partition (siderolabs/omni#1552)."""
    result = upgrade_talos_in("upgrade-rolls-back", tmp_path)
    assert result.returncode == 1
    assert "T.upgrade.cp-2: FAILED: cp-2 came back running Talos v1.14.1, not v1.14.2" in result.stdout
    assert "T.upgrade.cp-3" not in result.stdout  # nothing after it is touched
    assert "talosVersion: v1.14.1" in (tmp_path / "platform.yaml").read_text()


def test_a_node_that_never_comes_back_fails_its_step_and_holds_the_rest(tmp_path):
    result = upgrade_talos_in("upgrade-node-stays-away", tmp_path)
    assert result.returncode == 1
    assert "T.upgrade.worker-1: FAILED: worker-1 upgraded, but worker-1 is not back yet" in result.stdout
    assert "worker-1 does not answer: look at its console" in result.stdout
    assert "T.upgrade.worker-2" not in result.stdout


def upgrade_talos_in(scenario: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    config, state = tmp_path / "platform.yaml", tmp_path / "state"
    if not state.exists():
        shutil.copy(EXAMPLE, config)
        install = run_simulated_install(state, "--yes", "--config", str(config), "--scenario", scenario)
        assert install.returncode == 0, install.stderr
    return subprocess.run(
        [sys.executable, "-m", "talos_platform", "upgrade-talos", "--to", "v1.14.2", "--simulate"]
        + ["--scenario", scenario, "--speed", "inf", "--yes", "--config", str(config), "--state-dir", str(state)]
        + list(extra),
        env=ENVIRONMENT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_drain_held_by_a_disruption_budget_says_what_to_change(tmp_path):
    result = upgrade_talos_in("upgrade-drain-blocked", tmp_path)
    assert result.returncode == 1
    assert "would violate the pod's disruption budget" in result.stdout
    assert "scale its workload or relax the budget" in result.stdout
    assert "or run it again with --delete-if-eviction-fails" in result.stdout  # the escape, named
    assert "!!! DELETING" not in result.stdout  # and never taken without the flag


def test_with_the_escape_the_blocked_pods_are_deleted_loudly_and_the_upgrade_finishes(tmp_path):
    blocked = upgrade_talos_in("upgrade-drain-blocked", tmp_path)
    assert blocked.returncode == 1

    resumed = upgrade_talos_in("upgrade-drain-blocked", tmp_path, "--delete-if-eviction-fails", "--output", "json")

    assert resumed.returncode == 0, resumed.stdout[-2000:]
    events = [json.loads(line) for line in resumed.stdout.splitlines() if line.startswith("{")]
    said = [e["line"] for e in events if e["type"] == "StepOutput" and e["step_id"] == "T.upgrade.worker-2"]
    assert any(line.startswith("!!! --delete-if-eviction-fails: the drain of worker-2 was refused") for line in said)
    assert any(line.startswith("!!! DELETING the pods left on worker-2") for line in said)
    assert any(line.startswith("deleting pod ") for line in said)
    assert "worker-2 uncordoned (kubectl cordoned it for the deleting drain)" in said
    assert "talosVersion: v1.14.2" in (tmp_path / "platform.yaml").read_text()
    started = next(e for e in events if e["type"] == "RunStarted")
    assert "--delete-if-eviction-fails" in json.dumps(started)  # the resume command keeps it


def test_the_plan_shows_the_deleting_drain_only_with_the_escape(tmp_path):
    config = tmp_path / "platform.yaml"
    shutil.copy(EXAMPLE, config)

    def plan(*extra: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "talos_platform", "plan", "--operation", "upgrade-talos", "--to", "v1.14.2"]
            + ["--offline", "--config", str(config), *extra],
            env=ENVIRONMENT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "--disable-eviction" not in plan()
    escaped = plan("--delete-if-eviction-fails")
    assert escaped.count(" drain worker-2 --ignore-daemonsets --delete-emptydir-data --disable-eviction") == 1
    assert " uncordon worker-2" in escaped


def test_a_gate_command_runs_after_every_node_and_the_plan_shows_it(tmp_path):
    config, state = tmp_path / "platform.yaml", tmp_path / "state"
    shutil.copy(EXAMPLE, config)
    assert run_simulated_install(state, "--yes", "--config", str(config)).returncode == 0
    log = tmp_path / "gates.log"
    gate = f'echo "$NODE" >> {log}'

    plan = subprocess.run(
        [sys.executable, "-m", "talos_platform", "plan", "--operation", "upgrade-talos", "--to", "v1.14.2"]
        + ["--offline", "--config", str(config), "--gate-command", gate],
        env=ENVIRONMENT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.count('sh -c \'echo "$NODE" >>') == 6  # once per node

    result = subprocess.run(
        [sys.executable, "-m", "talos_platform", "upgrade-talos", "--to", "v1.14.2", "--simulate", "--speed", "inf"]
        + ["--yes", "--config", str(config), "--state-dir", str(state), "--gate-command", gate],
        env=ENVIRONMENT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert log.read_text().split() == ["cp-1", "cp-2", "cp-3", "worker-1", "worker-2", "worker-3"]
