"""Issue 14, item 2: at 80x24 the screens show one cluster pane at a time, the whole width, so the
columns that matter are on screen (Nodes' Ready, Pod health's Problem) and the install screen's
output pane has a readable title; Tab, 1-4 and `:` switch panes; a larger terminal gets the grid."""

from __future__ import annotations

from support.cluster_data import cluster_snapshot, early_cluster_snapshot, install_progress

from talos_platform.tui.app import create_app
from talos_platform.tui.screens.dashboard import DashboardScreen
from talos_platform.tui.screens.install import InstallScreen
from talos_platform.tui.widgets.grid import PANE_IDS
from talos_platform.tui.widgets.pane import Pane
from talos_platform.tui.widgets.step_output import StepOutput

SMALL = (80, 24)


def shown(screen: DashboardScreen | InstallScreen) -> list[str]:
    return [pane_id for pane_id in screen.cluster_pane_ids if screen.pane(pane_id).display]


def column_fits(pane: Pane, name: str) -> bool:
    """The column's header and widest cell are inside the visible part of the table."""
    table = pane.table
    left = 0
    for column in table.ordered_columns:
        width = column.get_render_width(table)
        if str(column.label) == name:
            return left + width <= table.scrollable_content_region.width
        left += width
    raise AssertionError(f"no column {name}")


async def test_the_dashboard_at_80x24_shows_one_pane_with_its_essential_column() -> None:
    app = create_app(snapshot=cluster_snapshot(faulty=True))
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        assert screen.compact and shown(screen) == ["nodes"]
        nodes = screen.pane("nodes")
        assert nodes.content is not None and len(nodes.content.rows) == 6
        assert column_fits(nodes, "Ready")
        assert "3 Pods" in str(nodes.border_subtitle)
        await pilot.press("3")
        assert shown(screen) == ["pods"] and screen.focused_pane() is screen.pane("pods")
        await pilot.pause()
        assert column_fits(screen.pane("pods"), "Problem")
        await pilot.press("tab")
        assert shown(screen) == ["flows"]
        await pilot.press("tab")
        assert shown(screen) == ["alerts"]
        await pilot.pause()
        assert column_fits(screen.pane("alerts"), "Alert")
        await pilot.press("tab")
        assert shown(screen) == ["nodes"]
        await pilot.press("shift+tab")
        assert shown(screen) == ["alerts"]
        await pilot.press("colon", *"apps", "enter")
        assert shown(screen) == ["apps"]


async def test_a_larger_terminal_gets_the_grid_back() -> None:
    app = create_app(snapshot=cluster_snapshot(faulty=True))
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        await pilot.press("3")
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        assert not screen.compact and shown(screen) == list(PANE_IDS)
        assert screen.focused_pane() is screen.pane("pods")
        await pilot.press("tab")
        assert screen.focused_pane() is screen.pane("flows")


async def test_the_install_screen_at_80x24_has_rows_and_a_readable_output_title() -> None:
    app = create_app("install", progress=install_progress(), snapshot=early_cluster_snapshot())
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, InstallScreen)
        assert screen.compact and shown(screen) == ["nodes"]
        assert screen.steps_pane.table.scrollable_content_region.height >= 4
        output = screen.query_one(StepOutput)
        assert output.border_title == "Output: Wait for Cilium"
        assert output.region.width >= len(output.border_title) + 4
        assert screen.pane("nodes").table.scrollable_content_region.height >= 2
        await pilot.press("colon", *"steps", "enter")
        assert screen.steps_pane.table.has_focus
        await pilot.press("tab")
        assert shown(screen) == ["nodes"] and screen.focused_pane() is screen.pane("nodes")


LARGE = (200, 55)


async def test_at_200x55_the_reason_and_problem_columns_get_room_first() -> None:
    """Issue 14, item 3: in the four-pane grid the flows' Reason and the pods' Problem are whole,
    without scrolling or maximising."""
    app = create_app(snapshot=cluster_snapshot(faulty=True))
    async with app.run_test(size=LARGE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        assert not screen.compact
        assert column_fits(screen.pane("flows"), "Reason")
        assert column_fits(screen.pane("pods"), "Problem")
        assert column_fits(screen.pane("nodes"), "Memory")


def test_a_pod_detail_wraps_its_long_reason_rather_than_cutting_it() -> None:
    import io

    from rich.console import Console

    from talos_platform.tui.details import describe

    snapshot = cluster_snapshot(faulty=True)
    pending = next(p for p in snapshot.pod_problems if p.kind == "Pending")
    console = Console(width=90, record=True, file=io.StringIO())
    console.print(describe(f"pod:{pending.namespace}/{pending.name}", snapshot)[1])
    text = " ".join(line.strip() for line in console.export_text().splitlines())
    assert " ".join(pending.detail.split()) in " ".join(text.split())
