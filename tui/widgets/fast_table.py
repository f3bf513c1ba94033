"""A DataTable that draws one-line cells directly into segments.

DataTable renders every cell through Rich's console (padding, wrapping, line splitting), about
half a millisecond a cell; a full pane is a few hundred cells, and a focus change, a resize or a
new flow list redraws them all. Every cell in our panes is one line of plain or styled text, so
cropping the text and styling its segments gives the same output for a small part of the cost.
Anything else (wrapping rows, other renderables, markup strings) goes the usual way.

It reads and overrides private members of DataTable, so pyproject.toml pins Textual exactly: a
Textual upgrade is a change of this class, checked with its tests and the benchmarks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import zip_longest
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._types import SegmentLines
from textual.binding import Binding, BindingType
from textual.css.styles import RenderStyles
from textual.geometry import Size
from textual.render import measure
from textual.widgets import DataTable
from textual.widgets._data_table import CellKey, ColumnKey, RowKey, default_cell_formatter
from textual.widgets._data_table import Row as TableRow

_NULL = Style.null()


def cell_segments(
    console: Console, text: Text, width: int, padding: int, pre_style: Style, post_style: Style | None
) -> list[Segment]:
    """One line of `width` cells: `text` cropped (or with an ellipsis, per its overflow) between
    `padding` spaces each side, styled `pre_style + own style + post_style`."""
    inner = width - 2 * padding
    if cell_len(text.plain) > inner:
        text = text.copy()
        text.truncate(inner, overflow=text.overflow or "fold")
    if text.spans:
        segments = list(text.render(console, end=""))
    else:  # `render` leaves out the text's own style when it has no spans
        segments = [Segment(text.plain, console.get_style(text.style, default=_NULL))] if text.plain else []
    used = sum(cell_len(s.text) for s in segments)
    line: list[Segment] = []
    if padding:
        line.append(Segment(" " * padding, _NULL))
    line.extend(segments)
    if used < inner:
        line.append(Segment(" " * (inner - used), _NULL))
    if padding:
        line.append(Segment(" " * padding, _NULL))
    return list(Segment.apply_style(line, pre_style, post_style))


class FastTable(DataTable[Any]):
    """Same widget, same behaviour; only the drawing of a one-line text cell is shortcut. The keys
    k9s users know move the cursor too: j/k down/up, g/Home the first row, G/End the last."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g,home", "scroll_top", "First row", show=False),
        Binding("G,end", "scroll_bottom", "Last row", show=False),
    ]

    _component_style_cache: dict[tuple[str, ...], Any] | None = None

    def get_component_styles(self, *names: str) -> RenderStyles:
        # DataTable asks for its header style on every row it draws, and each answer builds
        # new Styles objects. The stylesheet replaces a component's styles object whenever it
        # recomputes it, so the answer stays valid while those objects are the same.
        if self._component_style_cache is None:
            self._component_style_cache = {}
        sources = tuple(self._component_styles.get(name) for name in names)
        cached = self._component_style_cache.get(names)
        if cached is not None and all(a is b for a, b in zip(cached[0], sources, strict=True)):
            styles: RenderStyles = cached[1]
            return styles
        fresh = super().get_component_styles(*names)
        self._component_style_cache[names] = (sources, fresh)
        return fresh

    def notify_style_update(self) -> None:
        self._component_style_cache = None
        super().notify_style_update()

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        if column_index < 0 or width <= 2 * self.cell_padding:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key: RowKey | None
        if row_index == -1:
            row_key, height = self._header_row_key, self.header_height
        else:
            row_key = self._row_locations.get_key(row_index)
            row = self.rows.get(row_key) if row_key is not None else None
            height = row.height if row is not None and not row.auto_height else 0
        column_key = self._column_locations.get_key(column_index)
        if height != 1 or row_key is None or column_key is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        cache_key = (
            row_key,
            column_key,
            base_style,
            cursor,
            hover,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        cached = self._cell_render_cache.get(cache_key)
        if cached is not None:
            return cached
        _label, cells = self._get_row_renderables(row_index)
        cell = cells[column_index]
        if (
            not isinstance(cell, Text)
            or "\n" in cell.plain
            or "\t" in cell.plain
            or cell.justify not in (None, "default", "left")
        ):
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        is_header = row_index == -1
        fixed = not is_header and (row_index < self.fixed_rows or column_index < self.fixed_columns)
        component_style, post_style = self._get_styles_to_render_cell(
            is_header,
            False,
            fixed,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        pre_style = base_style + Style.from_meta({"row": row_index, "column": column_index}) + component_style
        lines = [cell_segments(self.app.console, cell, width, self.cell_padding, pre_style, post_style)]
        self._cell_render_cache[cache_key] = lines
        return lines

    # --- bulk changes -------------------------------------------------------------------------
    # DataTable's add_row and update_cell each reset the cursor, bump the render caches and
    # queue a measurement; for a pane of a thousand rows that is most of a redraw. These do
    # the same bookkeeping once per batch.

    def set_rows(self, rows: Iterable[Sequence[object]], heights: Sequence[int] = ()) -> None:
        """`clear()` then `add_rows(rows)`, with the per-row bookkeeping done once; `heights`: lines
        per row (a wrapped cell), 1 for rows beyond it."""
        self.clear()
        columns = self.ordered_columns
        for index, cells in enumerate(rows):
            row_key = RowKey(str(index))
            self._row_locations[row_key] = index
            if len(cells) > len(columns):
                raise ValueError("More values provided than there are columns.")
            self._data[row_key] = {column.key: cell for column, cell in zip_longest(columns, cells)}
            self.rows[row_key] = TableRow(row_key, heights[index] if index < len(heights) else 1, None, False)
            self._new_rows.add(row_key)
        self._update_count += 1
        self.cursor_coordinate = self.cursor_coordinate
        if self.row_count and columns and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()
        self.refresh()

    def replace_cells(self, changes: Iterable[tuple[int, int, object]]) -> None:
        """Set cells given as (row index, column index, value) in one go."""
        columns = self.ordered_columns
        touched = False
        for row_index, column_index, value in changes:
            row_key = self._row_locations.get_key(row_index)
            if row_key is None:
                continue  # not a row of this table (any more)
            column = columns[column_index]
            self._data[row_key][column.key] = value
            self._updated_cells.add(CellKey(row_key, column.key))
            touched = True
        if touched:
            self._update_count += 1
            self._clear_caches()
            self.refresh()

    def _update_column_widths(self, updated_cells: set[CellKey]) -> None:
        # Columns only grow here (as when rows are added); a narrower value leaves the width be,
        # so a column does not jump back and forth as a value flickers.
        self._measure_into_columns((row_key, [column_key]) for row_key, column_key in updated_cells)
        self._require_update_dimensions = True

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        if any(self.rows[k].height != 1 or self.rows[k].label is not None for k in new_rows if k in self.rows):
            return super()._update_dimensions(new_rows)
        keys = list(self.columns)
        self._measure_into_columns((row_key, keys) for row_key in new_rows)
        width = sum(column.get_render_width(self) for column in self.columns.values()) + self._row_label_column_width
        self.virtual_size = Size(width, self._total_row_height + (self.header_height if self.show_header else 0))

    def _measure_into_columns(self, cells: Iterable[tuple[RowKey, Iterable[ColumnKey]]]) -> None:
        console = self.app.console
        for row_key, column_keys in cells:
            data = self._data.get(row_key)
            if data is None:
                continue
            for column_key in column_keys:
                column = self.columns.get(column_key)
                if column is None:
                    continue
                value = data.get(column_key)
                if isinstance(value, Text) and "\n" not in value.plain:
                    width = cell_len(value.plain)
                elif isinstance(value, str) and not any(c in value for c in "[:\n"):
                    width = cell_len(value)  # no markup, no emoji code: shown as it is
                else:
                    width = (
                        measure(console, default_cell_formatter(value, wrap=False, height=1), 1)
                        if value is not None
                        else 0
                    )
                if width > column.content_width:
                    column.content_width = width
