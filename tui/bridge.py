"""The one background thread where the engine runs (observer, install session, detail lookups),
on its own asyncio loop, and the thread-safe hand-over to the UI.

Everything engine-side shares that loop: the simulated platform's virtual clock and in-memory
drivers belong to one loop. Snapshots are coalesced at the hand-over: the newest replaces any
the UI has not taken yet, and a message is posted only when the slot was empty.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from typing import Any

from talos_platform.engine.observe import ClusterSnapshot
from talos_platform.engine.run.events import Event

CLOSE_SECONDS = 3.0
"""How long one closer given to `EngineThread.close_on_stop` may take before the stop goes on."""


class EngineThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="engine", daemon=True)
        self._started = False
        self._stopped = False
        self._closers: list[Callable[[], Awaitable[object]]] = []

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def submit(self, coroutine: Coroutine[Any, Any, Any]) -> Future[Any]:
        self.start()
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    async def call(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 10.0) -> Any:
        """Await engine work from the UI loop."""
        return await asyncio.wait_for(asyncio.wrap_future(self.submit(coroutine)), timeout)

    def close_on_stop(self, closer: Callable[[], Awaitable[object]]) -> None:
        """Await `closer()` on the engine loop when it stops, once its tasks are cancelled: for
        what was opened on this loop and must be closed on it (the Talos API's gRPC channels)."""
        self._closers.append(closer)

    def stop(self) -> None:
        """Cancel the engine's work, run the closers, end the thread. Safe to call again (the app
        stops it as it unmounts, the command once more after the app, however it ended)."""
        if not self._started or self._stopped:
            return
        self._stopped = True

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for closer in self._closers:
                try:
                    await asyncio.wait_for(closer(), CLOSE_SECONDS)
                except Exception:  # noqa: BLE001 - one closer failing must not keep the others open
                    pass

        try:
            asyncio.run_coroutine_threadsafe(cancel_all(), self.loop).result(
                timeout=5 + CLOSE_SECONDS * len(self._closers)
            )
        except Exception:  # noqa: BLE001 - shutting down regardless
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)


class SnapshotSlot:
    """Holds the newest snapshot until the UI takes it."""

    def __init__(self, notify: Callable[[], object]):
        self._lock = threading.Lock()
        self._snapshot: ClusterSnapshot | None = None
        self._notify = notify

    def put(self, snapshot: ClusterSnapshot) -> None:
        with self._lock:
            was_empty = self._snapshot is None
            self._snapshot = snapshot
        if was_empty:
            self._notify()

    def take(self) -> ClusterSnapshot | None:
        with self._lock:
            snapshot, self._snapshot = self._snapshot, None
        return snapshot


class EventBatcher:
    """Collects install events and posts them as one message while the UI is busy."""

    def __init__(self, notify: Callable[[], object]):
        self._lock = threading.Lock()
        self._pending: list[Event] = []
        self._notify = notify

    def put(self, event: Event) -> None:
        with self._lock:
            first = not self._pending
            self._pending.append(event)
        if first:
            self._notify()

    def take(self) -> list[Event]:
        with self._lock:
            events, self._pending = self._pending, []
        return events
