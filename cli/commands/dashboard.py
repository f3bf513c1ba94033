"""`talos-platform dashboard`: the day-2 monitoring TUI (nodes, apps by wave, pod health, flows).

Reads a real cluster through a kubeconfig (the `kubernetes` client), the Talos API with a
talosconfig (one gRPC channel per node; talosctl for a node in maintenance mode), and Hubble
Relay when an address is given; or, with --simulate, the simulated
platform (always labelled as such on screen).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from talos_platform.engine.drivers.clock import Clock
    from talos_platform.engine.drivers.protocols import Drivers
    from talos_platform.engine.observe import ClusterSnapshot, TalosTarget
    from talos_platform.engine.run.rollout import RolloutReader
    from talos_platform.engine.state import StateDirectory


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dashboard",
        help="live dashboard: nodes, ArgoCD apps by wave, pod health, Hubble flows",
        description="Watch the platform live. Keys: ? help, / filter, Enter details, z maximise, p pause flows, t "
        "theme, q quit.",
    )
    add_cluster_arguments(parser)
    parser.add_argument(
        "--theme", choices=("dark", "light"), default="dark", help="colour theme to start with (t toggles)"
    )
    parser.set_defaults(handler=run)


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the cluster is, or which simulation to show (shared with `status --live`)."""
    real = parser.add_argument_group("a real cluster")
    real.add_argument(
        "--kubeconfig",
        metavar="FILE",
        help="kubeconfig (default: $KUBECONFIG, then the --config cluster's state directory, then ~/.kube/config)",
    )
    real.add_argument("--context", metavar="NAME", help="kubeconfig context to use (default: its current context)")
    real.add_argument(
        "--talosconfig",
        metavar="FILE",
        help="talosconfig (default: $TALOSCONFIG, the state directory's, then ~/.talos/config)",
    )
    real.add_argument(
        "--config", metavar="FILE", help="platform config: its nodes are watched even before they join Kubernetes"
    )
    real.add_argument("--state-dir", metavar="DIR", help="the cluster's state directory")
    real.add_argument(
        "--hubble-address",
        metavar="HOST:PORT",
        help="Hubble Relay, e.g. localhost:4245 after `kubectl -n kube-system port-forward svc/hubble-relay 4245:80`",
    )
    sim = parser.add_argument_group("simulation")
    sim.add_argument("--simulate", action="store_true", help="show the simulated platform instead of a real cluster")
    sim.add_argument("--scenario", default="default", help="simulation scenario name or file (default: default)")
    sim.add_argument("--seed", type=int, default=None, help="simulation seed (default: the scenario's)")
    sim.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second (default: 1)")


def run(args: argparse.Namespace) -> int:
    from talos_platform import exit_codes
    from talos_platform.engine.errors import UserError
    from talos_platform.tui.app import DARK, LIGHT, create_app

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UserError(
            "the dashboard is a full-screen view and needs a terminal (stdin and stdout); this one is redirected",
            where="dashboard",
            hint="run it in a terminal; for a script or a log, use `talos-platform status --live` "
            "(add --output json for a machine-readable report)",
        )
    source = cluster_source(args)
    try:
        app = create_app(
            "dashboard",
            drivers=source.drivers,
            clock=source.clock,
            talos_targets=source.targets,
            simulation_note=source.note,
            theme=LIGHT if args.theme == "light" else DARK,
            cluster_name=source.cluster,
            kube_context=source.context,
            rollout=rollout_reader(_simulated_state(args) if args.simulate else source.state),
        )
        # The Talos API's channels were opened on the engine's loop: closed there as it stops.
        app.engine.close_on_stop(source.close_channels)
        try:
            app.run()
        finally:
            app.engine.stop()  # done already if the app unmounted; not if it never got that far
    finally:
        source.close()
    return exit_codes.OK


class ClusterSource:
    def __init__(
        self,
        drivers: Drivers,
        clock: Clock | None = None,
        targets: Iterable[TalosTarget] = (),
        note: str = "",
        cleanup: Callable[[], object] | None = None,
        cluster: str = "",
        context: str = "",
        state: StateDirectory | None = None,
    ):
        self.drivers, self.clock, self.targets, self.note = drivers, clock, tuple(targets), note
        self.cluster, self.context = cluster, context
        """For the header line: the cluster's name and the kubeconfig context read."""
        self.state = state
        """The cluster's state directory when one is known: its run journals feed the rollout strip."""
        self._cleanup = cleanup

    def close(self) -> None:
        if self._cleanup:
            self._cleanup()

    async def close_channels(self) -> None:
        """Close the Talos driver's gRPC channels, on the loop that opened them."""
        close = getattr(self.drivers.talos, "close", None)
        if close is not None:
            await close()


