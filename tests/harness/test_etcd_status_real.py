"""etcd health against a real etcd: the figures the dashboard shows (member IDs, leader, raft
index, DB size and in-use size, learners, a NOSPACE alarm) as etcd itself reports them, carried
through the talosctl parsers and the etcd view the dashboard uses.

No Talos API is needed to prove the parsing: talosctl prints what Talos' EtcdStatus,
EtcdMemberList and EtcdAlarmList return, which are etcd's Maintenance.Status, Cluster.MemberList
and Maintenance.Alarm answers of the node's own member. The test reads those from a real etcd
(the harness's etcd binary, `etcdctl -w json` and etcd's JSON gateway), lays them out as talosctl
does (its table columns and go-humanize sizes; the layout is checked first against tables made
by Go's tabwriter and go-humanize themselves, tests/unit/layers/fixtures), and checks what the
parsers and the view make of them against etcd's own figures and the database file on disk.

It runs its own etcd members (three on 127.0.0.1-3, and one with a tiny quota that is filled
until etcd raises NOSPACE) rather than the rehearsal cluster's, which serves the API server:
a real NOSPACE there would stop every other test's writes.
"""

from __future__ import annotations

import base64
import json
import math
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from talos_platform.engine.drivers.protocols import EtcdAlarm, EtcdHealth
from talos_platform.engine.drivers.talosctl_etcd import parse_etcd_alarms, parse_etcd_member_list, parse_etcd_status
from talos_platform.engine.observe.etcd import etcd_view
from talos_platform.engine.observe.snapshot import NodeView
from talos_platform.rehearsal.processes import ManagedProcess, http_get_ok

FIXTURES = Path(__file__).parents[1] / "unit" / "layers" / "fixtures"
STATUS_HEADER = (
    "MEMBER",
    "DB SIZE",
    "IN USE",
    "LEADER",
    "RAFT INDEX",
    "RAFT TERM",
    "RAFT APPLIED INDEX",
    "LEARNER",
    "PROTOCOL",
    "STORAGE",
    "ERRORS",
)
MEMBERS_HEADER = ("ID", "HOSTNAME", "PEER URLS", "CLIENT URLS", "LEARNER")
ALARMS_HEADER = ("MEMBER", "ALARM")
PLANES = ("127.0.0.1", "127.0.0.2", "127.0.0.3")


# --- talosctl's layout ----------------------------------------------------------------------------


def tabwriter(rows: list[tuple[str, ...]]) -> str:
    """Go's `tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)` over tab-separated cells, the last cell of
    each line not terminated (as talosctl's patterns write them)."""
    widths = [max(len(row[column]) for row in rows) + 3 for column in range(len(rows[0]) - 1)]
    return "".join(
        "".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + row[-1] + "\n"
        for row in rows
    )


def humanize_bytes(size: int) -> str:
    """go-humanize's `Bytes`: SI units, one decimal below 10."""
    if size < 10:
        return f"{size} B"
    exponent = math.floor(math.log(size) / math.log(1000))
    value = math.floor(size / 1000**exponent * 10 + 0.5) / 10
    unit = ("B", "kB", "MB", "GB", "TB", "PB", "EB")[exponent]
    return f"{value:.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"


def member_id(number: int | str) -> str:
    return f"{int(number):016x}"


def status_table(node: str, status: dict, protocol: str = "", storage: str = "") -> str:
    """One member's row; etcd 3.5.1 reports no protocol and storage versions, which Talos fills
    in from a newer etcd. Without a `node` there is no NODE column (the API named no node)."""
    size, in_use = int(status["dbSize"]), int(status.get("dbSizeInUse", 0))
    ratio = in_use / size * 100 if size else 0.0
    row = (
        member_id(status["header"]["member_id"]),
        humanize_bytes(size),
        f"{humanize_bytes(in_use)} ({ratio:.2f}%)",
        member_id(status["leader"]),
        str(status["raftIndex"]),
        str(status["raftTerm"]),
        str(status["raftAppliedIndex"]),
        "true" if status.get("isLearner") else "false",
        protocol,
        storage,
        ", ".join(status.get("errors", [])),
    )
    if not node:
        return tabwriter([STATUS_HEADER, row])
    return tabwriter([("NODE", *STATUS_HEADER), (node, *row)])


