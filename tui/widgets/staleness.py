"""A pane drawn from stale data says so: its title names the age and the source that does not
answer, its health marks are greyed, and its summary is marked as the last known state (so no
green summary is shown from data that may no longer hold)."""

from __future__ import annotations

import dataclasses

from rich.text import Text

from talos_platform.engine.observe import ClusterSnapshot
from talos_platform.engine.observe.freshness import NEVER_ANSWERED, STALE_AFTER_SECONDS
from talos_platform.tui.styles import MUTED, WARN
from talos_platform.tui.widgets.pane import Cell, PaneContent, Row


def stale_label(snapshot: ClusterSnapshot, pane_id: str, now: float | None = None) -> str:
    """`stale 42 s: Kubernetes API unreachable`, `stale 12 s: no update received` (the observer
    publishes every second, so a screen without news for long is behind), or empty while the
    pane's data is current. `now` is the observer's clock (None: the snapshot's own time)."""
    now = snapshot.taken_at if now is None else max(now, snapshot.taken_at)
    label = snapshot.freshness.for_pane(pane_id).stale_label(now)
    if label:
        return label
    behind = now - snapshot.taken_at
    return f"stale {behind:.0f} s: no update received" if behind >= STALE_AFTER_SECONDS else ""


def _greyed(cell: Cell) -> Text:
    """The same words, all grey: no colour of the last known state survives (a green ✓ would
    still read as healthy)."""
    return Text(cell if isinstance(cell, str) else cell.plain, style=MUTED)


def mark_stale(content: PaneContent, label: str) -> PaneContent:
    if not label:
        return content
    # A source that never answered left nothing known: the summary says so, not "last known".
    known = "nothing read yet" if label.startswith(NEVER_ANSWERED) else "last known"
    summary = Text(f"{known}, {label}: ", style=f"bold {WARN}")
    summary.append_text(_greyed(content.summary))
    return dataclasses.replace(
        content,
        title=f"{content.title} — {label}",
        rows=tuple(Row(row.key, tuple(_greyed(cell) for cell in row.cells)) for row in content.rows),
        summary=summary,
        stale=True,
    )
