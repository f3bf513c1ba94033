"""Checks an answer with the config's own rules: build the candidate config (answers so far plus
the new answer), run the one `validate`, keep the problems about the field being asked.

Nothing here knows a rule; the wizard cannot drift from `talos-platform validate`.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from talos_platform.engine.config.loading import format_path
from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.secrets import SECRET_KEYS, Secrets
from talos_platform.engine.config.validation import Problem, problems_at, validate
from talos_platform.wizards import wording
from talos_platform.wizards.answers import Answers


def concerns(problem_path: str, field_path: str) -> bool:
    """A problem concerns the field when it names it or something inside it."""
    probe = Problem(problem_path, "")
    return bool(problems_at([probe], field_path))


def secrets_of(answers: Answers, extra: dict[str, str] | None = None) -> Secrets:
    """The typed secrets (camelCase names, as in the secrets file) as the engine's Secrets."""
    given = {**answers.secrets, **(extra or {})}
    return Secrets(**{SECRET_KEYS[name]: value for name, value in given.items() if value})


def all_problems(document: dict[str, Any], secrets: Secrets) -> list[Problem]:
    """Every problem of a candidate document: type errors from the model, then the rules."""
    try:
        config = PlatformConfig.model_validate(document)
    except ValidationError as error:
        return [
            Problem(
                path=format_path(detail["loc"]),
                message=detail["msg"],
                hint="",
                severity="error",
            )
            for detail in error.errors()
        ]
    return validate(config, secrets)


def problems_for(answers: Answers, path: str, value: Any) -> list[Problem]:
    """Problems that setting `path` to `value` would leave on that field."""
    candidate = answers.with_value(path, value)
    return problems_at(all_problems(candidate, secrets_of(answers)), path)


def secret_problems(answers: Answers, name: str, value: str) -> list[Problem]:
    """Problems left on secret `name` (camelCase) if it were `value`."""
    try:
        config = answers.to_config()
    except ValidationError:
        return []  # the config itself is reported at the review
    return problems_at(validate(config, secrets_of(answers, {name: value})), f"secrets.{name}")


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def warnings(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity != "error"]


def one_line(problem: Problem) -> str:
    """How a problem reads under a prompt: what is wrong, then what to do, in the prompts' words."""
    text = f"{problem.message} ({problem.hint})" if problem.hint else problem.message
    return wording.in_answers_terms(text)


def first_error(problems: list[Problem]) -> str | None:
    found = errors(problems)
    return one_line(found[0]) if found else None
