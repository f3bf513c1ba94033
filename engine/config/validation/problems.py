"""What validation reports: a `Problem` per mistake, with the field path it is about, and the
filters the CLI and the wizard apply to the list."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    path: str
    """Field path in YAML terms, e.g. `nodes[1].address`, `cluster.vip`; `""` for the whole file."""
    message: str
    hint: str = ""
    """What to do about it."""
    severity: Severity = "error"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def format(self) -> str:
        """`error: nodes[1].address: ...` and, when there is one, an indented `hint:` line."""
        where = f"{self.path}: " if self.path else ""
        text = f"{self.severity}: {where}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


def errors_only(problems: Iterable[Problem]) -> list[Problem]:
    return [problem for problem in problems if problem.is_error]


def problems_at(problems: Iterable[Problem], path: str) -> list[Problem]:
    """Problems at `path` or inside it: `nodes[1]` matches `nodes[1].address`, not `nodes[10]`."""
    return [
        problem for problem in problems if problem.path == path or problem.path.startswith((path + ".", path + "["))
    ]


class Collector:
    """Where the rules of every section put what they find, in order."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(self, path: str, message: str, hint: str = "") -> None:
        self.problems.append(Problem(path, message, hint, "error"))

    def warning(self, path: str, message: str, hint: str = "") -> None:
        self.problems.append(Problem(path, message, hint, "warning"))


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The closest of `choices` to a misspelt `word`, if any is close."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None
