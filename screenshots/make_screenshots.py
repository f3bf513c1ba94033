"""Render the real screens, fed by the simulated platform, to SVG files in this folder.

    .venv/bin/python screenshots/make_screenshots.py [--out DIR] [--only NAME ...]

Every picture comes from a real run on the simulator (fixed scenarios and seeds): an install
recorded through InstallSession with the observer watching, an installed platform observed
for a while, or a Talos upgrade run after an install, its journal read by the rollout strip as
a dashboard in another terminal reads it. The recorded state is then shown by the same app the
`dashboard` command runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from textual.pilot import Pilot

from talos_platform.engine.observe import ClusterSnapshot, Observer, TalosTarget
from talos_platform.engine.operations import operation_named
from talos_platform.engine.run.events import Event, RunStarted, StepOutput, StepStarted
from talos_platform.engine.run.journal import Journal
from talos_platform.engine.run.rollout import RolloutReader
from talos_platform.engine.session import InstallSession, OperationSession
from talos_platform.engine.sim import SimulatedPlatform, simulated_platform
from talos_platform.engine.state import StateDirectory
from talos_platform.tui.app import LIGHT, create_app
from talos_platform.tui.feed import ObjectDetails, read_pod_details
from talos_platform.tui.install_state import InstallProgress
from talos_platform.tui.screens.detail import DetailScreen

ONLY: set[str] = set()
"""The pictures to write (file names without `.svg`); empty: all of them."""
SIZE = (160, 48)
SMALL = (80, 24)
HERE = Path(__file__).resolve().parent
CLUSTER = "homelab"
"""The cluster of every scenario pictured here, for the header line."""


def dashboard(snapshot: ClusterSnapshot, note: str, **options):
    return create_app(
        snapshot=snapshot, simulation_note=note, cluster_name=CLUSTER, kube_context="simulated", **options
    )


def burst_middle(scenario: str) -> float:
    """Seconds after the hand-over to the middle of the scenario's first drop burst (a healthy
    cluster drops nothing: the drops pictured are the burst's)."""
    from talos_platform.engine.sim.scenarios import DropBurst, load_scenario

    burst = load_scenario(scenario)[0].fault(DropBurst)[0]
    return burst.start + burst.duration / 2


@contextlib.asynccontextmanager
async def installed_platform(
    scenario: str, seconds: float = 30.0, seed: int | None = None
) -> AsyncIterator[tuple[ClusterSnapshot, str, SimulatedPlatform]]:
    """An installed simulated platform watched for `seconds` of its time: the last snapshot, and
    the platform itself (its drivers serve the logs, describe and YAML views) until the block ends."""
    platform = simulated_platform(scenario, seed=seed, speed=math.inf, installed=True)
    observer = Observer(
        platform.drivers, platform.clock, talos_targets=[TalosTarget.from_config(n) for n in platform.config.nodes]
    )
    seen: list[ClusterSnapshot] = []
    observer.subscribe(seen.append)
    task = asyncio.create_task(observer.run())
    await platform.clock.sleep(seconds)
    task.cancel()
    assert platform.config.cluster.name == CLUSTER, "the header line would name another cluster"
    try:
        yield seen[-1], f"scenario {platform.scenario.name}, seed {platform.seed}", platform
    finally:
        platform.close()


async def observe_installed(
    scenario: str, seconds: float = 30.0, seed: int | None = None
) -> tuple[ClusterSnapshot, str, ObjectDetails | None]:
    """Watch an installed simulated platform for `seconds` of its time; the last snapshot, and
    the conditions and events of the worst pod (read through the drivers, as the app does)."""
    async with installed_platform(scenario, seconds, seed) as (snapshot, note, platform):
        details = None
        if snapshot.pod_problems:
            worst = snapshot.pod_problems[0]
            details = await read_pod_details(platform.drivers, worst.namespace, worst.name)
    return snapshot, note, details


def scenario_outlook(scenario: str) -> Callable[[float], str]:
    """What the scenario's timed faults are about to do, by virtual time (the banner's text), as
    its installed platform schedules them (the same times as `observe_installed` sees)."""
    platform = simulated_platform(scenario, speed=math.inf, installed=True)
    outlook: Callable[[float], str] = platform.drivers.extra["fault_outlook"]
    platform.close()
    return outlook


