"""What every pane shows, as data (`PaneContent`), and the widget that draws it in a DataTable.

Pane functions are pure: (snapshot, query) -> PaneContent. The widget only diffs and draws,
so tests can check a pane's content without running an app.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from rich.text import Span, Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from talos_platform.engine.observe.ordering import NaturalKey, natural_key
from talos_platform.tui.widgets.column_widths import fit_columns, row_height
from talos_platform.tui.widgets.fast_table import FastTable

Cell = Text | str


@dataclass(frozen=True)
class Row:
    key: str
    """`kind:identity`, e.g. `pod:shop/web-1`: what Enter opens."""
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class PaneContent:
    title: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...] = ()
    summary: Text = field(default_factory=Text)
    empty: str = "nothing to show"
    online: bool = True
    """False while the layer that feeds this pane is not up yet (the pane is shown dimmed)."""
    stale: bool = False
    """True while its source does not answer: the rows are the last known state."""
    flexible: tuple[tuple[int, int], ...] = ()
    """(column, minimum width) of the columns that give up width when the pane is too narrow,
    most important first; their long text wraps in the row (see column_widths.py)."""


SEPARATOR = " · "


def add_part(summary: Text, part: str, style: str = "") -> None:
    """Another part of a summary line after ` · `. The separator joins the run before it (a
    styled run is widened to cover it), so that no run starts with a space: SVG renderers trim
    those, which ran the parts together in screenshots (the terminal was fine)."""
    end = len(summary.plain)
    if end and not summary.plain.endswith("\n"):
        summary.append(SEPARATOR)
        spans = summary.spans
        if spans and spans[-1].end == end:
            spans[-1] = Span(spans[-1].start, end + len(SEPARATOR), spans[-1].style)
    summary.append(part, style=style)


def matches(query: str, *texts: object) -> bool:
    """Every word of the query appears (case-insensitively) in one of the texts."""
    if not query:
        return True
    haystack = " ".join(str(t) for t in texts).lower()
    return all(word in haystack for word in query.lower().split())


def cell_text(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


NO_VALUE = ("", "-")


def sort_rows(rows: tuple[Row, ...], column: int, reverse: bool) -> tuple[Row, ...]:
    """Rows ordered by one column (naturally: `worker-2` before `worker-10`, `1,280` as a number),
    within each run of rows of one kind: a wave's apps stay under their wave, a step under its
    layer, pods apart from namespaces, and a `more` line last."""

    def value(row: Row) -> str:
        return cell_text(row.cells[column]).strip() if column < len(row.cells) else ""

    def key(row: Row) -> NaturalKey:
        return natural_key(value(row))

    ordered: list[Row] = []
    run: list[Row] = []
    for row in (*rows, None):
        kind = row.key.partition(":")[0] if row is not None else None
        if run and (row is None or kind != run[0].key.partition(":")[0]):
            # Rows without a value (`-`, blank) come last either way: they are not the smallest.
            ordered.extend(sorted((r for r in run if value(r) not in NO_VALUE), key=key, reverse=reverse))
            ordered.extend(r for r in run if value(r) in NO_VALUE)
            run = []
        if row is not None:
            run.append(row)
    return tuple(ordered)


class Pane(Vertical):
    """A titled table plus a summary line. Subclasses set `content_function`."""

    DEFAULT_CLASSES = "pane"
    TABLE_CLASS: type[FastTable] = FastTable

    def __init__(self, *, id: str, title: str):
        super().__init__(id=id)
        self.border_title = title
        self.query_text = ""
        self.content: PaneContent | None = None
        self._drawn_rows: tuple[Row, ...] | None = None
        self._drawn_columns: tuple[str, ...] = ()
        self._drawn_summary: Text | None = None
        self.sort_column: int | None = None
        """The column the rows are ordered by (`s` steps through them); None: the pane's own order."""
        self.sort_reverse = False
        self._given: PaneContent | None = None
        """The content last given to `show`, before sorting and fitting (drawn again on a resize)."""
        self._fitted_width = 0
        self._drawn_width = 0
        """The width the drawn rows were fitted to when the columns were last measured."""

    def compose(self) -> ComposeResult:
        table = self.TABLE_CLASS(cursor_type="row", zebra_stripes=False, id=f"{self.id}-table")
        yield table
        yield Static("", classes="pane-summary", id=f"{self.id}-summary")

    @property
    def table(self) -> FastTable:
        return self.query_one(FastTable)

    def on_resize(self) -> None:
        if self._given is not None and self._given.flexible:
            self.call_after_refresh(self._refit)  # once the table has its new size

    def _refit(self) -> None:
        given = self._given
        if given is not None and self.is_attached and self.table.size.width != self._fitted_width:
            self.show(given)  # the wrapped columns follow the new width

    def show(self, content: PaneContent) -> None:
        """Draw `content`, touching the table only when its rows changed."""
        self._given = content
        if self.sort_column is not None and self.sort_column < len(content.columns):
            arrow = "↓" if self.sort_reverse else "↑"
            content = dataclasses.replace(
                content,
                title=f"{content.title} · sorted by {content.columns[self.sort_column] or 'state'} {arrow}",
                rows=sort_rows(content.rows, self.sort_column, self.sort_reverse),
            )
        self.content = content
        if self.border_title != content.title:
            self.border_title = content.title
        self.set_class(not content.online, "offline")
        self.set_class(content.stale, "stale")
        summary = self.query_one(".pane-summary", Static)
        text = content.summary if content.rows else Text(content.empty, style="italic") + Text("\n") + content.summary
        if text != self._drawn_summary:
            # Fixed height (see app.tcss): no layout pass, which would repaint every pane.
            summary.update(text, layout=False)
            self._drawn_summary = text
        self._fitted_width = self.table.size.width
        content = fit_columns(content, self._fitted_width)
        if content.rows == self._drawn_rows and content.columns == self._drawn_columns:
            return
        table = self.table
        drawn = self._drawn_rows
        if drawn is not None and self._same_rows(content):
            # Same rows in the same order (e.g. one pod changed): replace only the cells that
            # changed, in one batch, so the cursor and scroll position stay put.
            table.replace_cells(
                (index, column, now)
                for index, (old, new) in enumerate(zip(drawn, content.rows, strict=True))
                if old.cells != new.cells
                for column, (was, now) in enumerate(zip(old.cells, new.cells, strict=True))
                if was != now
            )
            self._drawn_rows = content.rows
            return
        selected = self.selected_key()
        if content.columns != self._drawn_columns or (content.flexible and self._drawn_width != self._fitted_width):
            # New columns, or wrapped to another width: the columns' widths are measured afresh
            # (a DataTable's columns only ever grow).
            table.clear(columns=True)
            table.add_columns(*content.columns)
            self._drawn_columns = content.columns
            self._drawn_width = self._fitted_width
        else:
            table.clear()
        table.set_rows((row.cells for row in content.rows), heights=[row_height(row) for row in content.rows])
        # DataTable keys are needed for selection; keep our own index instead of keys per add.
        self._keys = [row.key for row in content.rows]
        self._drawn_rows = content.rows
        if selected in self._keys:
            table.move_cursor(row=self._keys.index(selected), animate=False, scroll=False)

    def _same_rows(self, content: PaneContent) -> bool:
        drawn = self._drawn_rows
        return (
            drawn is not None
            and content.columns == self._drawn_columns
            and (not content.flexible or self._drawn_width == self._fitted_width)
            and len(drawn) == len(content.rows)
            and all(a.key == b.key and row_height(a) == row_height(b) for a, b in zip(drawn, content.rows, strict=True))
        )

    def cycle_sort(self) -> None:
        """The next column to sort by; after the last one, the pane's own order again."""
        columns = len(self.content.columns) if self.content is not None else 0
        following = 0 if self.sort_column is None else self.sort_column + 1
        self.sort_column = following if following < columns else None
        self.sort_reverse = False

    def reverse_sort(self) -> None:
        if self.sort_column is None:
            self.sort_column = 0
            self.sort_reverse = True
        else:
            self.sort_reverse = not self.sort_reverse

    def selected_key(self) -> str | None:
        keys = getattr(self, "_keys", [])
        row = self.table.cursor_row if keys else -1
        return keys[row] if 0 <= row < len(keys) else None

    def key_at(self, row: int) -> str | None:
        keys = getattr(self, "_keys", [])
        return keys[row] if 0 <= row < len(keys) else None

    def select_key(self, key: str) -> bool:
        keys = getattr(self, "_keys", [])
        if key not in keys:
            return False
        self.table.move_cursor(row=keys.index(key), animate=False)
        return True