def members_table(node: str, members: list[dict]) -> str:
    rows = [
        (
            node,
            member_id(m["ID"]),
            m.get("name", ""),
            ",".join(m.get("peerURLs", [])),
            ",".join(m.get("clientURLs", [])),
            "true" if m.get("isLearner") else "false",
        )
        for m in members
    ]
    return tabwriter([("NODE", *MEMBERS_HEADER), *rows])


def alarms_table(node: str, alarms: list[dict]) -> str:
    if not alarms:
        return ""  # talosctl prints no header when there is no alarm
    return tabwriter([("NODE", *ALARMS_HEADER), *((node, member_id(a["memberID"]), a["alarm"]) for a in alarms)])


def test_the_layout_is_what_gos_tabwriter_and_go_humanize_print():
    """Rebuilt from their values, the fixtures made by Go's own libraries come out byte for byte."""
    leader = 0x2C838C7F1BE7CD4A
    alarm = alarms_table("192.168.10.11", [{"memberID": leader, "alarm": "NOSPACE"}])
    assert alarm == (FIXTURES / "talosctl-etcd-alarm-list.txt").read_text()
    status = {
        "header": {"member_id": leader},
        "dbSize": 33554432,
        "dbSizeInUse": 20000000,
        "leader": 0,
        "raftIndex": 7,
        "raftTerm": 2,
        "raftAppliedIndex": 7,
        "errors": ["etcdserver: no leader"],
    }
    expected = (FIXTURES / "talosctl-etcd-status-no-leader.txt").read_text()
    assert status_table("", status, "3.5.0", "3.5.0") == expected
    members = [
        {
            "ID": leader,
            "name": "cp-1",
            "peerURLs": ["https://192.168.10.11:2380"],
            "clientURLs": ["https://192.168.10.11:2379"],
        },
        {"ID": 0x0523E2A4AEB86C8B, "peerURLs": ["https://192.168.10.13:2380"], "isLearner": True},
        {
            "ID": 0x79DF6947A230735A,
            "name": "cp-2",
            "peerURLs": ["https://192.168.10.12:2380", "https://[fd00::12]:2380"],
            "clientURLs": ["https://192.168.10.12:2379"],
        },
    ]
    assert members_table("192.168.10.11", members) == (FIXTURES / "talosctl-etcd-members-learner.txt").read_text()
    assert [humanize_bytes(n) for n in (8, 41_000_000, 27_340_800, 2_040_000_000, 1_530_000_000)] == [
        "8 B",
        "41 MB",
        "27 MB",
        "2.0 GB",
        "1.5 GB",
    ]


