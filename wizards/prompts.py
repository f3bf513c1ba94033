"""Thin wrappers around questionary prompts that add the wizard's "go back" key.

Every prompt returns either the answer or `BACK` (the user pressed Esc). Ctrl-C is never
swallowed: it raises KeyboardInterrupt so the flow can say "cancelled, nothing written".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import questionary
from prompt_toolkit.filters import to_filter
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent, merge_key_bindings
from prompt_toolkit.keys import Keys
from questionary import Choice, Separator

BACK_HINT = "(Esc: back)"


class _Back:
    """Sentinel answer: the user asked to go back to the previous question."""

    def __repr__(self) -> str:
        return "BACK"


BACK: Any = _Back()

# How long to wait after a lone Esc before treating it as the key (not the start of an
# escape sequence such as an arrow key). prompt_toolkit's default of half a second feels slow.
ESCAPE_TIMEOUT_SECONDS = 0.1


def _ask(question: questionary.Question) -> Any:
    bindings = KeyBindings()

    @bindings.add(Keys.Escape, eager=True)
    def _go_back(event: KeyPressEvent) -> None:
        event.app.exit(result=BACK)

    application = question.application
    application.key_bindings = merge_key_bindings([application.key_bindings or KeyBindings(), bindings])
    application.ttimeoutlen = ESCAPE_TIMEOUT_SECONDS
    # prompt_toolkit lets the input line grow into every row below the cursor, which puts a
    # validation message on the terminal's last row, far from the answer it is about: keep
    # every window at its own height so the message sits right under the prompt.
    for window in application.layout.find_all_windows():
        window.dont_extend_height = to_filter(True)
    return question.unsafe_ask()


def _text_validator(validate: Callable[[str], str | None] | None) -> Callable[[str], bool | str]:
    """questionary wants True or an error string; our checks return None or the error."""

    def check(text: str) -> bool | str:
        if validate is None:
            return True
        message = validate(text)
        return True if message is None else message

    return check


def ask_text(
    message: str,
    default: str = "",
    validate: Callable[[str], str | None] | None = None,
    instruction: str | None = None,
) -> Any:
    question = questionary.text(
        message,
        default=default,
        validate=_text_validator(validate),
        instruction=f"{instruction} {BACK_HINT}" if instruction else BACK_HINT,
        validate_while_typing=True,
    )
    return _ask(question)


def ask_password(
    message: str,
    validate: Callable[[str], str | None] | None = None,
    instruction: str | None = None,
) -> Any:
    question = questionary.password(
        message,
        validate=_text_validator(validate),
        instruction=f"{instruction} {BACK_HINT}" if instruction else BACK_HINT,
    )
    return _ask(question)


def ask_select(
    message: str, choices: list[Choice | Separator], default: Any = None, instruction: str | None = None
) -> Any:
    selectable = [c for c in choices if isinstance(c, Choice) and not c.disabled]
    chosen = next((c for c in selectable if c.value == default), None)
    question = questionary.select(
        message,
        choices=choices,
        default=chosen,
        instruction=f"{instruction or '(arrows, Enter)'} {BACK_HINT}",
    )
    return _ask(question)


def ask_confirm(message: str, default: bool) -> Any:
    question = questionary.confirm(
        message,
        default=default,
        instruction=f"{'(Y/n)' if default else '(y/N)'} {BACK_HINT} ",
    )
    return _ask(question)


def ask_checkbox(
    message: str,
    choices: list[Choice],
    validate: Callable[[list[Any]], str | None] | None = None,
) -> Any:
    def check(selected: list[Any]) -> bool | str:
        if validate is None:
            return True
        problem = validate(selected)
        return True if problem is None else problem

    question = questionary.checkbox(
        message,
        choices=choices,
        validate=check,
        instruction=f"(Space: toggle, Enter: done) {BACK_HINT}",
    )
    return _ask(question)
