"""The dashboard beside k9s on the same harness cluster: change to screen, key to screen, CPU, memory.

    scripts/build-k9s.sh   # once; the harness binaries too (scripts/build-harness.sh)
    .venv/bin/python benchmarks/side_by_side.py [--nodes 200] [--pods 10000] [--minutes 10]

Needs root (the harness cluster's pod network namespace) and tmux. Starts the harness control
plane on loopback (etcd, kube-apiserver, controller manager, scheduler, kwok: the same
`RehearsalCluster` as tests/harness), creates the kwok nodes and bare pods bound to them
(spread over namespaces, so that the scheduler's and controllers' rate limits do not decide how
long the set-up takes), then runs k9s (pods view, all namespaces) and
`talos-platform dashboard`, both against the same admin kubeconfig, each alone in a detached
tmux session of the same size. Then, in this order:

- steady: CPU seconds and RSS of both processes (from /proc, sampled every 5 s) over
  `--minutes` with the cluster at rest;
- keys: `?` (help opens) and Esc (help closes) sent to each in turn with `tmux send-keys`, timed
  until `tmux capture-pane` shows the help's text appear or go;
- burst: 1,000 pods deleted (`deletecollection` per namespace, grace period 0) and 100 pods
  given what a kubelet reports for a crash-looping container (not ready, waiting
  CrashLoopBackOff, restarts), all at once from a thread pool; both panes are polled until the
  screen shows it: the pod count after the deletions (k9s's title `Pods(all)[N]`, the
  dashboard's `Pod health (N)`) and the CrashLoopBackOff rows reaching the number they settle at.

k9s runs as a user gets it (default refresh rate 2 s), with a config in a temporary
XDG_CONFIG_HOME that only turns off its check for a newer release, so it talks to nothing but
the harness API server on 127.0.0.1. The dashboard runs with a temporary HOME and no
talosconfig (kwok nodes are not Talos nodes; it says so per node) and no Hubble.
Measured, never asserted; record results in docs/benchmarks.md with this command.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

from talos_platform.rehearsal.cluster import RehearsalCluster, node_is_schedulable, wait_for

REPO = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
IMAGE = "registry.rehearsal.invalid/app:1"
CRASH_NAMESPACE = "bench-00"
COUNT_PATTERNS = {
    "k9s": re.compile(r"pods\(all\)\[([\d,]+)\]", re.IGNORECASE),
    "dashboard": re.compile(r"Pod health \(([\d,]+)\)"),
}
HELP_MARKERS = {"k9s": "NAVIGATION", "dashboard": "command palette"}


def log(message: str) -> None:
    print(
        f"[{time.strftime('%H:%M:%S')}] {message}  (load {' '.join(f'{x:.2f}' for x in os.getloadavg())})", flush=True
    )


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def capture(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session)


def proc_sample(pid: int) -> tuple[float, int]:
    """CPU seconds (utime + stime) and RSS in kB of one process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    rss = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS")
    )
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS, rss


def shown_count(tool: str, screen: str) -> int | None:
    found = COUNT_PATTERNS[tool].search(screen)
    return int(found.group(1).replace(",", "")) if found else None


def crash_rows(screen: str) -> int:
    return sum("CrashLoopBackOff" in line for line in screen.splitlines())


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


# --- the cluster --------------------------------------------------------------------------------


def pod_manifest(namespace: str, name: str, node: str, labels: dict[str, str]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "bench", **labels}},
        "spec": {
            "nodeName": node,
            "automountServiceAccountToken": False,
            "containers": [{"name": "main", "image": IMAGE}],
        },
    }


