"""Scripted stand-ins for the drivers, so watch edge cases can be replayed exactly."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from talos_platform.engine.drivers.protocols import ObjectList, Resource, TalosNodeFacts, WatchEvent


class ManualClock:
    """Virtual time: sleeping advances it and yields to the loop."""

    def __init__(self, start: float = 1_000_000.0):
        self.time = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += seconds
        await asyncio.sleep(0)

    async def wait_for(self, awaitable, seconds):
        return await asyncio.wait_for(awaitable, seconds)


def pod(name: str, version: str, namespace: str = "apps", **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": version},
        "spec": {"nodeName": "worker-1"},
        "status": {
            "phase": "Running",
            "containerStatuses": [{"name": "main", "ready": True, "restartCount": 0, "state": {"running": {}}}],
            **status,
        },
    }


class ScriptedKube:
    """`lists[plural]` and `watches[plural]` are consumed in order. A watch script is a list of
    WatchEvents, exceptions (raised when reached) and None (yield to the loop: the end of a burst).
    When the scripts run out, watches block."""

    def __init__(self):
        self.lists: dict[str, list[ObjectList | Exception]] = defaultdict(list)
        self.watches: dict[str, list[list[WatchEvent | Exception]]] = defaultdict(list)
        self.watch_calls: list[tuple[str, str]] = []
        self.list_calls: list[str] = []
        self.idle: dict[str, asyncio.Event] = defaultdict(asyncio.Event)

    async def list(self, resource: Resource, namespace=None, label_selector="") -> ObjectList:
        self.list_calls.append(resource.plural)
        queue = self.lists[resource.plural]
        if not queue:
            return ObjectList([], "1")
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    async def watch(self, resource: Resource, resource_version: str, namespace=None, timeout_seconds=300):
        self.watch_calls.append((resource.plural, resource_version))
        scripts = self.watches[resource.plural]
        if not scripts:
            self.idle[resource.plural].set()
            await asyncio.Event().wait()
        for item in scripts.pop(0):
            if item is None:  # a pause: let the loop run other tasks
                await asyncio.sleep(0)
                continue
            if isinstance(item, Exception):
                raise item
            yield item

    async def get(self, resource, name, namespace=None):
        return None


class FakeTalos:
    def __init__(self, facts: dict[str, TalosNodeFacts]):
        self.facts = facts

    async def node_facts(self, address: str, *, insecure: bool) -> TalosNodeFacts:
        if address not in self.facts:
            raise ConnectionError(f"{address}: connection refused")
        return self.facts[address]


class ScriptedHubble:
    def __init__(self, streams: list[list]):
        self.streams = streams

    async def flows(self, *, follow=True, first=0, flow_filter=None):
        if not self.streams:
            await asyncio.Event().wait()
        for item in self.streams.pop(0):
            if isinstance(item, Exception):
                raise item
            yield item
