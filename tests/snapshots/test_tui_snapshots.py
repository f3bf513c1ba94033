"""Screens and key states as SVG snapshots (pytest-textual-snapshot). Deterministic: fixed data,
fixed times, fixed terminal size. Update with `--snapshot-update` and look at every changed SVG."""

from __future__ import annotations

from datetime import UTC, datetime

from support.cluster_data import cluster_snapshot, early_cluster_snapshot, install_progress

from talos_platform.engine.run.events import RunStarted, StepOutput, StepSkipped, StepStarted, StepSucceeded
from talos_platform.engine.run.journal import Journal
from talos_platform.engine.run.rollout import RolloutReader
from talos_platform.engine.state import StateDirectory
from talos_platform.tui.app import LIGHT, create_app

SIZE = (160, 48)
NOTE = "scenario faults, seed 7"


def dashboard(
    faulty: bool = True,
    *,
    stale: bool = False,
    pressure: bool = False,
    slow_api: bool = False,
    disk_full: bool = False,
    etcd: str = "",
    **kwargs,
):
    return create_app(
        snapshot=cluster_snapshot(
            faulty=faulty, stale=stale, pressure=pressure, slow_api=slow_api, disk_full=disk_full, etcd=etcd
        ),
        simulation_note=NOTE,
        cluster_name="homelab",
        kube_context="admin@homelab",
        **kwargs,
    )


def test_dashboard_healthy(snap_compare):
    assert snap_compare(dashboard(faulty=False), terminal_size=SIZE)


def test_dashboard_with_faults(snap_compare):
    assert snap_compare(dashboard(), terminal_size=SIZE)


def test_dashboard_stale_while_the_api_is_unreachable(snap_compare):
    """The Kubernetes API stopped answering 42 s ago: three panes say stale, grey, last known."""
    assert snap_compare(dashboard(faulty=False, stale=True), terminal_size=SIZE)


def test_nodes_under_pressure(snap_compare):
    """Three Ready workers: hot CPU, MemoryPressure, DiskPressure; none shown as plainly Ready."""
    assert snap_compare(dashboard(faulty=False, pressure=True), terminal_size=SIZE)


def test_nodes_under_pressure_maximised(snap_compare):
    """The whole row: why each worker is under pressure, and its CPU and memory in colour."""
    assert snap_compare(dashboard(faulty=False, pressure=True), press=["1", "z"], terminal_size=SIZE)


def test_slow_api_named_in_the_header(snap_compare):
    """Scenario slow-api: every request takes seconds; the header names it before it is an outage."""
    assert snap_compare(dashboard(faulty=False, slow_api=True), terminal_size=SIZE)


def test_full_disk_beside_cpu_and_memory(snap_compare):
    """Scenario disk-full: worker-2 at 97% with DiskPressure (red), worker-1 at 85% (orange)."""
    assert snap_compare(dashboard(faulty=False, disk_full=True), press=["1", "z"], terminal_size=SIZE)


def test_dashboard_with_faults_light_theme(snap_compare):
    assert snap_compare(dashboard(theme=LIGHT), terminal_size=SIZE)


def test_real_cluster_has_no_simulation_banner(snap_compare):
    app = create_app(snapshot=cluster_snapshot(faulty=True, simulated=False))
    assert snap_compare(app, terminal_size=SIZE)


def test_filter_box_open_on_pods(snap_compare):
    assert snap_compare(dashboard(), press=["3", "slash", *"shop"], terminal_size=SIZE)


def test_flows_filtered_to_drops_and_maximised(snap_compare):
    assert snap_compare(dashboard(), press=["4", "slash", *"verdict:dropped", "enter", "z"], terminal_size=SIZE)


def test_flows_paused(snap_compare):
    assert snap_compare(dashboard(), press=["4", "p"], terminal_size=SIZE)


def test_pod_detail(snap_compare):
    assert snap_compare(dashboard(), press=["3", "enter"], terminal_size=SIZE)


