"""Pressure is not health: a Ready node near its limits, or one whose kubelet reports
MemoryPressure, DiskPressure or PIDPressure, is shown as under pressure.

The CPU and memory thresholds are the dashboard's (the help screen lists them); the conditions
are Kubernetes' own, read from the Node objects (the kubelet sets them when its eviction
thresholds are crossed, and then evicts pods).
"""

from __future__ import annotations

from dataclasses import dataclass

from talos_platform.engine.observe.snapshot import NodeView

HIGH_PERCENT = 80.0
"""CPU or memory at or above this is high (shown orange)."""
CRITICAL_PERCENT = 95.0
"""CPU or memory at or above this is critical (shown red): little headroom is left."""
DISK_HIGH_PERCENT = 80.0
"""A node filesystem at or above this full is high (orange)."""
DISK_CRITICAL_PERCENT = 90.0
"""At or above this the kubelet's default eviction threshold (`nodefs.available<10%`) is crossed:
it reports DiskPressure and evicts pods (red)."""
PRESSURE_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure")


@dataclass(frozen=True)
class Pressure:
    level: str
    """`none`, `high` or `critical` (a kubelet pressure condition is always critical)."""
    reasons: tuple[str, ...] = ()
    """e.g. `MemoryPressure`, `CPU 98%`, worst first."""

    @property
    def any(self) -> bool:
        return self.level != "none"


def usage_level(percent: float | None, high: float = HIGH_PERCENT, critical: float = CRITICAL_PERCENT) -> str:
    if percent is None:
        return "none"
    if percent >= critical:
        return "critical"
    if percent >= high:
        return "high"
    return "none"


def disk_level(percent: float | None) -> str:
    return usage_level(percent, DISK_HIGH_PERCENT, DISK_CRITICAL_PERCENT)


def node_pressure(node: NodeView) -> Pressure:
    conditions = tuple(kind for kind, status, _ in node.conditions if kind in PRESSURE_CONDITIONS and status == "True")
    usage = []
    levels = {"critical": 2, "high": 1, "none": 0}
    worst = 2 if conditions else 0
    for label, value, level in (
        ("CPU", node.cpu_percent, usage_level(node.cpu_percent)),
        ("memory", node.memory_percent, usage_level(node.memory_percent)),
        ("disk", node.disk_percent, disk_level(node.disk_percent)),
    ):
        if level != "none":
            usage.append((levels[level], f"{label} {value:.0f}%"))
            worst = max(worst, levels[level])
    usage.sort(key=lambda item: -item[0])
    level = {2: "critical", 1: "high", 0: "none"}[worst]
    return Pressure(level, conditions + tuple(text for _, text in usage))
