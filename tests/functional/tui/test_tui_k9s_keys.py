"""Issue 14, item 5: the habits k9s users bring (j/k, g/G, Home/End, `:` to a pane by name, column
sort, Ctrl+C), names in the order people read them and counts written alike."""

from __future__ import annotations

import dataclasses
import re

from support.cluster_data import cluster_snapshot, install_progress
from textual.widgets import Input

from talos_platform.engine.observe import ClusterSnapshot, NamespaceHealth
from talos_platform.engine.observe.ordering import natural_key
from talos_platform.engine.observe.snapshot import DroppedPair
from talos_platform.tui.app import create_app
from talos_platform.tui.screens.confirm import ConfirmScreen
from talos_platform.tui.screens.dashboard import DashboardScreen
from talos_platform.tui.screens.install import InstallScreen
from talos_platform.tui.widgets.apps import apps_content
from talos_platform.tui.widgets.flows import flows_content
from talos_platform.tui.widgets.nodes import nodes_content
from talos_platform.tui.widgets.pods import pods_content

SIZE = (180, 50)


def ten_workers() -> ClusterSnapshot:
    """The example cluster with worker-10 (and its node list in plain string order)."""
    snapshot = cluster_snapshot()
    template = next(n for n in snapshot.nodes if n.name == "worker-1")
    tenth = dataclasses.replace(template, name="worker-10", address="192.168.10.30")
    nodes = sorted((*snapshot.nodes, tenth), key=lambda n: (n.role != "control-plane", n.name))
    return dataclasses.replace(snapshot, nodes=tuple(nodes))


def keys(screen: DashboardScreen, pane_id: str) -> list[str]:
    content = screen.pane(pane_id).content
    assert content is not None
    return [row.key for row in content.rows]


def test_natural_key_orders_numbers_by_value() -> None:
    names = ["worker-10", "worker-2", "cp-1", "Worker-3", "worker-1"]
    assert sorted(names, key=natural_key) == ["cp-1", "worker-1", "worker-2", "Worker-3", "worker-10"]
    assert sorted(["12,000", "1,280", "999"], key=natural_key) == ["999", "1,280", "12,000"]


def test_node_names_sort_naturally() -> None:
    names = [row.key for row in nodes_content(ten_workers()).rows]
    assert names == [
        "node:cp-1",
        "node:cp-2",
        "node:cp-3",
        "node:worker-1",
        "node:worker-2",
        "node:worker-3",
        "node:worker-10",
    ]


def test_counts_have_thousands_separators_everywhere() -> None:
    snapshot = cluster_snapshot(faulty=True)
    big = dataclasses.replace(
        snapshot,
        namespaces=(*snapshot.namespaces, NamespaceHealth("batch", 12345, 12345)),
        flows=dataclasses.replace(
            snapshot.flows, top_dropped=(DroppedPair("batch/job-1", "kube-system/coredns", "Policy denied", 23456),)
        ),
    )
    texts: list[str] = []
    for content in (nodes_content(big), apps_content(big), pods_content(big), flows_content(big)):
        texts.append(content.title)
        texts.append(content.summary.plain)
        if content.columns[0] != "Time":  # flow rows hold ports, not counts
            texts.extend(str(cell) for row in content.rows for cell in row.cells)
    joined = "\n".join(texts)
    assert "12,345/12,345 healthy" in joined and "23,456×" in joined
    # No bare count of four digits or more (times, addresses and versions are not counts).
    bare = [
        found.group(0)
        for found in re.finditer(r"(?<![\d.:,v-])\d{4,}(?![\d.:,])", joined)
        if not re.search(r"[a-z0-9]-" + found.group(0), joined)
    ]
    assert bare == []