def test_node_detail_of_an_unreachable_node(snap_compare):
    assert snap_compare(dashboard(), press=["1", *["down"] * 5, "enter"], terminal_size=SIZE)


def test_alerts_maximised(snap_compare):
    """Firing alerts worst first with how long each fires; the silenced and inhibited counted."""
    assert snap_compare(dashboard(), press=["5", "z"], terminal_size=SIZE)


def test_alert_detail(snap_compare):
    assert snap_compare(dashboard(), press=["5", "enter"], terminal_size=SIZE)


def test_help(snap_compare):
    assert snap_compare(dashboard(), press=["question_mark"], terminal_size=SIZE)


def test_install_in_progress(snap_compare):
    app = create_app("install", progress=install_progress(), snapshot=early_cluster_snapshot(), simulation_note=NOTE)
    assert snap_compare(app, terminal_size=SIZE)


def test_install_with_pods_starting(snap_compare):
    """A wave's pods scheduled 20 s ago, their containers being created: starting (blue), no
    problem counted."""
    from support.cluster_data import starting_pods_snapshot

    app = create_app("install", progress=install_progress(), snapshot=starting_pods_snapshot(), simulation_note=NOTE)
    assert snap_compare(app, terminal_size=SIZE)


def test_install_in_layer_0_with_nodes_waiting_for_their_config(snap_compare):
    """The configs are being applied: worker-2 and worker-3 answer only the maintenance API (waiting
    for config, blue), the others reboot into theirs while their steps wait for them (the Talos API
    refuses meanwhile: rebooting into its config, blue, not red unreachable)."""
    from support.cluster_data import layer_zero_progress, layer_zero_snapshot

    app = create_app("install", progress=layer_zero_progress(), snapshot=layer_zero_snapshot(), simulation_note=NOTE)
    assert snap_compare(app, terminal_size=SIZE)


def test_install_failed_with_hint(snap_compare):
    app = create_app(
        "install", progress=install_progress(failed=True), snapshot=early_cluster_snapshot(), simulation_note=NOTE
    )
    assert snap_compare(app, terminal_size=SIZE)


def test_quitting_a_running_install_asks_first(snap_compare):
    app = create_app("install", progress=install_progress(), snapshot=early_cluster_snapshot(), simulation_note=NOTE)
    assert snap_compare(app, press=["q"], terminal_size=SIZE)


# --- issue 13: the leaf blocker, a node back in maintenance mode, a fault announced -------------


def test_dashboard_names_the_leaf_blocker_and_a_node_in_maintenance_mode(snap_compare):
    from support.blocker_data import blocked_cluster_snapshot

    app = create_app(snapshot=blocked_cluster_snapshot(), simulation_note="scenario crash-loop, seed 1")
    assert snap_compare(app, terminal_size=SIZE)


def test_banner_announces_the_scenarios_next_fault(snap_compare):
    from support.blocker_data import announced_outlook

    app = create_app(
        snapshot=cluster_snapshot(faulty=False),
        simulation_note="scenario node-down, seed 1",
        fault_outlook=announced_outlook(),
    )
    assert snap_compare(app, terminal_size=SIZE)


def test_install_failed_early_on_a_degraded_app_with_a_hint_naming_it(snap_compare, tmp_path):
    """Scenario app-degraded, run to its end: wave -98 fails once cert-manager has been Degraded
    for the grace (not after the whole timeout), with the app's message and the ImagePull pod
    behind it; the hint names the app and the pod in commands to run."""
    import asyncio

    from support.recorded_install import record_install

    progress, snapshot = asyncio.run(record_install("app-degraded", tmp_path / "state"))
    assert progress.failed_step == "L2.wave-98"
    app = create_app("install", progress=progress, snapshot=snapshot, simulation_note="scenario app-degraded, seed 1")
    assert snap_compare(app, terminal_size=SIZE)


