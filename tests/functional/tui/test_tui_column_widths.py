"""Issue 14, item 3: at 200x55 the columns that matter are whole. The pods' Problem keeps its width
and the Detail wraps in its row rather than being cut; an app's Message wraps too; the flows'
Reason is on screen without scrolling."""

from __future__ import annotations

from rich.text import Text
from support.cluster_data import cluster_snapshot

from talos_platform.tui.app import create_app
from talos_platform.tui.widgets.column_widths import MAX_CELL_LINES, fit_columns, wrap_cell
from talos_platform.tui.widgets.pods import pods_content

WIDE = (200, 55)


def plain(cell) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def letters(text: str) -> str:
    """The text without its spaces and line breaks: what wrapping may change."""
    return "".join(text.split())


async def test_at_200x55_no_detail_of_a_pod_problem_is_cut_and_the_problem_keeps_its_width():
    snapshot = cluster_snapshot(faulty=True)
    app = create_app(snapshot=snapshot)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        pane = app.screen.pane("pods")
        table = pane.table
        width = table.size.width
        assert sum(column.get_render_width(table) for column in table.columns.values()) <= width - 2
        for index, problem in enumerate(snapshot.pod_problems):
            problem_cell, detail = table.get_row_at(index)[1], table.get_row_at(index)[3]
            assert "\n" not in plain(problem_cell)
            assert "…" not in plain(detail)
            assert letters(plain(detail)) == letters(problem.detail)
        flows = app.screen.pane("flows").table
        reason = list(flows.columns.values())[2]
        assert str(reason.label) == "Reason"
        assert sum(c.get_render_width(flows) for c in list(flows.columns.values())[:3]) < flows.size.width


def test_wrapping_breaks_after_spaces_and_slashes_and_keeps_styles():
    cell = Text("cert-manager/cert-manager-webhook-0", style="bold")
    wrapped = wrap_cell(cell, 22)
    assert wrapped.plain == "cert-manager/\ncert-manager-webhook-0"
    assert all(span.style == "bold" for span in wrapped.spans) or wrapped.style == "bold"
    assert wrap_cell("short", 22) == "short"


def test_a_text_too_long_even_wrapped_ends_with_an_ellipsis():
    wrapped = wrap_cell("word " * 100, 20)
    lines = wrapped.plain.split("\n")
    assert len(lines) == MAX_CELL_LINES and lines[-1].endswith("…")


def test_a_pane_wide_enough_for_every_column_is_left_alone():
    content = pods_content(cluster_snapshot(faulty=True))
    assert fit_columns(content, 400) is content


def test_too_narrow_for_the_minimums_rows_stay_one_line():
    """80x24: wrapping into a sliver would cost rows and show little; one line per row, as before."""
    content = pods_content(cluster_snapshot(faulty=True))
    assert fit_columns(content, 78) is content
