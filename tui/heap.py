"""Keeps Python's full garbage collections short while the dashboard runs.

A full collection walks every tracked object. With a large cluster in memory (ten thousand pods
as the stores keep them, and in a simulation the whole simulated platform) one took 0.5-0.7 s
and came every few seconds, stopping the UI each time. Once the data has loaded, a collection
followed by `gc.freeze()` moves the survivors out of the collector's sight; later collections
walk only what was created since. Freezing again now and then keeps that set small; each of
those collections is cheap, since it skips what was frozen before.
"""

from __future__ import annotations

import gc
import time
from typing import Callable

# Seconds after the first freeze at which to freeze again: soon after start-up (the stores fill
# over the first seconds), then at a slow pace.
DEFAULT_SCHEDULE = (10.0, 30.0)
DEFAULT_EVERY = 300.0


class HeapFreezer:
    def __init__(self, schedule: tuple[float, ...] = DEFAULT_SCHEDULE, every: float = DEFAULT_EVERY,
                 clock: Callable[[], float] = time.monotonic):
        self.schedule = schedule
        self.every = every
        self.clock = clock
        self.freezes = 0
        self._first: float | None = None
        self._next: float | None = None

    def due(self) -> bool:
        return self._next is None or self.clock() >= self._next

    def freeze(self) -> None:
        """Collect (only what was not frozen before), then freeze the survivors."""
        gc.collect()
        gc.freeze()
        now = self.clock()
        if self._first is None:
            self._first = now
        self.freezes += 1
        index = self.freezes - 1
        self._next = self._first + self.schedule[index] if index < len(self.schedule) else now + self.every

    def maybe_freeze(self) -> bool:
        if not self.due():
            return False
        self.freeze()
        return True