def test_node_detail_of_a_node_in_maintenance_mode(snap_compare):
    from support.blocker_data import blocked_cluster_snapshot

    app = create_app(snapshot=blocked_cluster_snapshot(), simulation_note="scenario node-stuck-in-maintenance, seed 1")
    assert snap_compare(app, press=["1", *["down"] * 4, "enter"], terminal_size=SIZE)


# --- issue 14: k9s habits, pods found by filter, the palette, small and large terminals ----------


def test_nodes_sorted_by_cpu_busiest_first(snap_compare):
    """Maximised, `s` steps to the CPU column, `S` reverses: the busiest node on top, the node
    without a figure (unreachable) last, the title says so."""
    assert snap_compare(dashboard(), press=["1", "z", *"s" * 3, "S"], terminal_size=SIZE)


def test_install_stopping_after_quit_was_confirmed(snap_compare):
    """After `q`, `y`: the header and the steps' summary say the stop is under way while the
    running steps finish."""
    progress = install_progress()
    progress.stop_requested = True
    app = create_app("install", progress=progress, snapshot=early_cluster_snapshot(), simulation_note=NOTE)
    assert snap_compare(app, terminal_size=SIZE)


def test_pod_filter_finds_a_healthy_pod(snap_compare):
    """`/vault-0`: the healthy pod has its own row (no longer only a namespace count)."""
    assert snap_compare(dashboard(), press=["3", "slash", *"vault-0", "enter"], terminal_size=SIZE)


def test_pod_filter_matching_nothing_says_so(snap_compare):
    assert snap_compare(dashboard(), press=["3", "slash", *"vault-9", "enter"], terminal_size=SIZE)


def test_install_output_of_a_quiet_step(snap_compare):
    """A step that has printed nothing yet says so in the output pane (it looked stuck)."""
    from support.cluster_data import T0

    from talos_platform.engine.run.events import StepStarted

    progress = install_progress()
    quiet = next(s for s in progress.steps.values() if s.state == "pending")
    progress.apply(StepStarted(at=T0 + 100, step_id=quiet.id, layer=quiet.layer, title=quiet.title))
    app = create_app("install", progress=progress, snapshot=early_cluster_snapshot(), simulation_note=NOTE)
    assert snap_compare(app, terminal_size=SIZE)


SMALL = (80, 24)
LARGE = (200, 55)


def test_dashboard_at_80x24_one_pane_at_a_time(snap_compare):
    """A small terminal: Nodes the whole width with its Ready column; the others named below."""
    assert snap_compare(dashboard(), terminal_size=SMALL)


def test_dashboard_at_80x24_pod_health(snap_compare):
    """`3`: Pod health with its Problem column (the OOM-killed crash loop on top)."""
    assert snap_compare(dashboard(), press=["3"], terminal_size=SMALL)


def test_install_at_80x24(snap_compare):
    """Steps over the output (its title whole), then one cluster pane."""
    app = create_app("install", progress=install_progress(), snapshot=early_cluster_snapshot(), simulation_note=NOTE)
    assert snap_compare(app, terminal_size=SMALL)


def test_dashboard_at_200x55(snap_compare):
    assert snap_compare(dashboard(), terminal_size=LARGE)


def test_install_at_200x55(snap_compare):
    app = create_app("install", progress=install_progress(), snapshot=early_cluster_snapshot(), simulation_note=NOTE)
    assert snap_compare(app, terminal_size=LARGE)


def finished_install():
    """Every step done; the success message has what the headless install prints after it."""
    from pathlib import Path

    from support.cluster_data import EXAMPLE_CONFIG

    from talos_platform.engine.access import next_steps
    from talos_platform.engine.config.loading import load_config

    progress = install_progress(finished=True)
    state = StateDirectory(Path("/home/ops/.local/state/talos-platform/homelab"))
    progress.notes = tuple(next_steps(load_config(EXAMPLE_CONFIG), state, simulated=True))
    return create_app("install", progress=progress, snapshot=cluster_snapshot(faulty=False), simulation_note=NOTE)


def test_install_succeeded_with_what_next(snap_compare):
    """Issue 14, item 9: where the kubeconfig and talosconfig are and how to open the dashboard."""
    assert snap_compare(finished_install(), terminal_size=SIZE)


