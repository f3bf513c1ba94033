"""The dashboard end to end on the simulated platform: the observer runs on the engine thread,
snapshots reach the panes, and a pod's details are read through the drivers."""

from __future__ import annotations

from talos_platform.engine.observe import TalosTarget
from talos_platform.engine.sim import simulated_platform
from talos_platform.tui.app import create_app
from talos_platform.tui.screens.detail import DetailScreen


async def wait_for(pilot, condition, timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.1)):
        if condition():
            return
        await pilot.pause(0.1)
    raise AssertionError("condition not reached")


async def test_live_dashboard_on_the_simulator_shows_problems_and_reads_pod_details():
    platform = simulated_platform("crash-loop", speed=50, installed=True)
    targets = [TalosTarget.from_config(n) for n in platform.config.nodes]
    app = create_app(drivers=platform.drivers, clock=platform.clock, talos_targets=targets, simulation_note="crash-loop")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.snapshot is not None and len(screen.snapshot.nodes) == len(targets)
                       and any(p.kind == "OOMKilled" for p in screen.snapshot.pod_problems))
        assert screen.snapshot.simulated and screen.query_one("#banner").display
        oom = next(p for p in screen.snapshot.pod_problems if p.kind == "OOMKilled")
        await pilot.press("3")
        assert screen.pane("pods").select_key(f"pod:{oom.namespace}/{oom.name}")
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        await wait_for(pilot, lambda: detail.details is not None)
        assert detail.details.error == ""
        assert any(ctype == "Ready" for ctype, *_ in detail.details.conditions)
