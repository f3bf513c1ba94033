"""The Alerts pane end to end on the simulated platform: the observer reads the simulated
Alertmanager, the pane lists what fires worst first and only counts what is silenced; it is empty
on a healthy platform, says when Alertmanager is not installed or not reachable, and `status
--live` counts a critical alert as a problem."""

from __future__ import annotations

import dataclasses
import json
import math

from support.cluster_data import cluster_snapshot
from support.commands import talos_platform
from support.waits import wait_for

from talos_platform.engine.observe import TalosTarget
from talos_platform.engine.observe.alerts import AlertsView, read_alerts_once
from talos_platform.engine.sim import simulated_platform
from talos_platform.tui.app import create_app
from talos_platform.tui.screens.detail import DetailScreen
from talos_platform.tui.widgets.alerts import alerts_content
from talos_platform.tui.widgets.pane import cell_text


def live_app(scenario: str, speed: float = 50):
    platform = simulated_platform(scenario, speed=speed, installed=True)
    targets = [TalosTarget.from_config(n) for n in platform.config.nodes]
    app = create_app(drivers=platform.drivers, clock=platform.clock, talos_targets=targets, simulation_note=scenario)
    return platform, app


def pane_text(pane) -> str:
    content = pane.content
    rows = "\n".join(" | ".join(cell_text(c) for c in row.cells) for row in content.rows)
    return f"{content.title}\n{rows}\n{content.empty if not content.rows else ''}\n{content.summary.plain}"


async def test_an_alert_storm_is_listed_worst_first_and_its_silenced_alerts_are_only_counted():
    platform, app = live_app("alert-storm")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.snapshot is not None and screen.snapshot.alerts.silenced, timeout=60)
        alerts = screen.snapshot.alerts
        assert alerts.silenced == 12 and len(alerts.firing) == 28 and alerts.critical == 3
        await pilot.press("5")
        pane = screen.pane("alerts")
        assert screen.focused_pane() is pane
        await wait_for(pilot, lambda: pane.content is not None and len(pane.content.rows) == 28, timeout=30)
        severities = [cell_text(row.cells[0]) for row in pane.content.rows]
        assert severities[:3] == ["✗ critical"] * 3 and set(severities[3:]) == {"▲ warning"}
        text = pane_text(pane)
        assert "Alerts (28)" in text and "28 firing (3 critical)" in text and "12 silenced" in text
        assert "Watchdog ✓" in text
        # Listed are the firing ones only: none of the silenced alerts' names is a row more.
        assert not any(cell_text(row.cells[1]) == "Watchdog" for row in pane.content.rows)
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        assert detail.title_text == "Alert KubePersistentVolumeFillingUp"
    platform.close()


async def test_a_healthy_platform_fires_nothing_but_watchdog_and_the_pane_says_so():
    platform, app = live_app("default")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.snapshot is not None and screen.snapshot.alerts.read, timeout=60)
        pane = screen.pane("alerts")
        await wait_for(pilot, lambda: pane.content is not None and "firing" in pane.content.summary.plain, timeout=30)
        text = pane_text(pane)
        assert not pane.content.rows and "no alerts firing" in text
        assert "Watchdog ✓ Prometheus reaches Alertmanager" in text
    platform.close()


async def test_with_prometheus_crash_looping_watchdog_stops_and_the_pane_names_it():
    platform, app = live_app("crash-loop")
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.snapshot is not None and screen.snapshot.alerts.read, timeout=60)
        pane = screen.pane("alerts")
        await wait_for(pilot, lambda: pane.content is not None and "Watchdog" in pane.content.summary.plain, timeout=30)
        assert "Watchdog not firing: Prometheus does not reach Alertmanager" in pane_text(pane)
    platform.close()


async def test_while_the_api_is_down_the_alerts_go_stale_with_the_source_named():
    platform, app = live_app("api-outage", speed=20)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await wait_for(
            pilot,
            lambda: screen.snapshot is not None and screen.snapshot.freshness.alerts.stale(screen.snapshot.taken_at),
            timeout=90,
        )
        pane = screen.pane("alerts")
        await wait_for(pilot, lambda: pane.content is not None and pane.content.stale, timeout=30)
        assert "stale" in pane.content.title and "Alertmanager unreachable" in pane.content.title
        assert "API server unreachable" in pane.content.summary.plain
    platform.close()


def test_without_monitoring_the_pane_says_alertmanager_is_not_installed_never_an_error():
    snapshot = cluster_snapshot()
    missing = dataclasses.replace(
        snapshot,
        alerts=AlertsView(
            installed=False,
            source="monitoring/monitoring-kube-prometheus-alertmanager",
            error="no Service monitoring/monitoring-kube-prometheus-alertmanager: Alertmanager is not installed "
            "(components.monitoring installs it)",
        ),
    )
    content = alerts_content(missing)
    assert not content.online and not content.rows and "Alertmanager is not installed" in content.empty
    nothing = alerts_content(dataclasses.replace(snapshot, alerts=AlertsView()))
    assert "no Alertmanager to read from" in nothing.empty and not nothing.online


async def test_before_monitoring_is_installed_the_simulated_alertmanager_is_missing_not_failing():
    platform = simulated_platform("default", speed=math.inf)  # machines in maintenance mode: nothing installed
    platform.model.api_up = True  # the API server answers; nothing is installed on it yet
    view, state = await read_alerts_once(platform.drivers.alertmanager, platform.clock, timeout=5)
    assert not view.installed and "not installed" in view.error and state.reachable
    platform.close()


def test_status_live_counts_a_critical_alert_as_a_problem():
    storm = talos_platform("status", "--live", "--simulate", "--scenario", "alert-storm", "--after", "60")
    assert storm.returncode == 1, storm.stdout + storm.stderr
    assert "alerts: 28 firing (3 critical), 12 silenced" in storm.stdout
    assert "critical KubePersistentVolumeFillingUp" in storm.stdout
    healthy = talos_platform("status", "--live", "--simulate", "--scenario", "default", "--after", "5")
    assert "alerts: 0 firing (0 critical)" in healthy.stdout
    outage = talos_platform(
        "status", "--live", "--simulate", "--scenario", "api-outage", "--after", "20", "--output", "json"
    )
    record = json.loads(outage.stdout)
    # Alertmanager is read through the API server: the API is what is named as unreachable.
    assert record["unreachable"] == ["Kubernetes API"] and record["healthy"] is False
    assert record["freshness"]["alerts"]["reachable"] is False and "API server unreachable" in record["alerts"]["error"]
