"""The `Kube` driver with the round trip of every read timed: the API's latency as the dashboard
experiences it. Watches are streams (their length says nothing about latency) and writes are the
engine's, not the dashboard's: both pass through untimed."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, TypeVar

from talos_platform.engine.drivers.clock import Clock
from talos_platform.engine.drivers.protocols import AccessDenied, Kube, ObjectList, Resource, WatchEvent
from talos_platform.engine.observe.api_latency import RoundTrips

T = TypeVar("T")


class TimedKube:
    def __init__(self, kube: Kube, round_trips: RoundTrips, clock: Clock):
        self.kube = kube
        self.round_trips = round_trips
        self.clock = clock

    async def _timed(self, request: Awaitable[T]) -> T:
        started = self.clock.now()
        try:
            result = await request
        except AccessDenied:
            # A refusal is a whole round trip too; a connection that fails says nothing of latency.
            self.round_trips.record(self.clock.now() - started, self.clock.now())
            raise
        self.round_trips.record(self.clock.now() - started, self.clock.now())
        return result

    async def list(self, resource: Resource, namespace: str | None = None, label_selector: str = "") -> ObjectList:
        return await self._timed(self.kube.list(resource, namespace, label_selector))

    def watch(
        self, resource: Resource, resource_version: str, namespace: str | None = None, timeout_seconds: int = 300
    ) -> AsyncIterator[WatchEvent]:
        return self.kube.watch(resource, resource_version, namespace, timeout_seconds)

    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return await self._timed(self.kube.get(resource, name, namespace))

    async def read_path(self, path: str) -> str:
        return await self._timed(self.kube.read_path(path))

    async def secret_digests(self, name: str, namespace: str) -> dict[str, str] | None:
        return await self._timed(self.kube.secret_digests(name, namespace))

    async def apply_kustomization(self, path: Path) -> builtins.list[str]:
        return await self.kube.apply_kustomization(path)

    async def apply_objects(self, objects: builtins.list[dict[str, Any]]) -> builtins.list[str]:
        return await self.kube.apply_objects(objects)

    async def cordon_node(self, name: str) -> None:
        await self.kube.cordon_node(name)

    async def drain_node(self, name: str, timeout: float, *, disable_eviction: bool = False) -> None:
        await self.kube.drain_node(name, timeout, disable_eviction=disable_eviction)

    async def uncordon_node(self, name: str) -> None:
        await self.kube.uncordon_node(name)

    async def annotate_node(self, name: str, key: str, value: str | None) -> None:
        await self.kube.annotate_node(name, key, value)

    async def delete_node(self, name: str) -> None:
        await self.kube.delete_node(name)

    async def apply_secret_keys(self, name: str, namespace: str, data: dict[str, str], field_manager: str) -> None:
        await self.kube.apply_secret_keys(name, namespace, data, field_manager)

    async def delete(self, resource: Resource, name: str, namespace: str | None = None) -> None:
        await self.kube.delete(resource, name, namespace)

    def pod_log(
        self,
        namespace: str,
        name: str,
        container: str = "",
        *,
        previous: bool = False,
        tail_lines: int = 500,
        follow: bool = False,
    ) -> AsyncIterator[str]:
        # A stream, like a watch: its duration is not a round trip.
        return self.kube.pod_log(namespace, name, container, previous=previous, tail_lines=tail_lines, follow=follow)