# --- real etcd members ------------------------------------------------------------------------------


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class Etcd:
    """Members started from the harness's etcd, each on its own loopback address."""

    def __init__(self, binary: Path, workdir: Path):
        self.binary, self.workdir = binary, workdir
        self.etcdctl = binary.parent / "etcdctl"
        self.processes: list[ManagedProcess] = []
        self.client_urls: dict[str, str] = {}

    def start(self, names_and_hosts: list[tuple[str, str]], *extra: str) -> None:
        peers = {name: f"http://{host}:{free_port(host)}" for name, host in names_and_hosts}
        cluster = ",".join(f"{name}={url}" for name, url in peers.items())
        for name, host in names_and_hosts:
            client = f"http://{host}:{free_port(host)}"
            self.client_urls[name] = client
            argv = [str(self.binary), "--name", name, "--data-dir", str(self.workdir / name)]
            argv += ["--listen-client-urls", client, "--advertise-client-urls", client]
            argv += ["--listen-peer-urls", peers[name], "--initial-advertise-peer-urls", peers[name]]
            argv += ["--initial-cluster", cluster, "--unsafe-no-fsync", "--log-level", "warn", *extra]
            process = ManagedProcess(f"etcd-{name}", argv, self.workdir / f"{name}.log")
            process.start()
            self.processes.append(process)
        for process, (name, _) in zip(self.processes[-len(names_and_hosts) :], names_and_hosts, strict=True):
            process.wait_until(lambda url=self.client_urls[name]: http_get_ok(f"{url}/health"), "healthy", 60)

    def ctl(self, name: str, *args: str, retry_for: float = 0.0) -> dict:
        """`etcdctl -w json`; `retry_for` seconds of retries while etcd calls itself unhealthy
        (it refuses member changes until every member has been connected for five seconds)."""
        deadline = time.monotonic() + retry_for
        while True:
            result = subprocess.run(
                [str(self.etcdctl), "--endpoints", self.client_urls[name], "-w", "json", *args],
                capture_output=True,
                text=True,
                timeout=30,
                env={**os.environ, "ETCDCTL_API": "3"},
            )
            if result.returncode == 0 or "unhealthy cluster" not in result.stderr or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert result.returncode == 0, result.stderr
        found = json.loads(result.stdout)
        return found[0]["Status"] if isinstance(found, list) else found

    def gateway(self, name: str, path: str, body: dict) -> dict:
        """etcd's JSON gateway (its gRPC API over HTTP; 64-bit numbers come as strings)."""
        request = urllib.request.Request(self.client_urls[name] + path, data=json.dumps(body).encode(), method="POST")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=10) as response:
            answer: dict = json.load(response)
            return answer

    def stop(self) -> None:
        """Stops the members and removes their data (their logs go with it)."""
        for process in self.processes:
            process.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def etcd(harness_bin) -> Iterator[Etcd]:
    workdir = Path(tempfile.mkdtemp(prefix="etcd-health-"))
    cluster = Etcd(harness_bin("etcd"), workdir)
    try:
        cluster.start([(f"cp-{index + 1}", host) for index, host in enumerate(PLANES)])
        yield cluster
    finally:
        cluster.stop()


def planes() -> list[NodeView]:
    return [NodeView(f"cp-{index + 1}", host, "control-plane", True, True) for index, host in enumerate(PLANES)]


def read_health(etcd: Etcd, name: str, host: str) -> tuple[EtcdHealth, dict]:
    """What our parsers make of the member's status, the member list and the alarms, laid out as
    talosctl prints them; and etcd's own status read."""
    status = etcd.ctl(name, "endpoint", "status")
    members = etcd.ctl(name, "member", "list")["members"]
    alarms = etcd.gateway(name, "/v3/maintenance/alarm", {"action": "GET"}).get("alarms", [])
    (parsed,) = parse_etcd_status(status_table(host, status))
    health = EtcdHealth(
        host,
        status=parsed,
        members=tuple(parse_etcd_member_list(members_table(host, members))),
        alarms=tuple(parse_etcd_alarms(alarms_table(host, alarms))),
    )
    return health, status


def within_humanize(shown: int, real: int) -> bool:
    """go-humanize keeps two or three significant digits: what we read back is that close."""
    return abs(shown - real) <= 0.05 * real + 5


# --- the checks -------------------------------------------------------------------------------------


def test_member_ids_leader_raft_and_sizes_are_etcds_own(etcd):
    for index, host in enumerate(PLANES):
        name = f"cp-{index + 1}"
        health, status = read_health(etcd, name, host)
        parsed = health.status
        assert parsed is not None
        assert parsed.member_id == member_id(status["header"]["member_id"])
        assert parsed.leader == member_id(status["leader"])
        assert (parsed.raft_index, parsed.raft_term, parsed.raft_applied_index) == (
            status["raftIndex"],
            status["raftTerm"],
            status["raftAppliedIndex"],
        )
        assert within_humanize(parsed.db_size, status["dbSize"])
        assert within_humanize(parsed.db_size_in_use, status["dbSizeInUse"])
        # The database size is the size of the member's bbolt file.
        on_disk = (etcd.workdir / name / "member" / "snap" / "db").stat().st_size
        assert within_humanize(parsed.db_size, on_disk)
        # Its own ID is in the member list another API gives, under its name, with its peer URL.
        mine = next(m for m in health.members if m.member_id == parsed.member_id)
        assert mine.hostname == name and mine.peer_urls[0].startswith(f"http://{host}:")
        assert health.alarms == ()
    # The gateway, another client of the same API, gives the same member and leader.
    gateway = etcd.gateway("cp-2", "/v3/maintenance/status", {})
    health, _ = read_health(etcd, "cp-2", PLANES[1])
    assert health.status is not None
    assert member_id(gateway["header"]["member_id"]) == health.status.member_id
    assert member_id(gateway["leader"]) == health.status.leader


