"""The Talos upgrade's gates end to end on simulated clusters: ArgoCD against the baseline taken
before the first node (kept by a resumed run), etcd member health after a control plane
returns, and a Kubernetes object condition of the user's that turns true after a while."""

import json
import re
import shutil
from pathlib import Path

from support.commands import run_simulated_install, talos_platform

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "metal-3cp-3w.yaml"


def installed(tmp_path: Path, scenario: str) -> tuple[Path, Path]:
    config, state = tmp_path / "platform.yaml", tmp_path / "state"
    shutil.copy(EXAMPLE, config)
    install = run_simulated_install(state, "--yes", "--config", str(config), "--scenario", scenario)
    assert install.returncode == 0, install.stdout[-2000:]
    return config, state


def upgrade(config: Path, state: Path, scenario: str, *extra: str):
    return talos_platform(
        "upgrade-talos",
        "--to",
        "v1.14.2",
        "--simulate",
        "--scenario",
        scenario,
        "--speed",
        "inf",
        "--yes",
        "--config",
        str(config),
        "--state-dir",
        str(state),
        *extra,
    )


def test_an_app_out_of_sync_before_is_named_not_gated_and_one_the_upgrade_put_out_of_sync_holds_the_rollout(
    tmp_path,
):
    """external-dns was OutOfSync before the upgrade; hello turns OutOfSync once cp-2 is back."""
    config, state = installed(tmp_path, "upgrade-app-out-of-sync")

    first = upgrade(config, state, "upgrade-app-out-of-sync")

    assert first.returncode == 1
    out = first.stdout
    assert "not gated: external-dns (was OutOfSync/Healthy before the upgrade)" in out
    assert "T.upgrade.cp-1 | cp-1 runs Talos v1.14.2; gates passed" in out  # external-dns did not hold it
    assert (
        "T.upgrade.cp-2 | waiting: ArgoCD Applications not Synced and Healthy again: hello (OutOfSync/Healthy)" in out
    )
    assert "T.upgrade.cp-2: FAILED: cp-2 upgraded, but ArgoCD Applications not Synced and Healthy again: hello" in out
    assert "`argocd app diff NAME`" in out
    assert "T.upgrade.cp-3" not in out

    # Resumed: the baseline is the first run's. Taken again now, hello would be excused.
    again = upgrade(config, state, "upgrade-app-out-of-sync")
    assert again.returncode == 1
    assert "(recorded when this upgrade started)" in again.stdout
    assert "not gated: external-dns (was OutOfSync/Healthy before the upgrade)" in again.stdout
    assert "T.upgrade.cp-2: FAILED: cp-2 upgraded, but ArgoCD Applications not Synced and Healthy again: hello" in (
        again.stdout
    )
    assert "talosVersion: v1.14.1" in config.read_text()


def test_the_online_plan_names_the_apps_that_will_not_be_gated(tmp_path):
    config, state = installed(tmp_path, "upgrade-app-out-of-sync")

    plan = talos_platform(
        "plan",
        "--operation",
        "upgrade-talos",
        "--to",
        "v1.14.2",
        "--simulate",
        "--scenario",
        "upgrade-app-out-of-sync",
        "--config",
        str(config),
        "--state-dir",
        str(state),
    )

    assert plan.returncode == 0, plan.stdout[-2000:] + plan.stderr[-2000:]
    assert "not gated: external-dns (was OutOfSync/Healthy before the upgrade)" in plan.stdout
    assert "record which ArgoCD Applications are Synced and Healthy now" in plan.stdout
    assert not (state / "upgrades").exists()  # a plan records nothing


def test_an_etcd_member_that_stays_a_learner_after_its_node_returns_is_named_with_its_id(tmp_path):
    config, state = installed(tmp_path, "upgrade-etcd-learner")

    result = upgrade(config, state, "upgrade-etcd-learner")

    assert result.returncode == 1
    failed = re.search(
        r"T\.upgrade\.cp-2: FAILED: cp-2 upgraded, but etcd member ([0-9a-f]{16}) on cp-2 is still a learner",
        result.stdout,
    )
    assert failed, result.stdout[-2000:]
    assert "talosctl etcd remove-member ID" in result.stdout
    assert "T.upgrade.cp-3" not in result.stdout


def test_an_etcd_alarm_raised_after_a_control_plane_returns_holds_the_rollout(tmp_path):
    config, state = installed(tmp_path, "upgrade-etcd-alarm")

    result = upgrade(config, state, "upgrade-etcd-alarm")

    assert result.returncode == 1
    assert re.search(
        r"T\.upgrade\.cp-1: FAILED: cp-1 upgraded, but etcd alarm CORRUPT on cp-1 \(member [0-9a-f]{16}\)",
        result.stdout,
    )
    assert "T.upgrade.cp-2" not in result.stdout


GATE = "cephclusters.v1.ceph.rook.io/rook-ceph:rook-ceph=Ready"


def test_a_condition_gate_holds_each_node_until_the_object_reports_it_and_the_resume_keeps_it(tmp_path):
    """The storage rebuilds for 45 s after each node: Node Ready is not enough (postfinance/topf#135)."""
    config, state = installed(tmp_path, "upgrade-storage-rebuilds")

    plan = talos_platform(
        "plan", "--operation", "upgrade-talos", "--to", "v1.14.2", "--offline", "--config", str(config),
        "--gate-condition", GATE,
    )  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.count("gate: cephclusters rook-ceph in rook-ceph has condition Ready=True") == 6

    result = upgrade(config, state, "upgrade-storage-rebuilds", "--gate-condition", GATE, "--output", "json")

    assert result.returncode == 0, result.stdout[-2000:]
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    lines = [e["line"] for e in events if e["type"] == "StepOutput" and e["step_id"] == "T.upgrade.worker-1"]
    waiting = (
        f"waiting: gate {GATE}: CephCluster rook-ceph in rook-ceph: Ready is False, not True "
        "(ClusterProgressing: rebuilding after worker-1 came back)"
    )
    assert lines.index(waiting) < lines.index("worker-1 runs Talos v1.14.2; gates passed")
    started = next(e for e in events if e["type"] == "RunStarted")
    assert f"--gate-condition {GATE}" in started["resume_command"]


def test_a_gate_condition_that_does_not_parse_is_refused_before_anything_runs(tmp_path):
    config = tmp_path / "platform.yaml"
    shutil.copy(EXAMPLE, config)

    refused = talos_platform(
        "plan", "--operation", "upgrade-talos", "--to", "v1.14.2", "--offline", "--config", str(config),
        "--gate-condition", "deployment/web=Available",
    )  # fmt: skip

    assert refused.returncode == 2
    assert "--gate-condition" in refused.stderr
    assert "a Deployment lives in a namespace: add :NAMESPACE" in refused.stderr
