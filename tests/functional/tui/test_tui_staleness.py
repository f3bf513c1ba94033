"""Stale marking and the header line as pure functions of a snapshot (no app running)."""

from __future__ import annotations

import dataclasses

from support.cluster_data import T0, cluster_snapshot

from talos_platform.engine.observe.freshness import HUBBLE_RELAY, Freshness, SourceState
from talos_platform.tui.styles import MUTED
from talos_platform.tui.widgets.cluster_header import header_text
from talos_platform.tui.widgets.flows import flows_content
from talos_platform.tui.widgets.staleness import mark_stale, stale_label


def test_a_relay_that_stopped_answering_makes_only_the_flows_pane_stale():
    snapshot = cluster_snapshot(faulty=True)
    relay_down = SourceState(
        HUBBLE_RELAY, reachable=False, error="connection refused", down_since=snapshot.taken_at - 15
    )
    snapshot = dataclasses.replace(snapshot, freshness=Freshness(flows=relay_down))
    assert stale_label(snapshot, "flows") == "stale 15 s: Hubble Relay unreachable"
    assert [stale_label(snapshot, p) for p in ("nodes", "apps", "pods")] == ["", "", ""]
    content = mark_stale(flows_content(snapshot), stale_label(snapshot, "flows"))
    assert content.stale and content.title.endswith(" — stale 15 s: Hubble Relay unreachable")
    assert all(str(cell.style) == MUTED for row in content.rows for cell in row.cells)  # DROPPED is no longer red


def test_a_pane_whose_source_never_answered_says_nothing_was_read_not_last_known():
    snapshot = cluster_snapshot(faulty=True)
    never = SourceState(
        HUBBLE_RELAY, reachable=False, error="connection refused", down_since=snapshot.taken_at - 15, answered=False
    )
    snapshot = dataclasses.replace(snapshot, freshness=Freshness(flows=never))
    content = mark_stale(flows_content(snapshot), stale_label(snapshot, "flows"))
    assert content.title.endswith(" — waiting 15 s: Hubble Relay not answering yet")
    assert content.summary.plain.startswith("nothing read yet, ") and "last known" not in content.summary.plain


def test_a_fresh_pane_is_left_exactly_as_it_was():
    snapshot = cluster_snapshot(faulty=True)
    content = flows_content(snapshot)
    assert mark_stale(content, stale_label(snapshot, "flows")) is content


def test_the_header_ages_the_data_between_snapshots_and_from_the_break():
    healthy = cluster_snapshot()
    assert "last update 0 s ago · Kubernetes API ✓ answering" in header_text(healthy, None, "homelab", "ctx").plain
    # No snapshot for 25 s (a stalled feed): the data ages although the API was answering.
    assert "last update 25 s ago" in header_text(healthy, healthy.taken_at + 25, "homelab", "ctx").plain
    stale = cluster_snapshot(stale=True)
    text = header_text(stale, T0 + 40, "homelab", "ctx").plain
    assert "last update 52 s ago" in text and "Kubernetes API ✗ unreachable for 52 s: nodes: Get" in text


def test_a_feed_that_stopped_makes_every_pane_say_no_update_received():
    snapshot = cluster_snapshot()
    assert stale_label(snapshot, "pods", snapshot.taken_at + 9) == ""
    assert stale_label(snapshot, "pods", snapshot.taken_at + 12) == "stale 12 s: no update received"
    assert stale_label(snapshot, "flows", snapshot.taken_at + 12) == "stale 12 s: no update received"
    # A source that is down says why, whatever else is late.
    stale = cluster_snapshot(stale=True)
    assert stale_label(stale, "nodes", stale.taken_at + 12) == "stale 54 s: Kubernetes API unreachable"
