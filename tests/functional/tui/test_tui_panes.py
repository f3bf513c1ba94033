"""Pane contents are pure functions of a snapshot: checked here without running an app."""

from __future__ import annotations

import dataclasses

from support.cluster_data import cluster_snapshot, install_progress

from talos_platform.tui.widgets.apps import apps_content
from talos_platform.tui.widgets.flows import FlowQuery, flows_content
from talos_platform.tui.widgets.nodes import nodes_content
from talos_platform.tui.widgets.pods import pods_content
from talos_platform.tui.widgets.steps import steps_content


def cells(row) -> list[str]:
    return [str(c) for c in row.cells]


def test_nodes_pane_marks_the_unreachable_node_and_filters():
    content = nodes_content(cluster_snapshot(faulty=True))
    worker3 = next(r for r in content.rows if r.key == "node:worker-3")
    assert "✗ unreachable" in cells(worker3)
    assert "1 unreachable" in content.summary.plain
    assert [r.key for r in nodes_content(cluster_snapshot(faulty=True), "unreachable").rows] == ["node:worker-3"]


def test_apps_pane_groups_by_wave_in_order_with_the_blocking_line():
    content = apps_content(cluster_snapshot(faulty=True))
    waves = [r.key for r in content.rows if r.key.startswith("wave:")]
    assert waves == ["wave:-100", "wave:-99", "wave:-98", "wave:-97", "wave:-96", "wave:0", "wave:10"]
    assert content.summary.plain.splitlines()[1].startswith("wave -98 is blocked by cert-manager:")


def test_pods_pane_lists_problems_first_then_namespaces():
    content = pods_content(cluster_snapshot(faulty=True))
    kinds = [cells(r)[1] for r in content.rows[:5]]
    assert kinds[0] == "✗ CrashLoopBackOff ← OOMKilled" and "Pending" in kinds[3]
    assert all(r.key.startswith("namespace:") for r in content.rows[5:])


def test_flow_query_parses_fields_and_words():
    assert FlowQuery.parse("ns:shop verdict:dropped pod:web extra") == FlowQuery("shop", "web", "DROPPED", "extra")


def test_paused_flows_keep_their_rows_and_count_pending():
    first = cluster_snapshot(faulty=True)
    later = dataclasses.replace(
        first, flows=dataclasses.replace(first.flows, total_flows=first.flows.total_flows + 42, recent=())
    )
    paused = flows_content(later, paused=first)
    assert paused.rows == flows_content(first).rows
    assert "42 new flows pending" in paused.summary.plain
    assert flows_content(later).rows == ()


def test_empty_panes_say_which_layer_brings_them():
    empty = dataclasses.replace(
        cluster_snapshot(),
        nodes=(),
        waves=(),
        namespaces=(),
        pod_problems=(),
        flows=dataclasses.replace(cluster_snapshot().flows, available=False),
    )
    assert not nodes_content(empty).online and "layer 0" in nodes_content(empty).empty
    assert "layer 2" in apps_content(empty).empty and "layer 1" in flows_content(empty).empty


def test_step_checklist_shows_state_time_and_retries():
    content = steps_content(install_progress(failed=True))
    failed = next(r for r in content.rows if r.key == "step:L0.apply-config.worker-3")
    assert cells(failed)[0] == "✗" and cells(failed)[2] == "30.0s" and cells(failed)[3] == "1"
    assert "install failed" in content.summary.plain


def test_summary_parts_are_separated_and_no_styled_run_starts_with_a_space():
    # SVG renderers trim the spaces a run starts with; screenshots ran the parts together.
    for content in (
        flows_content(cluster_snapshot(faulty=True), "verdict:dropped"),
        nodes_content(cluster_snapshot(faulty=True)),
        pods_content(cluster_snapshot(faulty=True), "shop"),
    ):
        plain = content.summary.plain
        assert " · " in plain.splitlines()[0]
        assert not [plain[s.start : s.end] for s in content.summary.spans if plain[s.start : s.end].startswith(" ")]
    flows = flows_content(cluster_snapshot(faulty=True), "verdict:dropped").summary.plain
    assert flows.splitlines()[0].endswith(" flows/s · lost events: 1,280 · filter: verdict:dropped")
