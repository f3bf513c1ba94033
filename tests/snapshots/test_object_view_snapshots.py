"""Issue 14, item 5: the logs and YAML views (k9s' `l` and `y`) at 200x55, and the describe view;
read from a FakeKube holding the faulty cluster's objects. Update with `--snapshot-update` and look
at every changed SVG."""

from __future__ import annotations

from support.cluster_data import cluster_snapshot
from support.drivers import FakeTalos
from support.object_data import API_LOG, PREVIOUS_API_LOG, object_kube
from support.waits import wait_for

from talos_platform.engine.drivers.protocols import Drivers
from talos_platform.tui.app import create_app

LARGE = (200, 55)


def dashboard_with_objects():
    drivers = Drivers(talos=FakeTalos(), kube=object_kube())
    return create_app(
        snapshot=cluster_snapshot(faulty=True),
        simulation_note="scenario faults, seed 7",
        cluster_name="homelab",
        kube_context="admin@homelab",
        object_drivers=drivers,
    )


def test_logs_of_a_crash_looping_container(snap_compare):
    """`3` `l`, the `api` container: its log followed; the title offers `p` for the instance before."""

    async def open_logs(pilot):
        await pilot.press("3", "l")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "ContainerChooser")
        await pilot.press("enter")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "lines", None) == API_LOG)

    assert snap_compare(dashboard_with_objects(), run_before=open_logs, terminal_size=LARGE)


def test_logs_of_the_previous_instance(snap_compare):
    """`p`: the log of the instance the OOM killer stopped (it just ends)."""

    async def open_previous(pilot):
        await pilot.press("3", "l")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "ContainerChooser")
        await pilot.press("enter")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "lines", None) == API_LOG)
        await pilot.press("p")
        await wait_for(pilot, lambda: "the end" in pilot.app.screen.state)
        assert pilot.app.screen.lines == PREVIOUS_API_LOG

    assert snap_compare(dashboard_with_objects(), run_before=open_previous, terminal_size=LARGE)


def test_container_chooser(snap_compare):
    async def open_chooser(pilot):
        await pilot.press("3", "l")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "ContainerChooser")

    assert snap_compare(dashboard_with_objects(), run_before=open_chooser, terminal_size=LARGE)


def test_yaml_of_a_pod(snap_compare):
    """`3` `y`: the pod's YAML, without managedFields."""

    async def open_yaml(pilot):
        await pilot.press("3", "y")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "object_view", None) is not None)

    assert snap_compare(dashboard_with_objects(), run_before=open_yaml, terminal_size=LARGE)


def test_describe_of_a_pod(snap_compare):
    """`3` `d`: containers with the last state, conditions, events (the warning coloured)."""

    async def open_describe(pilot):
        await pilot.press("3", "d")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "object_view", None) is not None)

    assert snap_compare(dashboard_with_objects(), run_before=open_describe, terminal_size=LARGE)


def test_describe_of_a_node_with_its_talos_facts(snap_compare):
    async def open_describe(pilot):
        await pilot.press("1", "d")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "object_view", None) is not None)

    assert snap_compare(dashboard_with_objects(), run_before=open_describe, terminal_size=LARGE)
