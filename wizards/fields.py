"""Kinds of question: each shows one prompt with the current answer as its default, checks the
answer with the config's rules, stores it, and returns DONE or BACK.

A `Question` has a stable key (the config path it sets, when it sets one) so the flow can go
back through its history and come back to the same place after the node list changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from questionary import Choice
from rich.console import Console
from rich.markup import escape

from talos_platform.wizards import checks, prompts, wording
from talos_platform.wizards.answers import Answers
from talos_platform.wizards.prompts import BACK

if TYPE_CHECKING:
    from talos_platform.engine.config.validation import Problem

DONE = "done"


@dataclass
class Question:
    key: str
    ask: Callable[[Answers, Console], Any]
    """Shows the prompt, stores the answer; returns DONE or BACK."""
    label: str = ""
    """The prompt's words, used to name this answer in messages (wizards/wording.py)."""


def print_problem(console: Console, problem: Problem) -> None:
    colour = "red" if problem.severity == "error" else "yellow"
    where = wording.answer_named(problem.path)
    console.print(f"  [{colour}]{problem.severity}[/] {escape(where)}: {escape(checks.one_line(problem))}")


def show_warnings(console: Console, answers: Answers, path: str, *, exact: bool = False) -> None:
    """Warnings never block an answer, but the user should read them right away. `exact`
    keeps only those about `path` itself, not about fields inside it."""
    for problem in checks.warnings(checks.all_problems(answers.document, checks.secrets_of(answers))):
        if problem.path == path or (not exact and checks.concerns(problem.path, path)):
            print_problem(console, problem)


def show_errors(console: Console, problems: list[Problem]) -> None:
    for problem in problems:
        print_problem(console, problem)


def text_field(
    path: str,
    message: str,
    *,
    default: Callable[[Answers], str] | None = None,
    parse: Callable[[str], Any] = str.strip,
    instruction: str | None = None,
) -> Question:
    """Free text. `parse` is the first-line format check (it raises ValueError with a message);
    the rules come from validation, shown while typing."""

    def ask(answers: Answers, console: Console) -> Any:
        def check(text: str) -> str | None:
            try:
                value = parse(text)
            except ValueError as error:
                return str(error)
            return checks.first_error(checks.problems_for(answers, path, value))

        shown = default(answers) if default else _as_text(answers.get(path))
        text = prompts.ask_text(message, default=shown, validate=check, instruction=instruction)
        if text is BACK:
            return BACK
        answers.set(path, parse(text))
        show_warnings(console, answers, path)
        return DONE

    return Question(path, ask, message)


def choice_field(
    path: str,
    message: str,
    choices: Callable[[Answers], list[Choice]],
    *,
    instruction: Callable[[Answers], str | None] = lambda answers: None,
    then: Callable[[Answers], None] | None = None,
) -> Question:
    """Pick one value. A choice the rules refuse is explained and asked again. `then` adjusts
    answers that follow from the choice."""

    def ask(answers: Answers, console: Console) -> Any:
        while True:
            value = prompts.ask_select(
                message, choices(answers), default=answers.get(path), instruction=instruction(answers)
            )
            if value is BACK:
                return BACK
            refused = checks.errors(checks.problems_for(answers, path, value))
            if not refused:
                answers.set(path, value)
                if then is not None:
                    then(answers)
                show_warnings(console, answers, path)
                return DONE
            show_errors(console, refused)

    return Question(path, ask, message)


def yes_no_field(path: str, message: str, *, default: Callable[[Answers], bool] | None = None) -> Question:
    def ask(answers: Answers, console: Console) -> Any:
        shown = default(answers) if default else bool(answers.get(path))
        while True:
            value = prompts.ask_confirm(message, shown)
            if value is BACK:
                return BACK
            refused = checks.errors(checks.problems_for(answers, path, value))
            if not refused:
                answers.set(path, value)
                show_warnings(console, answers, path)
                return DONE
            show_errors(console, refused)

    return Question(path, ask, message)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


# --- first-line format checks ----------------------------------------------------------------


def required(what: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip()
        if not value:
            raise ValueError(f"enter {what}")
        return value

    return parse


def optional(text: str) -> str | None:
    """Empty means "none" (the field is left out of the config)."""
    return text.strip() or None


def comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]