async def record_install(scenario: str, stop_before: str | None = None) -> tuple[InstallProgress, ClusterSnapshot, str]:
    """Run a simulated install with the observer alongside. With `stop_before`, the state is
    cut at the moment that step started (events after it are left out); otherwise the end,
    with what the install screen says after success."""
    platform = simulated_platform(scenario, speed=math.inf)
    observer = Observer(
        platform.drivers, platform.clock, talos_targets=[TalosTarget.from_config(n) for n in platform.config.nodes]
    )
    events: list[Event] = []
    snapshots: list[tuple[int, ClusterSnapshot]] = []
    observer.subscribe(lambda snapshot: snapshots.append((len(events), snapshot)))
    watching = asyncio.create_task(observer.run())
    # A fixed state path, so the pictures (hints name state files) are the same every time.
    state = Path(tempfile.gettempdir()) / "talos-platform-screenshots" / scenario
    shutil.rmtree(state, ignore_errors=True)
    try:
        session = InstallSession(
            platform.config, platform.secrets, StateDirectory(state), platform.drivers, platform.clock
        )
        session.subscribe(events.append)
        await session.run()
    finally:
        shutil.rmtree(state, ignore_errors=True)
    watching.cancel()
    platform.close()
    cut = len(events)
    if stop_before:
        cut = next(i for i, e in enumerate(events) if isinstance(e, StepStarted) and e.step_id == stop_before) + 4
    progress = InstallProgress((s.id, s.layer, s.title) for s in session.plan)
    for event in events[:cut]:
        progress.apply(event)
    if progress.outcome == "succeeded":
        progress.notes = tuple(session.operation.notes(session.config, session.state, simulated=session.simulated))
    snapshot = [s for index, s in snapshots if index <= cut][-1]
    return progress, snapshot, f"scenario {platform.scenario.name}, seed {platform.seed}"


UPGRADE_TO = "v1.14.2"
UPGRADE_RUN_ID = "20260101T120000000000Z-5e1f2a"
"""A fixed run id (it carries the start time the strip counts from), so the picture is the same every time."""


async def record_upgrade(scenario: str, cut_at_line: str) -> tuple[list[Event], ClusterSnapshot, str]:
    """Install on the simulator, then run `upgrade-talos --to UPGRADE_TO` with the observer
    alongside; the events up to the output line `cut_at_line`, and the last snapshot before it."""
    platform = simulated_platform(scenario, speed=math.inf)
    observer = Observer(
        platform.drivers, platform.clock, talos_targets=[TalosTarget.from_config(n) for n in platform.config.nodes]
    )
    events: list[Event] = []
    snapshots: list[tuple[int, ClusterSnapshot]] = []
    state = Path(tempfile.gettempdir()) / "talos-platform-screenshots" / f"{scenario}-upgrade"
    shutil.rmtree(state, ignore_errors=True)
    try:
        directory = StateDirectory(state)
        install = InstallSession(platform.config, platform.secrets, directory, platform.drivers, platform.clock)
        assert await install.run() == "succeeded", "the install before the upgrade failed"
        observer.subscribe(lambda snapshot: snapshots.append((len(events), snapshot)))
        watching = asyncio.create_task(observer.run())
        upgrade = OperationSession(
            operation_named("upgrade-talos"),
            platform.config,
            platform.secrets,
            directory,
            platform.drivers,
            platform.clock,
            options={"to": UPGRADE_TO},
            resume_command=f"talos-platform upgrade-talos --to {UPGRADE_TO}",
        )
        upgrade.subscribe(events.append)
        assert await upgrade.run() == "succeeded", "the upgrade failed"
    finally:
        shutil.rmtree(state, ignore_errors=True)
    watching.cancel()
    platform.close()
    cut = next(i for i, e in enumerate(events) if isinstance(e, StepOutput) and e.line == cut_at_line) + 1
    snapshot = [s for index, s in snapshots if index <= cut][-1]
    return events[:cut], snapshot, f"scenario {platform.scenario.name}, seed {platform.seed}"


