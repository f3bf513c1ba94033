"""Scenarios slow-api and disk-full on the simulated platform: the observer (the dashboard's data)
and `status --live` name a slow API and a full disk, read through the same code as on a real
cluster (round trips timed in the observer, `/metrics` parsed, kubelet stats through the node proxy)."""

from __future__ import annotations

import asyncio
import json
import math

from talos_platform.engine.observe.observer import Observer
from talos_platform.engine.sim import simulated_platform


async def observe(scenario: str, *moments: float):
    """Snapshots of the installed platform at each virtual moment (seconds after the start)."""
    platform = simulated_platform(scenario, speed=math.inf, installed=True)
    observer = Observer(platform.drivers, platform.clock, min_interval=1.0, talos_interval=5.0)
    snapshots = []
    observer.subscribe(snapshots.append)
    task = asyncio.ensure_future(observer.run())
    taken, elapsed = [], 0.0
    for moment in moments:
        await platform.clock.sleep(moment - elapsed)
        elapsed = moment
        taken.append(snapshots[-1])
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    platform.close()
    return taken


async def test_slow_api_is_named_by_round_trips_and_by_the_servers_histogram_before_any_outage():
    before, during = await observe("slow-api", 15, 90)
    assert before.api.round_trip_p99 is not None and before.api.round_trip_p99 < 0.2
    assert before.api.metrics == "" and all(v.p99_seconds < 0.2 for v in before.api.verbs)
    # About 2.5 s a request (+/-40%): p50 and p99 in that range, the server's GET p99 slow too.
    assert 1.5 <= during.api.round_trip_p50 <= 3.5 and 2.0 <= during.api.round_trip_p99 <= 3.5
    get = next(v for v in during.api.verbs if v.verb == "GET")
    assert get.p99_seconds >= 1.0 and not during.api.since_start
    assert not during.kube_error and all(n.ready for n in during.nodes)  # slow, not down


async def test_disk_full_shows_each_nodes_filesystem_and_the_kubelets_disk_pressure():
    before, after = await observe("disk-full", 10, 40)
    assert all(n.disk_percent is not None and n.disk_percent < 50 for n in before.nodes)
    disks = {n.name: round(n.disk_percent) for n in after.nodes}
    assert disks["worker-2"] == 97 and disks["worker-1"] == 85
    assert all(15 <= percent <= 45 for name, percent in disks.items() if name not in ("worker-1", "worker-2"))
    conditions = {n.name: {t for t, status, _ in n.conditions if status == "True"} for n in after.nodes}
    assert "DiskPressure" in conditions["worker-2"] and "DiskPressure" not in conditions["worker-1"]
    assert all(n.ready for n in after.nodes)


def test_status_live_reports_a_slow_api_and_is_not_healthy(capsys):
    from talos_platform.main import main

    code = main(["status", "--live", "--simulated", "--scenario", "slow-api", "--after", "60"])
    out = capsys.readouterr().out
    assert code == 1
    assert "API round trip: p50 " in out and "API server p99 by verb (since the API server started): " in out
    assert "the Kubernetes API is slow: round trip p99 " in out
    assert out.rstrip().endswith("NOT healthy")


def test_status_live_json_names_a_full_disk(capsys):
    from talos_platform.main import main

    main(["status", "--live", "--simulated", "--scenario", "disk-full", "--after", "30", "--output", "json"])
    data = json.loads(capsys.readouterr().out)
    worker = next(n for n in data["nodes"] if n["name"] == "worker-2")
    assert worker["disk_capacity_bytes"] > 0 and worker["disk_used_bytes"] / worker["disk_capacity_bytes"] > 0.96
    assert data["api"]["metrics"] == "" and data["api_slow"] == ""


def test_status_live_text_lists_the_nodes_with_a_full_disk(capsys):
    from talos_platform.main import main

    main(["status", "--live", "--simulated", "--scenario", "disk-full", "--after", "30"])
    out = capsys.readouterr().out
    assert "  worker-2 (" in out and "disk 97% full, DiskPressure" in out
    assert "disk 85% full" in out and "disk use unknown" not in out