def cluster_source(args: argparse.Namespace) -> ClusterSource:
    from talos_platform.engine.observe import TalosTarget

    if args.simulate:
        import math

        from talos_platform.engine.sim import simulated_platform

        platform = simulated_platform(
            args.scenario, seed=args.seed, speed=args.speed if args.speed > 0 else math.inf, installed=True
        )
        targets = [TalosTarget.from_config(n) for n in platform.config.nodes]
        return ClusterSource(
            platform.drivers,
            platform.clock,
            targets,
            f"scenario {platform.scenario.name}, seed {platform.seed}",
            cluster=platform.config.cluster.name,
            context="simulated",
        )
    return _real_source(args)


def _simulated_state(args: argparse.Namespace) -> StateDirectory | None:
    """Beside a simulation, the state directory of simulated runs (`--state-dir`, or the one a
    simulated run of the `--config` cluster uses), so a simulated upgrade shows on the strip."""
    from talos_platform.engine.state import state_directory_for

    if args.state_dir:
        return state_directory_for("", args.state_dir)
    if args.config:
        from talos_platform.engine.config.loading import load_config

        return state_directory_for(load_config(args.config).cluster.name, simulated=True)
    return None


def rollout_reader(state: StateDirectory | None) -> RolloutReader | None:
    from talos_platform.engine.run.rollout import RolloutReader

    return RolloutReader(state) if state is not None else None


def _real_source(args: argparse.Namespace) -> ClusterSource:
    from talos_platform.engine.drivers.alertmanager import AlertmanagerThroughKubernetes
    from talos_platform.engine.drivers.kube_client import KubernetesDriver
    from talos_platform.engine.drivers.process import ProcessRunner
    from talos_platform.engine.drivers.protocols import Drivers
    from talos_platform.engine.drivers.talos_grpc import TalosGrpcDriver
    from talos_platform.engine.errors import UserError
    from talos_platform.engine.observe import TalosTarget

    state = None
    targets = []
    name = ""
    if args.config or args.state_dir:
        from talos_platform.engine.state import state_directory_for

        if args.config:
            from talos_platform.engine.config.loading import load_config

            config = load_config(args.config)
            name = config.cluster.name
            targets = [TalosTarget.from_config(n) for n in config.nodes]
        state = state_directory_for(name, args.state_dir)
    kubeconfig = _first_existing(
        args.kubeconfig,
        os.environ.get("KUBECONFIG", "").split(os.pathsep)[0],
        state.kubeconfig if state else None,
        Path.home() / ".kube" / "config",
    )
    if kubeconfig is None:
        raise UserError(
            "no kubeconfig found",
            hint="pass --kubeconfig FILE, or --config FILE of an installed cluster, or use --simulate",
        )
    talosconfig = _first_existing(
        args.talosconfig,
        os.environ.get("TALOSCONFIG"),
        state.talosconfig if state else None,
        Path.home() / ".talos" / "config",
    )
    cleanup = None
    if args.context:
        kubeconfig, cleanup = _with_context(kubeconfig, args.context)
    runner = ProcessRunner(
        env={"KUBECONFIG": str(kubeconfig), **({"TALOSCONFIG": str(talosconfig)} if talosconfig else {})}
    )
    hubble = None
    if args.hubble_address:
        from talos_platform.engine.drivers.hubble_grpc import HubbleRelay

        hubble = HubbleRelay(args.hubble_address)
    kube = KubernetesDriver(kubeconfig, runner)
    drivers = Drivers(
        # Without a talosconfig, point at the usual place: every node then says "no talosconfig
        # at ~/.talos/config" instead of talosctl failing obscurely on an empty file.
        talos=TalosGrpcDriver(runner, talosconfig or Path.home() / ".talos" / "config"),
        kube=kube,
        hubble=hubble,
        alertmanager=AlertmanagerThroughKubernetes(kube),
        simulated=False,
    )
    context, kube_cluster = kubeconfig_context(kubeconfig)
    return ClusterSource(
        drivers, None, targets, cleanup=cleanup, cluster=name or kube_cluster, context=context, state=state
    )