def populate(cluster: RehearsalCluster, nodes: int, pods: int, namespaces: int, workers: int, bursts: int) -> None:
    from kubernetes import client

    core = client.CoreV1Api(cluster.api_client())
    names = [f"bench-node-{i:03d}" for i in range(nodes)]
    log(f"creating {nodes} kwok nodes")
    cluster.create_nodes(names, wait_ready=False)
    wait_for(
        lambda: sum(node_is_schedulable(n) for n in core.list_node().items) >= nodes,
        f"{nodes} nodes Ready and untainted",
        timeout=600,
        interval=2,
    )
    namespace_names = [f"bench-{i:02d}" for i in range(namespaces)]
    for namespace in namespace_names:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    for namespace in namespace_names:
        wait_for(lambda ns=namespace: core.read_namespaced_service_account("default", ns), f"{namespace}'s account")
    log(f"creating {pods} pods in {namespaces} namespaces")
    workdir = cluster.workdir / "pods"
    workdir.mkdir()
    per_namespace = pods // namespaces
    files = []
    index = others = 0
    to_delete = [pods // 10] * bursts  # per burst 1,000 of 10,000, spread over every namespace
    for namespace in namespace_names:
        items = []
        for i in range(per_namespace):
            labels = {}
            if namespace == CRASH_NAMESPACE and i < 100:
                name, labels = f"a-{i:04d}", {"bench-burst": "crash"}
            else:
                name = f"p-{i:05d}"
                group = others % 9
                if group < bursts and to_delete[group]:
                    labels = {"bench-burst": f"delete-{group}"}
                    to_delete[group] -= 1
                others += 1
            items.append(pod_manifest(namespace, name, names[index % nodes], labels))
            index += 1
        path = workdir / f"{namespace}.yaml"
        path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
        files.append(path)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda path: cluster.kubectl("create", "-f", str(path), "-o", "name", timeout=1800), files))
    labelled = ", ".join(str(pods // 10 - left) for left in to_delete)
    log(f"created in {time.monotonic() - started:.0f} s (to be deleted in the bursts: {labelled})")
    total = per_namespace * namespaces
    wait_for(
        lambda: running_pods(core) >= total,
        f"{total} pods Running",
        timeout=1800,
        interval=5,
    )
    log(f"{total} pods Running after {time.monotonic() - started:.0f} s")


def running_pods(core) -> int:
    count, token = 0, None
    while True:
        page = core.list_pod_for_all_namespaces(limit=5000, _continue=token, field_selector="status.phase=Running")
        count += len(page.items)
        token = page.metadata._continue
        if not token:
            return count


CRASH_NAMES = [f"a-{i:04d}" for i in range(100)]


def pool_client(cluster: RehearsalCluster):
    from kubernetes import client

    api_client = cluster.api_client()
    api_client.rest_client.pool_manager.connection_pool_kw["maxsize"] = 32
    return client.CoreV1Api(api_client)


def recover(cluster: RehearsalCluster) -> None:
    """The crash-looping pods run again (ready), for the next burst."""
    core = pool_client(cluster)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    status = {
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}],
            "containerStatuses": [
                {
                    "name": "main",
                    "image": IMAGE,
                    "imageID": "",
                    "ready": True,
                    "started": True,
                    "restartCount": 5,
                    "state": {"running": {"startedAt": now}},
                }
            ],
        }
    }
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        for future in [
            pool.submit(core.patch_namespaced_pod_status, name, CRASH_NAMESPACE, status) for name in CRASH_NAMES
        ]:
            future.result()


def burst(cluster: RehearsalCluster, namespaces: list[str], index: int) -> float:
    """Delete the pods labelled for this burst and make the crash pods crash-loop, all at once."""
    core = pool_client(cluster)
    status = {
        "status": {
            "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
            "containerStatuses": [
                {
                    "name": "main",
                    "image": IMAGE,
                    "imageID": "",
                    "ready": False,
                    "started": False,
                    "restartCount": 5,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s restarting"}},
                    "lastState": {
                        "terminated": {
                            "reason": "Error",
                            "exitCode": 1,
                            "startedAt": "2026-01-01T00:00:00Z",
                            "finishedAt": "2026-01-01T00:00:05Z",
                        }
                    },
                }
            ],
        }
    }
    jobs = [
        (
            core.delete_collection_namespaced_pod,
            (ns,),
            {"label_selector": f"bench-burst=delete-{index}", "grace_period_seconds": 0},
        )
        for ns in namespaces
    ] + [(core.patch_namespaced_pod_status, (name, CRASH_NAMESPACE, status), {}) for name in CRASH_NAMES]
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        for future in [pool.submit(fn, *args, **kwargs) for fn, args, kwargs in jobs]:
            future.result()
    return started


# --- the tools ----------------------------------------------------------------------------------


