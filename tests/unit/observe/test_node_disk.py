"""Node disk: the kubelet's `node.fs` from its stats summary (through the node proxy), shown beside
CPU and memory in colour by threshold, `-` where the stats are not known (never 0%); and the API
latency of the same reads, with a 403 on `/metrics` taken as "not allowed"."""

from __future__ import annotations

import asyncio
import json

import pytest
from support.clock import ManualClock
from support.cluster_data import node_object
from support.drivers import RaisingTalos, ScriptedKube

from talos_platform.engine.drivers.protocols import AccessDenied, Drivers, ObjectList
from talos_platform.engine.errors import TransientError
from talos_platform.engine.observe import Observer, snapshot_once
from talos_platform.engine.observe.node_disk import node_filesystem, stats_summary_path
from talos_platform.engine.observe.pressure import node_pressure
from talos_platform.engine.observe.snapshot import NodeView
from talos_platform.tui.widgets.nodes import nodes_content
from talos_platform.tui.widgets.pressure import disk_cell

GIB = 1024**3


def summary(used: int, capacity: int) -> str:
    return json.dumps({"node": {"nodeName": "n", "fs": {"usedBytes": used, "capacityBytes": capacity}}, "pods": []})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (summary(30 * GIB, 120 * GIB), (30 * GIB, 120 * GIB)),
        (json.dumps({"node": {"nodeName": "n"}}), None),  # a kubelet still starting has no fs yet
        (summary(1, 0), None),
        ("<html>bad gateway</html>", None),
        ("[]", None),
    ],
)
def test_node_filesystem_of_a_stats_summary(text, expected):
    assert node_filesystem(text) == expected


def node(percent: float | None, pressure: bool = False) -> NodeView:
    return NodeView(
        name="worker-1",
        address="10.0.0.21",
        role="worker",
        reachable=True,
        ready=True,
        conditions=(("DiskPressure", "True" if pressure else "False", ""),),
        disk_used_bytes=None if percent is None else int(120 * GIB * percent / 100),
        disk_capacity_bytes=None if percent is None else 120 * GIB,
    )


@pytest.mark.parametrize(
    ("percent", "pressure", "shown", "style", "level"),
    [
        (None, False, "-", "#868e96", "none"),
        (0.0, False, "  0% 0.0/120 GiB", "", "none"),
        (42.0, False, " 42% 50/120 GiB", "", "none"),
        (85.0, False, " 85% 102/120 GiB", "#d9480f", "high"),
        (93.0, False, " 93% 112/120 GiB", "bold #e03131", "critical"),
        (70.0, True, " 70% 84/120 GiB", "bold #e03131", "critical"),  # the kubelet says DiskPressure
        (None, True, "-", "#868e96", "critical"),
    ],
)
def test_the_disk_cell_colours_by_threshold_and_says_unknown_as_a_dash(percent, pressure, shown, style, level):
    cell = disk_cell(node(percent, pressure))
    assert cell.plain == shown
    at_start = [str(span.style) for span in cell.spans if span.start == 0]
    assert (at_start[0] if at_start else str(cell.style)) == style
    assert node_pressure(node(percent, pressure)).level == level


def test_a_full_disk_is_a_reason_of_the_nodes_pressure():
    assert node_pressure(node(93.0)).reasons == ("disk 93%",)


def drivers_with(kube: ScriptedKube) -> Drivers:
    return Drivers(talos=RaisingTalos({}), kube=kube)


def two_nodes(kube: ScriptedKube) -> None:
    kube.lists["nodes"] = [
        ObjectList(
            [node_object("cp-1", "10.0.0.11", "control-plane"), node_object("worker-1", "10.0.0.21", "worker")], "1"
        )
    ]


async def test_one_snapshot_reads_every_kubelets_disk_and_takes_a_403_on_metrics_as_not_allowed():
    kube = ScriptedKube()
    two_nodes(kube)
    kube.paths["/metrics"] = AccessDenied('GET /metrics: access denied (403): forbidden: User "u" cannot get path')
    kube.paths[stats_summary_path("cp-1")] = summary(60 * GIB, 120 * GIB)
    kube.paths[stats_summary_path("worker-1")] = TransientError("GET ...: the API server answered 503: dial tcp")
    snapshot = await snapshot_once(drivers_with(kube), ManualClock(), talos_targets=())
    assert snapshot.api.metrics == "not allowed" and snapshot.api.verbs == ()
    assert snapshot.api.round_trips == 5  # four lists and the refused /metrics
    disks = {n.name: n.disk_percent for n in snapshot.nodes}
    assert disks == {"cp-1": 50.0, "worker-1": None}
    cells = {row.key: row.cells[4].plain for row in nodes_content(snapshot).rows}
    assert cells == {"node:cp-1": " 50% 60/120 GiB", "node:worker-1": "-"}


async def test_the_observer_keeps_reading_metrics_and_disks_and_times_its_own_reads():
    kube = ScriptedKube()
    two_nodes(kube)
    kube.paths["/metrics"] = (
        'apiserver_request_duration_seconds_bucket{verb="LIST",dry_run="",le="0.1"} 10\n'
        'apiserver_request_duration_seconds_bucket{verb="LIST",dry_run="",le="+Inf"} 10\n'
    )
    kube.paths[stats_summary_path("cp-1")] = summary(12 * GIB, 120 * GIB)
    clock = ManualClock()
    observer = Observer(drivers_with(kube), clock, talos_interval=0, heartbeat=0, stats_interval=10, talos_targets=())
    seen = []
    observer.subscribe(seen.append)
    task = asyncio.create_task(observer.run())
    for _ in range(200):
        await asyncio.sleep(0)
        if seen and seen[-1].api.verbs and seen[-1].nodes and seen[-1].nodes[0].disk_percent is not None:
            break
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    last = seen[-1]
    assert [(v.verb, v.requests) for v in last.api.verbs] == [("LIST", 10)] and last.api.metrics == ""
    assert {n.name: n.disk_percent for n in last.nodes} == {"cp-1": 10.0, "worker-1": None}
    assert last.api.round_trips >= 1