def kubeconfig_context(kubeconfig: Path) -> tuple[str, str]:
    """The current context's name and its cluster's name ("" where the file does not say)."""
    import yaml

    try:
        data = yaml.safe_load(kubeconfig.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return "", ""
    current = str(data.get("current-context") or "")
    for entry in data.get("contexts") or []:
        if entry.get("name") == current:
            return current, str((entry.get("context") or {}).get("cluster") or "")
    return current, ""


def _first_existing(*candidates: str | Path | None) -> Path | None:
    for candidate in candidates:
        if candidate and Path(candidate).expanduser().is_file():
            return Path(candidate).expanduser()
    return None


def _with_context(kubeconfig: Path, context: str) -> tuple[Path, Callable[[], None]]:
    """A private copy of the kubeconfig with `context` as its current context (the client reads
    the current one); removed when the dashboard ends."""
    import shutil
    import tempfile

    import yaml

    from talos_platform.engine.errors import UserError

    data = yaml.safe_load(kubeconfig.read_text()) or {}
    names = [c.get("name") for c in data.get("contexts") or []]
    if context not in names:
        raise UserError(
            f"context {context!r} is not in {kubeconfig}",
            where="--context",
            hint=f"contexts there: {', '.join(map(str, names)) or 'none'}",
        )
    data["current-context"] = context
    folder = Path(tempfile.mkdtemp(prefix="talos-platform-"))  # 0700
    copy = folder / "kubeconfig"
    fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(data, handle)
    return copy, lambda: shutil.rmtree(folder, ignore_errors=True)


# --- `status --live`: the same snapshot, once, without the TUI ----------------------------------


def add_live_arguments(parser: argparse.ArgumentParser) -> None:
    """Options `status` gains for reading the cluster now (its --config, --state-dir and
    --simulated are reused)."""
    live = parser.add_argument_group("live cluster health (--live)")
    live.add_argument(
        "--live",
        action="store_true",
        help="read the cluster now (nodes, apps by wave, pod problems, flows) instead of the run journal",
    )
    live.add_argument(
        "--kubeconfig", metavar="FILE", help="kubeconfig (default: $KUBECONFIG, the state directory's, ~/.kube/config)"
    )
    live.add_argument("--context", metavar="NAME", help="kubeconfig context")
    live.add_argument("--talosconfig", metavar="FILE", help="talosconfig")
    live.add_argument("--hubble-address", metavar="HOST:PORT", help="Hubble Relay address (e.g. a port-forward)")
    live.add_argument("--scenario", default="default", help="with --simulate: the simulation scenario")
    live.add_argument(
        "--after",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="with --simulate: read the simulation this many virtual seconds after it starts (day-2 faults)",
    )


def live_status(args: argparse.Namespace) -> int:
    """Print one snapshot (JSON with --output json). Exit 0 when every node is Ready, no wave is
    blocked, no pod has a problem, etcd has none and no critical alert fires, also while pods are
    only starting within their grace (`starting`); 1 otherwise (including an unreachable API)."""
    import asyncio
    import json
    import math

    from talos_platform import exit_codes
    from talos_platform.engine.observe import snapshot_once

    source_args = argparse.Namespace(
        simulate=args.simulated,
        scenario=args.scenario,
        seed=None,
        speed=math.inf,
        config=args.config,
        state_dir=args.state_dir,
        kubeconfig=args.kubeconfig,
        context=args.context,
        talosconfig=args.talosconfig,
        hubble_address=args.hubble_address,
    )
    source = cluster_source(source_args)

    async def read() -> ClusterSnapshot:
        if args.simulated and args.after > 0 and source.clock is not None:
            await source.clock.sleep(args.after)
        try:
            return await snapshot_once(source.drivers, source.clock, talos_targets=source.targets)
        finally:
            await source.close_channels()

    try:
        snapshot = asyncio.run(read())
    finally:
        source.close()
    state = live_state(snapshot)
    if args.output == "json":
        data = snapshot.to_dict()
        data["state"] = state
        data["healthy"] = state == HEALTHY
        data["unreachable"] = ["Kubernetes API"] if snapshot.kube_error else []
        data["api_slow"] = api_slowness(snapshot)
        if snapshot.alerts.installed and snapshot.alerts.error and not snapshot.kube_error:
            # Read through the API server: while that is away, it is the one to name.
            data["unreachable"].append("Alertmanager")
        print(json.dumps(data, indent=2))
    elif snapshot.kube_error:
        print(_api_unreachable_text(snapshot, source.note))
    else:
        print(_status_text(snapshot, state, source.note))
    return exit_codes.STEP_FAILED if state == NOT_HEALTHY else exit_codes.OK


HEALTHY, STARTING, NOT_HEALTHY = "healthy", "starting", "not healthy"
"""`status --live`'s verdicts. `starting`: nothing is wrong, but pods are still within their start
grace (engine/observe/pods.py), and a wave waits only for them: not a failure (exit 0)."""


def live_state(snapshot: ClusterSnapshot) -> str:
    """`healthy`, `starting` or `not healthy`, judged as the dashboard judges pods and waves."""
    waves = {wave.state for wave in snapshot.waves}
    unhealthy = (
        snapshot.kube_error
        or not snapshot.nodes
        or not all(n.ready and n.reachable for n in snapshot.nodes)
        or "blocked" in waves
        or snapshot.real_pod_problems
        or api_slowness(snapshot)
        or snapshot.etcd.problems
        or snapshot.alerts.critical
    )
    if unhealthy:
        return NOT_HEALTHY
    return STARTING if "starting" in waves or len(snapshot.real_pod_problems) < len(snapshot.pod_problems) else HEALTHY


def _api_unreachable_text(snapshot: ClusterSnapshot, note: str) -> str:
    """Without the Kubernetes API nothing about nodes, apps or pods is known now: say so first,
    and report only what other sources (the Talos API, Hubble Relay) answered."""
    lines = [f"SIMULATED ({note})"] if snapshot.simulated else []
    lines.append(f"Kubernetes API unreachable: {snapshot.kube_error}")
    lines.append("nodes, apps and pods: unknown (they are read from the Kubernetes API)")
    answering = [n for n in snapshot.nodes if n.reachable]
    if snapshot.nodes:
        lines.append(f"Talos API answers on {len(answering)}/{len(snapshot.nodes)} nodes")
        lines += [f"  {n.name} ({n.address}): unreachable: {n.error}" for n in snapshot.nodes if not n.reachable]
    if snapshot.flows.available:
        lines.append(f"Hubble Relay answers: {snapshot.flows.total_flows} flows read")
    elif snapshot.flows.error:
        lines.append(f"Hubble Relay: {snapshot.flows.error}")
    lines.append("NOT healthy: the Kubernetes API is unreachable")
    return "\n".join(lines)


def api_slowness(snapshot: ClusterSnapshot) -> str:
    """`the Kubernetes API is slow: …` when the round trips' or a verb's p99 crosses the threshold."""
    from talos_platform.engine.observe.api_latency import level, worst

    api, slowest = snapshot.api, worst(snapshot.api.verbs)
    if level(api.round_trip_p99) != "none":
        return f"the Kubernetes API is {level(api.round_trip_p99)}: round trip p99 {api.round_trip_p99:.1f} s"
    if slowest is not None and level(slowest.p99_seconds) != "none":
        return f"the Kubernetes API is {level(slowest.p99_seconds)}: {slowest.verb} p99 {slowest.p99_seconds:.1f} s"
    return ""


def api_lines(snapshot: ClusterSnapshot) -> list[str]:
    api = snapshot.api
    lines = []
    if api.round_trip_p50 is not None and api.round_trip_p99 is not None:
        lines.append(
            f"API round trip: p50 {_duration(api.round_trip_p50)}, p99 {_duration(api.round_trip_p99)} "
            f"({api.round_trips} requests)"
        )
    if api.verbs:
        since = "since the API server started" if api.since_start else "last minute"
        verbs = ", ".join(f"{v.verb} {_duration(v.p99_seconds)}" for v in api.verbs)
        lines.append(f"API server p99 by verb ({since}): {verbs}")
    elif api.metrics:
        lines.append(f"API server /metrics: {api.metrics}")
    slowness = api_slowness(snapshot)
    if slowness:
        lines.append(f"  {slowness}")
    return lines


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def disk_lines(snapshot: ClusterSnapshot) -> list[str]:
    """Nodes whose filesystem is high or under DiskPressure, and how many have no figure."""
    from talos_platform.engine.observe.pressure import disk_level

    lines = []
    for node in snapshot.nodes:
        pressure = any(kind == "DiskPressure" and status == "True" for kind, status, _ in node.conditions)
        percent = node.disk_percent
        if pressure or disk_level(percent) != "none":
            figure = f"disk {percent:.0f}% full" if percent is not None else "disk use unknown"
            lines.append(f"  {node.name} ({node.address}): {figure}" + (", DiskPressure" if pressure else ""))
    unknown = sum(1 for n in snapshot.nodes if n.disk_percent is None)
    if unknown:
        lines.append(f"  disk use unknown on {unknown} node(s) (kubelet stats not readable)")
    return lines


def alerts_lines(snapshot: ClusterSnapshot) -> list[str]:
    """Firing alerts for `status --live`: critical ones count as a problem, the rest are listed."""
    alerts = snapshot.alerts
    if not alerts.installed:
        return [f"alerts: {alerts.error}"] if alerts.error else []
    if not alerts.read or alerts.error:
        return [f"alerts: Alertmanager {alerts.source} does not answer: {alerts.error}"]
    counts = [f"{len(alerts.firing)} firing ({alerts.critical} critical)"]
    counts += [f"{n} {what}" for n, what in ((alerts.silenced, "silenced"), (alerts.inhibited, "inhibited")) if n]
    if not alerts.watchdog:
        counts.append("Watchdog not firing: Prometheus does not reach Alertmanager")
    lines = ["alerts: " + ", ".join(counts)]
    lines += [f"  {a.severity or 'none'} {a.name} {a.target}: {a.about}" for a in alerts.firing[:20]]
    return lines


def _status_text(snapshot: ClusterSnapshot, state: str, note: str) -> str:
    lines = []
    if snapshot.simulated:
        lines.append(f"SIMULATED ({note})")
    if snapshot.kube_error:
        lines.append(f"Kubernetes API: {snapshot.kube_error}")
    ready = sum(1 for n in snapshot.nodes if n.ready)
    lines += api_lines(snapshot)
    lines.append(f"nodes: {ready}/{len(snapshot.nodes)} Ready")
    lines += [f"  {n.name} ({n.address}): unreachable: {n.error}" for n in snapshot.nodes if not n.reachable]
    lines += disk_lines(snapshot)
    lines += [
        f"  {n.name} ({n.address}): in maintenance mode"
        + (f": {n.error}" if n.error else " (no config)")
        + f"; see `talosctl -n {n.address} --insecure get machinestatus -o yaml`"
        for n in snapshot.nodes
        if n.reachable and n.stage == "maintenance"
    ]
    lines += _etcd_lines(snapshot)
    apps = snapshot.apps
    lines.append(f"apps: {sum(1 for a in apps if a.settled)}/{len(apps)} Synced and Healthy")
    if snapshot.blocked:
        lines.append(f"  {snapshot.blocked}")
    problems = snapshot.real_pod_problems
    starting = [p for p in snapshot.pod_problems if p.starting]
    pods = f"pods: {snapshot.pod_total - len(snapshot.pod_problems)}/{snapshot.pod_total} healthy"
    lines.append(pods + (f", {len(starting)} starting" if starting else ""))
    lines += [f"  {p.namespace}/{p.name}: {p.kind}: {p.detail}" for p in problems[:20]]
    lines += [f"  {p.namespace}/{p.name}: starting: {p.detail}" for p in starting[: max(0, 20 - len(problems))]]
    flows = snapshot.flows
    if flows.available:
        lines.append(f"flows: {flows.total_flows} read, {flows.lost_events} lost")
        lines += [f"  dropped {p.count}x {p.source} -> {p.destination}: {p.reason}" for p in flows.top_dropped]
    elif flows.error:
        lines.append(f"flows: {flows.error}")
    lines += alerts_lines(snapshot)
    if state == STARTING:
        lines.append(f"starting: {len(starting)} pod(s) within their start grace, nothing unhealthy")
    else:
        lines.append("healthy" if state == HEALTHY else "NOT healthy")
    return "\n".join(lines)


def _etcd_lines(snapshot: ClusterSnapshot) -> list[str]:
    """`etcd: 3 members, leader cp-1, 2 problems` and the problems; learners are named, since one
    reading cannot tell how long a member has been one."""
    etcd = snapshot.etcd
    if not etcd.available:
        return []
    members = [m for m in etcd.members if m.member_id]
    head = f"etcd: {len(members)} members, leader {etcd.leader or 'unknown'}"
    if etcd.problems:
        head += f", {len(etcd.problems)} problem{'s' if len(etcd.problems) > 1 else ''}"
    lines = [head] + [f"  {problem}" for problem in etcd.problems]
    lines += [
        f"  {m.node or m.hostname or m.member_id}: etcd learner (not promoted yet; the dashboard counts one that stays)"
        for m in etcd.members
        if m.learner
    ]
    return lines
