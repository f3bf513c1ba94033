"""A discrete-event virtual clock for the simulated platform.

Why discrete events: the engine runs many tasks at once (steps, watches, the model's own
controllers). Sleeping real time scaled by a speed factor would make their interleaving depend
on the machine's load, so two runs could tell different stories. Here virtual time only moves
when every task on the event loop is blocked (nothing left in the loop's ready queue); it then
jumps to the earliest pending deadline and wakes what is due there, in (deadline, arrival)
order. The same seed and scenario therefore give the same sequence of events on any machine.

`speed` only paces those jumps against real time (a jump of 10 virtual seconds at speed 5
waits 2 real seconds); it never changes their order. `speed=math.inf` runs as fast as the
CPU allows, which is what tests use.

Time is driven by waiters: it only advances while some task awaits `sleep`/`wait_for` (a watch
waiting with its timeout counts). Model callbacks scheduled with `call_later` run when time
reaches them but never push time forward on their own, so an idle simulation costs nothing.

Limits: work done off the loop (threads, subprocesses) is invisible to the idleness check, so
virtual time may move on while it runs; the engine does its simulated work on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

# After this many consecutive yields in which other tasks were always runnable, time moves on
# anyway: a task that polls with sleep(0) must not freeze the simulation.
_MAX_BUSY_YIELDS = 20_000
# Paced mode: if real time is this far behind, jump without waiting for idleness.
_PACED_STARVATION_SECONDS = 1.0


class _Entry:
    __slots__ = ("deadline", "seq", "future", "callback", "cancelled")

    def __init__(
        self, deadline: float, seq: int, future: asyncio.Future[None] | None, callback: Callable[[], Any] | None
    ):
        self.deadline = deadline
        self.seq = seq
        self.future = future
        self.callback = callback
        self.cancelled = False

    def __lt__(self, other: _Entry) -> bool:
        return (self.deadline, self.seq) < (other.deadline, other.seq)


class TimerHandle:
    """Returned by `call_later`; `cancel()` drops the callback."""

    __slots__ = ("_entry",)

    def __init__(self, entry: _Entry):
        self._entry = entry

    def cancel(self) -> None:
        self._entry.cancelled = True

    @property
    def when(self) -> float:
        return self._entry.deadline


class SimulatedClock:
    """Implements the engine's Clock protocol (`now`, `sleep`, `wait_for`) on virtual time."""

    def __init__(self, start: float = 1_767_225_600.0, speed: float = math.inf):
        if not speed > 0:
            raise ValueError("speed must be > 0 (use math.inf for as fast as possible)")
        self._now = float(start)
        self.start = float(start)
        self.speed = float(speed)
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._waiters = 0  # sleeping futures not yet woken or cancelled
        self._holds = 0  # real work under way that virtual time must not run past (see `held`)
        self._advancer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self._anchor_real = time.monotonic()
        self._anchor_virtual = self._now

    # --- Clock protocol -----------------------------------------------------------------

    def now(self) -> float:
        return self._now

    @property
    def elapsed(self) -> float:
        """Virtual seconds since the simulation started."""
        return self._now - self.start

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future = self._schedule_future(seconds)
        try:
            await future
        finally:
            if not future.done():
                future.cancel()

    async def wait_for(self, awaitable: Awaitable[T], seconds: float) -> T:
        task = asyncio.ensure_future(awaitable)
        if task.done():
            return task.result()
        if seconds <= 0:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise TimeoutError()
        timer = self._schedule_future(seconds)
        try:
            waiting: set[asyncio.Future[Any]] = {task, timer}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            task.cancel()
            timer.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise
        if task.done():
            timer.cancel()
            return task.result()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise TimeoutError()

    # --- for the model ------------------------------------------------------------------

    def call_later(self, delay: float, callback: Callable[[], Any]) -> TimerHandle:
        """Run `callback` (synchronously, on the loop) when virtual time reaches now+delay."""
        entry = _Entry(self._now + max(0.0, delay), next(self._seq), None, callback)
        heapq.heappush(self._heap, entry)
        self._poke()
        return TimerHandle(entry)

    def call_at(self, when: float, callback: Callable[[], Any]) -> TimerHandle:
        return self.call_later(when - self._now, callback)

    def run_callbacks_until(self, when: float) -> None:
        """Synchronously run model callbacks up to `when` and move time there. Only for setting
        up a platform before any task waits on this clock (e.g. an already-installed start)."""
        while True:
            deadline = self._next_deadline()
            if deadline is None or deadline > when:
                break
            self._fire_due(deadline)
        self._now = max(self._now, when)

    def run_due(self) -> None:
        """Run callbacks that are due at the current time (used before a synchronous read)."""
        self._fire_due(self._now)

    # --- machinery ----------------------------------------------------------------------

    def _schedule_future(self, seconds: float) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        self._ensure_advancer(loop)
        future = loop.create_future()
        entry = _Entry(self._now + seconds, next(self._seq), future, None)
        self._waiters += 1

        def forget(_: asyncio.Future[None]) -> None:
            self._waiters -= 1
            if future.cancelled():
                entry.cancelled = True

        future.add_done_callback(forget)
        heapq.heappush(self._heap, entry)
        self._poke()
        return future

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """Virtual time stands still while real work runs (a process on this machine): at full
        speed an idle loop would otherwise look like nothing to wait for and jump to the next
        timer, a timeout among them."""
        self._holds += 1
        self._poke()
        try:
            yield
        finally:
            self._holds -= 1
            self._poke()

    def _poke(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def _ensure_advancer(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._advancer is not None and not self._advancer.done() and self._loop is loop:
            return
        self._loop = loop
        self._changed = asyncio.Event()
        self._reanchor()
        self._advancer = loop.create_task(self._advance_forever(loop), name="simulated-clock")

    def _reanchor(self) -> None:
        """Pace from here: virtual `now` corresponds to this real moment."""
        self._anchor_real = time.monotonic()
        self._anchor_virtual = self._now

    def close(self) -> None:
        if self._advancer is not None and not self._advancer.done():
            self._advancer.cancel()
        self._advancer = None

    def _next_deadline(self) -> float | None:
        while self._heap and (
            self._heap[0].cancelled or (self._heap[0].future is not None and self._heap[0].future.done())
        ):
            heapq.heappop(self._heap)
        return self._heap[0].deadline if self._heap else None

    async def _advance_forever(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self._changed is not None
        while True:
            if self._waiters <= 0 or self._holds > 0:
                self._changed.clear()
                await self._changed.wait()
                self._reanchor()  # nobody waited, or real work ran: virtual time stood still meanwhile
                continue
            await self._until_idle(loop)
            deadline = self._next_deadline()
            if deadline is None or self._waiters <= 0 or self._holds > 0:
                continue
            if not math.isinf(self.speed):
                # Paced against a fixed anchor, so per-step latencies do not add up to drift; a
                # loop too busy to keep up (over a second behind) is forgiven, not caught up.
                real_wait = self._anchor_real + (deadline - self._anchor_virtual) / self.speed - time.monotonic()
                if real_wait < -_PACED_STARVATION_SECONDS:
                    self._reanchor()
                    real_wait = (deadline - self._now) / self.speed
                if real_wait > 0:
                    # Wait for real time to catch up, or for something new (an earlier deadline);
                    # either way look again from the top.
                    self._changed.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), real_wait)
                    continue
            self._fire_due(deadline)

    async def _until_idle(self, loop: asyncio.AbstractEventLoop) -> None:
        ready = getattr(loop, "_ready", None)
        began = time.monotonic()
        for _ in range(_MAX_BUSY_YIELDS):
            await asyncio.sleep(0)
            if ready is None:
                # Unknown loop type: a fixed number of yields lets chains of callbacks settle.
                for _ in range(50):
                    await asyncio.sleep(0)
                return
            if not ready:
                return
            if not math.isinf(self.speed) and time.monotonic() - began > _PACED_STARVATION_SECONDS:
                return

    def _fire_due(self, deadline: float) -> None:
        if deadline > self._now:
            self._now = deadline
        while self._heap and self._heap[0].deadline <= self._now:
            entry = heapq.heappop(self._heap)
            if entry.cancelled:
                continue
            if entry.future is not None:
                if not entry.future.done():
                    entry.future.set_result(None)
            elif entry.callback is not None:
                try:
                    entry.callback()
                except Exception as error:  # a model bug must not stop time for everyone
                    if self._loop is not None:
                        self._loop.call_exception_handler(
                            {"message": "simulated platform callback failed", "exception": error}
                        )
                    else:
                        raise
