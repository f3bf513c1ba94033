"""How node pressure looks in the Nodes pane: a Ready node under pressure is not shown as plainly
healthy (see engine/observe/pressure.py for the thresholds)."""

from __future__ import annotations

from rich.text import Text

from talos_platform.engine.observe import NodeView
from talos_platform.engine.observe.pressure import disk_level, node_pressure
from talos_platform.tui.styles import BAD, MUTED, WARN, muted


def with_pressure(state: Text, node: NodeView) -> Text:
    """`✓ Ready` becomes `● Ready, MemoryPressure, CPU 98%` (red when critical, orange when
    high); any other state is left as it is (it already says something is wrong)."""
    if not node.ready or not node.reachable:
        return state
    pressure = node_pressure(node)
    if not pressure.any:
        return state
    colour = BAD if pressure.level == "critical" else WARN
    return Text(f"● Ready, {', '.join(pressure.reasons)}", style=f"bold {colour}" if colour == BAD else colour)


def pressure_summary(nodes: tuple[NodeView, ...], named: int = 3) -> str:
    """`● 3 under pressure: worker-1 CPU 98%, worker-2 MemoryPressure, …` (the worst reason of
    each, the first few nodes), or empty."""
    pressed = [
        (node.name, node_pressure(node)) for node in nodes if node.ready and node.reachable and node_pressure(node).any
    ]
    if not pressed:
        return ""
    pressed.sort(key=lambda item: (item[1].level != "critical", item[0]))
    names = ", ".join(f"{name} {pressure.reasons[0]}" for name, pressure in pressed[:named])
    more = f", +{len(pressed) - named:,} more" if len(pressed) > named else ""
    return f"● {len(pressed):,} under pressure: {names}{more}"


def disk_cell(node: NodeView) -> Text:
    """`93% 112/120 GiB`, the percentage in colour by threshold (red from the kubelet's eviction
    threshold, or while it reports DiskPressure); `-` when the kubelet's stats are not known."""
    percent = node.disk_percent
    if percent is None or node.disk_used_bytes is None or node.disk_capacity_bytes is None:
        return muted("-")
    pressure = any(kind == "DiskPressure" and status == "True" for kind, status, _ in node.conditions)
    level = "critical" if pressure else disk_level(percent)
    text = Text()
    text.append(f"{percent:3.0f}% ", style=f"bold {BAD}" if level == "critical" else WARN if level == "high" else "")
    text.append(f"{_gibibytes(node.disk_used_bytes)}/{_gibibytes(node.disk_capacity_bytes)} GiB", style=MUTED)
    return text


def _gibibytes(size: int) -> str:
    value = size / 1024**3
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"
