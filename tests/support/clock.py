"""A clock whose time moves only when something sleeps on it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class ManualClock:
    """Implements `Clock`: `sleep` records the delay, advances the time by it and yields to the loop
    at once (backoff and intervals cost nothing); `wait_for` waits real seconds (tests keep their
    timeouts tiny)."""

    def __init__(self, start: float = 1_000.0):
        self.time = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += seconds
        await asyncio.sleep(0)

    async def wait_for(self, awaitable: Awaitable[T], seconds: float) -> T:
        return await asyncio.wait_for(awaitable, seconds)
