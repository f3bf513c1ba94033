"""Orders names the way people read them: `worker-2` before `worker-10`."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"(\d+)")
_GROUPED = re.compile(r"(?<=\d),(?=\d{3}\b)")

NaturalKey = tuple[tuple[int, int, str], ...]


def natural_key(text: str) -> NaturalKey:
    """A sort key comparing runs of digits by value (`1,280` as 1280) and the rest without case."""
    parts = _DIGITS.split(_GROUPED.sub("", text))
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part.lower()) for part in parts if part)
