"""The wizard as a state machine: questions in order with Esc going back through the history,
then a review menu that can reopen any section, add, edit or remove nodes, confirm or cancel.

Nothing here writes a file: the flow ends with confirmed answers (or Cancelled), and the caller
writes the files only then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from questionary import Choice, Separator
from rich.console import Console
from rich.markup import escape

from talos_platform.wizards import checks, prompts
from talos_platform.wizards.answers import Answers
from talos_platform.wizards.fields import Question
from talos_platform.wizards.prompts import BACK
from talos_platform.wizards.sections import SECTIONS, Section, all_questions, node_questions
from talos_platform.wizards.summary import show_review


class Cancelled(Exception):
    """The user chose to cancel; nothing has been written."""


QuestionList = Callable[[Answers], list[Question]]


def _find(questions: list[Question], key: str) -> int | None:
    for index, question in enumerate(questions):
        if question.key == key:
            return index
    return None


def run_questions(
    answers: Answers,
    console: Console,
    questions: QuestionList,
    *,
    start_at_end: bool = False,
    titles: Callable[[Answers], dict[str, str]] | None = None,
) -> bool:
    """Ask `questions` in order; Esc goes back to the previous one asked.

    The list is rebuilt after every answer (adding a node adds questions). Returns False when
    the user goes back from the first question, True when the last one is answered.
    """
    listed = questions(answers)
    if not listed:
        return True
    history: list[str] = [q.key for q in listed[:-1]] if start_at_end else []
    current: str | None = listed[-1].key if start_at_end else listed[0].key
    shown_title: str | None = None
    while current is not None:
        listed = questions(answers)
        position = _find(listed, current)
        if position is None:  # the question no longer applies (e.g. the VIP on docker)
            if not history:
                return False
            current = history.pop()
            continue
        if titles is not None:
            title = titles(answers).get(current)
            if title and title != shown_title:
                console.rule(title)
                shown_title = title
        outcome = listed[position].ask(answers, console)
        if outcome is BACK:
            if not history:
                return False
            current = history.pop()
            continue
        history.append(current)
        asked_at = position
        listed = questions(answers)
        position = _find(listed, current)
        # An answer may remove its own question from the list (e.g. a node removed by it):
        # then whatever now stands in its place comes next.
        following = position + 1 if position is not None else asked_at
        current = listed[following].key if following < len(listed) else None
    return True


def _section_titles(answers: Answers) -> dict[str, str]:
    titles: dict[str, str] = {}
    for section in SECTIONS:
        for question in section.questions(answers):
            titles[question.key] = section.title
    return titles


def ask_everything(answers: Answers, console: Console, *, start_at_end: bool = False) -> None:
    """The full questionnaire; going back from the very first question just asks it again."""
    while not run_questions(answers, console, all_questions, start_at_end=start_at_end, titles=_section_titles):
        start_at_end = False


# --- review ----------------------------------------------------------------------------------

CONFIRM = "confirm"
CHANGE = "change"
ADD_NODE = "add-node"
EDIT_NODE = "edit-node"
REMOVE_NODE = "remove-node"
CANCEL = "cancel"


def _node_label(node: dict[str, Any], index: int) -> str:
    return f"{index + 1}. {node.get('name') or '(unnamed)'}  {node.get('role')}  {node.get('address') or ''}"


def _pick_node(answers: Answers, message: str) -> int | None:
    choices = [Choice(_node_label(node, i), value=i) for i, node in enumerate(answers.nodes)]
    picked = prompts.ask_select(message, choices)
    return None if picked is BACK else picked


def _pick_section() -> Section | None:
    choices = [Choice(section.title, value=i) for i, section in enumerate(SECTIONS)]
    picked = prompts.ask_select("Which part do you want to change?", choices)
    return None if picked is BACK else SECTIONS[picked]


def _review_menu(answers: Answers, has_errors: bool) -> str:
    docker = answers.platform == "docker"
    choices: list[Choice | Separator] = [
        Choice(
            "Confirm and write the files", value=CONFIRM, disabled="fix the errors above first" if has_errors else None
        ),
        Choice("Change an answer…", value=CHANGE),
        Choice(
            "Add a node", value=ADD_NODE, disabled="docker clusters have one node" if docker and answers.nodes else None
        ),
        Choice("Edit a node…", value=EDIT_NODE, disabled=None if answers.nodes else "no nodes yet"),
        Choice("Remove a node…", value=REMOVE_NODE, disabled=None if answers.nodes else "no nodes yet"),
        Separator(),
        Choice("Cancel (nothing is written)", value=CANCEL),
    ]
    action: str = prompts.ask_select("What next?", choices, default=None if has_errors else CONFIRM)
    return action


def review(answers: Answers, console: Console) -> None:
    """Loop on the review menu until the user confirms (returns) or cancels (raises Cancelled)."""
    while True:
        problems = show_review(console, answers)
        action = _review_menu(answers, bool(checks.errors(problems)))
        if action is BACK:
            ask_everything(answers, console, start_at_end=True)
        elif action == CONFIRM:
            return
        elif action == CANCEL:
            raise Cancelled()
        elif action == CHANGE:
            section = _pick_section()
            if section is not None:
                console.rule(section.title)
                run_questions(answers, console, section.questions)
        elif action == ADD_NODE:
            added = answers.add_node()
            console.rule(f"Node {added + 1}")
            if not run_questions(answers, console, node_questions(added, offer_another=False)):
                answers.remove_node(added)
        elif action == EDIT_NODE:
            index = _pick_node(answers, "Which node?")
            if index is not None:
                console.rule(f"Node {index + 1}")
                run_questions(answers, console, node_questions(index, offer_another=False))
        elif action == REMOVE_NODE:
            index = _pick_node(answers, "Remove which node?")
            if index is not None:
                name = answers.nodes[index].get("name") or f"node {index + 1}"
                answers.remove_node(index)
                console.print(f"removed {escape(name)}")


def run_wizard(answers: Answers, console: Console) -> Answers:
    """Ask everything (each default is the current answer: the file's value when editing),
    then review until confirmed. Returns the answers; raises Cancelled or KeyboardInterrupt."""
    ask_everything(answers, console)
    review(answers, console)
    return answers
