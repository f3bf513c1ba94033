"""The selected step's output, live."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import RichLog

from talos_platform.tui.install_state import StepState
from talos_platform.tui.styles import BAD, WARN


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

    def follow(self, step: StepState | None) -> None:
        if step is None:
            return
        if step.id != self.step_id:
            self.clear()
            self.step_id = step.id
            self._shown = 0
            self.border_title = f"Output: {step.title}"
        new = min(step.lines_written - self._shown, len(step.output))
        if new > 0:
            for line in list(step.output)[-new:]:
                self.write(output_line(line))
        self._shown = step.lines_written
