"""Problems in the wizard's words: `Node 4`, not `nodes[3]`; the question, not the config key.

Validation speaks of config paths (`talos-platform validate` points into a file). In the
wizard the user has never seen the file, so a path in a message is replaced by the prompt that
sets it. The prompts are collected from the wizard's own questions, so the words cannot drift.
"""

from __future__ import annotations

import re
from functools import cache

_NODE = re.compile(r"nodes\[(\d+)\](?:\.([A-Za-z]+))?")
_KEY = re.compile(r"\b(?:cluster|domain|gitops|components|storage|secrets)(?:\.[A-Za-z]+)+\b")
_NODE_PREFIX = re.compile(r"^Node \d+: ")
_ASIDE = re.compile(r" \(.*\)$")


@cache
def _labels() -> dict[str, str]:
    """Prompt by config path for every question of a metal and a docker config; node questions
    under `nodes[*].field`, without their `Node N: ` and any trailing aside."""
    from talos_platform.wizards.answers import Answers
    from talos_platform.wizards.sections import all_questions

    found: dict[str, str] = {}
    for platform in ("metal", "docker"):
        answers = Answers(flags={"advancedNetwork": True, "changeVersions": True, "customImage": True})
        answers.set("cluster.platform", platform)
        answers.set("gitops.private", True)  # asks for the Git credentials too
        answers.add_node()
        for question in all_questions(answers):
            if question.label:
                key = _NODE.sub(lambda m: f"nodes[*]{'.' + m.group(2) if m.group(2) else ''}", question.key)
                found.setdefault(key, _ASIDE.sub("", _NODE_PREFIX.sub("", question.label)))
    return found


def answer_named(path: str) -> str:
    """What the user calls the answer at `path` (the path itself when no question sets it)."""
    return _node_words(path) if _NODE.fullmatch(path) else _labels().get(path, _node_words(path))


def in_answers_terms(text: str) -> str:
    """`text` with every node index and config path a question sets replaced by its prompt."""
    labels = _labels()
    text = _NODE.sub(lambda m: _node_words(m.group(0)), text)
    return _KEY.sub(lambda m: f"“{labels[m.group(0)]}”" if m.group(0) in labels else m.group(0), text)


def _node_words(path: str) -> str:
    match = _NODE.match(path)
    if match is None:
        return path
    node = f"Node {int(match.group(1)) + 1}"
    field = match.group(2)
    if not field:
        return node + path[match.end() :]
    label = _labels().get(f"nodes[*].{field}", field)
    return f"{node}'s {label}{path[match.end() :]}"
