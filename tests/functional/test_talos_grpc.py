"""The dashboard's Talos driver over real gRPC with mutual TLS, against Talos API servers on
loopback addresses (tests/support/talos_api.py): a healthy node, one that refuses connections,
one that hangs, one in maintenance mode (its secure API refuses our certificates, its insecure one
answers), and one with another cluster's certificates. What the Nodes pane and `status --live`
show is the same as with talosctl."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

import pytest
from support.drivers import FakeKube
from support.talos_api import Pki, TalosApiServer, cpu_stats, free_port, machine_status, memory_stats

from talos_platform.commands.dashboard import NOT_HEALTHY, _status_text
from talos_platform.engine.drivers import talos_api
from talos_platform.engine.drivers.process import ProcessRunner
from talos_platform.engine.drivers.proto import talos_specs_pb2 as specs
from talos_platform.engine.drivers.protocols import NODES, Drivers
from talos_platform.engine.drivers.talos_grpc import TalosGrpcDriver
from talos_platform.engine.observe import TalosTarget, snapshot_once
from talos_platform.engine.observe.talos_facts import facts_for
from talos_platform.tui.widgets.nodes import node_state

HEALTHY, REFUSING, HANGING, MAINTENANCE, FOREIGN = (f"127.0.0.{n}" for n in (31, 32, 33, 34, 35))

# talosctl for the insecure (maintenance) reads: the maintenance node lists its disks, a node
# with another cluster's certificates refuses a client without one.
FAKE_TALOSCTL = """#!@PYTHON@
import json, sys
args = sys.argv[1:]
node = args[args.index("--nodes") + 1]
with open("@LOG@", "a") as log:
    log.write(" ".join(args) + "\\n")
if "--insecure" in args and node == "@MAINTENANCE@":
    if "disks" in args:
        print(json.dumps({"metadata": {"id": "vda"}, "spec": {"dev_path": "/dev/vda"}}))
    else:
        print(json.dumps({"spec": {"stage": "maintenance", "status": {"unmetConditions": [
            {"name": "install", "reason": "install failed: disk /dev/sdz not found"}]}}}))
    sys.exit(0)
