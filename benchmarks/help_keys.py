"""Key to screen for `?` (help opens) and Esc (help closes) in a real terminal, on the large scenario.

    .venv/bin/python benchmarks/help_keys.py [--presses 20] [--scenario large] [--width 200 --height 50]
    .venv/bin/python benchmarks/help_keys.py --package-tree DIR   # another checkout's code, same venv

Starts the real command, `talos-platform dashboard --simulate --scenario SCENARIO`, alone in a
detached tmux session of the given size, waits until the cluster is on screen and has settled
(`--settle` seconds: the one-time heap freeze runs in between), then presses `?` and Esc in
turn with `tmux send-keys` and times each from the send until `tmux capture-pane`, polled every
10 ms, shows the help's text appear or go: the method of benchmarks/side_by_side.py's key timing
(the same marker, the same pauses of 0.5 s), without the harness cluster. Prints p50 / p95 / max
for each key, and the load average (1 min) over the presses (min, median, max).

`--package-tree DIR` runs the code of another checkout with this virtualenv's Python and
dependencies: DIR holds a `talos_platform` package laid out as setup.py maps it (cli/'s files,
then engine/, tui/, wizards/, rehearsal/ inside it; symbolic links will do, as in
scripts/package_tree.py), e.g. from `git archive COMMIT | tar -x -C SRC`. For a before-and-after
comparison under the same load, run both in turn. `--env NAME=VALUE` sets a variable for the
dashboard (e.g. `ESCDELAY=25`, Textual's wait for a lone Esc, in milliseconds).

Measured, never asserted; record results in docs/benchmarks.md with this command.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELP_MARKER = "command palette"
"""Text only the help screen shows (its Ctrl+P line); the same as side_by_side.py's."""
POD_COUNT = re.compile(r"Pod health \(([\d,]+)\)")
POLL_SECONDS = 0.01
PAUSE_SECONDS = 0.5


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def capture(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def time_key(session: str, key: str, shown, timeout: float = 20.0) -> float | None:
    """Seconds from sending `key` until the captured screen satisfies `shown`; None: never."""
    pressed = time.perf_counter()
    tmux("send-keys", "-t", session, key)
    while time.perf_counter() - pressed < timeout:
        if shown(capture(session)):
            return time.perf_counter() - pressed
        time.sleep(POLL_SECONDS)
    return None


def start_dashboard(session: str, args: argparse.Namespace, home: Path) -> None:
    env = f"HOME={home} TERM=xterm-256color"
    if args.package_tree:
        env += f" PYTHONPATH={Path(args.package_tree).resolve()}"
    env += "".join(f" {setting}" for setting in args.env)
    command = (
        f"exec env -u TALOSCONFIG -u KUBECONFIG {env} {sys.executable} -m talos_platform dashboard "
        f"--simulate --scenario {args.scenario}"
    )
    tmux("new-session", "-d", "-s", session, "-x", str(args.width), "-y", str(args.height), command)


def wait_for_cluster(session: str, timeout: float) -> int:
    """The pod count once the pod pane shows one that stays put for two seconds."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        found = POD_COUNT.search(capture(session))
        count = int(found.group(1).replace(",", "")) if found else None
        if count != last:
            last, since = count, time.monotonic()
        elif count and time.monotonic() - since >= 2:
            return count
        time.sleep(0.5)
    raise SystemExit(f"the dashboard did not show the cluster within {timeout:.0f} s:\n{capture(session)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=20, help="presses of each key")
    parser.add_argument("--scenario", default="large")
    parser.add_argument("--width", type=int, default=200)
    parser.add_argument("--height", type=int, default=50)
    parser.add_argument("--settle", type=float, default=20.0, help="seconds to wait once the cluster is on screen")
    parser.add_argument("--package-tree", metavar="DIR", help="run the talos_platform package found in DIR")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="set in the dashboard's environment"
    )
    args = parser.parse_args()

    session = f"help-keys-{os.getpid()}"
    times: dict[str, list[float]] = {"?": [], "Esc": []}
    loads: list[float] = []
    missed = 0
    with tempfile.TemporaryDirectory(prefix="help-keys-") as home:
        start_dashboard(session, args, Path(home))
        try:
            pods = wait_for_cluster(session, 300)
            print(f"cluster on screen ({pods:,} pods); settling {args.settle:g} s", flush=True)
            time.sleep(args.settle)
            if HELP_MARKER in capture(session):
                raise SystemExit(f"the marker {HELP_MARKER!r} is on the dashboard itself: choose another")
            for _ in range(args.presses):
                loads.append(os.getloadavg()[0])
                opened = time_key(session, "?", lambda screen: HELP_MARKER in screen)
                time.sleep(PAUSE_SECONDS)
                closed = time_key(session, "Escape", lambda screen: HELP_MARKER not in screen)
                time.sleep(PAUSE_SECONDS)
                for key, value in (("?", opened), ("Esc", closed)):
                    if value is None:
                        missed += 1
                    else:
                        times[key].append(value * 1000)
        finally:
            subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)

    code = "the package in " + args.package_tree if args.package_tree else "this checkout"
    code += "".join(f", {setting}" for setting in args.env)
    print(
        f"\n{code}; scenario {args.scenario}, {args.width}x{args.height}, {args.presses} presses of each key; "
        f"load average (1 min) at the presses: min {min(loads):.2f}, median {statistics.median(loads):.2f}, "
        f"max {max(loads):.2f}"
    )
    print("| key | samples | p50 | p95 | max |")
    print("|---|---|---|---|---|")
    for key, values in times.items():
        if values:
            print(
                f"| {key} | {len(values)} | {statistics.median(values):.0f} ms | {percentile(values, 0.95):.0f} ms | "
                f"{max(values):.0f} ms |"
            )
    if missed:
        print(f"{missed} presses not shown within 20 s")


if __name__ == "__main__":
    main()
