"""The dashboard on the simulated fault scenarios, driven with Pilot: the wave line names the
leaf blocker and parents show as waiting, a node stuck in maintenance mode is named with its
reason, and every scenario's fault (or what is about to happen) is on screen within 10
simulated seconds of starting."""

from __future__ import annotations

import re

import pytest
from support.waits import wait_for

from talos_platform.engine.observe import TalosTarget
from talos_platform.engine.sim import simulated_platform
from talos_platform.engine.sim.scenarios import DAY_TWO, INSTALL, list_scenarios, load_scenario
from talos_platform.tui.app import create_app
from talos_platform.tui.widgets.nodes import COLUMNS

SIZE = (170, 48)


def cell_text(cell) -> str:
    return getattr(cell, "plain", str(cell))


def row_cells(screen, pane_id: str, key: str) -> list[str]:
    row = next(r for r in screen.pane(pane_id).content.rows if r.key == key)
    return [cell_text(c) for c in row.cells]


async def until(pilot, platform, started: float, condition, *, within: float) -> float:
    """Wait until `condition()`; return the simulated seconds it took, failing past `within`."""
    while not condition():
        if platform.clock.now() - started > within:
            raise AssertionError(f"not on screen within {within:g} simulated seconds")
        await pilot.pause(0.05)
    return platform.clock.now() - started


def dashboard(scenario: str, speed: float = 1):
    """The dashboard on an installed simulated scenario, at the dashboard's own default speed: the
    tests time what is on screen in simulated seconds, and at 4 a loaded machine's drawing lag
    alone ate their 10 simulated seconds."""
    platform = simulated_platform(scenario, speed=speed, installed=True)
    targets = [TalosTarget.from_config(n) for n in platform.config.nodes]
    app = create_app(
        drivers=platform.drivers, clock=platform.clock, talos_targets=targets, simulation_note=f"scenario {scenario}"
    )
    return platform, app


async def test_the_wave_line_names_the_crash_looping_leaf_and_the_parents_only_wait():
    platform, app = dashboard("crash-loop")
    async with app.run_test(size=SIZE) as pilot:
        screen, started = app.screen, platform.clock.now()
        summary = lambda: screen.pane("apps").content.summary.plain  # noqa: E731
        await until(pilot, platform, started, lambda: "blocked by monitoring" in summary(), within=10)
        assert (
            "wave 0 is blocked by monitoring: StatefulSet monitoring/prometheus-kube-prometheus-stack-prometheus "
            "Progressing — Waiting for 1 pods to be ready... "
            "(pod prometheus-kube-prometheus-stack-prometheus-0 CrashLoopBackOff, OOMKilled)"
        ) in summary()
        root = row_cells(screen, "apps", "app:layer-0")
        assert root[2:4] == ["Syncing", "… waiting for platform"] and "Missing" not in " ".join(root)


async def test_the_wave_line_names_vaults_pending_pod_and_the_parents_only_wait():
    """No storage provisioner: the line follows layer-0 and platform down to vault, its StatefulSet
    and the pod the scheduler cannot place, with the scheduler's reason."""
    platform, app = dashboard("vault-pending")
    async with app.run_test(size=SIZE) as pilot:
        screen, started = app.screen, platform.clock.now()
        summary = lambda: screen.pane("apps").content.summary.plain  # noqa: E731
        await until(pilot, platform, started, lambda: "blocked by vault" in summary(), within=10)
        assert (
            "wave 0 is blocked by vault: StatefulSet vault/vault Progressing — Waiting for 1 pods to be ready... "
            "(pod vault-0 Pending: Unschedulable: 0/6 nodes are available: pod has unbound immediate "
            "PersistentVolumeClaims."
        ) in summary()
        assert row_cells(screen, "apps", "app:layer-0")[2:4] == ["Syncing", "… waiting for platform"]
        assert row_cells(screen, "apps", "app:platform")[2:4] == ["Syncing", "… waiting for vault"]
        assert not any(
            "Missing" in " ".join(row_cells(screen, "apps", r.key)) for r in screen.pane("apps").content.rows
        )


async def test_a_node_stuck_in_maintenance_mode_is_named_with_its_reason():
    platform, app = dashboard("node-stuck-in-maintenance")
    async with app.run_test(size=SIZE) as pilot:
        screen, started = app.screen, platform.clock.now()
        nodes = lambda: screen.pane("nodes").content  # noqa: E731
        await until(pilot, platform, started, lambda: any(r.key == "node:worker-2" for r in nodes().rows), within=10)
        await until(
            pilot,
            platform,
            started,
            lambda: "in maintenance mode" in " ".join(row_cells(screen, "nodes", "node:worker-2")),
            within=10,
        )
        cells = row_cells(screen, "nodes", "node:worker-2")
        assert [cells[COLUMNS.index("Stage")], cells[COLUMNS.index("Ready")]] == [
            "maintenance",
            "✗ in maintenance mode",
        ]
        assert "worker-2 is in maintenance mode: install failed: disk /dev/nvme0n1 not found" in nodes().summary.plain


