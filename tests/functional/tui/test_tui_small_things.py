"""Issue 14, item 10: the palette lists each command once and finds the panes by name, the steps'
Retry header keeps its width, the output pane says something while a step is quiet."""

from __future__ import annotations

from support.cluster_data import T0, cluster_snapshot, install_progress

from talos_platform.engine.run.events import StepStarted
from talos_platform.tui.app import create_app
from talos_platform.tui.screens.dashboard import DashboardScreen
from talos_platform.tui.screens.install import InstallScreen
from talos_platform.tui.widgets.step_output import StepOutput

SIZE = (160, 48)


async def test_the_palette_lists_each_command_once_and_has_the_panes() -> None:
    app = create_app(snapshot=cluster_snapshot())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        titles = [command.title for command in app.get_system_commands(screen)]
        assert len(titles) == len(set(titles))
        assert "Maximise pane" in titles and "Maximize" not in titles
        assert "Keys and colours" in titles and "Keys" not in titles
        assert {"Go to Nodes", "Go to Apps by wave", "Go to Pod health", "Go to Hubble flows"} <= set(titles)
        assert [t for t in titles if "node" in t.lower()] == ["Go to Nodes"]


async def test_palette_go_to_nodes_focuses_the_nodes_pane() -> None:
    app = create_app(snapshot=cluster_snapshot())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        await pilot.press("4")
        command = next(c for c in app.get_system_commands(screen) if c.title == "Go to Nodes")
        command.callback()
        await pilot.pause()
        assert screen.focused_pane() is screen.pane("nodes")


async def test_the_retry_header_keeps_its_width() -> None:
    app = create_app("install", progress=install_progress(), snapshot=cluster_snapshot())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, InstallScreen)
        table = screen.steps_pane.table
        needed = sum(column.get_render_width(table) for column in table.ordered_columns)
        assert needed <= table.scrollable_content_region.width
        assert table.max_scroll_x == 0


async def test_a_quiet_step_says_so_in_the_output_pane() -> None:
    progress = install_progress()
    quiet = next(s for s in progress.steps.values() if s.state == "pending")
    progress.apply(StepStarted(at=T0 + 100, step_id=quiet.id, layer=quiet.layer, title=quiet.title))
    app = create_app("install", progress=progress, snapshot=cluster_snapshot())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        output = app.screen.query_one(StepOutput)
        assert output.step_id == quiet.id
        shown = [line.text for line in output.lines]
        assert " ".join(shown).startswith("◌ running, no output yet")
        quiet.add_line("applied the config to 192.168.10.21")
        screen = app.screen
        assert isinstance(screen, InstallScreen)
        screen.refresh_progress()
        await pilot.pause()
        assert [line.text for line in output.lines] == ["applied the config to 192.168.10.21"]
