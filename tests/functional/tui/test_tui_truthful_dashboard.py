"""The dashboard tells the truth, driven with Pilot on the live simulator: stale data is marked as
stale (never shown green), pressure is not shown as plain health, and the flows pane says what
Hubble Relay reports (its flow rate, nodes it cannot reach, lost events per source, drop reasons
with the deny policy) while a healthy cluster looks healthy."""

from __future__ import annotations

from rich.console import Console
from support.cluster_data import cluster_snapshot
from support.waits import wait_for

from talos_platform.engine.observe import TalosTarget
from talos_platform.engine.sim import simulated_platform
from talos_platform.tui.app import create_app
from talos_platform.tui.screens.help import HelpScreen, help_renderable
from talos_platform.tui.styles import BAD, GOOD
from talos_platform.tui.widgets.flows import COLUMNS as COLUMNS_OF_FLOWS
from talos_platform.tui.widgets.nodes import COLUMNS

SIZE = (180, 50)
KUBERNETES_PANES = ("nodes", "apps", "pods")


def live_app(scenario: str, speed: float = 50):
    platform = simulated_platform(scenario, speed=speed, installed=True)
    targets = [TalosTarget.from_config(n) for n in platform.config.nodes]
    app = create_app(
        drivers=platform.drivers,
        clock=platform.clock,
        talos_targets=targets,
        simulation_note=scenario,
        cluster_name=platform.config.cluster.name,
        kube_context="simulated",
    )
    return app, targets


def styles_of(text) -> set[str]:
    return {str(span.style) for span in text.spans} | {str(text.style)}


async def test_while_the_api_is_away_the_kubernetes_panes_say_stale_and_show_no_green():
    app, _ = live_app("api-flap")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.snapshot is not None and screen.snapshot.pod_total > 0, timeout=60)
        if screen.snapshot.freshness.kubernetes.reachable:  # (the scenario may take the API away early)
            assert "Kubernetes API ✓ answering" in str(screen.query_one("#cluster-header").render())
            assert not any("stale" in screen.pane(p).border_title for p in KUBERNETES_PANES)

        await wait_for(pilot, lambda: "stale" in screen.pane("pods").border_title, timeout=120)
        for pane_id in KUBERNETES_PANES:
            pane = screen.pane(pane_id)
            assert "Kubernetes API unreachable" in pane.border_title, pane.border_title
            assert pane.has_class("stale")
            content = pane.content
            assert content.summary.plain.startswith("last known, stale ")
            # Nothing green from stale data: not in the summary, not in any row.
            assert not any(GOOD in style for style in styles_of(content.summary))
            assert not any(
                GOOD in style
                for row in content.rows
                for cell in row.cells
                if hasattr(cell, "spans")
                for style in styles_of(cell)
            )
        assert "pods healthy" in screen.pane("pods").content.summary.plain  # the last known count, marked so
        header = str(screen.query_one("#cluster-header").render())
        assert "cluster homelab" in header and "context simulated" in header
        assert "Kubernetes API ✗ unreachable for" in header and "TLS handshake timeout" in header
        assert not screen.pane("flows").has_class("stale")  # Hubble Relay does not need the API

        # The API comes back: the panes are current again.
        await wait_for(pilot, lambda: "stale" not in screen.pane("pods").border_title, timeout=180)
        assert not screen.pane("nodes").has_class("stale")
        assert "Kubernetes API ✓ answering" in str(screen.query_one("#cluster-header").render())


async def test_workers_under_pressure_are_not_shown_as_plainly_ready_and_help_gives_the_thresholds():
    app, _ = live_app("pressure")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen

        def ready_cell(name: str):
            content = screen.pane("nodes").content
            row = next((r for r in content.rows if r.key == f"node:{name}"), None) if content else None
            return row.cells[COLUMNS.index("Ready")] if row else None

        seen = {}

        def under_pressure_and_fresh() -> bool:
            # At speed 50 a pane is stale (its marks grey) after 0.2 s of real time without an
            # update: on a busy machine that happens now and then, so the cells are taken together
            # from one fresh moment.
            seen.update({w: ready_cell(w) for w in ("worker-1", "worker-2", "worker-3", "cp-1")})
            workers = [seen[w] for w in ("worker-1", "worker-2", "worker-3")]
            return all(cell is not None and "Ready," in cell.plain and BAD in str(cell.style) for cell in workers)

        await wait_for(pilot, under_pressure_and_fresh, timeout=60)
        assert seen["worker-1"].plain.startswith("● Ready, CPU 9")
        assert seen["worker-2"].plain.startswith("● Ready, MemoryPressure, memory 9")
        assert seen["worker-3"].plain.startswith("● Ready, DiskPressure")
        assert seen["cp-1"].plain == "✓ Ready"
        summary = screen.pane("nodes").content.summary.plain
        assert "● 3 under pressure: worker-1 CPU 9" in summary
        assert "worker-2 MemoryPressure, worker-3 DiskPressure" in summary

        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=160, record=True)
        console.print(help_renderable())
        shown = console.export_text()
        assert "CPU or memory ≥ 80%" in shown and "≥ 95%" in shown
        assert "MemoryPressure, DiskPressure, PIDPressure" in shown


