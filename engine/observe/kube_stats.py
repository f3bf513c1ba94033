"""Reads of the API server's `/metrics` and of every node's kubelet stats, for the observer's
periodic poll and for a one-shot snapshot. Failures become state (`not allowed`, no figure),
never exceptions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from talos_platform.engine.drivers.clock import Clock
from talos_platform.engine.drivers.protocols import AccessDenied, Kube
from talos_platform.engine.observe.api_latency import ServerLatency
from talos_platform.engine.observe.node_disk import DiskUse, node_filesystem, stats_summary_path

NOT_ALLOWED = "not allowed"
"""What a 403 on `/metrics` is: these credentials lack the right to read it (RBAC), no error."""


async def read_metrics(kube: Kube, server: ServerLatency, clock: Clock) -> None:
    try:
        text = await kube.read_path("/metrics")
    except AccessDenied:
        server.not_read(NOT_ALLOWED)
        return
    except Exception as error:  # noqa: BLE001 - shown as why the figures are missing
        server.not_read(str(error) or type(error).__name__)
        return
    server.scraped(text, clock.now())


async def read_disks(kube: Kube, nodes: Iterable[str], concurrency: int = 16) -> dict[str, DiskUse]:
    """Filesystem use by node name, for the nodes whose kubelet answered through the node proxy."""
    limit = asyncio.Semaphore(concurrency)

    async def read(node: str) -> tuple[str, DiskUse | None]:
        async with limit:
            try:
                return node, node_filesystem(await kube.read_path(stats_summary_path(node)))
            except Exception:  # noqa: BLE001 - a kubelet that does not answer has no figure
                return node, None

    readings = await asyncio.gather(*(read(node) for node in nodes if node))
    return {node: use for node, use in readings if use is not None}
