"""Issue 14, item 5: k9s' `l`, `d` and `y` on the selected row open the pod's log (followed, a
container chosen, the previous instance with `p`, searchable), a describe view with events, and
the YAML (no managedFields); where a key does not apply, nothing opens and the key line says so."""

from __future__ import annotations

from support.cluster_data import cluster_snapshot
from support.drivers import FakeTalos
from support.object_data import API_LOG, API_POD, PREVIOUS_API_LOG, SHIPPER_LOG, object_kube
from support.waits import wait_for
from textual.widgets import Log, OptionList, Static

from talos_platform.engine.drivers.protocols import Drivers
from talos_platform.engine.observe import TalosTarget
from talos_platform.engine.sim import simulated_platform
from talos_platform.tui.app import create_app
from talos_platform.tui.screens.dashboard import DashboardScreen
from talos_platform.tui.screens.objects import ContainerChooser, LogScreen, ObjectScreen
from talos_platform.tui.widgets.key_hints import KeyHints

SIZE = (160, 48)


def app_with_objects(kube=None):
    kube = kube or object_kube()
    drivers = Drivers(talos=FakeTalos(), kube=kube)
    return create_app(snapshot=cluster_snapshot(faulty=True), object_drivers=drivers), kube


def body_text(screen) -> str:
    console = screen.app.console
    return "".join(segment.text for segment in console.render(screen.body, console.options.update(width=200)))


def title_text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_l_on_a_pod_with_two_containers_asks_which_then_follows_its_log():
    app, kube = app_with_objects()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        assert app.screen.pane("pods").selected_key() == f"pod:{'/'.join(API_POD)}"
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, ContainerChooser))
        options = app.screen.query_one(OptionList)
        # The crash-looping container is offered first.
        assert options.get_option_at_index(options.highlighted).id == "api"
        await pilot.press("down", "enter")
        logs = app.screen
        assert isinstance(logs, LogScreen) and logs.container == "log-shipper"
        await wait_for(pilot, lambda: logs.lines == SHIPPER_LOG)
        assert logs.query_one(Log).lines == SHIPPER_LOG
        kube.later_logs[(*API_POD, "log-shipper", False)] = ["[2026/01/01 00:00:09] [ info] flushed 12 records"]
        await wait_for(pilot, lambda: len(logs.lines) == len(SHIPPER_LOG) + 1)
        assert "following" in title_text(logs, "#log-title")
        # `c` changes the container.
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ContainerChooser))
        await pilot.press("up", "enter")
        await wait_for(pilot, lambda: logs.container == "api" and logs.lines == API_LOG)
        assert "14 restarts: p shows the previous instance" in title_text(logs, "#log-title")
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_p_reads_the_previous_instance_and_slash_searches_the_log():
    app, kube = app_with_objects()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "l")
        await wait_for(pilot, lambda: isinstance(app.screen, ContainerChooser))
        await pilot.press("enter")
        logs = app.screen
        await wait_for(pilot, lambda: logs.lines == API_LOG)
        await pilot.press("p")
        await wait_for(pilot, lambda: logs.lines == PREVIOUS_API_LOG)
        assert ("shop", "api-5d8f6-x2k9q", "api", True, False) in [c[1:] for c in kube.calls if c[0] == "pod_log"]
        await wait_for(pilot, lambda: "the end" in title_text(logs, "#log-title"))
        assert "previous instance" in title_text(logs, "#log-title")
        await pilot.press("slash", *"256Mi", "enter")
        assert logs.query_one(Log).lines == [PREVIOUS_API_LOG[1]]
        assert "search: 256Mi (1 match)" in title_text(logs, "#log-title")
        await pilot.press("p")  # back to the running instance; the search stays
        await wait_for(pilot, lambda: logs.lines == API_LOG)
        assert logs.query_one(Log).lines == []


async def test_y_shows_the_yaml_without_managed_fields_and_d_describes_with_events():
    app, _ = app_with_objects()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "y")
        view = app.screen
        assert isinstance(view, ObjectScreen)
        await wait_for(pilot, lambda: view.object_view is not None)
        text = body_text(view)
        assert "kind: Pod" in text and "image: ghcr.io/example/shop-api:2.4.1" in text
        assert "managedFields" not in text
        await pilot.press("d")
        text = body_text(view)
        assert "Last State:     terminated: OOMKilled (exit 137)" in text
        assert "BackOff" in text and "(x61)" in text
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_nodes_and_apps_describe_and_show_yaml_but_have_no_log():
    app, kube = app_with_objects()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("1", "l")
        assert isinstance(app.screen, DashboardScreen)
        assert not [c for c in kube.calls if c[0] == "pod_log"]
        await pilot.press("d")
        view = app.screen
        await wait_for(pilot, lambda: view.object_view is not None)
        text = body_text(view)
        assert "Name:          cp-1" in text
        assert "Talos:" in text and "v1.11.5" in text  # what the Talos API says, beside Kubernetes' view
        await pilot.press("escape", "2", "down", "down", "down", "down", "down", "y")
        view = app.screen
        assert isinstance(view, ObjectScreen) and view.ref.label == "Application argocd/cert-manager"
        await wait_for(pilot, lambda: view.object_view is not None)
        assert "kind: Application" in body_text(view)


async def test_the_key_line_says_where_l_d_y_apply_and_flows_open_nothing():
    app, kube = app_with_objects()
    async with app.run_test(size=SIZE) as pilot:
        hints = app.screen.query_one(KeyHints)
        await pilot.press("3")
        assert "l logs · d describe · y YAML" in str(hints.render())
        await pilot.press("1")
        assert "(l: pods only)" in str(hints.render())
        await pilot.press("4")
        assert "l d y: on pods, nodes and apps" in str(hints.render())
        await pilot.press("l", "d", "y")
        assert isinstance(app.screen, DashboardScreen)
        assert kube.calls == []


async def test_without_a_cluster_the_views_say_so():
    app = create_app(snapshot=cluster_snapshot(faulty=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "y")
        view = app.screen
        assert isinstance(view, ObjectScreen)
        assert "no cluster connection" in body_text(view)


async def test_logs_and_yaml_of_a_crash_looping_pod_on_the_simulator():
    platform = simulated_platform("crash-loop", speed=50, installed=True)
    targets = [TalosTarget.from_config(n) for n in platform.config.nodes]
    app = create_app(drivers=platform.drivers, clock=platform.clock, talos_targets=targets)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await wait_for(
            pilot,
            lambda: screen.snapshot is not None and any(p.kind == "OOMKilled" for p in screen.snapshot.pod_problems),
            timeout=60,
        )
        oom = next(p for p in screen.snapshot.pod_problems if p.kind == "OOMKilled")
        await pilot.press("3")
        assert screen.pane("pods").select_key(f"pod:{oom.namespace}/{oom.name}")
        await pilot.press("l")
        logs = app.screen
        assert isinstance(logs, LogScreen)
        await wait_for(pilot, lambda: len(logs.lines) > 2, timeout=30)
        assert "starting" in logs.lines[0]
        await pilot.press("p")
        await wait_for(pilot, lambda: "the end" in title_text(logs, "#log-title"), timeout=30)
        await pilot.press("escape", "y")
        view = app.screen
        assert isinstance(view, ObjectScreen)
        await wait_for(pilot, lambda: view.object_view is not None, timeout=30)
        assert f"name: {oom.name}" in body_text(view)
