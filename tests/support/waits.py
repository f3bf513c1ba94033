"""Waiting for a running Textual app (under `App.run_test`) to reach a state."""

from __future__ import annotations

from collections.abc import Callable

from textual.pilot import Pilot


async def wait_for(
    pilot: Pilot, condition: Callable[[], object], timeout: float = 10.0, interval: float = 0.05
) -> None:
    """Let the app run, `interval` seconds at a time, until `condition()` is true; fails after
    `timeout` seconds."""
    for _ in range(max(1, round(timeout / interval))):
        if condition():
            return
        await pilot.pause(interval)
    raise AssertionError(f"condition not reached in {timeout} s")
