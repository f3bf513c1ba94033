"""An hour, flat: the dashboard on the large simulated scenario, RSS and CPU sampled every minute.

    .venv/bin/python benchmarks/memory_flat.py [--minutes 60] [--interval 60] [--scenario large]

Starts the real command, `talos-platform dashboard --simulate --scenario SCENARIO`, in a
detached tmux session of a fixed size (a real terminal, as a user runs it), and every interval
reads from /proc the process's resident memory (VmRSS, and VmHWM, its peak) and CPU seconds
(utime + stime), with the machine's load averages. It checks the screen is live at every sample
(the pane's text changes between samples; the simulated cluster keeps changing). At the end it
prints the table and the verdict: memory flat when no sample after the settle time
(`--settle`, 5 minutes) exceeds the first sample after it by more than 5 %.

With `--tracemalloc` it instead runs the same app headless in this process (Textual's test
driver, as benchmarks/dashboard_large.py does), starts tracemalloc after the settle time and
prints where the memory allocated since then and still held was allocated (the largest growth
by traceback), at the end of `--minutes`. Tracing slows the process down; use it to find a
growth the tmux run showed, not for the figures.

Measured, never asserted; record results in docs/benchmarks.md with this command.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
GROWTH_LIMIT = 0.05


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def proc_memory_kb(pid: int) -> tuple[int, int]:
    """VmRSS and VmHWM (peak RSS) in kB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"]


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def proc_threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def find_dashboard(pane_pid: int) -> int:
    """The Python process running the dashboard: the pane's process itself (exec'd by tmux)."""
    cmdline = Path(f"/proc/{pane_pid}/cmdline").read_bytes().split(b"\0")
    if not any(b"talos-platform" in part for part in cmdline):
        raise SystemExit(f"pane process {pane_pid} is not the dashboard: {cmdline!r}")
    return pane_pid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--settle", type=float, default=5.0, help="minutes before memory is compared")
    parser.add_argument("--scenario", default="large")
    parser.add_argument("--width", type=int, default=200)
    parser.add_argument("--height", type=int, default=60)
    parser.add_argument("--out", type=Path, help="also write the table (markdown) to this file")
    parser.add_argument("--tracemalloc", action="store_true", help="headless, in process: where memory grows")
    args = parser.parse_args()
    if args.tracemalloc:
        asyncio.run(traced(args))
        return

    executable = shutil.which("talos-platform", path=str(Path(sys.executable).parent)) or "talos-platform"
    session = f"memflat-{os.getpid()}"
    command = f"exec {executable} dashboard --simulate --scenario {args.scenario}"
    tmux("new-session", "-d", "-s", session, "-x", str(args.width), "-y", str(args.height), command)
    try:
        pid = find_dashboard(int(tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip()))
        started = time.monotonic()
        rows: list[tuple[float, int, int, float, int, tuple[float, float, float], bool]] = []
        last_screen = ""
        total = args.minutes * 60
        next_at = 0.0
        while True:
            elapsed = time.monotonic() - started
            if elapsed < next_at:
                time.sleep(min(1.0, next_at - elapsed))
                continue
            if not Path(f"/proc/{pid}").exists():
                raise SystemExit(f"the dashboard exited after {elapsed / 60:.1f} min")
            rss, hwm = proc_memory_kb(pid)
            screen = tmux("capture-pane", "-p", "-t", session)
            live = screen != last_screen and screen.strip() != ""
            last_screen = screen
            rows.append((elapsed, rss, hwm, proc_cpu_seconds(pid), proc_threads(pid), os.getloadavg(), live))
            print(
                f"{elapsed / 60:6.1f} min  rss {rss / 1024:7.1f} MB  peak {hwm / 1024:7.1f} MB  "
                f"cpu {rows[-1][3]:8.1f} s  threads {rows[-1][4]}  load {' '.join(f'{x:.2f}' for x in rows[-1][5])}"
                f"  screen {'changed' if live else 'UNCHANGED'}",
                flush=True,
            )
            if elapsed >= total:
                break
            next_at += args.interval
        final_screen = last_screen
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)

    lines = report(rows, args)
    print()
    print("\n".join(lines))
    print()
    print("last screen (first 12 lines):")
    print("\n".join(final_screen.splitlines()[:12]))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


