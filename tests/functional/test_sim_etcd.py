"""etcd health on the simulated platform, read by the dashboard's own observe code and by
`status --live`: the etcd-alarm scenario (cp-1's database at 95% of its quota with a NOSPACE
alarm, cp-3 a learner that is never promoted) against a healthy default cluster."""

from __future__ import annotations

import asyncio
import json
import math

from support.waits import wait_for

from talos_platform.engine.observe import TalosTarget
from talos_platform.engine.observe.etcd import LEARNER_GRACE_SECONDS
from talos_platform.engine.observe.observer import Observer
from talos_platform.engine.sim import simulated_platform
from talos_platform.tui.app import create_app


async def observed(scenario: str, *moments: float, change=None):
    """The observer's latest snapshot at each virtual moment (`change(platform)` first)."""
    platform = simulated_platform(scenario, speed=math.inf, installed=True)
    if change is not None:
        change(platform)
    targets = [TalosTarget.from_config(n) for n in platform.config.nodes]
    observer = Observer(platform.drivers, platform.clock, talos_targets=targets, min_interval=1.0, talos_interval=5.0)
    snapshots = []
    observer.subscribe(snapshots.append)
    task = asyncio.ensure_future(observer.run())
    taken = []
    elapsed = 0.0
    for moment in moments:
        await platform.clock.sleep(moment - elapsed)
        elapsed = moment
        taken.append(snapshots[-1])
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    platform.close()
    return taken


async def test_a_healthy_cluster_has_three_members_a_leader_and_no_etcd_problem():
    (snapshot,) = await observed("default", 30)
    etcd = snapshot.etcd
    assert etcd.problems == () and etcd.leader == "cp-1"
    assert [(m.node, m.hostname, bool(m.member_id), m.learner) for m in etcd.members] == [
        ("cp-1", "cp-1", True, False),
        ("cp-2", "cp-2", True, False),
        ("cp-3", "cp-3", True, False),
    ]
    assert all(m.db_size and m.db_size < 0.1 * m.quota_bytes for m in etcd.members)
    assert sorted(m.raft_lag for m in etcd.members) == [0, 1, 2]  # followers in the order they joined


async def test_the_alarm_and_the_full_database_show_at_once_and_the_learner_once_it_stays_one():
    early, late = await observed("etcd-alarm", 30, 30 + LEARNER_GRACE_SECONDS + 10)
    cp1 = early.etcd.member("cp-1")
    assert cp1.alarms == ("NOSPACE",) and cp1.leader
    assert [p.split(":")[0] for p in early.etcd.problems] == ["cp-1", "cp-1"]
    assert "etcd alarm NOSPACE" in early.etcd.problems[0]
    assert "of its 2.0 GiB quota (etcd's default)" in early.etcd.problems[1]
    assert early.etcd.member("cp-3").learner and early.etcd.member("cp-3").problems == ()
    assert late.etcd.member("cp-3").problems[0].startswith("still an etcd learner after")
    assert len(late.etcd.problems) == 3


async def test_a_member_missing_on_a_running_cluster_is_a_problem_from_the_first_reading():
    def cp3_gone(platform):
        platform.model.etcd_members.remove("cp-3")

    (snapshot,) = await observed("default", 10, change=cp3_gone)
    assert snapshot.etcd.problems == (
        "cp-3: etcd does not answer: rpc error: code = Unavailable desc = etcd is not running on this node",
    )


async def test_an_install_shows_no_etcd_problem_before_and_while_the_control_planes_join(tmp_path):
    """The observer sees etcd come up at the bootstrap: the others' etcd waiting to join is no problem."""
    from talos_platform.engine.session import InstallSession
    from talos_platform.engine.state import StateDirectory

    platform = simulated_platform("default", speed=math.inf)
    session = InstallSession(
        platform.config, platform.secrets, StateDirectory(tmp_path / "state"), platform.drivers, platform.clock
    )
    targets = [TalosTarget.from_config(n) for n in platform.config.nodes]
    observer = Observer(platform.drivers, platform.clock, talos_targets=targets, min_interval=1.0, talos_interval=5.0)
    snapshots = []
    observer.subscribe(snapshots.append)
    task = asyncio.ensure_future(observer.run())
    assert await session.run() == "succeeded"
    await platform.clock.sleep(10)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    platform.close()
    assert any(s.etcd.member("cp-3") and s.etcd.member("cp-3").joining for s in snapshots)
    assert all(s.etcd.problems == () for s in snapshots)
    assert [m.node for m in snapshots[-1].etcd.members if m.member_id] == ["cp-1", "cp-2", "cp-3"]


def test_status_live_reports_etcd_problems_and_fails(capsys):
    from talos_platform.main import main

    assert main(["status", "--live", "--simulated", "--scenario", "etcd-alarm"]) == 1
    printed = capsys.readouterr().out
    assert "etcd: 3 members, leader cp-1, 2 problems" in printed
    assert "  cp-1: etcd alarm NOSPACE: the database is full" in printed
    assert "  cp-3: etcd learner (not promoted yet; the dashboard counts one that stays)" in printed
    assert printed.rstrip().endswith("NOT healthy")
    assert main(["status", "--live", "--simulated", "--scenario", "etcd-alarm", "--output", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["healthy"] is False and len(data["etcd"]["problems"]) == 2
    assert main(["status", "--live", "--simulated", "--scenario", "default"]) == 0
    assert "etcd: 3 members, leader cp-1\n" in capsys.readouterr().out


async def test_the_nodes_pane_shows_the_etcd_column_and_counts_the_problems():
    platform = simulated_platform("etcd-alarm", speed=50, installed=True)
    app = create_app(
        drivers=platform.drivers,
        clock=platform.clock,
        talos_targets=[TalosTarget.from_config(n) for n in platform.config.nodes],
        simulation_note="etcd-alarm",
        cluster_name=platform.config.cluster.name,
        kube_context="simulated",
    )
    async with app.run_test(size=(200, 50)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.snapshot is not None and screen.snapshot.etcd.available, timeout=60)
        content = screen.pane("nodes").content
        assert content is not None and content.columns[-1] == "etcd"
        cells = {row.key: row.cells[-1].plain for row in content.rows}
        assert cells["node:cp-1"].startswith("✗ NOSPACE leader 1.9 GiB 95%")
        assert cells["node:cp-2"].startswith("✓ member")
        assert cells["node:worker-1"] == ""
        assert "✗ 2 etcd problems" in content.summary.plain
        assert "etcd: cp-1 alarm NOSPACE · cp-1 database 1.9 GiB of its 2.0 GiB quota" in content.summary.plain