async def test_api_outage_shows_on_the_dashboard_after_saying_it_is_coming():
    platform, app = dashboard("api-outage")
    async with app.run_test(size=SIZE) as pilot:
        screen, started = app.screen, platform.clock.now()
        banner = lambda: str(screen.query_one("#banner").render())  # noqa: E731
        await until(
            pilot, platform, started, lambda: "the Kubernetes API server becomes unreachable" in banner(), within=10
        )
        await until(pilot, platform, started, lambda: bool(screen.snapshot and screen.snapshot.kube_error), within=10)
        await until(
            pilot, platform, started, lambda: "now: the Kubernetes API server is unreachable" in banner(), within=10
        )
        assert "Kubernetes API:" in screen.pane("nodes").content.summary.plain


@pytest.mark.parametrize(
    "scenario, coming",
    [
        ("node-down", "worker-3 loses power"),
        ("api-flap", "the Kubernetes API server becomes unreachable for 45 s"),
        ("policy-drops", "a burst of POLICY_DENY drops shop-svc-0001 -> vault:8200"),
        ("platform-policy-drops", "unexpected calls hello -> vault:8201"),
    ],
)
async def test_a_day_two_fault_still_to_come_is_announced_on_the_banner(scenario, coming):
    platform, app = dashboard(scenario)
    async with app.run_test(size=SIZE) as pilot:
        screen, started = app.screen, platform.clock.now()
        banner = lambda: str(screen.query_one("#banner").render())  # noqa: E731
        await until(pilot, platform, started, lambda: f": {coming}" in banner(), within=10)
        assert "▸ scenario: in " in banner()


def _shows_its_fault_on_the_dashboard(name: str) -> bool:
    """Its cluster is in trouble after the hand-over: a day-2 fault, a fault of the install, or
    parts missing from the GitOps repository (a fault met only by an operation does not count)."""
    scenario = load_scenario(name)[0]
    return bool(scenario.faults_of(DAY_TWO) or scenario.faults_of(INSTALL) or scenario.gitops_repository_without)


SCENARIOS_WITH_A_FAULT = [name for name in list_scenarios() if _shows_its_fault_on_the_dashboard(name)]
HEALTHY_SUMMARY = {"nodes": "Ready", "apps": "Synced+Healthy", "pods": "pods healthy"}
"""A cluster pane's summary when all is well (`6/6 Ready`); anything more, or fewer, is a fault."""


def fault_on_screen(screen) -> bool:
    for pane_id, healthy in HEALTHY_SUMMARY.items():
        summary = screen.pane(pane_id).content.summary.plain
        counted = re.fullmatch(rf"(\d+)/(\d+) {re.escape(healthy)}(.*)", summary, re.S)
        if counted and (counted[1] != counted[2] or counted[3].strip()):
            return True
    return False


def announced(banner: str) -> bool:
    """The banner says what is under way or what comes next, and when."""
    return re.search(r"▸ scenario: .*(now: |in \d+ s: )\S", banner) is not None


@pytest.mark.parametrize("scenario", SCENARIOS_WITH_A_FAULT)
async def test_every_scenarios_fault_is_on_screen_or_announced_within_ten_seconds(scenario):
    platform, app = dashboard(scenario)
    async with app.run_test(size=SIZE) as pilot:
        screen, started = app.screen, platform.clock.now()
        banner = lambda: str(screen.query_one("#banner").render())  # noqa: E731
        await until(
            pilot,
            platform,
            started,
            lambda: screen.snapshot is not None and (announced(banner()) or fault_on_screen(screen)),
            within=10,
        )


async def test_the_install_screen_fails_a_degraded_app_early_and_its_hint_names_the_app(tmp_path):
    import math

    from talos_platform.engine.session import InstallSession
    from talos_platform.engine.state import StateDirectory

    platform = simulated_platform("app-degraded", speed=math.inf)
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
        simulation_note="app-degraded",
    )
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.progress.outcome, timeout=120)
        assert app.progress.outcome == "failed"
        wave = app.progress.steps["L2.wave-98"]
        assert wave.state == "failed" and wave.duration is not None and wave.duration < 400
        assert "Degraded for 120s" in wave.error and "ImagePullBackOff" in wave.error
        assert "`kubectl -n argocd get application cert-manager -o yaml`" in wave.hint
