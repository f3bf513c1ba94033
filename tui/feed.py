"""Connects an app to the engine: an Observer on the engine thread, snapshots handed over through
the coalescing slot, and on-demand lookups (a pod's conditions and events) for detail views."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from talos_platform.engine.drivers.clock import Clock
from talos_platform.engine.drivers.protocols import EVENTS, PODS, Drivers
from talos_platform.engine.observe import ClusterSnapshot, Observer, TalosTarget
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
