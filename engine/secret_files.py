"""Reading the files of the state directory that hold secrets (the Talos secrets bundle,
talosconfig, kubeconfig, Vault's init material) and the user's secrets file.

A parser's error message quotes the text around the problem; in these files that text is a
key, a token or a certificate. So a damaged file is reported by its name, line and column only,
with where its backup is and how to get it back, and the parser's own error is dropped (it
would also reach `--debug` tracebacks as the exception's context).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from talos_platform.engine.errors import UserError

if TYPE_CHECKING:
    from talos_platform.engine.state import StateDirectory


class SecretFileDamaged(UserError):
    """A file holding secrets cannot be read or parsed; the message never quotes its text."""


def restore_hint(path: Path, state: StateDirectory | None = None, recovery: str = "") -> str:
    """Restore from the newest backup in the state directory when there is one; else `recovery`."""
    backups = state.backups_of(path) if state is not None else []
    parts = []
    if backups:
        parts.append(f"restore it from its backup: cp -p {backups[-1]} {path}")
    else:
        parts.append("restore it from your backup of the state directory")
    if recovery:
        parts.append(recovery)
    return "; ".join(parts)


def read_yaml_secret(path: Path, what: str, *, state: StateDirectory | None = None, recovery: str = "") -> Any:
    """The parsed YAML of a secret-bearing file (FileNotFoundError passes through)."""
    return _read(path, what, state, recovery, _parse_yaml)


def read_json_secret(path: Path, what: str, *, state: StateDirectory | None = None, recovery: str = "") -> Any:
    """The parsed JSON of a secret-bearing file (FileNotFoundError passes through)."""
    return _read(path, what, state, recovery, _parse_json)


def damaged(
    path: Path, what: str, problem: str, *, state: StateDirectory | None = None, recovery: str = ""
) -> SecretFileDamaged:
    return SecretFileDamaged(
        f"{what} {path} is damaged: {problem}", where=str(path), hint=restore_hint(Path(path), state, recovery)
    )


def _read(path: Path, what: str, state: StateDirectory | None, recovery: str, parse: Callable[[str], Any]) -> Any:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except UnicodeDecodeError:
        raise damaged(path, what, "it is not UTF-8 text", state=state, recovery=recovery) from None
    except OSError as error:
        raise SecretFileDamaged(
            f"cannot read {what} {path}: {error.strerror or type(error).__name__}",
            where=str(path),
            hint="check the file's owner and mode (it should be yours, 0600)",
        ) from None
    problem = None
    try:
        return parse(text)
    except _Unparsable as error:
        problem = str(error)
    raise damaged(path, what, problem, state=state, recovery=recovery) from None


class _Unparsable(Exception):
    """Carries only where a parse failed, never the text."""


def _parse_yaml(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise _Unparsable(f"not valid YAML{where}") from None


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise _Unparsable(f"not valid JSON at line {error.lineno}, column {error.colno}") from None


# Key names a person types are words (`gitToken`, a typo of it); a pasted token is not.
_TOKEN_PREFIXES = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xox", "sk-", "eyJ", "AKIA")
_WORDS = re.compile(r"[A-Za-z][A-Za-z_-]*")


def looks_like_token(text: str) -> bool:
    if text.startswith(_TOKEN_PREFIXES):
        return True
    if _WORDS.fullmatch(text) and len(text) < 40:
        return False
    return len(text) >= 12 and any(c.isdigit() for c in text)


def shown_key(key: Any) -> str:
    """A key to show in an error: as written, or masked when it looks like a pasted token."""
    text = str(key)
    if looks_like_token(text):
        return f"{text[:4]}… ({len(text)} characters, masked: it looks like a token)"
    return repr(text)