@contextmanager
def upgrade_in_another_terminal(events: list[Event], snapshot: ClusterSnapshot) -> Iterator[RolloutReader]:
    """A state directory holding the recorded upgrade's journal as far as it got, its lock held
    as the upgrade's process holds it: what a dashboard opened beside a running upgrade reads."""
    folder = Path(tempfile.mkdtemp(prefix="talos-platform-rollout-"))
    try:
        state = StateDirectory(folder)
        state.ensure()
        with Journal(state.runs, run_id=UPGRADE_RUN_ID) as journal:
            for event in events:
                if isinstance(event, RunStarted):
                    event = replace(event, run_id=UPGRADE_RUN_ID)
                journal.append(event)
        started = datetime.strptime(UPGRADE_RUN_ID.split("-")[0], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
        # Ages as the run's own clock counts them: simulated seconds since it started.
        elapsed = snapshot.taken_at - events[0].at
        with state.lock(holder="upgrade-talos"):
            yield RolloutReader(state, now=lambda: started.timestamp() + elapsed)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def save(
    app,
    path: Path,
    press: tuple[str, ...] = (),
    screen=None,
    size: tuple[int, int] = SIZE,
    then: Callable[[Pilot], Awaitable[None]] | None = None,
) -> None:
    """`then` finishes what the keys started (a view that reads from the cluster first)."""
    if ONLY and path.stem not in ONLY:
        return
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        if press:
            await pilot.press(*press)
            await pilot.pause()
        if screen is not None:
            await app.push_screen(screen)
            await pilot.pause()
        if then is not None:
            await then(pilot)
        await settled(pilot)
        app.save_screenshot(path.name, str(path.parent))
    print(f"wrote {path}")


async def settled(pilot: Pilot, beat: float = 0.1, timeout: float = 20.0) -> None:
    """Let the app run until two pictures a beat apart are the same. Layout settles in callbacks
    after idle (a table's scrollbars once its size is measured, wrapped columns, the scroll to the
    cursor): a picture taken after a fixed pause caught it half done on some runs and not others."""
    previous = None
    for _ in range(int(timeout / beat)):
        await pilot.pause(beat)
        picture = pilot.app.export_screenshot()
        if picture == previous:
            return
        previous = picture
    raise RuntimeError("the screen kept changing: no steady picture to take")


def wanted(*names: str) -> bool:
    """Whether any of these pictures is to be written (every picture without --only)."""
    return not ONLY or bool(ONLY.intersection(names))


async def until(pilot: Pilot, condition: Callable[[], object], timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise RuntimeError("the screen did not get there in time")


async def object_view_read(pilot: Pilot) -> None:
    await until(pilot, lambda: getattr(pilot.app.screen, "object_view", None) is not None)


async def log_read(pilot: Pilot) -> None:
    """The container chooser (a pod with several containers) takes the first; then the lines."""
    await until(pilot, lambda: type(pilot.app.screen).__name__ in ("ContainerChooser", "LogScreen"))
    if type(pilot.app.screen).__name__ == "ContainerChooser":
        await pilot.press("enter")
    await until(pilot, lambda: getattr(pilot.app.screen, "lines", None))


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if wanted("install-in-progress", "install-80x24"):
        progress, snapshot, note = await record_install("default", stop_before="L2.wave-98")
        await save(
            create_app("install", progress=progress, snapshot=snapshot, simulation_note=note),
            out / "install-in-progress.svg",
        )
        await save(
            create_app("install", progress=progress, snapshot=snapshot, simulation_note=note),
            out / "install-80x24.svg",
            size=SMALL,
        )

    if wanted("install-succeeded"):
        progress, snapshot, note = await record_install("default")
        await save(
            create_app("install", progress=progress, snapshot=snapshot, simulation_note=note),
            out / "install-succeeded.svg",
        )

    if wanted("install-failed"):
        progress, snapshot, note = await record_install("node-stuck-in-maintenance")
        await save(
            create_app("install", progress=progress, snapshot=snapshot, simulation_note=note),
            out / "install-failed.svg",
        )

    if wanted("install-failed-degraded"):
        # Wave -98 fails once cert-manager has been Degraded for the grace, not after its timeout.
        progress, snapshot, note = await record_install("app-degraded")
        await save(
            create_app("install", progress=progress, snapshot=snapshot, simulation_note=note),
            out / "install-failed-degraded.svg",
        )

    if wanted("dashboard-healthy", "dashboard-light", "help"):
        snapshot, note, _ = await observe_installed("default")
        await save(dashboard(snapshot, note), out / "dashboard-healthy.svg")
        await save(dashboard(snapshot, note, theme=LIGHT), out / "dashboard-light.svg")
        await save(dashboard(snapshot, note), out / "help.svg", press=("question_mark",))

    if wanted("dashboard-faults", "pod-detail"):
        snapshot, note, details = await observe_installed("app-degraded")
        await save(dashboard(snapshot, note), out / "dashboard-faults.svg")
        worst = snapshot.pod_problems[0]
        detail = DetailScreen(f"pod:{worst.namespace}/{worst.name}", snapshot, details=details)
        await save(dashboard(snapshot, note), out / "pod-detail.svg", press=("3",), screen=detail)

    if wanted("banner-fault-coming", "dashboard-80x24"):
        # Five seconds in, all still healthy: the banner says what is about to happen, and when.
        snapshot, note, _ = await observe_installed("node-down", seconds=5)
        await save(
            dashboard(snapshot, note, fault_outlook=scenario_outlook("node-down")), out / "banner-fault-coming.svg"
        )
        # A small terminal: one pane at a time, Pod health with its Problem column.
        await save(dashboard(snapshot, note), out / "dashboard-80x24.svg", press=("3",), size=SMALL)

    if wanted("pod-logs", "pod-describe", "pod-yaml"):
        # The crash-looping pod's log, describe and YAML (k9s' l, d, y), read from the simulator.
        async with installed_platform("crash-loop") as (snapshot, note, platform):
            views = (
                ("l", "pod-logs", log_read),
                ("d", "pod-describe", object_view_read),
                ("y", "pod-yaml", object_view_read),
            )
            for key, name, read in views:
                app = dashboard(snapshot, note, object_drivers=platform.drivers)
                await save(app, out / f"{name}.svg", press=("3", key), then=read)

    if wanted("flows-filtered"):
        snapshot, note, _ = await observe_installed("policy-drops", seconds=burst_middle("policy-drops"))
        await save(
            dashboard(snapshot, note),
            out / "flows-filtered.svg",
            press=("4", "slash", *"verdict:dropped", "enter", "z"),
        )

    if wanted("dashboard-stale"):
        # The API has been away for 15 s (it goes 60 s after the start): stale panes, the header.
        snapshot, note, _ = await observe_installed("api-flap", seconds=75)
        await save(dashboard(snapshot, note), out / "dashboard-stale.svg")

    if wanted("nodes-pressure"):
        snapshot, note, _ = await observe_installed("pressure")
        await save(dashboard(snapshot, note), out / "nodes-pressure.svg", press=("1", "z"))

    if wanted("api-slow"):
        # Slow for a minute (it slows 20 s after the start): the header names it, nothing is down.
        snapshot, note, _ = await observe_installed("slow-api", seconds=80)
        await save(dashboard(snapshot, note), out / "api-slow.svg")

    if wanted("nodes-disk-full"):
        snapshot, note, _ = await observe_installed("disk-full")
        await save(dashboard(snapshot, note), out / "nodes-disk-full.svg", press=("1", "z"))

    if wanted("nodes-etcd-alarm"):
        # cp-1's etcd raised NOSPACE near its quota; cp-3 has stayed a learner past the grace time.
        snapshot, note, _ = await observe_installed("etcd-alarm", seconds=150)
        await save(dashboard(snapshot, note), out / "nodes-etcd-alarm.svg", press=("1", "z"))

    if wanted("rollout-talos-upgrade"):
        # A Talos upgrade run in another terminal: cp-1 done, cp-2 rebooting into the new version.
        events, snapshot, note = await record_upgrade("default", cut_at_line=f"cp-2: rebooting into {UPGRADE_TO}")
        with upgrade_in_another_terminal(events, snapshot) as rollout:
            await save(dashboard(snapshot, note, rollout=rollout), out / "rollout-talos-upgrade.svg", press=("1", "z"))

    if wanted("alerts-storm"):
        # The storm starts 30 s after the hand-over: its alerts, worst first, the silenced counted.
        snapshot, note, _ = await observe_installed("alert-storm", seconds=60)
        await save(dashboard(snapshot, note), out / "alerts-storm.svg", press=("5", "z"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument(
        "--only", nargs="+", default=[], metavar="NAME", help="write only these pictures (e.g. install-in-progress)"
    )
    arguments = parser.parse_args()
    ONLY.update(arguments.only)
    asyncio.run(main(arguments.out))
