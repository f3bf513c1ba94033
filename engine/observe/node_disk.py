"""Each node's root filesystem use, from its kubelet's stats summary read through the API server's
node proxy (`/api/v1/nodes/NAME/proxy/stats/summary`). On Talos the kubelet's `node.fs` is the
EPHEMERAL partition (`/var`), where images, logs and emptyDirs live: what fills up first.

A node whose stats cannot be read (kubelet down, RBAC without `nodes/proxy`) has no figure at
all: shown as unknown, never as 0%.
"""

from __future__ import annotations

import json
from typing import Any

DiskUse = tuple[int, int]
"""(used bytes, capacity bytes)."""


def stats_summary_path(node: str) -> str:
    return f"/api/v1/nodes/{node}/proxy/stats/summary"


def node_filesystem(summary_text: str) -> DiskUse | None:
    """`node.fs` used and capacity bytes of a stats summary; None when it does not say (a kubelet
    still starting, or something that is no stats summary)."""
    try:
        summary: Any = json.loads(summary_text)
    except json.JSONDecodeError:
        return None
    filesystem = (summary.get("node") or {}).get("fs") if isinstance(summary, dict) else None
    if not isinstance(filesystem, dict):
        return None
    used, capacity = filesystem.get("usedBytes"), filesystem.get("capacityBytes")
    if not isinstance(used, int) or not isinstance(capacity, int) or capacity <= 0:
        return None
    return used, capacity
