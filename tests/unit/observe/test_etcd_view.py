"""The etcd view of the control planes: which member each node is, the leader, raft lag, and
what counts as a problem (engine/observe/etcd.py), from what each control plane's Talos API said."""

from dataclasses import replace

from support.cluster_data import NODES, etcd_healths

from talos_platform.engine.drivers.protocols import EtcdAlarm, EtcdHealth, EtcdMember
from talos_platform.engine.observe.etcd import (
    JOIN_GRACE_SECONDS,
    LEARNER_GRACE_SECONDS,
    RAFT_LAG_LIMIT,
    LearnerClock,
    etcd_view,
)
from talos_platform.engine.observe.snapshot import NodeView

PLANES = [NodeView(name, address, role, True, True) for name, address, role in NODES if role == "control-plane"]
CP1, CP2, CP3 = (address for _, address, role in NODES if role == "control-plane")


def view(healths, learners=None, now=0.0):
    return etcd_view(PLANES, healths, learners, now)


def with_status(healths, address, **changes):
    health = healths[address]
    assert health.status is not None
    return {**healths, address: replace(health, status=replace(health.status, **changes))}


def test_a_healthy_cluster_names_each_member_its_node_and_the_leader():
    etcd = view(etcd_healths())
    assert etcd.problems == ()
    assert etcd.leader == "cp-1"
    assert [(m.node, m.hostname, m.leader, m.raft_lag) for m in etcd.members] == [
        ("cp-1", "cp-1", True, 0),
        ("cp-2", "cp-2", False, 1),
        ("cp-3", "cp-3", False, 2),
    ]
    assert {m.quota_source for m in etcd.members} == {"etcd's default"}
    assert etcd.members[0].quota_bytes == 2 * 1024**3


def test_nothing_asked_yet_is_no_view():
    assert not view({}).available


def test_a_database_near_its_quota_the_quota_it_has_and_an_alarm():
    healths = with_status(etcd_healths(), CP2, db_size=1_800_000_000)
    assert (
        view(healths)
        .member("cp-2")
        .problems[0]
        .startswith("etcd database 1.7 GiB of its 2.0 GiB quota (etcd's default)")
    )
    roomy = {**healths, CP2: replace(healths[CP2], quota_bytes=8 * 1024**3)}
    assert view(roomy).problems == ()
    assert view(roomy).member("cp-2").quota_source == "the node's etcd spec"
    alarmed = {a: replace(h, alarms=(EtcdAlarm(h.members[0].member_id, "NOSPACE"),)) for a, h in healths.items()}
    problems = view(alarmed).member("cp-1").problems
    assert problems == (
        "etcd alarm NOSPACE: the database is full and etcd takes no more writes: defragment it, "
        "then `talosctl etcd alarm disarm`",
    )


def test_the_alarm_etcd_repeats_among_each_members_errors_is_not_counted_twice():
    healths = with_status(etcd_healths(), CP1, errors=("memberID:42 alarm:NOSPACE", "etcdserver: something else"))
    assert view(healths).member("cp-1").problems == ("etcd reports: etcdserver: something else",)


def test_a_learner_counts_only_once_it_stays_one():
    healths = etcd_healths(troubled=False)
    members = tuple(replace(m, learner=m.hostname == "cp-3") for m in healths[CP1].members)
    healths = {a: replace(h, members=members) for a, h in healths.items()}
    healths = with_status(healths, CP3, learner=True, raft_index=10)
    learners = LearnerClock()
    learners.record(healths.values(), 100.0)
    young = view(healths, learners, 100.0 + LEARNER_GRACE_SECONDS - 1).member("cp-3")
    assert young.learner and young.problems == ()  # far behind, but a learner catches up first
    old = view(healths, learners, 100.0 + LEARNER_GRACE_SECONDS).member("cp-3")
    assert old.problems == (f"still an etcd learner after {LEARNER_GRACE_SECONDS:.0f} s (never promoted)",)
    # Promoted: the clock forgets it, and a later learner of that ID starts again.
    promoted = {a: replace(h, members=etcd_healths()[a].members) for a, h in healths.items()}
    promoted = with_status(promoted, CP3, learner=False)
    learners.record(promoted.values(), 500.0)
    assert learners.seen_for(old.member_id, 500.0) is None


def test_a_lagging_member_a_missing_one_a_stranger_and_no_leader():
    healths = with_status(etcd_healths(), CP2, raft_index=184_220 - RAFT_LAG_LIMIT - 1)
    assert view(healths).member("cp-2").problems == (f"etcd {RAFT_LAG_LIMIT + 1:,} raft entries behind",)
    stranger = EtcdMember("00000000000000ff", "old-cp", ("https://192.168.10.99:2380",))
    without_cp3 = tuple(m for m in healths[CP1].members if m.hostname != "cp-3") + (stranger,)
    gone = {a: replace(h, members=without_cp3) for a, h in etcd_healths().items() if a != CP3}
    gone[CP3] = EtcdHealth(CP3, error="rpc error: code = Unavailable desc = etcd is not running")
    etcd = view(gone)
    assert etcd.problems == (
        "cp-3: etcd does not answer: rpc error: code = Unavailable desc = etcd is not running",
        "member old-cp: no control plane we know is this member (remove it if its node is gone)",
    )
    leaderless = {a: replace(h, status=replace(h.status, leader="0" * 16)) for a, h in etcd_healths().items()}
    assert view(leaderless).problems[0].startswith("etcd has no leader")
    assert view(leaderless).leader == ""


def test_a_control_plane_answering_but_no_member():
    healths = etcd_healths()
    members = tuple(m for m in healths[CP1].members if m.hostname != "cp-2")
    healths = {a: replace(h, members=members) for a, h in healths.items()}
    healths[CP2] = replace(healths[CP2], status=None, error="")
    assert view(healths).member("cp-2").problems == ("not an etcd member",)


def test_control_planes_not_asked_yet_are_still_their_members():
    etcd = view({CP1: etcd_healths()[CP1]})
    assert [(m.node, m.hostname, m.db_size is None) for m in etcd.members] == [
        ("cp-1", "cp-1", False),
        ("cp-2", "cp-2", True),
        ("cp-3", "cp-3", True),
    ]
    assert etcd.problems == ()


def test_before_the_bootstrap_etcd_not_answering_anywhere_is_no_problem_yet():
    silent = {a: EtcdHealth(a, error="etcd is not running") for a in (CP1, CP2, CP3)}
    before = etcd_view(PLANES, silent, answered_for=None)
    assert before.problems == () and [m.error for m in before.members] == ["etcd is not running"] * 3
    # Once it has answered, every control plane where it no longer does is a problem.
    after = etcd_view(PLANES, silent)
    assert after.problems == tuple(f"{n}: etcd does not answer: etcd is not running" for n in ("cp-1", "cp-2", "cp-3"))


def test_a_control_plane_joining_after_the_bootstrap_is_no_problem_for_a_while():
    healths = etcd_healths()
    members = tuple(m for m in healths[CP1].members if m.hostname != "cp-3")
    healths = {a: replace(h, members=members) for a, h in healths.items()}
    healths[CP3] = EtcdHealth(CP3, error="etcd is not running")
    joining = etcd_view(PLANES, healths, answered_for=JOIN_GRACE_SECONDS - 1)
    assert joining.problems == () and joining.member("cp-3").joining
    late = etcd_view(PLANES, healths, answered_for=JOIN_GRACE_SECONDS)
    assert late.problems == ("cp-3: etcd does not answer: etcd is not running",)
