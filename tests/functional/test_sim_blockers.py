"""Issue 13 on the simulated platform, through the real install steps and `status --live`: the
install names the leaf blocker behind an app of apps, fails early when the outcome is known (a
Degraded app, a node back in maintenance mode), and its hints name the app or node exactly."""

from __future__ import annotations

import math

from talos_platform.engine.run.events import StepFailed, StepOutput, StepStarted
from talos_platform.engine.session import InstallSession
from talos_platform.engine.sim import simulated_platform
from talos_platform.engine.state import StateDirectory


async def install(tmp_path, scenario: str):
    """Run the install; every event is kept with the virtual time it happened at."""
    platform = simulated_platform(scenario, speed=math.inf)
    session = InstallSession(
        platform.config, platform.secrets, StateDirectory(tmp_path / scenario), platform.drivers, platform.clock
    )
    events = []
    session.subscribe(lambda event: events.append((platform.clock.now(), event)))
    outcome = await session.run()
    return platform, outcome, events


def failures(events) -> dict[str, StepFailed]:
    return {e.step_id: e for _, e in events if isinstance(e, StepFailed)}


def lasted(events, step_id: str) -> float:
    started = next(t for t, e in events if isinstance(e, StepStarted) and e.step_id == step_id)
    ended = next(t for t, e in events if isinstance(e, StepFailed) and e.step_id == step_id)
    return ended - started


def all_output(events) -> str:
    return "\n".join(e.line for _, e in events if isinstance(e, StepOutput))


async def test_a_degraded_app_fails_its_step_after_the_grace_with_its_pods_and_a_hint_naming_it(tmp_path):
    platform, outcome, events = await install(tmp_path, "app-degraded")
    assert outcome == "failed"
    failed = failures(events)["L2.wave-98"]
    # Degraded after its 120 s progress deadline, failed after the 120 s grace: not the 900 s timeout.
    assert platform.config.gitops.degraded_grace == 120
    assert lasted(events, "L2.wave-98") < 400
    assert "Degraded for 120s" in failed.error and "exceeded its progress deadline" in failed.error
    assert "cert-manager/cert-manager-" in failed.error and "ImagePullBackOff" in failed.error  # the pod behind it
    assert "`kubectl -n argocd get application cert-manager -o yaml`" in failed.hint
    assert "kubectl -n cert-manager describe pod cert-manager-" in failed.hint
    assert "NAME" not in failed.hint


async def test_crash_loop_install_names_the_leaf_app_its_statefulset_and_the_oom_killed_pod(tmp_path):
    _, outcome, events = await install(tmp_path, "crash-loop")
    assert outcome == "failed"
    monitoring = failures(events)["L3.app.monitoring"]
    assert "StatefulSet monitoring/prometheus-kube-prometheus-stack-prometheus Progressing" in monitoring.error
    assert "prometheus-kube-prometheus-stack-prometheus-0 OOMKilled" in monitoring.error
    assert "get application monitoring -o yaml" in monitoring.hint
    # The parents that only wait are never given as the cause.
    later = failures(events)["L4.applications"]
    assert "the earliest app not ready is monitoring: StatefulSet" in later.error
    assert "layer-0: OutOfSync/Missing" not in all_output(events)


async def test_vault_pending_install_names_vault_and_its_pending_pod(tmp_path):
    _, outcome, events = await install(tmp_path, "vault-pending")
    assert outcome == "failed"
    waiting = failures(events)["L4.applications"]
    assert "the earliest app not ready is vault: StatefulSet vault/vault Progressing" in waiting.error
    assert "vault/vault-0 Pending" in waiting.error and "unbound immediate PersistentVolumeClaims" in waiting.error
    assert "get application vault -o yaml" in waiting.hint


async def test_a_node_back_in_maintenance_mode_fails_at_once_naming_it_and_the_talosctl_commands(tmp_path):
    platform, outcome, events = await install(tmp_path, "node-stuck-in-maintenance")
    assert outcome == "failed"
    address = platform.config.node_ip(platform.config.node_named("worker-2"))
    stuck = failures(events)["L0.apply-config.worker-2"]
    assert lasted(events, "L0.apply-config.worker-2") < 300  # not the 900 s timeout
    assert "worker-2" in stuck.error and "back in maintenance mode" in stuck.error
    assert "disk /dev/nvme0n1 not found" in stuck.error
    assert f"`talosctl -n {address} --insecure get machinestatus -o yaml`" in stuck.hint
    registered = failures(events)["L0.kubernetes-api"]
    assert f"worker-2: `talosctl -n {address} -e {address} service kubelet`" in registered.hint
    assert all("<node>" not in f.hint for f in failures(events).values())


def test_status_live_names_the_node_in_maintenance_mode(capsys):
    from talos_platform.main import main

    code = main(["status", "--live", "--simulated", "--scenario", "node-stuck-in-maintenance"])
    printed = capsys.readouterr().out
    assert code == 1
    assert (
        "worker-2 (192.168.10.22): in maintenance mode: install failed: disk /dev/nvme0n1 not found; "
        "see `talosctl -n 192.168.10.22 --insecure get machinestatus -o yaml`"
    ) in printed


def test_status_live_names_the_leaf_blocker(capsys):
    from talos_platform.main import main

    assert main(["status", "--live", "--simulated", "--scenario", "crash-loop"]) == 1
    printed = capsys.readouterr().out
    assert (
        "wave 0 is blocked by monitoring: StatefulSet monitoring/prometheus-kube-prometheus-stack-prometheus" in printed
    )
    assert "(pod prometheus-kube-prometheus-stack-prometheus-0 CrashLoopBackOff, OOMKilled)" in printed
