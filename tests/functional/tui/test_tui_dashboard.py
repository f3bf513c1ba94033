"""The dashboard driven with Pilot: navigation, filters, maximise, pause, drill-down and
cross-links, theme; asserting on the app's state."""

from __future__ import annotations

import dataclasses
import threading

from support.cluster_data import cluster_snapshot
from textual.widgets import Input

from talos_platform.tui.app import DARK, LIGHT, create_app
from talos_platform.tui.screens.dashboard import DashboardScreen
from talos_platform.tui.screens.detail import DetailScreen
from talos_platform.tui.screens.help import HelpScreen
from talos_platform.tui.widgets.flows import COLUMNS

SIZE = (180, 50)


def rows(screen: DashboardScreen, pane_id: str) -> list[str]:
    return [row.key for row in screen.pane(pane_id).content.rows]


async def test_panes_show_the_snapshot_and_the_simulation_label():
    app = create_app(snapshot=cluster_snapshot(faulty=True), simulation_note="scenario faults")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        banner = screen.query_one("#banner")
        assert banner.display and "SIMULATED" in str(banner.render())
        assert rows(screen, "nodes")[:2] == ["node:cp-1", "node:cp-2"]
        assert rows(screen, "pods")[0] == "pod:shop/api-5d8f6-x2k9q"  # the OOM-killed crash loop first
        assert "wave -98 is blocked by cert-manager" in screen.pane("apps").content.summary.plain
        assert "lost events: 1,280" in screen.pane("flows").content.summary.plain


async def test_real_cluster_is_not_labelled_simulated():
    app = create_app(snapshot=cluster_snapshot(simulated=False))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not app.screen.query_one("#banner").display


async def test_number_keys_and_tab_move_between_panes_and_help_opens_and_closes():
    app = create_app(snapshot=cluster_snapshot())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert screen.focused_pane().id == "nodes"
        await pilot.press("3")
        assert screen.focused_pane().id == "pods"
        await pilot.press("tab")
        assert screen.focused_pane().id == "flows"
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert app.screen is screen


async def test_help_is_one_screen_opened_again_and_again_in_the_theme_of_the_moment():
    """`?` pushes the same help screen every time (built once, not on every press); kept while
    closed, it still follows a theme change made meanwhile."""
    app = create_app(snapshot=cluster_snapshot())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        first = app.screen
        assert isinstance(first, HelpScreen)
        await pilot.press("escape", "t", "question_mark")
        await pilot.pause()
        assert app.screen is first and app.theme == LIGHT
        reused = app.export_screenshot()
    fresh = create_app(snapshot=cluster_snapshot(), theme=LIGHT)
    async with fresh.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert reused == fresh.export_screenshot()


