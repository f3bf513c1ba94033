"""Talos facts for the dashboard: Talos API calls, process starts and CPU per node per minute,
talosctl (before) against the Talos API over gRPC (after), at several node counts.

before: `TalosctlDriver.node_facts`, six talosctl calls per node per poll, against a stand-in
        talosctl: a shell script that starts the real talosctl binary (`talosctl version
        --client`: the Go binary's start, without its TLS handshake and call, so a lower bound of
        a real call's cost) and prints the output a node would give.
after:  `TalosGrpcDriver.node_facts` against loopback Talos API servers run by a separate process
        (`--serve`), one per node on 127.0.1.N, which refresh the CPU and memory statistics every
        30 s as Talos does.

Both are polled as the dashboard's observer polls: every node at once (16 at a time), a round
every 5 s, or twice as long as the last round took when that is longer. CPU is this process's
plus its children's (the talosctl processes), never the servers'.

    .venv/bin/python benchmarks/talos_facts.py [--nodes 6 200] [--seconds 60] [--talosctl PATH]

Not run by pytest; results go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the loopback Talos API server of the tests

from support.talos_api import Pki, TalosApiServer, cpu_stats, memory_stats  # noqa: E402

from talos_platform.engine.drivers import talos_api  # noqa: E402
from talos_platform.engine.drivers.process import ProcessRunner  # noqa: E402
from talos_platform.engine.drivers.protocols import TalosNodeFacts  # noqa: E402
from talos_platform.engine.drivers.talos_grpc import TalosGrpcDriver  # noqa: E402
from talos_platform.engine.drivers.talosctl import TalosctlDriver  # noqa: E402

INTERVAL = 5.0
CONCURRENCY = 16
STATS_REFRESH = 30.0
HARNESS_TALOSCTL = Path.home() / ".cache/talos-platform-harness/k8s-v1.34.4_kwok-v0.7.0_talos-v1.11.5/bin/talosctl"


def addresses(count: int) -> list[str]:
    return [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(count)]


# --- the servers (a process of their own) ----------------------------------------------------------


async def serve(count: int, port: int, folder: Path) -> None:
    pki = Pki.make(tuple(addresses(count)))
    pki.talosconfig(folder / "talosconfig")
    servers = [TalosApiServer(pki, address, port) for address in addresses(count)]
    for server in servers:
        await server.start()
    print("ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    tick = 0
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), STATS_REFRESH)
        except TimeoutError:
            tick += 1
            for server in servers:
                server.set_resource(talos_api.CPU_STATS, "latest", cpu_stats(100.0 + 10 * tick, 300.0 + 20 * tick))
                server.set_resource(talos_api.MEMORY_STATS, "latest", memory_stats(8_000_000, 5_000_000 + tick))
    calls = {
        "watches": sum(s.calls.watches for s in servers),
        "versions": sum(s.calls.versions for s in servers),
        "events": sum(s.calls.events for s in servers),
    }
    (folder / "calls.json").write_text(json.dumps(calls))
    for server in servers:
        await server.stop()


# --- the stand-in talosctl -----------------------------------------------------------------------

STAND_IN = """#!/bin/sh
echo "$*" >> "@LOG@"
"@TALOSCTL@" version --client > /dev/null
case "$*" in
  *machinestatus*) echo '{"metadata": {"id": "machine"}, "spec": {"stage": "running", "status": {"ready": true}}}' ;;
  *" info "*) echo '{"metadata": {"id": "current"}, "spec": {"clusterName": "prod"}}' ;;
  *disks*) echo '{"metadata": {"id": "sda"}, "spec": {"dev_path": "/dev/sda"}}' ;;
  *cpustats*) echo '{"metadata": {"id": "latest"}, "spec": {"cpuTotal": {"user": 100, "idle": 300}}}' ;;
  *memory*) printf 'NODE TOTAL USED FREE SHARED BUFFERS CACHE AVAILABLE\\n%s 7812 4882 976 0 488 1464 5000\\n' x ;;
  *version*) printf 'Client:\\n\\tTag: v1.11.5\\nServer:\\n\\tNODE: x\\n\\tTag: v1.11.5\\n' ;;