def test_install_succeeded_at_80x24(snap_compare):
    """The output gives way to the success message, which keeps room for its lines."""
    assert snap_compare(finished_install(), terminal_size=SMALL)


# --- issue 19: etcd health ------------------------------------------------------------------------


def test_nodes_with_etcd_in_trouble(snap_compare):
    """Maximised Nodes pane: the etcd column (leader, sizes, a learner, a NOSPACE alarm at 95% of
    the quota) and the problems under the table, counted in the summary."""
    assert snap_compare(dashboard(faulty=False, etcd="troubled"), press=["1", "z"], terminal_size=SIZE)


def test_node_detail_with_etcd(snap_compare):
    """cp-1's detail view: its etcd member, database against the quota and where the quota comes
    from, raft index, the alarm and the member list."""
    assert snap_compare(dashboard(faulty=False, etcd="troubled"), press=["1", "enter"], terminal_size=SIZE)


# --- issue 15: the dashboard during day-2 work ----------------------------------------------------


def upgrade_waiting_on_a_gate(tmp_path) -> StateDirectory:
    """An upgrade another terminal runs: cp-1 done, cp-2 back and waiting for an ArgoCD Application."""
    state = StateDirectory(tmp_path)
    state.ensure()
    nodes = ("cp-1", "cp-2", "cp-3", "worker-1", "worker-2", "worker-3")
    with Journal(state.runs, run_id="20260101T120000000000Z-5e1f2a") as journal:
        journal.append(
            RunStarted(
                at=1.0,
                run_id=journal.run_id,
                steps=("T.preflight", *(f"T.upgrade.{n}" for n in nodes), "T.config"),
                operation="upgrade-talos",
                resume_command="talos-platform upgrade-talos --to v1.14.1",
            )
        )
        journal.append(
            StepSkipped(
                at=2.0, step_id="T.preflight", reason="nodes run v1.14.0 on " + ", ".join(nodes) + "; installer x"
            )
        )
        journal.append(StepSucceeded(at=3.0, step_id="T.upgrade.cp-1", duration=150.0))
        journal.append(StepStarted(at=4.0, step_id="T.upgrade.cp-2", layer=1, title="Upgrade cp-2"))
        for line in ("cp-2: draining", "cp-2: rebooting into v1.14.1", "cp-2: back, uncordoned"):
            journal.append(StepOutput(at=5.0, step_id="T.upgrade.cp-2", line=line))
        journal.append(
            StepOutput(at=6.0, step_id="T.upgrade.cp-2", line="waiting: ArgoCD Applications not healthy: vault")
        )
    return state


def test_rollout_strip_during_a_talos_upgrade(snap_compare, tmp_path):
    """Under the header: the upgrade another terminal runs (it holds the lock), one node of six done,
    started 4 min ago; under it cp-2, at its gates, v1.14.0 -> v1.14.1, waiting for an ArgoCD
    Application."""
    state = upgrade_waiting_on_a_gate(tmp_path)
    started = datetime(2026, 1, 1, 12, 0, tzinfo=UTC).timestamp()
    reader = RolloutReader(StateDirectory(tmp_path), now=lambda: started + 240)
    with state.lock(holder="upgrade-talos"):
        assert snap_compare(dashboard(faulty=False, rollout=reader), terminal_size=SIZE)


def test_rollout_strip_at_80x24(snap_compare, tmp_path):
    """Two lines at 80 columns, each cut with an ellipsis where it does not fit: the run's loses the
    end of its id, the node's line fits."""
    state = upgrade_waiting_on_a_gate(tmp_path)
    started = datetime(2026, 1, 1, 12, 0, tzinfo=UTC).timestamp()
    reader = RolloutReader(StateDirectory(tmp_path), now=lambda: started + 240)
    with state.lock(holder="upgrade-talos"):
        assert snap_compare(dashboard(faulty=False, rollout=reader), terminal_size=SMALL)