async def test_j_k_g_G_home_end_move_the_cursor() -> None:
    app = create_app(snapshot=ten_workers())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        nodes = screen.pane("nodes")
        assert nodes.selected_key() == "node:cp-1"
        await pilot.press("j", "j")
        assert nodes.selected_key() == "node:cp-3"
        await pilot.press("k")
        assert nodes.selected_key() == "node:cp-2"
        await pilot.press("G")
        assert nodes.selected_key() == "node:worker-10"
        await pilot.press("g")
        assert nodes.selected_key() == "node:cp-1"
        await pilot.press("end")
        assert nodes.selected_key() == "node:worker-10"
        await pilot.press("home")
        assert nodes.selected_key() == "node:cp-1"


async def test_colon_switches_pane_by_name() -> None:
    app = create_app(snapshot=cluster_snapshot(faulty=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        await pilot.press("colon")
        box = screen.query_one("#filter", Input)
        assert box.display and box.has_focus
        await pilot.press(*"po", "enter")
        assert not box.display
        assert (screen.focused_pane() or screen.pane("nodes")).id == "pods"
        assert screen.pane("pods").query_text == ""  # a pane's name is not a filter
        await pilot.press("colon", *"hubble", "enter")
        assert (screen.focused_pane() or screen.pane("nodes")).id == "flows"
        await pilot.press("colon", *"nonsense", "enter")
        assert (screen.focused_pane() or screen.pane("nodes")).id == "flows"
        await pilot.press("colon", *"apps", "enter")
        assert (screen.focused_pane() or screen.pane("nodes")).id == "apps"


async def test_colon_reaches_the_steps_of_the_install_screen() -> None:
    app = create_app("install", progress=install_progress(), snapshot=cluster_snapshot())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, InstallScreen)
        await pilot.press("colon", *"nodes", "enter")
        assert (screen.focused_pane() or screen.steps_pane).id == "nodes"
        await pilot.press("colon", *"steps", "enter")
        assert screen.steps_pane.table.has_focus


async def test_s_sorts_the_focused_pane_by_its_next_column_and_S_reverses() -> None:
    app = create_app(snapshot=ten_workers())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        await pilot.press("s")  # by Node: natural order, control planes among the rest
        assert keys(screen, "nodes")[-2:] == ["node:worker-3", "node:worker-10"]
        assert "sorted by Node ↑" in str(screen.pane("nodes").border_title)
        await pilot.press("S")
        assert keys(screen, "nodes")[:2] == ["node:worker-10", "node:worker-3"]
        assert "sorted by Node ↓" in str(screen.pane("nodes").border_title)
        await pilot.press(*"sssss")  # by Role (past Ready, CPU, Memory, Disk): cp before worker
        assert keys(screen, "nodes")[:3] == ["node:cp-1", "node:cp-2", "node:cp-3"]
        assert "sorted by Role" in str(screen.pane("nodes").border_title)
        await pilot.press(*"s" * 5)  # past the last column: the pane's own order again
        assert "sorted" not in str(screen.pane("nodes").border_title)
        assert keys(screen, "nodes")[0] == "node:cp-1"


async def test_sorting_apps_keeps_each_app_under_its_wave() -> None:
    app = create_app(snapshot=cluster_snapshot(faulty=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        before = keys(screen, "apps")
        await pilot.press("2", "s", "s", "S")  # by Application, reversed
        after = keys(screen, "apps")
        assert [k for k in after if k.startswith("wave:")] == [k for k in before if k.startswith("wave:")]
        assert sorted(after) == sorted(before)
        wave_10 = after[after.index("wave:10") + 1 :]
        assert wave_10 == sorted(wave_10, key=natural_key, reverse=True)


async def test_ctrl_c_quits_the_dashboard() -> None:
    app = create_app(snapshot=cluster_snapshot())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert not app.is_running


async def test_ctrl_c_during_an_install_asks_as_q_does() -> None:
    progress = install_progress()
    assert progress.running
    app = create_app("install", progress=progress, snapshot=cluster_snapshot())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("ctrl+c")  # asking already: not a second question
        assert len(app.screen_stack) == 3
        await pilot.press("n")
        assert isinstance(app.screen, InstallScreen) and app.is_running