async def test_slash_filters_the_focused_pane_and_escape_clears_it():
    app = create_app(snapshot=cluster_snapshot(faulty=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        await pilot.press("3", "slash")
        box = screen.query_one("#filter", Input)
        assert box.display and box.has_focus
        await pilot.press(*"shop", "enter")
        assert not box.display
        pods = screen.pane("pods")
        assert pods.query_text == "shop"
        # Problems first, then the healthy pods the filter finds (issue 14), then the namespace.
        assert rows(screen, "pods") == [
            "pod:shop/api-5d8f6-x2k9q",
            "pod:shop/search-0",
            *(f"pod:shop/shop-{i}-7f9c" for i in range(4)),
            "namespace:shop",
        ]
        assert screen.pane("nodes").query_text == ""  # only the focused pane is filtered
        await pilot.press("escape")
        assert pods.query_text == ""
        assert len(rows(screen, "pods")) > 3


async def test_flow_filter_by_verdict_and_namespace():
    app = create_app(snapshot=cluster_snapshot(faulty=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        await pilot.press("4", "slash", *"verdict:dropped ns:vault", "enter")
        content = screen.pane("flows").content
        assert content.rows and all(
            "DROPPED" in str(r.cells[1]) and r.cells[COLUMNS.index("Destination")] == "vault/vault-0"
            for r in content.rows
        )


async def test_maximise_hides_the_other_panes_and_escape_restores():
    app = create_app(snapshot=cluster_snapshot())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        await pilot.press("2", "z")
        assert screen.maximised == "apps"
        assert [screen.pane(p).display for p in ("nodes", "apps", "pods", "flows")] == [False, True, False, False]
        await pilot.press("escape")
        assert screen.maximised is None
        assert all(screen.pane(p).display for p in ("nodes", "apps", "pods", "flows"))


async def test_pause_freezes_flows_and_counts_pending():
    first = cluster_snapshot(faulty=True)
    app = create_app(snapshot=first)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        before = rows(screen, "flows")
        await pilot.press("p")
        newer_flows = dataclasses.replace(
            first.flows, total_flows=first.flows.total_flows + 250, recent=first.flows.recent[:-5]
        )
        app.show_snapshot(dataclasses.replace(first, flows=newer_flows, generation=2))
        await pilot.pause()
        assert rows(screen, "flows") == before
        assert "PAUSED, 250 new flows pending" in screen.pane("flows").content.summary.plain
        await pilot.press("p")
        assert rows(screen, "flows") != before
        assert "PAUSED" not in screen.pane("flows").content.summary.plain


async def test_pod_drill_down_and_cross_links_to_flows_app_and_node():
    app = create_app(snapshot=cluster_snapshot(faulty=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        await pilot.press("3", "enter")
        detail = app.screen
        assert isinstance(detail, DetailScreen) and detail.key == "pod:shop/api-5d8f6-x2k9q"
        assert detail.jumps == ("flows", "app", "node")
        await pilot.pause()
        assert detail.details is not None and detail.details.error == "no live cluster connection"

        await pilot.press("f")
        assert app.screen is screen
        assert screen.focused_pane().id == "flows" and screen.pane("flows").query_text == "pod:shop/api-5d8f6-x2k9q"

        await pilot.press("3", "enter", "a")
        assert screen.focused_pane().id == "apps" and screen.pane("apps").selected_key() == "app:shop"

        await pilot.press("3", "enter", "n")
        assert screen.focused_pane().id == "nodes" and screen.pane("nodes").selected_key() == "node:worker-2"

        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen) and app.screen.key == "node:worker-2"
        await pilot.press("escape")
        assert app.screen is screen


async def test_theme_toggles_between_light_and_dark():
    app = create_app(snapshot=cluster_snapshot())
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == DARK
        await pilot.press("t")
        assert app.theme == LIGHT
        await pilot.press("t")
        assert app.theme == DARK


async def test_snapshots_from_another_thread_are_coalesced():
    base = cluster_snapshot()
    app = create_app(snapshot=base)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        shown_before = app.snapshots_shown

        def flood() -> None:
            for generation in range(2, 502):
                app.slot.put(dataclasses.replace(base, generation=generation))

        worker = threading.Thread(target=flood)
        worker.start()
        worker.join()
        await pilot.pause()
        await pilot.pause()
        assert app.cluster_view.snapshot.generation == 501  # the newest always wins
        assert app.snapshots_shown - shown_before < 50  # 500 published, a few drawn


async def test_command_palette_offers_our_commands():
    app = create_app(snapshot=cluster_snapshot(faulty=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"dropped flows")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen
        assert screen.pane("flows").query_text == "verdict:dropped"
        assert screen.focused_pane().id == "flows"


async def test_mouse_click_focuses_a_pane_and_selects_a_row():
    app = create_app(snapshot=cluster_snapshot(faulty=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        table = screen.pane("pods").table
        # The header is line 0; the third problem starts below the first two rows, whose long
        # details wrap onto more lines.
        third = (5, 1 + sum(row.height for row in list(table.rows.values())[:2]))
        await pilot.click(table, offset=third)
        await pilot.pause()
        assert screen.focused_pane().id == "pods"
        assert screen.pane("pods").selected_key() == "pod:monitoring/grafana-6c7d-mm2p4"
        await pilot.click(table, offset=third)
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen) and app.screen.key == "pod:monitoring/grafana-6c7d-mm2p4"


async def test_snapshots_arriving_under_the_help_are_drawn_when_it_closes():
    app = create_app(snapshot=cluster_snapshot(faulty=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert "node:worker-3" in rows(screen, "nodes")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        fewer = cluster_snapshot(faulty=True)
        fewer = dataclasses.replace(fewer, nodes=fewer.nodes[:2])
        app.show_snapshot(fewer)
        await pilot.pause()
        assert screen.snapshot is fewer
        assert "node:worker-3" in rows(screen, "nodes")  # not drawn behind the help
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        assert rows(screen, "nodes") == ["node:cp-1", "node:cp-2"]
