"""Column widths by importance: when a pane is too narrow for every column whole, the columns it
names as flexible give up width (the least important first) and their text wraps onto more
lines of its row instead of being cut; the others (a pod's problem, an app's health) keep theirs."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.text import Text

if TYPE_CHECKING:
    from talos_platform.tui.widgets.pane import Cell, PaneContent, Row

MAX_CELL_LINES = 8
"""A longer text ends with `…` on its last line (the detail view, Enter, has all of it)."""
CELL_PADDING = 1
"""DataTable's padding each side of a cell."""
SCROLLBAR = 2


def natural_width(rows: tuple[Row, ...], header: str, column: int) -> int:
    widest = cell_len(header)
    for row in rows:
        if column < len(row.cells):
            cell = row.cells[column]
            widest = max(widest, cell_len(cell.plain if isinstance(cell, Text) else str(cell)))
    return widest


def column_widths(content: PaneContent, width: int) -> dict[int, int] | None:
    """The width each flexible column gets in a table `width` cells wide; None when all fit whole,
    or when the table is too narrow for even the flexible columns' minimums."""
    columns = content.columns
    natural = [natural_width(content.rows, header, index) for index, header in enumerate(columns)]
    room = width - SCROLLBAR - 2 * CELL_PADDING * len(columns)
    if sum(natural) <= room:
        return None
    flexible = [index for index, _ in content.flexible]
    minimum = dict(content.flexible)
    left = room - sum(w for index, w in enumerate(natural) if index not in minimum)
    if left < sum(minimum.values()):
        # Too narrow even for the minimums (a small terminal): rows of one line each, as many
        # as fit, and the rest of a long text is a scroll or Enter away.
        return None
    widths = {}
    for position, index in enumerate(flexible):
        # The less important ones after this keep their minimum; this one gets the rest, up to whole.
        kept_for_later = sum(minimum[later] for later in flexible[position + 1 :])
        widths[index] = max(minimum[index], min(natural[index], left - kept_for_later))
        left -= widths[index]
    return widths


def wrap_cell(cell: Cell, width: int) -> Cell:
    """The cell's text in lines of at most `width` cells, broken after a space or a `/` where it
    can (`namespace/` then the name), else within a word; styles are kept."""
    text = cell if isinstance(cell, Text) else Text(cell)
    plain = text.plain
    if cell_len(plain) <= width or width < 1:
        return cell
    offsets: list[int] = []
    start = 0
    while len(plain) - start > width and len(offsets) < MAX_CELL_LINES - 1:
        window = plain[start : start + width + 1]
        breaks = [i + 1 for i, char in enumerate(window[:-1]) if char in " /"]
        if window[-1] == " ":
            breaks.append(width)
        end = start + (breaks[-1] if breaks else width)
        offsets.append(end)
        start = end
    lines = list(text.divide(offsets))
    for line in lines:
        line.rstrip()
    last = lines[-1]
    if cell_len(last.plain) > width:
        last.truncate(width - 1)
        last.append("…")
    return Text("\n").join(lines)


def fit_columns(content: PaneContent, width: int) -> PaneContent:
    """`content` with its flexible columns' long cells wrapped to fit a table `width` cells wide."""
    if not content.flexible or width <= 0 or not content.rows:
        return content
    widths = column_widths(content, width)
    if widths is None:
        return content
    rows = tuple(
        dataclasses.replace(
            row,
            cells=tuple(
                wrap_cell(cell, widths[index]) if index in widths else cell for index, cell in enumerate(row.cells)
            ),
        )
        for row in content.rows
    )
    return dataclasses.replace(content, rows=rows)


def row_height(row: Row) -> int:
    return 1 + max((cell.plain.count("\n") for cell in row.cells if isinstance(cell, Text)), default=0)
