"""The line under the header while a day-2 operation runs (or after the last one ran): read from
the state directory's run journal, so a run in another terminal shows here too."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.widgets import Static

from talos_platform.engine.run.rollout import RolloutSummary
from talos_platform.tui.styles import BAD, GOOD, MUTED, WAIT, WARN

OUTCOME_STYLE = {"running": f"bold {WAIT}", "succeeded": GOOD, "failed": f"bold {BAD}", "interrupted": WARN}


def rollout_text(summary: RolloutSummary, now: float) -> Text:
    """Coloured by how the run stands (blue while it runs, red when it failed); all of it dimmed
    once it ended long ago. The run's line, then (a Talos upgrade) its nodes' line under it,
    each cut with an ellipsis where the screen ends."""
    glyph = {"running": "▶", "succeeded": "✓", "failed": "✗"}.get(summary.outcome, "■")
    style = MUTED if summary.long_ago(now) else OUTCOME_STYLE.get(summary.outcome, WARN)
    headline, *nodes = summary.lines(now)
    text = Text(f"{glyph} {headline}", style=style, no_wrap=True, overflow="ellipsis")
    for line in nodes:
        # The indent under the glyph, as a span of its own: unstyled leading spaces of a line
        # are dropped when the strip is drawn.
        text.append("\n  ")
        text.append(line, style=style)
    return text


class RolloutStrip(Static):
    """Hidden while the state directory holds no run."""

    def __init__(self, **kwargs: Any):
        super().__init__("", **kwargs)
        self.summary: RolloutSummary | None = None
        self._drawn: Text | None = None
        self.display = False

    def show(self, summary: RolloutSummary | None, now: float | None = None) -> None:
        self.summary = summary
        self.display = summary is not None
        if summary is None:
            return
        text = rollout_text(summary, time.time() if now is None else now)
        if text != self._drawn:
            self.update(text, layout=False)
            self._drawn = text
