"""The one redactor: every event, log line and captured command output passes through it.

It replaces each secret value with `[REDACTED]`, and also the forms a secret takes when
tools re-encode it: base64 (plain and URL-safe, on its own or inside a longer base64 blob,
e.g. a Kubernetes Secret's `data`, even wrapped over lines), URL-encoding, and the
`user:token` pair of an HTTP Basic header.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import urllib.parse
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from talos_platform.engine.run.events import Event

if TYPE_CHECKING:
    from talos_platform.engine.config.secrets import Secrets

PLACEHOLDER = "[REDACTED]"

# A base64 fragment shorter than this could match ordinary text by chance.
_MIN_FRAGMENT = 6

EventT = TypeVar("EventT", bound=Event)


def _base64_fragments(value: bytes) -> set[str]:
    """Base64 text that appears wherever `value` is encoded, whatever its offset.

    Base64 turns 3 bytes into 4 characters, so the encoding of a value inside a longer blob
    depends on where it starts modulo 3. For each of the 3 offsets, keep only the characters
    made purely from the value's own bits.
    """
    fragments: set[str] = set()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + value).decode("ascii")
        start = -(-shift * 8 // 6)  # first character without bits of the padding bytes
        end = ((shift + len(value)) * 8) // 6  # last character without bits of what follows
        fragment = encoded[start:end]
        if len(fragment) >= _MIN_FRAGMENT:
            fragments.add(fragment)
            fragments.add(fragment.translate(str.maketrans("+/", "-_")))
    return fragments


def _forms(value: str) -> set[str]:
    raw = value.encode("utf-8")
    forms = {value}
    quoted = urllib.parse.quote(value, safe="")
    forms.add(quoted)
    for encoder in (base64.b64encode, base64.urlsafe_b64encode):
        forms.add(encoder(raw).decode("ascii"))
        forms.add(encoder(raw).decode("ascii").rstrip("="))
    forms |= _base64_fragments(raw)
    return {form for form in forms if form}


def _wrappable(form: str) -> str:
    """A pattern for `form` that also matches it broken over lines (base64 is often wrapped)."""
    return r"(?:\r?\n)?".join(re.escape(character) for character in form)


class Redactor:
    """Replaces secret values (and their encoded forms) with `[REDACTED]`."""

    def __init__(self, secret_values: Iterable[str]):
        values = sorted({value for value in secret_values if value}, key=len, reverse=True)
        forms: set[str] = set()
        for value in values:
            forms |= _forms(value)
        self._forms = sorted(forms, key=len, reverse=True)  # longest first: no partial leftovers
        self._pattern = re.compile("|".join(_wrappable(form) for form in self._forms)) if self._forms else None

    @classmethod
    def from_secrets(cls, secrets: Secrets) -> Redactor:
        """Redacts the secret values and the `user:token` pair that HTTP Basic auth encodes."""
        values = list(secrets.values())
        if secrets.git_username and secrets.git_token:
            values.append(f"{secrets.git_username}:{secrets.git_token}")
        return cls(values)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def redact(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(PLACEHOLDER, text)

    def redact_value(self, value: Any) -> Any:
        """Redacts strings inside any structure of str, list, tuple, dict and dataclass."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, tuple):
            return tuple(self.redact_value(item) for item in value)
        if isinstance(value, list):
            return [self.redact_value(item) for item in value]
        if isinstance(value, dict):
            return {self.redact_value(key): self.redact_value(item) for key, item in value.items()}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self.redact_dataclass(value)
        return value

    def redact_dataclass(self, value: Any) -> Any:
        changes = {
            field.name: self.redact_value(getattr(value, field.name))
            for field in dataclasses.fields(value)
            if field.init
        }
        return dataclasses.replace(value, **changes)

    def redact_event(self, event: EventT) -> EventT:
        """A copy of `event` with every string field (and strings in tuples) redacted."""
        if self._pattern is None:
            return event
        redacted: EventT = self.redact_dataclass(event)
        return redacted
