"""The selected step's output, live."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import RichLog

from talos_platform.tui.install_state import StepState
from talos_platform.tui.styles import BAD, MUTED, WARN

QUIET = {
    "pending": "· not started yet",
    "running": "◌ running, no output yet: this step prints when it has news",
    "retrying": "↻ retrying: no output from this attempt yet",
    "succeeded": "✓ done; the step printed nothing",
    "skipped": "✓ already done: checked, nothing to apply",
    "failed": "✗ failed before printing anything (the error is below)",
    "interrupted": "‖ interrupted before printing anything",
}
"""What the pane says while a step has printed nothing (applying a machine config is quiet until
the node answers): an empty pane looked stuck."""


def output_line(line: str) -> Text:
    if line.startswith("! "):
        return Text(line, style=WARN)
    if line.lower().startswith(("error", "fatal")):
        return Text(line, style=BAD)
    return Text(line)


class StepOutput(RichLog):
    """Shows one step's lines; `follow(step)` switches steps, `append` adds to the current one."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(highlight=False, markup=False, wrap=True, max_lines=2000, **kwargs)
        self.step_id: str | None = None
        self._shown = 0
        self._quiet: str | None = None
        """The placeholder on show (no output yet), replaced by the first real line."""

    def follow(self, step: StepState | None) -> None:
        if step is None:
            return
        if step.id != self.step_id:
            self.clear()
            self.step_id = step.id
            self._shown = 0
            self._quiet = None
            self.border_title = f"Output: {step.title}"
        new = min(step.lines_written - self._shown, len(step.output))
        if step.lines_written == 0:
            quiet = QUIET.get(step.state, "no output")
            if quiet != self._quiet:
                self.clear()
                self.write(Text(quiet, style=f"italic {MUTED}"))
                self._quiet = quiet
            return
        if self._quiet is not None:
            self.clear()
            self._quiet = None
        if new > 0:
            for line in list(step.output)[-new:]:
                self.write(output_line(line))
        self._shown = step.lines_written