def test_the_view_names_the_leader_and_finds_no_problem_in_a_healthy_cluster(etcd):
    healths = {host: read_health(etcd, f"cp-{index + 1}", host)[0] for index, host in enumerate(PLANES)}
    view = etcd_view(planes(), healths)
    leader_id = etcd.ctl("cp-1", "endpoint", "status")["leader"]
    leader_name = next(m.hostname for m in healths[PLANES[0]].members if m.member_id == member_id(leader_id))
    assert view.leader == leader_name
    assert view.problems == ()
    assert [m.node for m in view.members] == ["cp-1", "cp-2", "cp-3"]
    assert all(m.raft_lag is not None and m.raft_lag < 50 for m in view.members)
    assert {m.quota_source for m in view.members} == {"etcd's default"}


def test_a_learner_added_to_the_real_cluster(etcd):
    peer = f"http://127.0.0.4:{free_port('127.0.0.4')}"
    added = etcd.ctl("cp-1", "member", "add", "cp-4", "--learner", f"--peer-urls={peer}", retry_for=30)
    learner_id = member_id(added["member"]["ID"])
    try:
        health, _ = read_health(etcd, "cp-1", PLANES[0])
        learner = next(m for m in health.members if m.member_id == learner_id)
        # Not started yet: etcd lists it without a name, as a learner, with the peer URL it was given.
        assert (learner.learner, learner.hostname, learner.peer_urls) == (True, "", (peer,))
        view = etcd_view(planes(), {PLANES[0]: health})
        stranger = next(m for m in view.members if m.member_id == learner_id)
        assert stranger.node == "" and stranger.learner
        assert view.problems == (
            f"member {learner_id}: no control plane we know is this member (remove it if its node is gone)",
        )
    finally:
        etcd.ctl("cp-1", "member", "remove", learner_id)


def test_a_real_nospace_alarm_and_a_database_at_its_quota(harness_bin):
    """A member with a 4 MiB quota, written to until etcd refuses: NOSPACE, as Talos would list it."""
    quota = 4 * 1024**2
    single = Etcd(harness_bin("etcd"), Path(tempfile.mkdtemp(prefix="etcd-nospace-")))
    try:
        single.start([("cp-1", "127.0.0.1")], "--quota-backend-bytes", str(quota))
        value = base64.b64encode(os.urandom(200_000)).decode()
        refused = None
        for index in range(100):
            key = base64.b64encode(f"filler-{index}".encode()).decode()
            try:
                single.gateway("cp-1", "/v3/kv/put", {"key": key, "value": value})
            except urllib.error.HTTPError as error:
                refused = json.loads(error.read())
                break
        assert refused is not None and "database space exceeded" in refused["message"]
        health, status = read_health(single, "cp-1", "127.0.0.1")
        assert health.alarms == (EtcdAlarm(member_id(status["header"]["member_id"]), "NOSPACE"),)
        assert health.status is not None and any("alarm:NOSPACE" in error for error in health.status.errors)
        # With the quota the node's etcd spec would carry: the alarm and the full database, once each
        # (etcd repeats the alarm among the member's errors; that is not a third problem).
        own = EtcdHealth("127.0.0.1", health.status, health.members, health.alarms, quota_bytes=quota)
        view = etcd_view([NodeView("cp-1", "127.0.0.1", "control-plane", True, True)], {"127.0.0.1": own})
        (member,) = view.members
        assert member.alarms == ("NOSPACE",) and member.quota_source == "the node's etcd spec"
        assert len(member.problems) == 2
        assert member.problems[0].startswith("etcd alarm NOSPACE: the database is full")
        assert member.problems[1].startswith("etcd database ")
        assert "of its 4.0 MiB quota (the node's etcd spec)" in member.problems[1]
    finally:
        single.stop()