async def test_a_healthy_cluster_shows_no_drops_and_no_lost_events():
    app, _ = live_app("default")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await wait_for(
            pilot, lambda: screen.snapshot is not None and screen.snapshot.flows.total_flows > 5000, timeout=120
        )
        await wait_for(pilot, lambda: screen.snapshot.flows.relay is not None, timeout=60)
        summary = screen.pane("flows").content.summary.plain
        assert "lost events: 0" in summary and "✗" not in summary and "drops" not in summary
        assert summary.startswith("200 flows/s")  # Relay's own rate
        assert all(r.cells[1].plain == "FORWARDED" for r in screen.pane("flows").content.rows)


async def test_relay_names_the_node_it_cannot_reach_and_says_its_flows_are_missing():
    app, targets = live_app("node-down")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await wait_for(
            pilot,
            lambda: (
                screen.pane("flows").content is not None and "worker-3" in screen.pane("flows").content.summary.plain
            ),
            timeout=120,
        )
        summary = screen.pane("flows").content.summary.plain
        assert "⚠ 1 of 6 nodes unavailable to Relay: worker-3 — their flows are missing" in summary


async def test_policy_drops_show_the_reason_with_the_deny_policy_and_lost_events_by_source():
    app, _ = live_app("policy-drops")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await wait_for(
            pilot,
            lambda: screen.snapshot is not None and screen.snapshot.flows.lost_by_source,
            timeout=120,
        )
        summary = screen.pane("flows").content.summary.plain
        assert "✗ drops: POLICY_DENY" in summary and "by vault/deny-tenant-namespaces" in summary
        assert "lost: HUBBLE_RING_BUFFER" in summary
        await pilot.press("4", "slash", *"verdict:dropped", "enter")
        reasons = {row.cells[COLUMNS_OF_FLOWS.index("Reason")] for row in screen.pane("flows").content.rows}
        assert "POLICY_DENY by vault/deny-tenant-namespaces" in reasons


async def test_an_app_calling_vaults_cluster_port_shows_the_drop_with_the_platform_policy():
    app, _ = live_app("platform-policy-drops")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen

        def summary() -> str:
            content = screen.pane("flows").content
            return content.summary.plain if content is not None else ""

        await wait_for(pilot, lambda: "by vault/platform-namespace-default" in summary(), timeout=120)
        assert "✗ drops: POLICY_DENY" in summary()
        await pilot.press("4", "slash", *"verdict:dropped", "enter")
        rows = screen.pane("flows").content.rows
        drops = {
            (row.cells[COLUMNS_OF_FLOWS.index("Reason")], row.cells[COLUMNS_OF_FLOWS.index("Port")]) for row in rows
        }
        # The pane lists the latest flows: on a busy machine the scenario's second call (Prometheus'
        # API, default deny, no policy named) may have pushed the first out; the summary above
        # keeps the named policy. Whatever is listed, a healthy platform drops nothing else.
        assert drops and drops <= {
            ("POLICY_DENY by vault/platform-namespace-default", "TCP 8201"),
            ("POLICY_DENIED", "TCP 9090"),
        }


async def test_when_no_snapshot_arrives_the_header_and_the_panes_say_the_screen_is_behind():
    snapshot = cluster_snapshot()

    class StoppedFeedClock:
        """The observer's clock has moved on 30 s past the last snapshot the screen got."""

        def now(self) -> float:
            return snapshot.taken_at + 30

    app = create_app(snapshot=snapshot, clock=StoppedFeedClock(), cluster_name="homelab", kube_context="admin")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: "no update received" in screen.pane("pods").border_title, timeout=5)
        assert all("stale 30 s: no update received" in screen.pane(p).border_title for p in ("nodes", "apps", "flows"))
        assert "last update 30 s ago" in str(screen.query_one("#cluster-header").render())
