"""How node pressure looks in the Nodes pane: a Ready node under pressure is not shown as plainly
healthy (see engine/observe/pressure.py for the thresholds)."""

from __future__ import annotations

from rich.text import Text

from talos_platform.engine.observe import NodeView
from talos_platform.engine.observe.pressure import node_pressure
from talos_platform.tui.styles import BAD, WARN


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
