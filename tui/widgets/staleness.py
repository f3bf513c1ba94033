"""A pane drawn from stale data says so: its title names the age and the source that does not
answer, its health marks are greyed, and its summary is marked as the last known state (so no
green summary is shown from data that may no longer hold)."""

from __future__ import annotations

import dataclasses

from rich.text import Text

from talos_platform.engine.observe import ClusterSnapshot
from talos_platform.tui.styles import MUTED, WARN
from talos_platform.tui.widgets.pane import Cell, PaneContent, Row


def stale_label(snapshot: ClusterSnapshot, pane_id: str) -> str:
    """`stale 42 s: Kubernetes API unreachable`, or empty while the pane's data is current."""
    return snapshot.freshness.for_pane(pane_id).stale_label(snapshot.taken_at)


def _greyed(cell: Cell) -> Text:
    """The same words, all grey: no colour of the last known state survives (a green ✓ would
    still read as healthy)."""
    return Text(cell if isinstance(cell, str) else cell.plain, style=MUTED)


def mark_stale(content: PaneContent, label: str) -> PaneContent:
    if not label:
        return content
    summary = Text(f"last known, {label}: ", style=f"bold {WARN}")
    summary.append_text(_greyed(content.summary))
    return dataclasses.replace(
        content,
        title=f"{content.title} — {label}",
        rows=tuple(Row(row.key, tuple(_greyed(cell) for cell in row.cells)) for row in content.rows),
        summary=summary,
        stale=True,
    )
