"""The key line at the bottom of the main screens.

Textual's Footer rebuilds itself on every focus change; our keys are the same in every pane,
so a line drawn once from the screen's bindings does the job without that cost (it was a third
of the time of a focus change on a loaded machine)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

KEY_NAMES = {"slash": "/", "question_mark": "?", "escape": "Esc"}


class KeyHints(Static):
    DEFAULT_CSS = """
    KeyHints {
        dock: bottom;
        height: 1;
        background: $panel;
        padding: 0 1;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._binding_text = Text()
        self._pane_note = ""

    def show_context(self, context: str) -> None:
        """What the keys that depend on the focused pane do there (`l d y` on pods, nodes, apps)."""
        if context != self._pane_note:
            self._pane_note = context
            self._show_hints()

    def _show_hints(self) -> None:
        text = self._binding_text.copy()
        text.append(" ^p ", style="bold reverse")
        if self._pane_note:
            # Last: a narrow terminal cuts this before the keys that work everywhere.
            text.append(" commands  ")
            text.append("│ ", style="dim")
            text.append(self._pane_note)
        else:
            text.append(" commands")
        self.update(text)

    def on_mount(self) -> None:
        text = Text()
        seen: set[str] = set()
        merged = self.screen._merged_bindings
        groups = merged.key_to_bindings.values() if merged is not None else ()
        shown = [b for group in groups for b in group if b.show]
        for binding in shown:
            if binding.description in seen:
                continue
            seen.add(binding.description)
            key = KEY_NAMES.get(binding.key.split(",")[0], binding.key.split(",")[0])
            text.append(f" {key} ", style="bold reverse")
            text.append(f" {binding.description}  ")
        self._binding_text = text
        self._show_hints()
