"""`upgrade-kubernetes` on a simulated cluster: upgrade-k8s's own dry run shown as the plan
(before the confirmation, in `plan`, and printed and journalled with --yes), its progress per
component, and a kubelet it waits on in silence stopped and explained."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from support.commands import run_simulated_install, talos_platform

from talos_platform.commands.install import prepare
from talos_platform.engine.errors import PermanentError
from talos_platform.engine.layers.kubernetes_upgrade import KUBELET_STALL_SECONDS, KubernetesUpgrade
from talos_platform.engine.operations import operation_named
from talos_platform.engine.plan.preview import OwnDryRunFailed
from talos_platform.engine.run.events import StepOutput
from talos_platform.engine.run.journal import read_events
from talos_platform.main import build_parser
from talos_platform.operation_command import command_for

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "metal-3cp-3w.yaml"
SIMULATED = ("--simulate", "--speed", "inf")


def installed(tmp_path: Path, *scenario: str) -> tuple[Path, Path]:
    config, state = tmp_path / "platform.yaml", tmp_path / "state"
    shutil.copy(EXAMPLE, config)
    install = run_simulated_install(state, "--yes", "--config", str(config), *scenario)
    assert install.returncode == 0, install.stderr
    return config, state


def upgrade(config: Path, state: Path, *extra: str):
    return talos_platform(
        "upgrade-kubernetes", "--to", "v1.37.3", *SIMULATED, "--yes",
        "--config", str(config), "--state-dir", str(state), *extra,
    )  # fmt: skip


def lines_of(output: str, step: str) -> list[str]:
    prefix = f"SIMULATED [L1] {step} | "
    return [line.removeprefix(prefix) for line in output.splitlines() if line.startswith(prefix)]


class TestOwnDryRunAsThePlan:
    def test_the_confirmation_shows_the_dry_run_before_asking_and_a_no_changes_nothing(
        self, tmp_path, monkeypatch, capsys
    ):
        config, state = installed(tmp_path)
        args = build_parser().parse_args(
            ["upgrade-kubernetes", "--to", "v1.37.3", *SIMULATED, "--config", str(config), "--state-dir", str(state)]
        )
        command = command_for(operation_named("upgrade-kubernetes"))
        asked: list[str] = []
        monkeypatch.setattr("builtins.input", lambda prompt: asked.append(capsys.readouterr().out) or "n")
        target = prepare(args, operation=command.operation)
        try:
            assert command.confirmed(command.session(args, target), target) is False
        finally:
            target.release()

        (shown,) = asked  # everything printed before the question
        assert "K.upgrade: Upgrade Kubernetes to v1.37.3 - its own dry run says what would change:" in shown
        assert '    updating "kube-apiserver" to version "1.37.3"' in shown
        assert "     > update kubelet: 1.37.2 -> 1.37.3" in shown
        assert shown.count(" > skipped in dry-run") == 3 * 3 + 3 + 6  # static pods, kube-proxy, kubelets
        replayed = (state / "simulation.jsonl").read_text()
        assert "kubelet_upgraded" not in replayed  # the dry run changed nothing

    def test_a_failing_dry_run_stops_before_the_question_naming_the_step(self, tmp_path, monkeypatch):
        config, state = installed(tmp_path)
        args = build_parser().parse_args(
            ["upgrade-kubernetes", "--to", "v1.37.3", *SIMULATED, "--config", str(config), "--state-dir", str(state)]
        )

        async def refused(self, ctx):
            raise PermanentError("talosctl upgrade-k8s to v1.37.3 failed: unsupported upgrade path", hint="choose x")

        monkeypatch.setattr(KubernetesUpgrade, "own_dry_run", refused)
        monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail("asked although the dry run failed"))
        command = command_for(operation_named("upgrade-kubernetes"))
        target = prepare(args, operation=command.operation)
        try:
            with pytest.raises(OwnDryRunFailed) as failed:
                command.confirmed(command.session(args, target), target)
        finally:
            target.release()
        assert str(failed.value).startswith("K.upgrade: its dry run failed: talosctl upgrade-k8s to v1.37.3 failed")
        assert failed.value.hint == "choose x"

    def test_the_command_ends_there_with_exit_1_and_the_hint(self, tmp_path, monkeypatch, capsys):
        config, state = installed(tmp_path)
        args = build_parser().parse_args(
            ["upgrade-kubernetes", "--to", "v1.37.3", *SIMULATED, "--config", str(config), "--state-dir", str(state)]
        )

        async def refused(self, ctx):
            raise PermanentError("talosctl upgrade-k8s to v1.37.3 failed: unsupported upgrade path", hint="choose x")

        monkeypatch.setattr(KubernetesUpgrade, "own_dry_run", refused)
        command = command_for(operation_named("upgrade-kubernetes"))
        target = prepare(args, operation=command.operation)
        target.simulated = False  # a real cluster is where the confirmation is asked
        try:
            code = command._run_prepared(args, target, interactive=True)
        finally:
            target.release()

        assert code == 1
        err = capsys.readouterr().err
        assert "error: K.upgrade: its dry run failed: talosctl upgrade-k8s to v1.37.3 failed" in err
        assert "; nothing was changed\n  hint: choose x" in err
        assert "kubelet_upgraded" not in (state / "simulation.jsonl").read_text()

    def test_with_yes_the_dry_run_is_printed_and_journalled_before_the_upgrade(self, tmp_path):
        config, state = installed(tmp_path)

        result = upgrade(config, state)

        assert result.returncode == 0, result.stdout + result.stderr
        lines = lines_of(result.stdout, "K.upgrade")
        dry_run = lines.index("talosctl upgrade-k8s --dry-run: what would change, per component and node")
        upgrading = lines.index("talosctl upgrade-k8s --to v1.37.3: upgrading")
        assert dry_run < lines.index(" > update kubelet: 1.37.2 -> 1.37.3") < upgrading
        assert " > skipped in dry-run" in lines[dry_run:upgrading]
        assert " > skipped in dry-run" not in lines[upgrading:]
        last_run = max((state / "runs").iterdir())  # run ids start with their time
        journalled = [
            e.line
            for e in read_events(last_run / "events.jsonl")
            if isinstance(e, StepOutput) and e.step_id == "K.upgrade"
        ]
        assert journalled.index(lines[dry_run]) < journalled.index(lines[upgrading])

    def test_the_online_plan_shows_the_dry_run_and_the_offline_plan_says_it_would_run(self, tmp_path):
        config, state = installed(tmp_path)
        common = ("plan", "--operation", "upgrade-kubernetes", "--to", "v1.37.3", "--config", str(config))

        online = talos_platform(*common, *SIMULATED, "--state-dir", str(state))
        offline = talos_platform(*common, "--offline", "--state-dir", str(tmp_path / "elsewhere"))

        assert online.returncode == 0, online.stderr
        assert "its own dry run says:" in online.stdout
        assert '| updating kubelet to version "1.37.3"' in online.stdout
        assert offline.returncode == 0, offline.stderr
        assert "not run (offline): online, its dry run command above runs here" in offline.stdout
        assert "upgrade-k8s --to 1.37.3 --dry-run" in offline.stdout
        assert not (tmp_path / "elsewhere").exists()

    def test_the_json_plan_carries_the_dry_run_lines(self, tmp_path):
        config, state = installed(tmp_path)
        plan = talos_platform(
            "plan", "--operation", "upgrade-kubernetes", "--to", "v1.37.3", "--config", str(config),
            *SIMULATED, "--state-dir", str(state), "--output", "json",
        )  # fmt: skip
        steps = {step["stepId"]: step for step in json.loads(plan.stdout)["steps"]}
        assert " > update kube-scheduler: v1.37.2 -> 1.37.3" in steps["K.upgrade"]["ownDryRun"]
        assert steps["K.preflight"]["ownDryRun"] == []


def test_progress_is_shown_per_component_node_and_count(tmp_path):
    config, state = installed(tmp_path)

    result = upgrade(config, state, "--output", "json")

    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    lines = [e["line"] for e in events if e["type"] == "StepOutput" and e["step_id"] == "K.upgrade"]
    progress = [line for line in lines if line.startswith("progress [")]
    assert "progress [kube-apiserver 1/3] cp-1 (192.168.10.11): updated" in progress
    assert "progress [kube-scheduler 3/3] cp-3 (192.168.10.13): updated" in progress
    assert "progress [kube-proxy 3/3] cp-3 (192.168.10.13): config patched" in progress
    assert "progress [kubelet 3/6] worker-1 (192.168.10.21): waiting for kubelet restart" in progress
    assert progress[-1] == "progress [manifests 3 done]: no changes"
    assert ' < "192.168.10.23": successfully updated' in lines  # the raw lines are kept


def test_a_kubelet_that_never_reports_stops_the_upgrade_naming_the_node_and_what_to_do(tmp_path):
    config, state = installed(tmp_path, "--scenario", "upgrade-kubelet-stalls")

    result = upgrade(config, state, "--scenario", "upgrade-kubelet-stalls")

    assert result.returncode == 1
    out = result.stdout
    assert "K.upgrade: FAILED: upgrade-k8s stalled on worker-2 (192.168.10.22): its kubelet did not report" in out
    assert "(upgrade-k8s was at: waiting for kubelet restart)" in out
    for command in (
        "talosctl -n 192.168.10.22 service kubelet",
        "talosctl -n 192.168.10.22 logs kubelet",
        "kubectl get node worker-2 -o wide",
    ):
        assert f"`{command}`" in out
    assert "run the same upgrade again, it resumes where it stopped" in out
    assert "K.config" not in out.split("FAILED")[1]  # nothing after it ran
    # Stopped by its silence, well within the step's budget (simulated time).
    (simulated,) = (
        float(seconds) for seconds in re.findall(r"upgrade-kubernetes failed in .* ([\d.]+) s simulated", out)
    )
    assert KUBELET_STALL_SECONDS < simulated < KubernetesUpgrade.timeout
    assert "kubernetesVersion: v1.37.2" in config.read_text()
