"""etcd health over the Talos API, on the gRPC connection each node already has for its facts:
EtcdStatus, EtcdMemberList and EtcdAlarmList of the machine service and the etcd spec's quota
from the resource API, against loopback Talos API servers with mutual TLS
(tests/support/talos_api.py). The answer is the one the talosctl path gives, and a node or an
etcd that does not answer is the answer's error, never an exception."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import grpc
import pytest
from support.drivers import FakeKube
from support.talos_api import EtcdNode, Pki, TalosApiServer, etcd_cluster, free_port

from talos_platform.engine.drivers import talos_api_etcd
from talos_platform.engine.drivers.clock import RealClock
from talos_platform.engine.drivers.process import ProcessRunner
from talos_platform.engine.drivers.proto import talos_machine_pb2 as machine
from talos_platform.engine.drivers.protocols import NODES, Drivers, EtcdAlarm, EtcdHealth
from talos_platform.engine.drivers.talos_grpc import TalosGrpcDriver
from talos_platform.engine.drivers.talosctl import parse_resources
from talos_platform.engine.drivers.talosctl_etcd import (
    etcd_quota,
    parse_etcd_alarms,
    parse_etcd_member_list,
    parse_etcd_status,
)
from talos_platform.engine.observe import Observer, snapshot_once

CP1, CP2, CP3, REFUSING, HANGING = (f"127.0.0.{n}" for n in (41, 42, 43, 44, 45))
PLANES = (CP1, CP2, CP3)
NAMES = {CP1: "cp-1", CP2: "cp-2", CP3: "cp-3"}
GIB = 1024**3
TIMEOUT = 1.5
TABLES = Path(__file__).resolve().parents[1] / "unit" / "layers" / "fixtures"

# A talosctl that writes down that it ran: etcd health must start none.
LOGGING_TALOSCTL = """#!@PYTHON@
import sys
with open("@LOG@", "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
sys.exit(1)
"""


def member_id(n: int) -> str:
    return f"{0x1A3C5E7F9B2D4E00 + n:016x}"


@pytest.fixture
async def planes(tmp_path):
    """Three control planes and a node that hangs on one port of five loopback addresses
    (REFUSING has none), and the driver with a talosctl that only logs."""
    port = free_port()
    pki = Pki.make((*PLANES, HANGING))
    servers = {address: TalosApiServer(pki, address, port) for address in PLANES}
    servers[HANGING] = TalosApiServer(pki, HANGING, port, behaviour="hang")
    for server in servers.values():
        await server.start()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "talosctl.log"
    talosctl = bin_dir / "talosctl"
    talosctl.write_text(LOGGING_TALOSCTL.replace("@PYTHON@", sys.executable).replace("@LOG@", str(log)))
    talosctl.chmod(0o755)
    runner = ProcessRunner(env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    driver = TalosGrpcDriver(runner, pki.talosconfig(tmp_path / "talosconfig"), port=port, connect_timeout=TIMEOUT)
    try:
        yield driver, servers, log
    finally:
        await driver.close()
        for server in servers.values():
            await server.stop()


def run_etcd(servers: dict[str, TalosApiServer], *, quota: int | None = 8 * GIB, **troubles: str) -> None:
    for address, etcd in etcd_cluster(PLANES, **troubles).items():
        servers[address].control_plane(etcd, quota=quota)


def control_plane(name: str, address: str) -> dict:
    return {
        "metadata": {"name": name, "labels": {"node-role.kubernetes.io/control-plane": ""}},
        "status": {
            "addresses": [{"type": "InternalIP", "address": address}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "nodeInfo": {"kubeletVersion": "v1.34.1"},
        },
    }


async def snapshot_of(driver):
    kube = FakeKube().put(NODES, *(control_plane(name, address) for address, name in NAMES.items()))
    return await snapshot_once(Drivers(talos=driver, kube=kube))


async def test_a_healthy_three_member_cluster_is_read_on_each_nodes_own_connection(planes):
    driver, servers, log = planes
    run_etcd(servers)
    for _ in range(2):  # two polls: the facts' connection serves both, and stays the only one
        for address in PLANES:
            assert (await driver.node_facts(address, insecure=False)).stage == "running"
            health = await driver.etcd_health(address)
            assert health.error == ""
            position = PLANES.index(address)
            status = health.status
            assert status is not None
            assert (status.member_id, status.leader, status.learner) == (member_id(position + 1), member_id(1), False)
            # Exact bytes, where talosctl's table rounds them (`41 MB`).
            assert (status.db_size, status.db_size_in_use) == (
                41_000_000 + position * 250_000,
                (41_000_000 + position * 250_000) * 2 // 3,
            )
            assert (status.raft_index, status.raft_term, status.raft_applied_index) == (
                184_220 - position,
                4,
                184_220 - position,
            )
            assert [(m.member_id, m.hostname, m.learner) for m in health.members] == [
                (member_id(n), f"cp-{n}", False) for n in (1, 2, 3)
            ]
            assert health.members[0].peer_urls == (f"https://{CP1}:2380",)
            assert health.members[0].client_urls == (f"https://{CP1}:2379",)
            assert (health.alarms, health.quota_bytes) == ((), 8 * GIB)
    for address in PLANES:
        calls = servers[address].calls
        assert driver.sessions[address].connections == 1
        assert (calls.versions, calls.watches) == (1, 5)  # no watch more than the facts' own
        assert (calls.etcd, calls.gets) == (6, 2)  # status, members and alarms, and the spec, per poll
    assert not log.exists()  # no talosctl process

    snapshot = await snapshot_of(driver)
    assert (snapshot.etcd.leader, snapshot.etcd.problems) == ("cp-1", ())
    assert [(m.node, m.member_id, m.quota_source != "") for m in snapshot.etcd.members] == [
        (NAMES[a], member_id(n), True) for n, a in enumerate(PLANES, start=1)
    ]


async def test_the_answer_is_the_one_talosctl_tables_give(planes):
    """The node of the talosctl fixtures (tests/unit/layers/fixtures), answering over gRPC: the
    same EtcdHealth as the talosctl path parses from those tables."""
    driver, servers, _ = planes
    leader, second, learner = 0x2C838C7F1BE7CD4A, 0x79DF6947A230735A, 0x0523E2A4AEB86C8B
    etcd = EtcdNode(
        status=machine.EtcdMemberStatus(
            member_id=leader,
            db_size=2_000_000_000,  # `2.0 GB`
            db_size_in_use=1_500_000_000,  # `1.5 GB (75.00%)`
            leader=leader,
            raft_index=184220,
            raft_term=4,
            raft_applied_index=184220,
            errors=["memberID:3207561837174836554 alarm:NOSPACE"],
        ),
        members=[
            machine.EtcdMember(
                id=leader,
                hostname="cp-1",
                peer_urls=["https://192.168.10.11:2380"],
                client_urls=["https://192.168.10.11:2379"],
            ),
            machine.EtcdMember(id=learner, peer_urls=["https://192.168.10.13:2380"], is_learner=True),
            machine.EtcdMember(
                id=second,
                hostname="cp-2",
                peer_urls=["https://192.168.10.12:2380", "https://[fd00::12]:2380"],
                client_urls=["https://192.168.10.12:2379"],
            ),
        ],
        # Each member's Talos API repeats the cluster's alarms; NONE is no alarm.
        alarms=[
            machine.EtcdMemberAlarm(member_id=leader, alarm=machine.EtcdMemberAlarm.NOSPACE),
            machine.EtcdMemberAlarm(member_id=leader, alarm=machine.EtcdMemberAlarm.NOSPACE),
            machine.EtcdMemberAlarm(member_id=second, alarm=machine.EtcdMemberAlarm.NONE),
        ],
    )
    servers[CP1].control_plane(etcd, quota=8589934592)
    over_grpc = await driver.etcd_health(CP1)

    def table(name: str) -> str:
        return (TABLES / name).read_text()

    from_tables = EtcdHealth(
        CP1,
        status=parse_etcd_status(table("talosctl-etcd-status.txt"))[0],
        members=tuple(parse_etcd_member_list(table("talosctl-etcd-members-learner.txt"))),
        alarms=tuple(parse_etcd_alarms(table("talosctl-etcd-alarm-list.txt"))),
        quota_bytes=etcd_quota(parse_resources(table("talosctl-get-etcdspecs.json"))),
    )
    assert over_grpc == from_tables


async def test_a_learner_is_read_as_one_and_a_spec_without_quota_leaves_etcds_default(planes):
    driver, servers, _ = planes
    run_etcd(servers, learner=CP3)
    del servers[CP2].resources[talos_api_etcd.ETCD_SPEC]  # no spec at all: talosctl lists nothing
    healths = {address: await driver.etcd_health(address) for address in PLANES}
    learner = healths[CP3]
    assert learner.status is not None and learner.status.learner
    assert (learner.status.raft_index, learner.error) == (90_000, "")
    assert all([m.learner for m in h.members] == [False, False, True] for h in healths.values())
    assert (healths[CP1].quota_bytes, healths[CP2].quota_bytes, healths[CP2].error) == (8 * GIB, None, "")

    snapshot = await snapshot_of(driver)
    shown = snapshot.etcd.member("cp-3")
    assert shown is not None and shown.learner and shown.raft_lag == 184_220 - 90_000
    assert snapshot.etcd.member("cp-2").quota_source != snapshot.etcd.member("cp-1").quota_source


async def test_a_nospace_alarm_is_read_once_and_counted(planes):
    driver, servers, _ = planes
    run_etcd(servers, quota=None, nospace=CP1)
    for address in PLANES:
        health = await driver.etcd_health(address)
        assert (health.alarms, health.quota_bytes, health.error) == ((EtcdAlarm(member_id(1), "NOSPACE"),), None, "")
    snapshot = await snapshot_of(driver)
    problems = " | ".join(snapshot.etcd.problems)
    assert "NOSPACE" in problems and "cp-1" in problems
    cp1 = snapshot.etcd.member("cp-1")
    assert cp1 is not None and cp1.alarms == ("NOSPACE",) and cp1.db_size == 2_040_000_000


async def test_an_etcd_that_is_not_running_is_the_status_calls_error(planes):
    driver, servers, _ = planes
    run_etcd(servers)
    # machined's answer when it cannot reach the node's etcd (fmt.Errorf: the Unknown code)
    down = "failed to create etcd client: error building etcd client: context deadline exceeded"
    servers[CP2].etcd.failure = (grpc.StatusCode.UNKNOWN, down)
    servers[CP3].etcd = None  # a node whose Talos API is no control plane's
    assert (await driver.node_facts(CP2, insecure=False)).reachable  # the node itself answers
    health = await driver.etcd_health(CP2)
    assert health == EtcdHealth(CP2, error=f"status: unknown: {down}")
    assert servers[CP2].calls.etcd == 1  # the other calls would say the same: not asked
    worker = await driver.etcd_health(CP3)
    assert worker.error == "status: unimplemented: etcd status is only available on control plane nodes"

    snapshot = await snapshot_of(driver)
    assert any(p.startswith("cp-2") and "context deadline exceeded" in p for p in snapshot.etcd.problems)


async def test_a_node_that_hangs_or_refuses_is_an_error_within_the_deadline(planes):
    driver, servers, _ = planes
    run_etcd(servers)
    servers[CP2].etcd.hang = True  # the node answers its facts, its etcd calls never
    started = time.monotonic()
    hanging_etcd = await driver.etcd_health(CP2)
    hanging_node = await driver.etcd_health(HANGING)
    refusing = await driver.etcd_health(REFUSING)
    assert time.monotonic() - started < 4 * TIMEOUT
    assert hanging_etcd == EtcdHealth(
        CP2, error=f"status: deadline exceeded: the Talos API at {CP2} did not answer within {TIMEOUT:g} s"
    )
    assert hanging_node.status is None and hanging_node.error.startswith("status: deadline exceeded")
    assert refusing.status is None and refusing.error.startswith("status: connection refused")
    # The hanging etcd did not cost the node its connection: its facts still come from the watches.
    assert (await driver.node_facts(CP2, insecure=False)).stage == "running"
    assert driver.sessions[CP2].connections == 1


async def test_a_hanging_control_plane_costs_one_deadline_per_poll(planes):
    """A control plane that accepts connections and never answers: each poll opens one
    connection to it and waits one deadline (its facts); its etcd, asked over the same Talos API,
    is not asked again in that poll. The other control planes are read meanwhile."""
    driver, servers, _ = planes
    run_etcd(servers)
    names = {**NAMES, HANGING: "cp-hanging"}
    kube = FakeKube().put(NODES, *(control_plane(name, address) for address, name in names.items()))
    drivers = Drivers(talos=driver, kube=kube)

    snapshot = await snapshot_once(drivers)
    assert driver.sessions[HANGING].connections == 1  # one wait for the deadline, not two
    members = {m.node: m for m in snapshot.etcd.members}
    deadline = f"deadline exceeded: the Talos API at {HANGING} did not answer within {TIMEOUT:g} s"
    assert members["cp-hanging"].error == deadline
    assert any(p.startswith("cp-hanging") and deadline in p for p in snapshot.etcd.problems)
    assert [members[NAMES[a]].member_id for a in PLANES] == [member_id(n) for n in (1, 2, 3)]

    # The dashboard's observer: one more connection (one more deadline) per poll, no more.
    observer = Observer(drivers, RealClock(), talos_interval=3600, heartbeat=0, stats_interval=0)
    task = asyncio.create_task(observer.run())
    try:
        async with asyncio.timeout(30 * TIMEOUT):  # a bound for a broken test, far above one poll
            while set(observer.etcd) != {*PLANES, HANGING}:
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert driver.sessions[HANGING].connections == 2
    assert observer.etcd[HANGING].error == deadline and observer.facts[HANGING].error == deadline
    assert all(observer.etcd[a].error == "" for a in PLANES)
