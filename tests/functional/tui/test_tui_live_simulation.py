"""The dashboard end to end on the simulated platform: the observer runs on the engine thread,
snapshots reach the panes, and a pod's details are read through the drivers."""

from __future__ import annotations

from support.waits import wait_for

from talos_platform.engine.observe import TalosTarget
from talos_platform.engine.sim import simulated_platform
from talos_platform.tui.app import create_app
from talos_platform.tui.screens.detail import DetailScreen
from talos_platform.tui.widgets.pods import pods_content


async def test_live_dashboard_on_the_simulator_shows_problems_and_reads_pod_details():
    platform = simulated_platform("crash-loop", speed=50, installed=True)
    targets = [TalosTarget.from_config(n) for n in platform.config.nodes]
    app = create_app(
        drivers=platform.drivers, clock=platform.clock, talos_targets=targets, simulation_note="crash-loop"
    )
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await wait_for(
            pilot,
            lambda: (
                screen.snapshot is not None
                and len(screen.snapshot.nodes) == len(targets)
                and any(p.kind == "OOMKilled" for p in screen.snapshot.pod_problems)
            ),
            timeout=30,
        )
        assert screen.snapshot.simulated and screen.query_one("#banner").display
        oom = next(p for p in screen.snapshot.pod_problems if p.kind == "OOMKilled")
        await pilot.press("3")
        assert screen.pane("pods").select_key(f"pod:{oom.namespace}/{oom.name}")
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        await wait_for(pilot, lambda: detail.details is not None, timeout=30)
        assert detail.details.error == ""
        assert any(ctype == "Ready" for ctype, *_ in detail.details.conditions)


async def test_install_screen_runs_a_simulated_install_and_the_panes_light_up(tmp_path):
    import math

    from talos_platform.engine.session import InstallSession
    from talos_platform.engine.state import StateDirectory

    platform = simulated_platform("default", speed=math.inf)
    targets = [TalosTarget.from_config(n) for n in platform.config.nodes]

    def session_factory() -> InstallSession:
        return InstallSession(
            platform.config, platform.secrets, StateDirectory(tmp_path / "state"), platform.drivers, platform.clock
        )

    app = create_app(
        "install",
        drivers=platform.drivers,
        clock=platform.clock,
        talos_targets=targets,
        session_factory=session_factory,
        simulation_note="default",
    )
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.progress.outcome != "", timeout=120)
        assert app.progress.outcome == "succeeded"
        assert all(s.state in ("succeeded", "skipped") for s in app.progress.steps.values())
        assert {s.layer for s in app.progress.steps.values()} == {0, 1, 2, 3, 4}
        screen = app.screen
        await wait_for(
            pilot,
            lambda: screen.snapshot is not None and screen.snapshot.apps and screen.snapshot.flows.available,
            timeout=30,
        )
        assert not screen.pane("apps").has_class("offline") and not screen.pane("flows").has_class("offline")
        assert screen.query_one("#banner").display


async def test_live_dashboard_shows_a_pod_security_refusal_in_the_pods_pane():
    platform = simulated_platform("pod-security-refused", speed=50, installed=True)
    targets = [TalosTarget.from_config(n) for n in platform.config.nodes]
    app = create_app(
        drivers=platform.drivers, clock=platform.clock, talos_targets=targets, simulation_note="pod-security-refused"
    )
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await wait_for(
            pilot,
            lambda: screen.snapshot is not None and any(p.kind == "PodSecurity" for p in screen.snapshot.pod_problems),
            timeout=30,
        )
        refused = next(p for p in screen.snapshot.pod_problems if p.kind == "PodSecurity")
        await pilot.press("3")
        assert screen.pane("pods").select_key(f"pod:{refused.namespace}/{refused.name}")
        # The refused workload has no pods: it is not counted as a pod with problems.
        summary = pods_content(screen.snapshot).summary.plain
        assert "1 workload refused by PodSecurity" in summary and "with problems" not in summary
