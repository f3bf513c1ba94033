"""Connects an app to the engine: an Observer on the engine thread, snapshots handed over through
the coalescing slot, and on-demand lookups (a pod's conditions and events) for detail views;
objects and followed logs for the YAML, describe and log views."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from talos_platform.engine.drivers.clock import Clock
from talos_platform.engine.drivers.protocols import EVENTS, PODS, Drivers
from talos_platform.engine.observe import ClusterSnapshot, Observer, TalosTarget
from talos_platform.engine.observe.objects import ObjectRef, ObjectView, read_object_view
from talos_platform.tui.bridge import EngineThread


@dataclass(frozen=True)
class ObjectDetails:
    conditions: tuple[tuple[str, str, str, str], ...] = ()
    """(type, status, reason, message)."""
    events: tuple[tuple[str, str, str, int], ...] = ()
    """(type, reason, message, count), newest last."""
    error: str = ""


class LiveFeed:
    def __init__(
        self,
        drivers: Drivers,
        clock: Clock | None = None,
        *,
        talos_targets: Iterable[TalosTarget] = (),
        engine: EngineThread | None = None,
        min_interval: float = 0.2,
    ):
        self.drivers = drivers
        self.clock = clock
        self.talos_targets = tuple(talos_targets)
        self.engine = engine or EngineThread()
        self.min_interval = min_interval
        self.observer: Observer | None = None
        self.objects = ObjectReader(drivers, self.engine)

    @property
    def simulated(self) -> bool:
        return self.drivers.simulated

    def start(self, on_snapshot: Callable[[ClusterSnapshot], None]) -> None:
        async def observe() -> None:
            self.observer = Observer(
                self.drivers, self.clock, talos_targets=self.talos_targets, min_interval=self.min_interval
            )
            self.observer.subscribe(on_snapshot)
            await self.observer.run()

        self.engine.submit(observe())

    async def pod_details(self, namespace: str, name: str) -> ObjectDetails:
        details: ObjectDetails = await self.engine.call(read_pod_details(self.drivers, namespace, name))
        return details

    def stop(self) -> None:
        self.engine.stop()


async def read_pod_details(drivers: Drivers, namespace: str, name: str) -> ObjectDetails:
    try:
        pod = await drivers.kube.get(PODS, name, namespace) or {}
        listed = await drivers.kube.list(EVENTS, namespace)
    except Exception as error:  # noqa: BLE001 - shown in the detail view
        return ObjectDetails(error=str(error) or type(error).__name__)
    conditions = tuple(
        (c.get("type", ""), c.get("status", ""), c.get("reason", ""), c.get("message", ""))
        for c in (pod.get("status") or {}).get("conditions") or []
    )
    mine = [e for e in listed.items if (e.get("involvedObject") or {}).get("name") == name]
    mine.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    events = tuple(
        (e.get("type", ""), e.get("reason", ""), e.get("message", ""), int(e.get("count", 1) or 1)) for e in mine[-15:]
    )
    return ObjectDetails(conditions, events)


LOG_TAIL_LINES = 1000
LOG_FLUSH_SECONDS = 0.05
"""Lines arriving within this long are handed to the UI together."""

LogDelivery = Callable[[list[str], str, bool], object]
"""Called on the engine thread with (new lines, an error or "", whether the stream ended)."""


class ObjectReader:
    """Reads objects and follows container logs for the object views, on the engine thread."""

    def __init__(self, drivers: Drivers, engine: EngineThread):
        self.drivers = drivers
        self.engine = engine

    async def view(self, ref: ObjectRef) -> ObjectView:
        view: ObjectView = await self.engine.call(read_object_view(self.drivers, ref))
        return view

    def follow_log(
        self, namespace: str, name: str, container: str, *, previous: bool, deliver: LogDelivery
    ) -> Future[Any]:
        """Start following a log; cancel the returned future to stop (closing the view does)."""
        return self.engine.submit(follow_log(self.drivers, namespace, name, container, previous, deliver))


async def follow_log(
    drivers: Drivers, namespace: str, name: str, container: str, previous: bool, deliver: LogDelivery
) -> None:
    """Lines in batches (a burst of a thousand is one message to the UI, not a thousand)."""
    pending: list[str] = []
    loop = asyncio.get_running_loop()
    flush: asyncio.TimerHandle | None = None

    def hand_over() -> None:
        nonlocal flush
        flush = None
        if pending:
            deliver(pending.copy(), "", False)
            pending.clear()

    try:
        stream = drivers.kube.pod_log(
            namespace, name, container, previous=previous, tail_lines=LOG_TAIL_LINES, follow=not previous
        )
        async for line in stream:
            pending.append(line)
            if flush is None:
                flush = loop.call_later(LOG_FLUSH_SECONDS, hand_over)
    except asyncio.CancelledError:
        raise
    except Exception as error:  # noqa: BLE001 - shown in the log view
        if flush is not None:
            flush.cancel()
        hand_over()
        deliver([], str(getattr(error, "message", "") or error) or type(error).__name__, True)
        return
    if flush is not None:
        flush.cancel()
    hand_over()
    deliver([], "", True)