sys.stderr.write("rpc error: code = Unavailable desc = connection error: desc = \\"transport: authentication "
                 "handshake failed: tls: certificate required\\"\\n")
sys.exit(1)
"""


@pytest.fixture
async def cluster(tmp_path):
    """Four servers on one free port of four loopback addresses (REFUSING has none)."""
    port = free_port()
    pki = Pki.make((HEALTHY, HANGING))
    foreign = Pki.make((FOREIGN,), name="another-cluster")
    servers = {
        HEALTHY: TalosApiServer(pki, HEALTHY, port),
        HANGING: TalosApiServer(pki, HANGING, port, behaviour="hang"),
        MAINTENANCE: TalosApiServer(pki, MAINTENANCE, port, behaviour="maintenance"),
        FOREIGN: TalosApiServer(foreign, FOREIGN, port),
    }
    for server in servers.values():
        await server.start()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    talosctl = bin_dir / "talosctl"
    log = tmp_path / "talosctl.log"
    talosctl.write_text(
        FAKE_TALOSCTL.replace("@PYTHON@", sys.executable)
        .replace("@LOG@", str(log))
        .replace("@MAINTENANCE@", MAINTENANCE)
    )
    talosctl.chmod(0o755)
    runner = ProcessRunner(env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    driver = TalosGrpcDriver(runner, pki.talosconfig(tmp_path / "talosconfig"), port=port, connect_timeout=1.5)
    try:
        yield driver, servers, log
    finally:
        await driver.close()
        for server in servers.values():
            await server.stop()


def kube_node(name: str, address: str) -> dict:
    return {
        "metadata": {"name": name, "labels": {"node-role.kubernetes.io/control-plane": ""} if name == "cp-1" else {}},
        "status": {
            "addresses": [{"type": "InternalIP", "address": address}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "nodeInfo": {"kubeletVersion": "v1.34.1"},
        },
    }


async def test_a_healthy_node_is_read_over_one_connection_and_then_kept_current_by_watches(cluster):
    driver, servers, log = cluster
    server = servers[HEALTHY]
    facts = await driver.node_facts(HEALTHY, insecure=False)
    assert (facts.reachable, facts.stage, facts.talos_version, facts.cluster_name) == (
        True,
        "running",
        "v1.11.5",
        "prod",
    )
    assert facts.disks == ("/dev/sda",)  # the CD-ROM is left out, as talosctl's reading does
    # used = total - free - buffers - cached, as `talosctl memory` counts it: 3,000,000 of 8,000,000
    assert facts.memory_percent == 37.5
    assert facts.cpu_percent is None  # one sample so far
    assert (server.calls.versions, server.calls.watches, server.open_watches) == (1, 5, 5)

    # Later polls send nothing: the watches deliver what changes.
    server.set_resource(talos_api.CPU_STATS, "latest", cpu_stats(160.0, 340.0))  # +60 busy of +100
    server.set_resource(talos_api.MACHINE_STATUS, "machine", machine_status(specs.MACHINE_STAGE_UPGRADING))
    server.set_resource(talos_api.MEMORY_STATS, "latest", memory_stats(8_000_000, 7_000_000))
    await asyncio.sleep(0.3)
    facts = await driver.node_facts(HEALTHY, insecure=False)
    assert (facts.stage, facts.cpu_percent, facts.memory_percent) == ("upgrading", 60.0, 87.5)
    assert (server.calls.versions, server.calls.watches) == (1, 5)
    assert driver.sessions[HEALTHY].connections == 1
    assert server.calls.node_headers == []  # the node is its own endpoint: nothing to proxy
    assert not log.exists()  # no talosctl process for a configured node


async def test_a_node_that_went_away_and_came_back_is_read_on_a_new_connection(cluster):
    driver, servers, _ = cluster
    server = servers[HEALTHY]
    assert (await driver.node_facts(HEALTHY, insecure=False)).stage == "running"
    await server.stop()
    await asyncio.sleep(0.3)
    gone = await driver.node_facts(HEALTHY, insecure=False)
    assert not gone.reachable and "connection refused" in gone.error
    await server.start()
    back = await driver.node_facts(HEALTHY, insecure=False)
    assert (back.reachable, back.stage, back.error) == (True, "running", "")
    assert server.calls.versions == 2  # asked again: an upgrade comes back on a new connection


async def test_each_failure_is_named_per_node_as_the_talosctl_path_names_it(cluster):
    driver, _, log = cluster
    drivers = Drivers(talos=driver, kube=FakeKube())
    started = time.monotonic()
    facts = {a: await facts_for(drivers, a) for a in (REFUSING, HANGING, MAINTENANCE, FOREIGN)}
    assert time.monotonic() - started < 10  # only the hanging node waits, for its deadline

    refused = facts[REFUSING]
    assert not refused.reachable and refused.error.startswith("connection refused")
    hanging = facts[HANGING]
    assert not hanging.reachable and hanging.error.startswith("deadline exceeded")
    # Refuses our certificates, answers the maintenance API (through talosctl --insecure).
    maintenance = facts[MAINTENANCE]
    assert (maintenance.reachable, maintenance.maintenance, maintenance.stage) == (True, True, "maintenance")
    assert maintenance.disks == ("/dev/vda",)
    assert maintenance.error == "install: install failed: disk /dev/sdz not found"
    # Another cluster's certificates: it answers, so it is no maintenance node and not unreachable.
    foreign = facts[FOREIGN]
    assert (foreign.reachable, foreign.maintenance, foreign.stage) == (True, False, "")
    assert foreign.error.startswith("certificate error")
    asked = log.read_text().splitlines()
    assert all("--insecure" in line for line in asked)  # talosctl only for the maintenance API
    assert {line.split("--nodes ")[1].split()[0] for line in asked} == {MAINTENANCE, FOREIGN}


async def test_what_the_nodes_pane_and_status_live_show(cluster):
    driver, _, _ = cluster
    names = {"cp-1": HEALTHY, "worker-1": REFUSING, "worker-2": HANGING, "worker-3": FOREIGN}
    kube = FakeKube().put(NODES, *(kube_node(name, address) for name, address in names.items()))
    snapshot = await snapshot_once(
        Drivers(talos=driver, kube=kube), talos_targets=[TalosTarget(MAINTENANCE, "worker-4", "worker")]
    )
    shown = {n.name: n for n in snapshot.nodes}
    assert node_state(shown["cp-1"]).plain == "✓ Ready"
    assert (shown["cp-1"].talos_version, shown["cp-1"].stage, shown["cp-1"].memory_percent) == (
        "v1.11.5",
        "running",
        37.5,
    )
    assert node_state(shown["worker-1"]).plain == "● Ready, Talos API unreachable"
    assert node_state(shown["worker-2"]).plain == "● Ready, Talos API unreachable"
    assert node_state(shown["worker-4"]).plain == "✗ in maintenance mode"
    assert shown["worker-3"].reachable and "certificate error" in shown["worker-3"].error

    text = _status_text(snapshot, NOT_HEALTHY, note="")
    assert f"worker-1 ({REFUSING}): unreachable: connection refused" in text
    assert f"worker-2 ({HANGING}): unreachable: deadline exceeded" in text
    assert f"worker-4 ({MAINTENANCE}): in maintenance mode: install: install failed" in text
    assert json.dumps(snapshot.to_dict())  # the JSON report carries the same rows


async def test_a_missing_or_damaged_talosconfig_is_said_in_the_row(cluster, tmp_path):
    driver, _, _ = cluster
    missing = TalosGrpcDriver(ProcessRunner(), tmp_path / "nowhere", port=driver.port)
    facts = await missing.node_facts(HEALTHY, insecure=False)
    assert not facts.reachable and facts.error.startswith("no talosconfig at")
    damaged = tmp_path / "damaged"
    damaged.write_text("context: demo\ncontexts:\n  demo:\n    ca: bm90IGEgcGVt\n")
    facts = await TalosGrpcDriver(ProcessRunner(), damaged, port=driver.port).node_facts(HEALTHY, insecure=False)
    assert not facts.reachable and facts.error == f"`ca` in the current context of {damaged} is not a PEM block"


async def test_a_node_silent_for_longer_than_its_statistics_refresh_is_connected_again(cluster):
    """Power lost: no reset reaches us, the watches just go quiet. Talos refreshes the statistics
    every 30 s, so 90 s of silence ends the connection."""
    driver, servers, _ = cluster
    await driver.node_facts(HEALTHY, insecure=False)
    session = driver.sessions[HEALTHY]
    await driver.node_facts(HEALTHY, insecure=False)
    assert session.connections == 1
    session._heard_at -= talos_api.SILENT_AFTER + 1
    facts = await driver.node_facts(HEALTHY, insecure=False)
    assert (facts.reachable, facts.stage, session.connections, servers[HEALTHY].calls.versions) == (
        True,
        "running",
        2,
        2,
    )
