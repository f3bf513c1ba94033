"""Parsing etcd health from talosctl: `etcd status`, `etcd members`, `etcd alarm list` and the
quota in `get etcdspecs`. The table fixtures are laid out as talosctl v1.11.5 prints them
(cmd/talosctl/cmd/talos/etcd.go: Go's tabwriter with three spaces of padding, go-humanize's SI
sizes), made with those two libraries; the driver is then run against a stand-in talosctl that
prints them."""

import os
import sys
from pathlib import Path

import pytest

from talos_platform.engine.drivers.process import ProcessRunner
from talos_platform.engine.drivers.protocols import EtcdAlarm, EtcdMember
from talos_platform.engine.drivers.talosctl import TalosctlDriver, parse_etcd_members, parse_resources
from talos_platform.engine.drivers.talosctl_etcd import (
    etcd_quota,
    parse_etcd_alarms,
    parse_etcd_member_list,
    parse_etcd_status,
    parse_size,
    table_rows,
)

FIXTURES = Path(__file__).parent / "fixtures"
LEADER = "2c838c7f1be7cd4a"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_status_of_three_members_with_the_node_column():
    first, second, learner = parse_etcd_status(fixture("talosctl-etcd-status.txt"))
    assert (first.member_id, first.leader, first.raft_index, first.raft_term, first.raft_applied_index) == (
        LEADER,
        LEADER,
        184220,
        4,
        184220,
    )
    # go-humanize prints 2,040,000,000 bytes as `2.0 GB`: exact to its last digit, no better.
    assert (first.db_size, first.db_size_in_use) == (2_000_000_000, 1_500_000_000)
    assert first.errors == ("memberID:3207561837174836554 alarm:NOSPACE",)
    assert (second.member_id, second.db_size, second.db_size_in_use, second.errors) == (
        "79df6947a230735a",
        41_000_000,
        27_000_000,
        (),
    )
    assert (learner.learner, learner.raft_index, learner.raft_applied_index, learner.db_size) == (True, 90000, 89990, 8)


def test_status_without_the_node_column_and_without_a_leader():
    (status,) = parse_etcd_status(fixture("talosctl-etcd-status-no-leader.txt"))
    assert (status.member_id, status.leader, status.db_size, status.errors) == (
        LEADER,
        "0000000000000000",
        34_000_000,
        ("etcdserver: no leader",),
    )


def test_member_list_with_a_learner_not_started_yet_and_two_peer_urls():
    members = parse_etcd_member_list(fixture("talosctl-etcd-members-learner.txt"))
    assert members == [
        EtcdMember(LEADER, "cp-1", ("https://192.168.10.11:2380",), ("https://192.168.10.11:2379",)),
        EtcdMember("0523e2a4aeb86c8b", "", ("https://192.168.10.13:2380",), (), learner=True),
        EtcdMember(
            "79df6947a230735a",
            "cp-2",
            ("https://192.168.10.12:2380", "https://[fd00::12]:2380"),
            ("https://192.168.10.12:2379",),
        ),
    ]
    # The older reader of member names agrees on the same table.
    assert parse_etcd_members(fixture("talosctl-etcd-members.txt")) == ["cp-1", "cp-2", "cp-3"]


def test_alarms_and_no_alarms():
    assert parse_etcd_alarms(fixture("talosctl-etcd-alarm-list.txt")) == [EtcdAlarm(LEADER, "NOSPACE")]
    # With no alarm, talosctl prints nothing at all, not even the header.
    assert parse_etcd_alarms("") == []
    twice = "NODE   MEMBER             ALARM\nA      2c838c7f1be7cd4a   NOSPACE\nB      2c838c7f1be7cd4a   NOSPACE\n"
    assert parse_etcd_alarms(twice) == [EtcdAlarm(LEADER, "NOSPACE")]


def test_quota_from_the_etcd_spec_or_none():
    assert etcd_quota(parse_resources(fixture("talosctl-get-etcdspecs.json"))) == 8 * 1024**3
    assert etcd_quota([{"spec": {"name": "cp-1", "extraArgs": {}}}]) is None
    assert etcd_quota([{"spec": {"extraArgs": {"quota-backend-bytes": "8G"}}}]) is None  # not a byte count


@pytest.mark.parametrize(
    "text, size",
    [("8 B", 8), ("33 kB", 33_000), ("83 MB", 83_000_000), ("2.1 GB", 2_100_000_000), ("20 MB (59.60%)", 20_000_000)],
)
def test_sizes_as_go_humanize_prints_them(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize(
    "text",
    ["", "MEMBER   DB SIZE\n2c838c7f1be7cd4a   lots\n", "NODE   HOSTNAME\n"],
    ids=["empty", "bad size", "other table"],
)
def test_what_is_not_an_etcd_status(text):
    if not text:
        assert parse_etcd_status(text) == []
    elif "HOSTNAME" in text:
        with pytest.raises(ValueError, match="no MEMBER column"):
            parse_etcd_status(text)
    else:
        with pytest.raises(ValueError, match="unexpected `talosctl etcd status` row"):
            parse_etcd_status(text)


def test_columns_are_cut_where_the_header_names_start():
    rows = table_rows("A B   C\nx y   z w\n", "C")
    assert rows == [{"A B": "x y", "C": "z w"}]


STAND_IN = """#!@PYTHON@
import sys
from pathlib import Path
fixtures = Path(@FIXTURES@)
argv = sys.argv[1:]
command = argv[argv.index("--nodes") + 2:]
answers = {
    ("etcd", "status"): "talosctl-etcd-status.txt",
    ("etcd", "members"): "talosctl-etcd-members-learner.txt",
    ("etcd", "alarm", "list"): "talosctl-etcd-alarm-list.txt",
    ("get", "etcdspecs", "--output", "json"): "talosctl-get-etcdspecs.json",
}
name = answers.get(tuple(command))
if name is None or "127.0.0.3" in argv:
    sys.stderr.write("rpc error: code = Unavailable desc = etcd is not running\\n")
    sys.exit(1)
print((fixtures / name).read_text(), end="")
"""


def stand_in_driver(tmp_path: Path) -> TalosctlDriver:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "talosctl"
    program.write_text(STAND_IN.replace("@PYTHON@", sys.executable).replace("@FIXTURES@", repr(str(FIXTURES))))
    program.chmod(0o755)
    talosconfig = tmp_path / "talosconfig"
    talosconfig.write_text("context: demo\n")
    return TalosctlDriver(ProcessRunner(env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}), talosconfig)


async def test_the_driver_reads_all_four_and_keeps_the_asked_nodes_status(tmp_path):
    health = await stand_in_driver(tmp_path).etcd_health("127.0.0.2")
    assert health.error == ""
    assert health.status is not None and health.status.member_id == LEADER
    assert [m.member_id for m in health.members] == [LEADER, "0523e2a4aeb86c8b", "79df6947a230735a"]
    assert health.alarms == (EtcdAlarm(LEADER, "NOSPACE"),)
    assert health.quota_bytes == 8 * 1024**3


async def test_the_driver_says_why_when_etcd_does_not_answer(tmp_path):
    health = await stand_in_driver(tmp_path).etcd_health("127.0.0.3")
    assert health.status is None and health.members == ()
    assert health.error == "status: rpc error: code = Unavailable desc = etcd is not running"
