"""A simulated install recorded to the end, for snapshots of states that only a real run reaches
(a step failed early on what the cluster showed): the events InstallSession sent and the last
snapshot the observer took alongside. The simulator is deterministic (scenario, seed, virtual
time), so the state recorded is the same on every run."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

from talos_platform.engine.observe import ClusterSnapshot, Observer, TalosTarget
from talos_platform.engine.run.events import Event
from talos_platform.engine.session import InstallSession
from talos_platform.engine.sim import simulated_platform
from talos_platform.engine.state import StateDirectory
from talos_platform.tui.install_state import InstallProgress


async def record_install(scenario: str, state: Path) -> tuple[InstallProgress, ClusterSnapshot]:
    """Run the scenario's install against the simulator (state kept under `state`) with the
    observer watching; the install screen's progress at the end, and the observer's last snapshot."""
    platform = simulated_platform(scenario, speed=math.inf)
    observer = Observer(
        platform.drivers, platform.clock, talos_targets=[TalosTarget.from_config(n) for n in platform.config.nodes]
    )
    snapshots: list[ClusterSnapshot] = []
    observer.subscribe(snapshots.append)
    watching = asyncio.create_task(observer.run())
    events: list[Event] = []
    try:
        session = InstallSession(
            platform.config, platform.secrets, StateDirectory(state), platform.drivers, platform.clock
        )
        session.subscribe(events.append)
        await session.run()
    finally:
        watching.cancel()
        platform.close()
    progress = InstallProgress((s.id, s.layer, s.title) for s in session.plan)
    for event in events:
        progress.apply(event)
    return progress, snapshots[-1]
