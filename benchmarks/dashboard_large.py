"""Dashboard benchmark on the large simulated scenario (200 nodes, ~10,000 pods, 1,000 apps,
5,000 flows/s).

    .venv/bin/python benchmarks/dashboard_large.py [--seconds 30] [--scenario large]

Runs the real app headless (Textual's test driver renders every frame to an off-screen buffer)
with the simulator paced at real time, and measures:
- change to screen: from the first cluster change the observer took in for a snapshot to the
  end of the screen refresh that shows it (p50/p95/max);
- key to screen: from a key press to the end of the first screen refresh after its action
  (p50/p95/max); also the time `Pilot.press` takes, which adds the test driver's wait for
  the process to look idle;
- CPU of the whole process over the run (cores), and per thread: UI versus engine (the engine
  thread also runs the simulated cluster, which a real dashboard does not);
- peak memory (max RSS) of the process, and what the simulated cluster alone took before the
  app started.
Measured, never asserted; record results in docs/benchmarks.md with this command.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import threading
import time

from textual.app import App
from textual.screen import Screen

from talos_platform.engine.observe import Observer, TalosTarget
from talos_platform.engine.sim import simulated_platform
from talos_platform.tui.app import create_app

KEYS = ["3", "down", "down", "up", "4", "p", "p", "z", "escape", "1", "down", "question_mark", "escape", "2", "down"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds(native_id: int) -> float:
    with open(f"/proc/self/task/{native_id}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def summary(name: str, values: list[float]) -> str:
    if not values:
        return f"| {name} | no samples | | | |"
    ms = [v * 1000 for v in values]
    return f"| {name} | {len(ms)} | {statistics.median(ms):.0f} ms | {percentile(ms, 0.95):.0f} ms | {max(ms):.0f} ms |"


class KeyClock:
    """When a key's action finished, and when the screen refresh after it finished.

    `Pilot.press` returns only once the process looks idle (its CPU time stops advancing),
    which with the simulator running in the same process adds tens of milliseconds that no
    user sees. This measures from the press to the end of the first screen refresh that
    follows the key's action (or to the action's end if nothing needed redrawing)."""

    def __init__(self) -> None:
        self.action_done: float | None = None
        self.refreshes: list[float] = []

    def install(self) -> None:
        clock = self
        original_dispatch, original_refresh = App._dispatch_action, Screen._compositor_refresh

        async def dispatch_action(app, *args, **kwargs):
            try:
                return await original_dispatch(app, *args, **kwargs)
            finally:
                clock.action_done = time.perf_counter()

        def compositor_refresh(screen) -> None:
            original_refresh(screen)
            if screen.app.screen is screen:  # a refresh of a screen being left or covered shows nothing new
                clock.refreshes.append(time.perf_counter())

        App._dispatch_action = dispatch_action
        Screen._compositor_refresh = compositor_refresh

    def start(self) -> None:
        self.action_done = None
        self.refreshes.clear()

    def response(self, pressed: float) -> float | None:
        if self.action_done is None:
            return None
        drawn = next((t for t in self.refreshes if t >= self.action_done), self.action_done)
        return drawn - pressed


class ChangeClock:
    """Remembers, per published snapshot, when the first change it contains arrived."""

    def __init__(self) -> None:
        self.pending_since: float | None = None
        self.since_by_generation: dict[int, float] = {}

    def install(self) -> None:
        clock = self
        original_mark, original_snapshot = Observer.mark_changed, Observer.snapshot

        def mark_changed(observer: Observer) -> None:
            if clock.pending_since is None:
                clock.pending_since = time.perf_counter()
            original_mark(observer)

        def snapshot(observer: Observer):
            since, clock.pending_since = clock.pending_since, None
            taken = original_snapshot(observer)
            if since is not None:
                clock.since_by_generation[taken.generation] = since
            return taken

        Observer.mark_changed = mark_changed
        Observer.snapshot = snapshot


async def run(seconds: float, scenario: str, size: tuple[int, int]) -> None:
    changes = ChangeClock()
    changes.install()
    keys = KeyClock()
    keys.install()
    started = time.perf_counter()
    platform = simulated_platform(scenario, speed=1.0, installed=True)
    built = time.perf_counter() - started
    rss_sim_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    targets = [TalosTarget.from_config(n) for n in platform.config.nodes]
    app = create_app(
        drivers=platform.drivers, clock=platform.clock, talos_targets=targets, simulation_note=f"benchmark {scenario}"
    )

    latencies: list[float] = []
    drawn = {"count": 0}
    original_show = app.show_snapshot

    def show_snapshot(snapshot) -> None:
        original_show(snapshot)
        since = changes.since_by_generation.pop(snapshot.generation, None)
        drawn["count"] += 1
        if since is not None:
            app.call_after_refresh(lambda: latencies.append(time.perf_counter() - since))

    app.show_snapshot = show_snapshot
    key_times: list[float] = []
    per_key: dict[str, list[float]] = {}
    per_key_cpu: dict[str, list[float]] = {}
    key_drawn: list[float] = []
    per_key_drawn: dict[str, list[float]] = {}
    async with app.run_test(size=size) as pilot:
        for _ in range(600):  # warm-up: wait for the whole cluster on screen
            snapshot = app.cluster_view.snapshot
            # ... and for the one-time collection and freeze of the loaded heap (tui/heap.py), a
            # pause of about half a second when the cluster first appears, not measured here.
            if (
                snapshot is not None
                and len(snapshot.nodes) >= len(targets)
                and snapshot.pod_total > 1000
                and snapshot.flows.total_flows
                and getattr(getattr(app, "heap", None), "freezes", 1)
            ):
                break
            await pilot.pause(0.1)
        else:
            raise SystemExit("the cluster never appeared on screen")
        warm = app.cluster_view.snapshot
        latencies.clear()
        engine_thread = app.engine._thread
        ui_thread = threading.main_thread()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        engine0, ui0 = thread_cpu_seconds(engine_thread.native_id), thread_cpu_seconds(ui_thread.native_id)
        key_index = 0
        while time.perf_counter() - wall0 < seconds:
            key = KEYS[key_index % len(KEYS)]
            key_index += 1
            keys.start()
            pressed, pressed_cpu = time.perf_counter(), time.thread_time()
            await pilot.press(key)
            key_times.append(time.perf_counter() - pressed)
            answered = keys.response(pressed)
            if answered is not None:
                key_drawn.append(answered)
                per_key_drawn.setdefault(key, []).append(answered)
            per_key.setdefault(key, []).append(key_times[-1])
            per_key_cpu.setdefault(key, []).append(time.thread_time() - pressed_cpu)
            await pilot.pause(0.4)
        wall = time.perf_counter() - wall0
        cpu = (time.process_time() - cpu0) / wall
        engine_cpu = (thread_cpu_seconds(engine_thread.native_id) - engine0) / wall
        ui_cpu = (thread_cpu_seconds(ui_thread.native_id) - ui0) / wall
        last = app.cluster_view.snapshot
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    platform.close()

    print(
        f"scenario {scenario}: {len(last.nodes)} nodes, {last.pod_total} pods, {len(last.apps)} apps, "
        f"{last.flows.flows_per_second:,.0f} flows/s (simulator built in {built:.1f} s); measured {wall:.0f} s, "
        f"terminal {size[0]}x{size[1]}, {drawn['count']} snapshots drawn"
    )
    print()
    print("| measure | samples | p50 | p95 | max |")
    print("|---|---|---|---|---|")
    print(summary("change to screen", latencies))
    print(summary("key to screen", key_drawn))
    print(summary("key, Pilot.press", key_times))
    print(
        "key to screen, medians: "
        + ", ".join(f"{k} {statistics.median(v) * 1000:.0f} ms" for k, v in per_key_drawn.items())
    )
    print(
        "key, Pilot.press, medians: "
        + ", ".join(f"{k} {statistics.median(v) * 1000:.0f} ms" for k, v in per_key.items())
    )
    # UI-thread CPU while a key is handled: the work itself, apart from waiting for a core on a
    # busy machine (it includes any snapshot drawn meanwhile).
    print(
        "key medians, UI-thread CPU: "
        + ", ".join(f"{k} {statistics.median(v) * 1000:.0f} ms" for k, v in per_key_cpu.items())
    )
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}")
    print()
    print(
        f"CPU: {cpu:.2f} cores for the process (UI thread {ui_cpu:.2f}, engine thread {engine_cpu:.2f} incl. the "
        "simulator)"
    )
    print(
        f"peak memory: {peak_mb:.0f} MB max RSS (the simulated cluster alone: {rss_sim_mb:.0f} MB before the app "
        "started)"
    )
    del warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--scenario", default="large")
    parser.add_argument("--width", type=int, default=200)
    parser.add_argument("--height", type=int, default=60)
    args = parser.parse_args()
    asyncio.run(run(args.seconds, args.scenario, (args.width, args.height)))


if __name__ == "__main__":
    main()
