"""What a normal install shows while it runs, driven with Pilot: pods that just started are
starting, not problems; the checklist keeps the running step in view until the user moves it;
nodes in maintenance mode before their config is applied are waiting, not failing."""

from __future__ import annotations

from support.cluster_data import (
    EXAMPLE_CONFIG,
    T0,
    install_progress,
    layer_zero_progress,
    layer_zero_snapshot,
    starting_pods_snapshot,
)
from textual import events
from textual.widgets import DataTable, Static

from talos_platform.engine.config.loading import load_config
from talos_platform.engine.layers import platform_steps
from talos_platform.engine.observe.pods import POD_START_GRACE_SECONDS
from talos_platform.engine.plan.planner import Plan
from talos_platform.engine.run.events import RunStarted, StepFailed, StepStarted, StepSucceeded
from talos_platform.tui.app import create_app
from talos_platform.tui.install_state import InstallProgress
from talos_platform.tui.styles import BAD, GOOD, MUTED, WAIT
from talos_platform.tui.widgets.apps import AppsPane
from talos_platform.tui.widgets.nodes import NodesPane
from talos_platform.tui.widgets.pods import PodsPane

SIZE = (160, 48)


def pods_pane_text(app) -> tuple[list[tuple[str, str]], str]:
    """(pod, problem cell with its style) of every pod row, and the summary line."""
    pane = app.screen.query_one(PodsPane)
    rows = [
        (row.cells[0].plain, f"{row.cells[1].plain}|{row.cells[1].style}")
        for row in pane.content.rows
        if row.key.startswith("pod:")
    ]
    return rows, str(pane.query_one(".pane-summary", Static).render())