def report(rows, args) -> list[str]:
    lines = [
        f"scenario {args.scenario}, terminal {args.width}x{args.height}, {len(rows)} samples every "
        f"{args.interval:.0f} s over {rows[-1][0] / 60:.1f} min",
        "",
        "| minute | RSS MB | peak RSS MB | CPU s (total) | CPU cores (since last) | threads | load 1/5/15 "
        "| screen changed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    previous = None
    for elapsed, rss, hwm, cpu, threads, load, live in rows:
        rate = "" if previous is None else f"{(cpu - previous[1]) / max(elapsed - previous[0], 1e-9):.2f}"
        previous = (elapsed, cpu)
        lines.append(
            f"| {elapsed / 60:.1f} | {rss / 1024:.0f} | {hwm / 1024:.0f} | {cpu:.0f} | {rate} | {threads} | "
            f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} | {'yes' if live else 'no'} |"
        )
    settled = [row for row in rows if row[0] >= args.settle * 60]
    lines.append("")
    if len(settled) < 2:
        lines.append("too short to judge flatness (fewer than two samples after the settle time)")
        return lines
    base = settled[0][1]
    top = max(row[1] for row in settled)
    last = settled[-1][1]
    growth = (top - base) / base
    wall = rows[-1][0] - rows[0][0]
    cpu_cores = (rows[-1][3] - rows[0][3]) / wall if wall else 0.0
    loads = [row[5][0] for row in rows]
    verdict = "FLAT" if growth <= GROWTH_LIMIT else "NOT FLAT"
    lines.append(
        f"memory after {args.settle:.0f} min: {base / 1024:.0f} MB; highest after it {top / 1024:.0f} MB "
        f"(+{growth * 100:.1f} %), last {last / 1024:.0f} MB ({(last - base) / base * 100:+.1f} %): {verdict} "
        f"(limit +{GROWTH_LIMIT * 100:.0f} %)"
    )
    lines.append(
        f"CPU: {cpu_cores:.2f} cores on average over the run; load average (1 min) min {min(loads):.2f}, "
        f"median {sorted(loads)[len(loads) // 2]:.2f}, max {max(loads):.2f}"
    )
    return lines


async def traced(args) -> None:
    from talos_platform.engine.observe import TalosTarget
    from talos_platform.engine.sim import simulated_platform
    from talos_platform.tui.app import create_app

    platform = simulated_platform(args.scenario, speed=1.0, installed=True)
    targets = [TalosTarget.from_config(n) for n in platform.config.nodes]
    app = create_app(
        drivers=platform.drivers,
        clock=platform.clock,
        talos_targets=targets,
        simulation_note=f"benchmark {args.scenario}",
    )
    async with app.run_test(size=(args.width, args.height)) as pilot:
        await pilot.pause(args.settle * 60)
        rss_start = proc_memory_kb(os.getpid())[0]
        tracemalloc.start(8)
        first = tracemalloc.take_snapshot()
        print(f"tracing from {args.settle:g} min, RSS {rss_start / 1024:.0f} MB", flush=True)
        await pilot.pause(args.minutes * 60)
        last = tracemalloc.take_snapshot()
        rss_end = proc_memory_kb(os.getpid())[0]
        traced_now, traced_peak = tracemalloc.get_traced_memory()
    platform.close()
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    growth = last.filter_traces(ignore).compare_to(first.filter_traces(ignore), "traceback")
    print(
        f"after {args.minutes:g} min more: RSS {rss_end / 1024:.0f} MB ({(rss_end - rss_start) / 1024:+.0f} MB); "
        f"allocated since tracing started and still held: {traced_now / 1024 / 1024:.1f} MB "
        f"(peak {traced_peak / 1024 / 1024:.1f} MB)"
    )
    print("largest growth by where it was allocated (innermost frame last):")
    for stat in [s for s in growth if s.size_diff > 0][:12]:
        print(f"\n{stat.size_diff / 1024:+.0f} KiB in {stat.count_diff:+d} blocks")
        for line in stat.traceback.format()[-8:]:
            print(f"    {line}")


if __name__ == "__main__":
    main()
