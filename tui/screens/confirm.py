"""A yes/no question in a modal (quitting a running install)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str):
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-body", classes="modal-body") as body:
            body.border_title = "Confirm"
            yield Static(self.question)
            yield Static("[b]y[/b] yes    [b]n[/b] / Esc no", classes="confirm-keys")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
