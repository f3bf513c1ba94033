"""What a detail view says about one row, as pure functions of the snapshot (plus any details
looked up on demand)."""

from __future__ import annotations

import time

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from talos_platform.engine.observe import ClusterSnapshot, FlowView, HealthyPod
from talos_platform.tui.feed import ObjectDetails
from talos_platform.tui.styles import BAD, GOOD, MUTED, WAIT, WARN
from talos_platform.tui.widgets.alerts import firing_for, severity_text
from talos_platform.tui.widgets.apps import health_text, sync_text
from talos_platform.tui.widgets.etcd import etcd_details
from talos_platform.tui.widgets.flows import VERDICT_STYLE
from talos_platform.tui.widgets.nodes import node_state
from talos_platform.tui.widgets.pods import problem_text
from talos_platform.tui.widgets.pressure import disk_cell


def _fields(*pairs: tuple[str, object]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for name, value in pairs:
        table.add_row(name, value if isinstance(value, Text) else Text(str(value)))
    return table


def _heading(text: str) -> Text:
    return Text("\n" + text, style="bold underline")


def _flows(flows: list[FlowView]) -> RenderableType:
    if not flows:
        return Text("no recent flows", style=MUTED)
    table = Table.grid(padding=(0, 1))
    for flow in flows[-12:]:
        table.add_row(
            time.strftime("%H:%M:%S", time.gmtime(flow.time)),
            Text(flow.verdict, style=VERDICT_STYLE.get(flow.verdict, "")),
            f"{flow.source} → {flow.destination}",
            f"{flow.protocol} {flow.port}" if flow.port else flow.protocol,
            flow.drop_reason,
        )
    return table


def healthy_pod(snapshot: ClusterSnapshot, ident: str) -> HealthyPod | None:
    """The pod `namespace/name` if it is among the healthy ones."""
    return next((p for p in snapshot.healthy_pods if f"{p.namespace}/{p.name}" == ident), None)


def pod_flows(snapshot: ClusterSnapshot, pod: str) -> list[FlowView]:
    return [f for f in snapshot.flows.recent if pod in (f.source, f.destination)]


def describe(
    key: str, snapshot: ClusterSnapshot, details: ObjectDetails | None = None
) -> tuple[str, RenderableType, tuple[str, ...]]:
    """(title, body, jumps) for a row key; jumps are the cross-links the view offers."""
    kind, _, ident = key.partition(":")
    if kind == "node":
        node = next((n for n in snapshot.nodes if n.name == ident), None)
        if node is None:
            return f"Node {ident}", Text("gone from the cluster"), ()
        parts: list[RenderableType] = [
            _fields(
                ("State", node_state(node)),
                ("Role", node.role),
                ("Address", node.address),
                ("Stage", node.stage or "-"),
                ("Talos", node.talos_version or "-"),
                ("Kubernetes", node.kubernetes_version or "-"),
                ("CPU", f"{node.cpu_percent:.0f}%" if node.cpu_percent is not None else "-"),
                ("Memory", f"{node.memory_percent:.0f}%" if node.memory_percent is not None else "-"),
                ("Disk", disk_cell(node)),
            )
        ]
        if node.stage == "maintenance" and node.reachable:
            # It refused our certificates but answered the maintenance API: say why, and how to read it.
            reason = node.error or "no config yet"
            parts.append(Text(f"\nIn maintenance mode: {reason}", style=BAD))
            parts.append(Text(f"talosctl -n {node.address} --insecure get machinestatus -o yaml", style=MUTED))
        elif node.error:
            parts.append(Text(f"\nTalos API: {node.error}", style=BAD))
        parts.append(_heading("Conditions"))
        if node.conditions:
            for ctype, status, message in node.conditions:
                good = (ctype == "Ready") == (status == "True")
                parts.append(Text(f"{'✓' if good else '✗'} {ctype}={status}  {message}", style=GOOD if good else BAD))
        else:
            parts.append(Text("not known to Kubernetes yet", style=MUTED))
        member = snapshot.etcd.member(node.name)
        if member is not None:
            parts.extend(etcd_details(member, snapshot.etcd))
        on_node = [p for p in snapshot.pod_problems if p.node == node.name]
        if on_node:
            parts.append(_heading("Pods with problems on this node"))
            parts.extend(Text(f"{p.namespace}/{p.name}: {p.kind}: {p.detail}", style=WARN) for p in on_node[:10])
        return f"Node {node.name}", Group(*parts), ()
    if kind == "pod":
        problem = next((p for p in snapshot.pod_problems if f"{p.namespace}/{p.name}" == ident), None)
        parts = []
        jumps = ["flows"]
        if problem is not None:
            parts.append(
                _fields(
                    ("Problem", problem_text(problem)),
                    ("Detail", problem.detail),
                    ("Restarts", f"{problem.restarts:,}"),
                    ("Node", problem.node or "-"),
                    ("ArgoCD app", problem.app or "-"),
                )
            )
            if problem.app:
                jumps.append("app")
            if problem.node:
                jumps.append("node")
        elif (healthy := healthy_pod(snapshot, ident)) is not None:
            parts.append(
                _fields(
                    ("State", Text("✓ healthy", style=GOOD)),
                    ("Node", healthy.node or "-"),
                    ("ArgoCD app", healthy.app or "-"),
                )
            )
            if healthy.app:
                jumps.append("app")
            if healthy.node:
                jumps.append("node")
        else:
            parts.append(Text("no problem reported any more", style=GOOD))
        parts.append(_heading("Conditions"))
        if details is None:
            parts.append(Text("loading…", style=MUTED))
        elif details.error:
            parts.append(Text(details.error, style=BAD))
        else:
            for ctype, status, reason, message in details.conditions:
                parts.append(
                    Text(
                        f"{'✓' if status == 'True' else '✗'} {ctype}={status} {reason} {message}".rstrip(),
                        style=GOOD if status == "True" else WARN,
                    )
                )
            parts.append(_heading("Events"))
            if not details.events:
                parts.append(Text("no events", style=MUTED))
            for etype, reason, message, count in details.events:
                parts.append(
                    Text(f"{etype:<8} {reason:<18} {message} (x{count:,})", style=WARN if etype == "Warning" else "")
                )
        parts.append(_heading("Recent flows"))
        parts.append(_flows(pod_flows(snapshot, ident)))
        return f"Pod {ident}", Group(*parts), tuple(jumps)
    if kind == "app":
        app = next((a for a in snapshot.apps if a.name == ident), None)
        if app is None:
            return f"Application {ident}", Text("gone"), ()
        parts = [
            _fields(
                ("Wave", app.wave),
                ("Sync", sync_text(app)),
                ("Health", health_text(app)),
                ("Project", app.project or "-"),
                ("Namespace", app.namespace),
                ("Message", app.message or "-"),
            )
        ]
        if snapshot.blocked and f"blocked by {app.name}:" in snapshot.blocked:
            parts.append(Text("\n" + snapshot.blocked, style=f"bold {BAD}"))
        elif snapshot.blocked and f"waits for {app.name}:" in snapshot.blocked:
            parts.append(Text("\n" + snapshot.blocked, style=WAIT))
        if app.unhealthy:
            parts.append(_heading("Resources not Healthy"))
            parts.extend(
                Text(f"{r.label}: {r.health}" + (f" — {r.message}" if r.message else ""), style=WARN)
                for r in app.unhealthy[:10]
            )
        mine = [p for p in snapshot.pod_problems if p.app == app.name]
        parts.append(_heading("Pods with problems"))
        parts.extend(
            [Text(f"{p.namespace}/{p.name}: {p.kind}: {p.detail}", style=WARN) for p in mine[:15]]
            or [Text("none", style=GOOD)]
        )
        return f"Application {app.name}", Group(*parts), ()
    if kind == "wave":
        wave = next((w for w in snapshot.waves if str(w.wave) == ident), None)
        if wave is None:
            return f"Wave {ident}", Text("gone"), ()
        lines: list[RenderableType] = [Text(f"state: {wave.state}", style="bold")]
        lines.extend(Text(f"{a.name:<30} {a.sync:<10} {a.health:<12} {a.message}") for a in wave.apps)
        return f"Wave {wave.wave}", Group(*lines), ()
    if kind == "namespace":
        ns = next((n for n in snapshot.namespaces if n.namespace == ident), None)
        problems = [p for p in snapshot.pod_problems if p.namespace == ident]
        lines = [Text(f"{ns.healthy:,}/{ns.total:,} pods healthy" if ns else "gone", style="bold")]
        lines.extend(Text(f"{p.name}: {p.kind}: {p.detail}", style=WARN) for p in problems[:20])
        fine = [p for p in snapshot.healthy_pods if p.namespace == ident]
        lines.extend(Text(f"{p.name}: ✓ healthy" + (f" on {p.node}" if p.node else ""), style=GOOD) for p in fine[:30])
        if len(fine) > 30:
            lines.append(Text(f"… {len(fine) - 30:,} more healthy pods (/ filters the pane to find one)", style=MUTED))
        return f"Namespace {ident}", Group(*lines), ()
    if kind == "flow":
        stamp, source, destination, verdict = (ident.split("|") + ["", "", "", ""])[:4]
        flow = next(
            (
                f
                for f in (*snapshot.flows.recent, *snapshot.flows.recent_dropped)
                if repr(f.time) == stamp
                and f.source == source
                and f.destination == destination
                and f.verdict == verdict
            ),
            None,
        )
        if flow is None:
            return "Flow", Text("no longer in the buffer"), ()
        return (
            "Flow",
            _fields(
                ("Time", time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(flow.time))),
                ("Verdict", Text(flow.verdict, style=VERDICT_STYLE.get(flow.verdict, ""))),
                ("Source", flow.source),
                ("Destination", flow.destination),
                ("Protocol", f"{flow.protocol} {flow.port}"),
                ("Node", flow.node or "-"),
                ("Drop reason", flow.drop_reason or "-"),
            ),
            (),
        )
    if kind == "alert":
        return describe_alert(ident, snapshot)
    return ident or key, Text(""), ()


def describe_alert(ident: str, snapshot: ClusterSnapshot) -> tuple[str, RenderableType, tuple[str, ...]]:
    alert = next((a for a in snapshot.alerts.firing if (a.fingerprint or f"{a.name}/{a.target}") == ident), None)
    if alert is None:
        return "Alert", Text("no longer firing (resolved, or silenced since)"), ()
    parts: list[RenderableType] = [
        _fields(
            ("Severity", severity_text(alert.severity)),
            ("About", alert.about or "-"),
            ("Target", alert.target or "-"),
            ("Firing since", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(alert.starts_at))),
            ("For", firing_for(snapshot.taken_at - alert.starts_at)),
            ("Read from", f"Alertmanager {snapshot.alerts.source}"),
        ),
        _heading("Labels"),
    ]
    parts.extend(Text(f"{name}={value}") for name, value in alert.labels)
    return f"Alert {alert.name}", Group(*parts), ()
