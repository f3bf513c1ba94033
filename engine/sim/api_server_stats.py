"""What the simulated API server answers on paths that are no resource: its `/metrics` (the
`apiserver_request_duration_seconds` histogram of the requests it really served, in the
Prometheus text format) and each node's kubelet stats summary through the node proxy
(`/api/v1/nodes/NAME/proxy/stats/summary`: the root filesystem's use).

Request durations are virtual: 0.05 s normally, and around a `slowApi` fault's latency while it
lasts (varied by a generator of its own, so a slow API does not change the rest of a seeded run).
"""

from __future__ import annotations

import random
import zlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from talos_platform.engine.sim.model import Machine, PlatformModel

# The API server's own bucket bounds for apiserver_request_duration_seconds.
BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60)
NORMAL_REQUEST_SECONDS = 0.05
EPHEMERAL_BYTES = 120 * 1024**3
"""Size of every simulated node's EPHEMERAL partition (what is left of a 128 GB disk)."""
DISK_PRESSURE_PERCENT = 90.0
"""The kubelet's default hard eviction threshold `nodefs.available<10%`."""


class RequestDurations:
    """Counts per (verb, resource) and bucket, as the API server's histogram keeps them."""

    def __init__(self, seed: int):
        self._random = random.Random(seed)
        self.slow_latency = 0.0
        """Mean seconds a request takes while a `slowApi` fault lasts; 0 when the API is healthy."""
        self._counts: dict[tuple[str, str], list[int]] = {}
        self._sums: dict[tuple[str, str], float] = {}

    def next_duration(self) -> float:
        if not self.slow_latency:
            return NORMAL_REQUEST_SECONDS
        return self.slow_latency * (0.6 + 0.8 * self._random.random())

    def record(self, verb: str, resource: str, seconds: float) -> None:
        counts = self._counts.setdefault((verb, resource), [0] * (len(BUCKETS) + 1))
        for index, bound in enumerate(BUCKETS):
            if seconds <= bound:
                counts[index] += 1
        counts[-1] += 1
        self._sums[(verb, resource)] = self._sums.get((verb, resource), 0.0) + seconds

    def exposition(self) -> str:
        name = "apiserver_request_duration_seconds"
        lines = [
            f"# HELP {name} [STABLE] Response latency distribution in seconds for each verb, dry run value, "
            "group, version, resource, subresource, scope and component.",
            f"# TYPE {name} histogram",
        ]
        for (verb, resource), counts in sorted(self._counts.items()):
            scope = "resource" if verb == "GET" else "cluster"
            labels = (
                f'component="apiserver",dry_run="",group="",resource="{resource}",scope="{scope}",'
                f'subresource="",verb="{verb}",version="v1"'
            )
            for bound, count in zip((*(f"{b:g}" for b in BUCKETS), "+Inf"), counts, strict=True):
                lines.append(f'{name}_bucket{{{labels},le="{bound}"}} {count}')
            lines.append(f"{name}_sum{{{labels}}} {self._sums[(verb, resource)]:.6f}")
            lines.append(f"{name}_count{{{labels}}} {counts[-1]}")
        return "\n".join(lines) + "\n"


def disk_percent(model: PlatformModel, machine: Machine) -> float:
    """How full the node's EPHEMERAL partition is: a `diskFull` fault's figure once it began, else
    a steady 15-45% that depends on the node and the seed."""
    if machine.name in model.disk_full:
        return model.disk_full[machine.name]
    return 15.0 + zlib.crc32(f"{model.seed}:{machine.name}".encode()) % 3000 / 100


def stats_summary(model: PlatformModel, machine: Machine) -> dict[str, Any]:
    """The node part of the kubelet's `/stats/summary`."""
    used = int(EPHEMERAL_BYTES * disk_percent(model, machine) / 100)
    return {
        "node": {
            "nodeName": machine.name,
            "fs": {
                "time": model.now_iso(),
                "availableBytes": EPHEMERAL_BYTES - used,
                "capacityBytes": EPHEMERAL_BYTES,
                "usedBytes": used,
            },
        },
        "pods": [],
    }