async def test_pods_that_just_started_show_as_starting_not_as_problems():
    app = create_app(
        "install", progress=install_progress(), snapshot=starting_pods_snapshot(seconds_since_scheduled=20)
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rows, summary = pods_pane_text(app)
        pane = app.screen.query_one(PodsPane)
        namespace = next(r for r in pane.content.rows if r.key == "namespace:cert-manager")
    assert [cell for _pod, cell in rows] == [f"◌ starting|{WAIT}"] * 3
    assert "with problems" not in summary and "◌ 3 starting" in summary
    assert namespace.cells[1].plain == "◌ 0/3 healthy, 3 starting" and namespace.cells[1].style == WAIT


async def test_pods_still_creating_after_the_grace_are_problems():
    late = starting_pods_snapshot(seconds_since_scheduled=POD_START_GRACE_SECONDS + 5)
    app = create_app("install", progress=install_progress(), snapshot=late)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rows, summary = pods_pane_text(app)
        spans = app.screen.query_one(PodsPane).content.summary.spans
    assert [cell.split("|")[0] for _pod, cell in rows] == ["● Pending"] * 3
    assert "✗ 3 with problems" in summary and "starting" not in summary
    assert any(span.style == f"bold {BAD}" for span in spans)


# --- the checklist follows the running step --------------------------------------------------

MEDIUM = (120, 40)


def layer_zero_run() -> tuple[InstallProgress, list]:
    """The example's plan not started yet, and its layer-0 steps run one after another (events)."""
    plan = list(Plan(platform_steps(load_config(EXAMPLE_CONFIG))))
    progress = InstallProgress((s.id, s.layer, s.title) for s in plan)
    progress.apply(RunStarted(at=T0, run_id="20260101-000000", steps=tuple(s.id for s in plan), simulated=True))
    runs = []
    for index, step in enumerate(s for s in plan if s.layer == 0):
        runs.append(
            (
                StepStarted(at=T0 + index, step_id=step.id, layer=0, title=step.title),
                StepSucceeded(at=T0 + index + 1, step_id=step.id, duration=1.0),
            )
        )
    return progress, runs


def running_row_visible(screen) -> bool:
    table = screen.steps_pane.table
    row = screen.steps_pane._keys.index(f"step:{screen.progress.last_started}")
    top = round(table.scroll_y)
    return top <= row < top + table.scrollable_content_region.height - 1  # less the header row


async def run_steps(pilot, screen, runs) -> None:
    for started, succeeded in runs:
        screen.progress.apply(started)
        screen.refresh_progress()
        await pilot.pause()
        screen.progress.apply(succeeded)


async def test_the_checklist_keeps_the_running_step_in_view_through_layer_0():
    progress, runs = layer_zero_run()
    app = create_app("install", progress=progress, simulation_note="layer 0")
    async with app.run_test(size=MEDIUM) as pilot:
        await pilot.pause()
        screen = app.screen
        # A highlight from the first drawing handled late (a busy machine) is not the user's.
        await pilot.pause(0.6)
        table = screen.steps_pane.table
        table.post_message(DataTable.RowHighlighted(table, 0, table.coordinate_to_cell_key((0, 0)).row_key))
        await pilot.pause()
        seen = []
        for started, succeeded in runs:
            screen.progress.apply(started)
            screen.refresh_progress()
            await pilot.pause()
            seen.append(running_row_visible(screen))
            screen.progress.apply(succeeded)
        assert screen.follow_running and all(seen)
        assert round(table.scroll_y) > 0  # layer 0 is longer than the list is high


async def test_moving_the_cursor_by_hand_stops_following():
    progress, runs = layer_zero_run()
    app = create_app("install", progress=progress, simulation_note="layer 0")
    async with app.run_test(size=MEDIUM) as pilot:
        screen = app.screen
        await run_steps(pilot, screen, runs[:12])
        await pilot.press("up", "up")
        chosen = screen.steps_pane.selected_key()
        await run_steps(pilot, screen, runs[12:])
        assert not screen.follow_running and screen.steps_pane.selected_key() == chosen


async def test_scrolling_the_list_with_the_wheel_stops_following():
    progress, runs = layer_zero_run()
    app = create_app("install", progress=progress, simulation_note="layer 0")
    async with app.run_test(size=MEDIUM) as pilot:
        screen = app.screen
        await run_steps(pilot, screen, runs[:14])
        table = screen.steps_pane.table
        table.post_message(events.MouseScrollUp(table, 5, 5, 0, 0, 0, False, False, False))
        await pilot.pause()
        scrolled_to = table.scroll_y
        await run_steps(pilot, screen, runs[14:])
        assert not screen.follow_running and table.scroll_y == scrolled_to


# --- nodes in maintenance mode during layer 0 ------------------------------------------------


def node_rows(app) -> dict[str, tuple[str, str, str]]:
    """Node name -> (state cell, its style, stage cell), and the summary line."""
    pane = app.screen.query_one(NodesPane)
    rows = {}
    for row in pane.content.rows:
        state, stage = row.cells[1], row.cells[7]
        rows[row.cells[0].plain] = (state.plain, str(state.style), f"{stage.plain}|{stage.style}")
    return rows


async def test_nodes_waiting_for_their_config_are_waiting_during_the_install():
    app = create_app("install", progress=layer_zero_progress(), snapshot=layer_zero_snapshot(), simulation_note="L0")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rows = node_rows(app)
        summary = str(app.screen.query_one(NodesPane).query_one(".pane-summary", Static).render())
    assert rows["worker-2"][:2] == ("◌ maintenance: waiting for config", WAIT)
    assert rows["worker-2"][2] == "maintenance|"  # the stage is not red either
    assert "maintenance mode" not in summary


async def test_after_the_install_maintenance_mode_is_still_a_problem():
    # Every config applied: a node back in maintenance mode is wrong, on both screens.
    for app in (
        create_app("install", progress=layer_zero_progress(configs_applied=True), snapshot=layer_zero_snapshot()),
        create_app(snapshot=layer_zero_snapshot()),
    ):
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            rows = node_rows(app)
        assert rows["worker-2"][0] == "◌ in maintenance mode" and rows["worker-2"][1] != WAIT
        assert rows["worker-2"][2].startswith("maintenance|bold")


async def test_nodes_not_asked_yet_are_not_called_unreachable():
    app = create_app("install", progress=install_progress(), snapshot=layer_zero_snapshot(asked=False))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rows = node_rows(app)
        summary = str(app.screen.query_one(NodesPane).query_one(".pane-summary", Static).render())
    assert {state for state, _style, _stage in rows.values()} == {"… asking"}
    assert {style for _state, style, _stage in rows.values()} == {MUTED}
    assert "unreachable" not in summary


async def test_a_wave_whose_pods_only_start_is_shown_starting_not_blocked():
    app = create_app("install", progress=install_progress(), snapshot=starting_pods_snapshot())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        apps = app.screen.query_one(AppsPane).content
    states = [row.cells[1] for row in apps.rows if row.key.startswith("wave:")]
    assert [(t.plain, t.style) for t in states] == [("✓ done", GOOD), ("◌ starting", WAIT)]
    assert "wave -98 waits for cert-manager" in apps.summary.plain and "blocked" not in apps.summary.plain
    late = starting_pods_snapshot(seconds_since_scheduled=POD_START_GRACE_SECONDS + 5)
    app = create_app("install", progress=install_progress(), snapshot=late)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        apps = app.screen.query_one(AppsPane).content
    assert "wave -98 is blocked by cert-manager" in apps.summary.plain


# --- nodes rebooting into their config during layer 0 -----------------------------------------


def nodes_summary(app) -> str:
    return str(app.screen.query_one(NodesPane).query_one(".pane-summary", Static).render())


async def test_nodes_rebooting_into_their_config_are_waiting_while_their_step_waits_for_them():
    # Every apply-config step is running: cp-1..3 and worker-1 took their config and are silent.
    app = create_app("install", progress=layer_zero_progress(), snapshot=layer_zero_snapshot(), simulation_note="L0")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rows = node_rows(app)
        summary = nodes_summary(app)
    for name in ("cp-1", "cp-2", "cp-3", "worker-1"):
        assert rows[name][:2] == ("◌ rebooting into its config", WAIT), name
    assert "◌ 4 rebooting into their config" in summary and "unreachable" not in summary


async def test_a_node_whose_step_is_done_or_failed_is_unreachable_again_and_the_dashboard_stays_strict():
    failed = layer_zero_progress()
    failed.apply(StepFailed(at=T0 + 60, step_id="L0.apply-config.cp-1", error="did not come back", hint="look"))
    for app, unreachable in (
        (create_app("install", progress=failed, snapshot=layer_zero_snapshot()), {"cp-1"}),
        (
            create_app("install", progress=layer_zero_progress(configs_applied=True), snapshot=layer_zero_snapshot()),
            {"cp-1", "cp-2", "cp-3", "worker-1"},
        ),
        (create_app(snapshot=layer_zero_snapshot()), {"cp-1", "cp-2", "cp-3", "worker-1"}),
    ):
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            rows = node_rows(app)
            summary = nodes_summary(app)
        assert {name for name, row in rows.items() if row[0] == "✗ unreachable"} == unreachable
        assert all(rows[name][1] != WAIT for name in unreachable)
        assert f"✗ {len(unreachable)} unreachable" in summary
