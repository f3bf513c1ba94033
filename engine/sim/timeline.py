"""When the scenario's timed faults happen, so the screen can say what is about to happen.

Day-2 faults start a while after the hand-over (a node loses power a minute later, a drop
burst after 30 s); without a word the user watches a healthy dashboard and wonders where the
fault is. The schedule is fixed when the faults are scheduled, and read as a pure function of
virtual time (the UI thread never touches the model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class TimedFault:
    start: float
    """Virtual time it starts."""
    duration: float
    """How long it lasts; math.inf when it does not end."""
    text: str
    """What happens, e.g. `worker-3 loses power`."""
    every: float = 0.0
    """Repeats with this period (0: once)."""
    under_way: str = ""
    """What to say while it lasts, e.g. `worker-3 is powered off` (default: `text`)."""
    tag: str = ""
    """Who scheduled it, so a re-timed fault replaces its earlier entry."""

    def window(self, now: float) -> tuple[float, float] | None:
        """The current or next occurrence as (start, end), None when it is over for good."""
        start = self.start
        if self.every > 0 and now >= start + self.duration:
            start += math.floor((now - start) / self.every) * self.every
            if now >= start + self.duration:
                start += self.every
        if now >= start + self.duration:
            return None
        return start, start + self.duration


class FaultTimeline:
    def __init__(self) -> None:
        self.faults: list[TimedFault] = []

    def add(
        self,
        start: float,
        text: str,
        *,
        duration: float = math.inf,
        every: float = 0.0,
        under_way: str = "",
        tag: str = "",
    ) -> None:
        self.faults.append(TimedFault(start, duration, text, every, under_way, tag))

    def drop(self, tag: str) -> None:
        self.faults = [fault for fault in self.faults if fault.tag != tag]

    def outlook(self, now: float) -> str:
        """`now: X (45 s more) · in 52 s: Y`: the faults under way and the next one to come."""
        current, upcoming = [], []
        for fault in self.faults:
            window = fault.window(now)
            if window is None:
                continue
            start, end = window
            if start <= now:
                text = fault.under_way or fault.text
                current.append(f"now: {text}" + (f" ({_seconds(end - now)} more)" if end != math.inf else ""))
            else:
                upcoming.append((start, f"in {_seconds(start - now)}: {fault.text}"))
        parts = current + [text for _, text in sorted(upcoming)[:1]]
        return " · ".join(parts)


def _seconds(value: float) -> str:
    return f"{max(0, math.ceil(value - 1e-9)):.0f} s"