def k9s_config(root: Path) -> dict[str, str]:
    """Environment for k9s: its config, data and state in a temporary tree; no release check."""
    config = root / "config"
    (config / "k9s").mkdir(parents=True)
    (config / "k9s" / "config.yaml").write_text(yaml.safe_dump({"k9s": {"skipLatestRevCheck": True}}))
    env = {
        "XDG_CONFIG_HOME": str(config),
        "XDG_DATA_HOME": str(root / "data"),
        "XDG_STATE_HOME": str(root / "state"),
        "XDG_CACHE_HOME": str(root / "cache"),
        "K9S_CONFIG_DIR": str(config / "k9s"),
        "HOME": str(root / "home"),
    }
    (root / "home").mkdir()
    return env


def start_tool(session: str, argv: list[str], env: dict[str, str], size: tuple[int, int]) -> int:
    exports = " ".join(f"{key}={value}" for key, value in env.items())
    command = f"exec env -u TALOSCONFIG {exports} TERM=xterm-256color " + " ".join(argv)
    tmux("new-session", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]), command)
    return int(tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())


class Sampler(threading.Thread):
    """CPU seconds and RSS of the tools every few seconds, with the load average."""

    def __init__(self, pids: dict[str, int], interval: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.pids, self.interval = pids, interval
        self.samples: list[tuple[float, dict[str, tuple[float, int]], float]] = []
        self.stopping = threading.Event()

    def sample(self) -> None:
        self.samples.append(
            (time.monotonic(), {tool: proc_sample(pid) for tool, pid in self.pids.items()}, os.getloadavg()[0])
        )

    def run(self) -> None:
        while not self.stopping.is_set():
            self.sample()
            self.stopping.wait(self.interval)

    def window(self, start: float, end: float) -> list:
        return [s for s in self.samples if start <= s[0] <= end]


def wait_screens(sessions: dict[str, str], condition, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(condition(tool, capture(session)) for tool, session in sessions.items()):
            return
        time.sleep(1)
    shots = "\n\n".join(f"--- {tool} ---\n{capture(session)}" for tool, session in sessions.items())
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}:\n{shots}")


def time_key(session: str, key: str, done, timeout: float = 20.0) -> float | None:
    pressed = time.perf_counter()
    tmux("send-keys", "-t", session, key)
    while time.perf_counter() - pressed < timeout:
        if done(capture(session)):
            return time.perf_counter() - pressed
        time.sleep(0.01)
    return None


def watch_burst(sessions: dict[str, str], started: float, seconds: float) -> dict[str, list]:
    """(time since the burst, pod count shown, CrashLoopBackOff rows shown) per tool, polled."""
    trace: dict[str, list] = {tool: [] for tool in sessions}
    while time.perf_counter() - started < seconds:
        for tool, session in sessions.items():
            screen = capture(session)
            trace[tool].append((time.perf_counter() - started, shown_count(tool, screen), crash_rows(screen)))
        time.sleep(0.02)
    return trace


def burst_times(trace: list) -> tuple[float | None, float | None, float | None, int]:
    """When the count showed the deletions, when the first crash row and when the final number of
    crash rows appeared (and stayed), and that final number."""
    expected_count = trace[-1][1]
    count_at = next((t for t, count, _ in trace if count == expected_count), None)
    first_crash = next((t for t, _, crashes in trace if crashes), None)
    final = trace[-1][2]
    settled = None
    for t, _, crashes in trace:
        if crashes == final:
            settled = t if settled is None else settled
        else:
            settled = None
    return count_at, first_crash, settled, final


# --- the run ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=10.0, help="steady window for CPU and memory")
    parser.add_argument("--keys", type=int, default=10, help="key pairs (? then Esc) per tool")
    parser.add_argument("--burst-seconds", type=float, default=60.0, help="how long to watch the screens after it")
    parser.add_argument("--bursts", type=int, default=1, help="bursts, one after another (at most 9)")
    parser.add_argument("--width", type=int, default=200)
    parser.add_argument("--height", type=int, default=50)
    parser.add_argument("--create-workers", type=int, default=4, help="kubectl create processes at once")
    parser.add_argument("--keep", action="store_true", help="keep the cluster's directory (logs)")
    args = parser.parse_args()
    if not 1 <= args.bursts <= 9:
        raise SystemExit("--bursts must be 1 to 9")
    if args.pods % args.namespaces or args.pods // args.namespaces < 100 + 10:
        raise SystemExit("--pods must be a multiple of --namespaces with at least 110 pods per namespace")
    k9s = Path(
        subprocess.run([REPO / "scripts/build-k9s.sh", "--print-path"], capture_output=True, text=True).stdout.strip()
    )
    if not k9s.is_file():
        raise SystemExit(f"k9s is not built at {k9s}: run scripts/build-k9s.sh first")
    dashboard = shutil.which("talos-platform", path=str(Path(sys.executable).parent))
    if dashboard is None:
        raise SystemExit("talos-platform is not installed next to this Python (run scripts/setup.sh)")

    workdir = Path(tempfile.mkdtemp(prefix="side-by-side-"))
    cluster = RehearsalCluster(workdir / "cluster")
    sessions = {"k9s": f"bench-k9s-{os.getpid()}", "dashboard": f"bench-dash-{os.getpid()}"}
    log(f"load before anything started; workdir {workdir}")
    try:
        cluster.start()
        log(f"harness cluster up at {cluster.server}")
        populate(cluster, args.nodes, args.pods, args.namespaces, args.create_workers, args.bursts)
        namespaces = [f"bench-{i:02d}" for i in range(args.namespaces)]
        kubeconfig = str(cluster.kubeconfig)
        k9s_env = k9s_config(workdir / "k9s")
        dash_home = workdir / "dashboard-home"
        dash_home.mkdir()
        size = (args.width, args.height)
        pids = {
            "k9s": start_tool(
                sessions["k9s"],
                [str(k9s), "--kubeconfig", kubeconfig, "--all-namespaces", "--command", "pods"],
                k9s_env,
                size,
            ),
            "dashboard": start_tool(
                sessions["dashboard"],
                [dashboard, "dashboard", "--kubeconfig", kubeconfig],
                {"HOME": str(dash_home)},
                size,
            ),
        }
        sampler = Sampler(pids)
        sampler.start()
        total = args.pods
        wait_screens(sessions, lambda tool, s: shown_count(tool, s) == total, f"both to show {total} pods", 600)
        log(f"both show {total} pods")
        time.sleep(10)

        steady_start = time.monotonic()
        time.sleep(args.minutes * 60)
        steady_end = time.monotonic()
        sampler.sample()
        log("steady window done")

        keys: dict[str, dict[str, list[float]]] = {tool: {"?": [], "Esc": []} for tool in sessions}
        missed: dict[str, int] = {tool: 0 for tool in sessions}
        for _ in range(args.keys):
            for tool, session in sessions.items():
                marker = HELP_MARKERS[tool]
                opened = time_key(session, "?", lambda s, m=marker: m in s)
                time.sleep(0.5)
                closed = time_key(session, "Escape", lambda s, m=marker: m not in s)
                for key, value in (("?", opened), ("Esc", closed)):
                    if value is None:
                        missed[tool] += 1
                    else:
                        keys[tool][key].append(value)
                time.sleep(0.5)
        log("keys done")
        time.sleep(5)

        burst_start_mono = time.monotonic()
        results = []
        for index in range(args.bursts):
            if index:
                recover(cluster)
                wait_screens(sessions, lambda tool, s: crash_rows(s) == 0, "the crash-looping pods to recover", 120)
                time.sleep(5)
            started = burst(cluster, namespaces, index)
            sent = time.perf_counter() - started
            results.append((watch_burst(sessions, started, args.burst_seconds), sent))
            log(f"burst {index + 1} watched")
        burst_end_mono = time.monotonic()
        sampler.sample()
        screens = {tool: capture(session) for tool, session in sessions.items()}
        sampler.stopping.set()
        report(args, sampler, (steady_start, steady_end), (burst_start_mono, burst_end_mono), keys, missed, results)
        for tool, screen in screens.items():
            print(f"\n--- {tool} after the burst (first 20 lines) ---")
            print("\n".join(screen.splitlines()[:20]))
    finally:
        for session in sessions.values():
            subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)
        cluster.stop()
        if args.keep:
            print(f"cluster directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def resource_row(tool: str, window: list) -> str:
    first, last = window[0][1][tool], window[-1][1][tool]
    cpu = last[0] - first[0]
    wall = window[-1][0] - window[0][0]
    rss = [sample[1][tool][1] / 1024 for sample in window]
    return f"| {tool} | {cpu:.1f} s | {cpu / wall:.3f} | {rss[0]:.0f} MB | {max(rss):.0f} MB | {rss[-1]:.0f} MB |"


def fmt(value: float | None, sent: float) -> str:
    return "not shown" if value is None else f"{value * 1000:.0f} ms ({(value - sent) * 1000:+.0f} ms)"


def report(args, sampler: Sampler, steady, burst_window, keys, missed, results) -> None:
    steady_samples = sampler.window(*steady)
    loads = [s[2] for s in steady_samples]
    print()
    print(
        f"parameters: {args.nodes} kwok nodes, {args.pods} pods in {args.namespaces} namespaces, terminals "
        f"{args.width}x{args.height}, steady window {args.minutes:g} min, {args.keys} key pairs per tool, "
        f"{args.bursts} burst(s) each watched {args.burst_seconds:g} s; load average (1 min) in the steady window: "
        f"min {min(loads):.2f}, median "
        f"{statistics.median(loads):.2f}, max {max(loads):.2f}; {os.cpu_count()} CPUs"
    )
    print()
    print(f"CPU and memory, cluster at rest, {args.minutes:g} min:")
    print()
    print("| tool | CPU time | cores | RSS at start | RSS max | RSS at end |")
    print("|---|---|---|---|---|---|")
    for tool in ("dashboard", "k9s"):
        print(resource_row(tool, steady_samples))
    burst_samples = sampler.window(*burst_window)
    if len(burst_samples) >= 2:
        print()
        print(f"CPU and memory while the bursts are taken in ({burst_samples[-1][0] - burst_samples[0][0]:.0f} s):")
        print()
        print("| tool | CPU time | cores | RSS at start | RSS max | RSS at end |")
        print("|---|---|---|---|---|---|")
        for tool in ("dashboard", "k9s"):
            print(resource_row(tool, burst_samples))
        print(f"load average (1 min) during the bursts: {max(s[2] for s in burst_samples):.2f} max")
    print()
    print(f"key to screen (tmux send-keys to capture-pane showing it; {args.keys} each):")
    print()
    print("| tool | key | samples | p50 | p95 | max | not shown in 20 s |")
    print("|---|---|---|---|---|---|---|")
    for tool in ("dashboard", "k9s"):
        for key, values in keys[tool].items():
            if values:
                ms = [v * 1000 for v in values]
                print(
                    f"| {tool} | {key} | {len(ms)} | {statistics.median(ms):.0f} ms | {percentile(ms, 0.95):.0f} ms | "
                    f"{max(ms):.0f} ms | {missed[tool]} |"
                )
    print()
    print(
        f"bursts: {args.pods // 10} pods deleted and 100 made to crash-loop in each; time from the first call to the "
        "screen (polled every ~20 ms per pane; in brackets, from the last call's return):"
    )
    print()
    print(
        "| burst | API calls took | tool | pod count shows the deletions | first CrashLoopBackOff row "
        "| CrashLoopBackOff rows settled | rows |"
    )
    print("|---|---|---|---|---|---|---|")
    after_calls: dict[str, dict[str, list[float]]] = {
        tool: {"count": [], "first": [], "settled": []} for tool in ("dashboard", "k9s")
    }
    for index, (trace, sent) in enumerate(results, 1):
        for tool in ("dashboard", "k9s"):
            count_at, first_crash, settled, final = burst_times(trace[tool])
            for name, value in (("count", count_at), ("first", first_crash), ("settled", settled)):
                if value is not None:
                    after_calls[tool][name].append(value - sent)
            print(
                f"| {index} | {sent * 1000:.0f} ms | {tool} | {fmt(count_at, sent)}, shows {trace[tool][-1][1]} "
                f"| {fmt(first_crash, sent)} | {fmt(settled, sent)} | {final} |"
            )
    if len(results) > 1:
        print()
        print("from the last call's return, over the bursts (p50 / p95 / max):")
        print()
        print("| tool | pod count shows the deletions | first CrashLoopBackOff row | CrashLoopBackOff rows settled |")
        print("|---|---|---|---|")
        for tool, measures in after_calls.items():
            cells = [
                f"{statistics.median(v) * 1000:.0f} / {percentile(v, 0.95) * 1000:.0f} / {max(v) * 1000:.0f} ms"
                if v
                else "not shown"
                for v in measures.values()
            ]
            print(f"| {tool} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
