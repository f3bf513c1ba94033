"""Nodes pane: every node at once, unreachable ones included."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from talos_platform.engine.observe import ClusterSnapshot, NodeView
from talos_platform.engine.observe.ordering import natural_key
from talos_platform.tui.styles import WAIT, bad, good, muted, number, percent, warn
from talos_platform.tui.widgets.etcd import etcd_cell, etcd_summary
from talos_platform.tui.widgets.pane import Pane, PaneContent, Row, add_part, matches
from talos_platform.tui.widgets.pressure import disk_cell, pressure_summary, with_pressure

# What matters first (a narrow pane or a small terminal cuts the right-hand columns): is it Ready,
# how loaded is it; then where it is and what it runs.
COLUMNS = ("Node", "Ready", "CPU", "Memory", "Disk", "Role", "IP", "Stage", "Talos", "Kubernetes")
ETCD_COLUMN = "etcd"
"""Shown once a control plane's etcd was asked about (the cluster exists)."""


WAITING_FOR_CONFIG = "◌ maintenance: waiting for config"
"""A node in maintenance mode before the install applied its config: what the install expects."""
REBOOTING_INTO_CONFIG = "◌ rebooting into its config"
"""A node silent while the install's step waits for it to come back with its config."""


@dataclass(frozen=True)
class InstallExpectations:
    """What a running install expects of its nodes now (set by the install screen). Empty outside
    an install, so the dashboard stays strict: maintenance mode and silence are problems there."""

    awaiting_config: frozenset[str] = frozenset()
    """Nodes the install has not applied a config to yet: their maintenance mode is expected."""
    rebooting: frozenset[str] = frozenset()
    """Nodes whose apply-config step still waits for them to install and reboot into the config:
    their Talos API not answering is expected. Once the step is done or failed, it is not."""


NOTHING_EXPECTED = InstallExpectations()


def node_state(node: NodeView, expected: InstallExpectations = NOTHING_EXPECTED) -> Text:
    """`expected`: what an install expects of its nodes (see `InstallExpectations`)."""
    if node.stage == "maintenance" and node.reachable:
        if node.name in expected.awaiting_config and not node.error:
            return Text(WAITING_FOR_CONFIG, style=WAIT)
        # Answers only the maintenance API: no config, or a failed install sent it back.
        return bad("✗ in maintenance mode") if node.error else warn("◌ in maintenance mode")
    if node.not_asked_yet:
        return muted("… asking")
    if not node.reachable and node.name in expected.rebooting:
        return Text(REBOOTING_INTO_CONFIG, style=WAIT)
    if not node.reachable:
        # Kubernetes may still call it Ready for a while; the Talos API tells first.
        return warn("● Ready, Talos API unreachable") if node.ready else bad("✗ unreachable")
    if node.ready is True:
        return good("✓ Ready")
    if node.ready is False:
        return bad("✗ NotReady")
    return muted("- not joined")


def nodes_content(
    snapshot: ClusterSnapshot, query: str = "", expected: InstallExpectations = NOTHING_EXPECTED
) -> PaneContent:
    """`expected`: see `node_state`."""
    rows = []
    etcd = snapshot.etcd
    # Control planes first, then by name as people read it: worker-2 before worker-10.
    for node in sorted(snapshot.nodes, key=lambda n: (n.role != "control-plane", natural_key(n.name))):
        state = with_pressure(node_state(node, expected), node)
        etcd_text = etcd_cell(etcd.member(node.name))
        if not matches(query, node.name, node.role, node.address, node.stage, state.plain, etcd_text.plain):
            continue
        awaited = node.name in expected.awaiting_config and not node.error
        stage = bad(node.stage) if node.stage == "maintenance" and not awaited else Text(node.stage or "-")
        rows.append(
            Row(
                f"node:{node.name}",
                (
                    Text(node.name, style="bold"),
                    state,
                    percent(node.cpu_percent, node.cpu_history),
                    percent(node.memory_percent, node.memory_history),
                    disk_cell(node),
                    "cp" if node.role == "control-plane" else node.role,
                    node.address,
                    stage,
                    node.talos_version or "-",
                    node.kubernetes_version or "-",
                )
                + ((etcd_text,) if etcd.available else ()),
            )
        )
    ready = sum(1 for n in snapshot.nodes if n.ready)
    silent = [n for n in snapshot.nodes if not n.reachable and not n.not_asked_yet]
    rebooting = sum(1 for n in silent if n.name in expected.rebooting)
    unreachable = len(silent) - rebooting
    summary = Text(f"{number(ready)}/{number(len(snapshot.nodes))} Ready")
    if unreachable:
        add_part(summary, f"✗ {number(unreachable)} unreachable", "bold #e03131")
    if rebooting:
        add_part(summary, f"◌ {number(rebooting)} rebooting into their config", WAIT)
    etcd_count, etcd_line = etcd_summary(etcd)
    if etcd_count:
        add_part(summary, etcd_count, "bold #e03131")
    for line in maintenance_lines(snapshot):
        summary.append("\n" + line, style="bold #e03131")
    if etcd_line:
        summary.append("\n" + etcd_line, style="bold #e03131")
    pressed = pressure_summary(snapshot.nodes)
    if pressed:
        summary.append(f"\n{pressed}", style="#d9480f")
    if snapshot.kube_error:
        summary.append(f"\nKubernetes API: {snapshot.kube_error}", style="#d9480f")
    if query:
        add_part(summary, f"filter: {query}", "italic")
    return PaneContent(
        f"Nodes ({number(len(snapshot.nodes))})",
        COLUMNS + ((ETCD_COLUMN,) if etcd.available else ()),
        tuple(rows),
        summary,
        empty="no nodes yet (layer 0 brings them up)",
        online=bool(snapshot.nodes),
    )


def maintenance_lines(snapshot: ClusterSnapshot) -> list[str]:
    """`worker-2 is in maintenance mode: <reason>` for each node that fell back there with a reason."""
    return [
        f"{n.name} is in maintenance mode: {n.error}"
        for n in snapshot.nodes
        if n.stage == "maintenance" and n.reachable and n.error
    ]


class NodesPane(Pane):
    content_function = staticmethod(nodes_content)
