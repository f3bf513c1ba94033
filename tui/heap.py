"""Keeps Python's full garbage collections short while the dashboard runs.

A full collection walks every tracked object. With a large cluster in memory (ten thousand pods
as the stores keep them, and in a simulation the whole simulated platform) one took 0.5-0.7 s
and came every few seconds, stopping the UI each time. Once the data has loaded, a collection
followed by `gc.freeze()` moves the survivors out of the collector's sight; later collections
walk only what was created since. The dashboard freezes again whenever the cluster has grown
markedly (the first lists arrive over several snapshots), which skips what was frozen before.

Frozen objects are never collected: garbage in reference cycles among them (earlier snapshots'
rows, replaced widgets) would stay for good, and a dashboard left open for hours grew about
3 MB with every freeze (docs/benchmarks.md, "An hour, flat"). So every few minutes the heap is
unfrozen first and collected whole: one full collection (about half a second with a large
cluster) in place of growth without end.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

GROWTH = 1.2
"""Freeze again once the cluster (nodes + pods + apps) is this many times its size at the last freeze."""
DEFAULT_EVERY = 300.0


class HeapFreezer:
    def __init__(self, every: float = DEFAULT_EVERY, clock: Callable[[], float] = time.monotonic):
        self.every = every
        self.clock = clock
        self.freezes = 0
        self._size = 0
        self._at = 0.0

    def due(self, size: int) -> bool:
        return self.freezes == 0 or size > self._size * GROWTH + 100 or self.clock() - self._at >= self.every

    def freeze(self, size: int, *, whole: bool = False) -> None:
        """Collect, then freeze the survivors. `whole`: unfreeze first, so that garbage frozen
        earlier is collected too; otherwise only what was not frozen before is looked at."""
        if whole:
            gc.unfreeze()
        gc.collect()
        gc.freeze()
        self.freezes += 1
        self._size = size
        self._at = self.clock()

    def maybe_freeze(self, size: int) -> bool:
        if not self.due(size):
            return False
        # The periodic freeze is the one that looks at the whole heap again (see the module's doc).
        self.freeze(size, whole=self.freezes > 0 and self.clock() - self._at >= self.every)
        return True