esac
"""


# --- polling, as the observer does ---------------------------------------------------------------


@dataclass
class Measured:
    rounds: int
    seconds: float
    cpu: float
    first_round_cpu: float
    first_round_seconds: float
    unreachable: int


def cpu_now() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def poll(ask: Callable[[str], Awaitable[TalosNodeFacts]], nodes: list[str], seconds: float) -> Measured:
    limit = asyncio.Semaphore(CONCURRENCY)
    unreachable = 0

    async def one(address: str) -> None:
        nonlocal unreachable
        async with limit:
            facts = await ask(address)
        unreachable += not facts.reachable

    start_cpu, start = cpu_now(), time.monotonic()
    await asyncio.gather(*(one(a) for a in nodes))
    first_cpu, first = cpu_now() - start_cpu, time.monotonic() - start
    # Steady state: from the end of the first round (the connections are made).
    await asyncio.sleep(max(INTERVAL, 2 * first))
    rounds, steady_cpu, steady_start = 0, cpu_now(), time.monotonic()
    while time.monotonic() - steady_start < seconds:
        began = time.monotonic()
        await asyncio.gather(*(one(a) for a in nodes))
        rounds += 1
        took = time.monotonic() - began
        await asyncio.sleep(max(INTERVAL, 2 * took))
    return Measured(rounds, time.monotonic() - steady_start, cpu_now() - steady_cpu, first_cpu, first, unreachable)


async def before(count: int, seconds: float, talosctl: Path, folder: Path) -> tuple[Measured, int]:
    bin_dir, log = folder / "bin", folder / "talosctl.log"
    bin_dir.mkdir(exist_ok=True)
    stand_in = bin_dir / "talosctl"
    stand_in.write_text(STAND_IN.replace("@LOG@", str(log)).replace("@TALOSCTL@", str(talosctl)))
    stand_in.chmod(0o755)
    talosconfig = folder / "talosconfig-before"
    talosconfig.write_text("context: bench\n")
    driver = TalosctlDriver(ProcessRunner(env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}), talosconfig)
    measured = await poll(lambda a: driver.node_facts(a, insecure=False), addresses(count), seconds)
    return measured, len(log.read_text().splitlines())


async def after(count: int, seconds: float, folder: Path) -> tuple[Measured, dict[str, int], int]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(count), "--port", str(port), "--folder", str(folder)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        driver = TalosGrpcDriver(ProcessRunner(), folder / "talosconfig", port=port)
        measured = await poll(lambda a: driver.node_facts(a, insecure=False), addresses(count), seconds)
        connections = sum(s.connections for s in driver.sessions.values())
        await driver.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    return measured, json.loads((folder / "calls.json").read_text()), connections


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def per_node_minute(value: float, count: int, seconds: float) -> float:
    return value / count / seconds * 60


def report(
    count: int, label: str, measured: Measured, calls: int, processes: int, connections: str, events: str = "-"
) -> str:
    cpu_share = 100 * measured.cpu / measured.seconds
    return (
        f"| {count} | {label} | {measured.rounds} in {measured.seconds:.0f} s | "
        f"{per_node_minute(calls, count, measured.seconds):.1f} | {events} | "
        f"{per_node_minute(processes, count, measured.seconds):.1f} | "
        f"{connections} | {per_node_minute(measured.cpu, count, measured.seconds) * 1000:.1f} | {cpu_share:.2f} % | "
        f"{measured.first_round_seconds:.1f} s, {measured.first_round_cpu:.2f} s | {measured.unreachable} |"
    )


async def main(args: argparse.Namespace) -> None:
    talosctl = Path(args.talosctl or shutil.which("talosctl") or HARNESS_TALOSCTL)
    if not talosctl.is_file():
        sys.exit(f"no talosctl at {talosctl}: give --talosctl PATH (the harness builds one)")
    print(f"load average before: {os.getloadavg()}; talosctl: {talosctl}", file=sys.stderr)
    rows = []
    for count in args.nodes:
        with tempfile.TemporaryDirectory(prefix="talos-facts-") as name:
            folder = Path(name)
            measured, calls = await before(count, args.seconds, talosctl, folder)
            # Each call is one talosctl process (the stand-in's shell and its `talosctl version` are
            # not counted): the process starts of the real path.
            rows.append(report(count, "talosctl (before)", measured, calls, calls, "one per call"))
            print(rows[-1], file=sys.stderr)
            measured, server_calls, connections = await after(count, args.seconds, folder)
            # Calls made after the first round: reconnections (none when every node stays up).
            steady = server_calls["watches"] + server_calls["versions"] - count * (len(talos_api.WATCHED) + 1)
            # Every refresh of the statistics reaches the node's open watch: the messages that replace polls
            # (counted over the whole run, first round included).
            events = f"{server_calls['events'] / count / (measured.seconds + measured.first_round_seconds) * 60:.1f}"
            rows.append(report(count, "gRPC (after)", measured, steady, 0, f"{connections} for {count} nodes", events))
            print(rows[-1], file=sys.stderr)
    print(f"load average after: {os.getloadavg()}", file=sys.stderr)
    print(
        "| nodes | path | steady rounds | Talos API calls per node per minute | watch events per node per minute "
        "| process starts per node per minute "
        "| connections | CPU ms per node per minute | CPU, share of one core | first round: wall, CPU | unreachable |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, nargs="+", default=[6, 200])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--talosctl", help="the talosctl binary the stand-in starts (default: PATH, then the harness')")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve:
        asyncio.run(serve(arguments.serve, arguments.port, Path(arguments.folder)))
    else:
        asyncio.run(main(arguments))
