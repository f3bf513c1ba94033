"""FastTable draws exactly what DataTable draws (it leans on DataTable internals, so a Textual
upgrade that changes them shows up here), and the heap freezer keeps its schedule."""

from __future__ import annotations

import gc
import weakref

from rich.text import Text
from support.cluster_data import cluster_snapshot
from textual.app import App, ComposeResult
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from talos_platform.tui.app import LIGHT, create_app
from talos_platform.tui.heap import HeapFreezer
from talos_platform.tui.widgets.fast_table import FastTable
from talos_platform.tui.widgets.grid import PANE_IDS


def drawn(lines) -> list[tuple[str, object]]:
    return [(char, segment.style) for line in lines for segment in line for char in segment.text]


async def compare_every_visible_cell(app) -> int:
    compared = 0
    for pane_id in PANE_IDS:
        table = app.cluster_view.pane(pane_id).table
        base = table.rich_style
        for row in range(-1, min(table.row_count, 12)):
            for column, spec in enumerate(table.ordered_columns):
                width = spec.get_render_width(table)
                for cursor in (False, True):
                    table._cell_render_cache.clear()
                    fast = table._render_cell(row, column, base, width, cursor=cursor)
                    table._cell_render_cache.clear()
                    slow = DataTable._render_cell(table, row, column, base, width, cursor=cursor)
                    assert drawn(fast) == drawn(slow), (pane_id, row, column, cursor)
                    compared += 1
    return compared


async def test_fast_cells_are_drawn_like_datatable_cells_in_both_themes():
    for theme in (None, LIGHT):
        app = create_app(snapshot=cluster_snapshot(faulty=True), **({"theme": theme} if theme else {}))
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            await pilot.press("2", "down")
            assert await compare_every_visible_cell(app) > 200


class OneTable(App):
    def compose(self) -> ComposeResult:
        yield FastTable(cursor_type="row")


async def test_bulk_row_and_cell_updates():
    app = OneTable()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(FastTable)
        table.add_columns("Name", "Value")
        table.set_rows([("a", Text("x", style="bold")), ("[b]", "c:d"), ("e",)])
        await pilot.pause()
        assert table.row_count == 3 and table.cursor_row == 0
        assert table.get_row_at(1) == ["[b]", "c:d"]
        assert [c.content_width for c in table.ordered_columns] == [4, 5]  # "[b]" is markup: 0 wide
        table.move_cursor(row=2)
        table.replace_cells([(0, 0, "a much longer name"), (1, 1, "y")])
        await pilot.pause()
        assert (
            table.get_cell_at(Coordinate(0, 0)) == "a much longer name" and table.get_cell_at(Coordinate(1, 1)) == "y"
        )
        assert table.ordered_columns[0].content_width == len("a much longer name")
        assert table.cursor_row == 2
        table.set_rows([])
        await pilot.pause()
        assert table.row_count == 0


def test_heap_freezer_freezes_first_then_as_the_cluster_grows_and_now_and_then():
    now = [100.0]
    freezer = HeapFreezer(every=300.0, clock=lambda: now[0])
    try:
        assert freezer.maybe_freeze(10) and gc.get_freeze_count() > 0
        assert not freezer.maybe_freeze(100)
        assert freezer.maybe_freeze(5000)
        assert not freezer.due(6000)
        assert freezer.due(6200)
        now[0] = 399.0
        assert not freezer.due(5000)
        now[0] = 400.0
        assert freezer.due(5000)
    finally:
        gc.unfreeze()


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_the_periodic_freeze_collects_garbage_that_was_frozen_before():
    """A frozen object in a reference cycle that is dropped later is freed by the periodic freeze
    (a freeze for growth leaves it: only the periodic one unfreezes first)."""
    now = [100.0]
    freezer = HeapFreezer(every=300.0, clock=lambda: now[0])
    try:
        cycle = _Cycle()
        gone = weakref.ref(cycle)
        assert freezer.maybe_freeze(10)
        del cycle
        assert freezer.maybe_freeze(5000)  # grown: frozen garbage is not looked at
        assert gone() is not None
        now[0] = 400.0
        assert freezer.maybe_freeze(5000)
        assert gone() is None
    finally:
        gc.unfreeze()
