"""Hubble Relay's own status, read every few seconds beside the flow stream: its flow rate over
every node, and the nodes whose Hubble it cannot reach (their flows are missing from the stream)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from talos_platform.engine.drivers.clock import Clock
from talos_platform.engine.drivers.protocols import Hubble, HubbleServerStatus
from talos_platform.engine.observe.flows import FlowBuffer
from talos_platform.engine.observe.snapshot import RelayStatus

log = logging.getLogger(__name__)

RELAY_STATUS_INTERVAL = 5.0


def relay_view(status: HubbleServerStatus) -> RelayStatus:
    names = status.unavailable_node_names
    # Relay may name fewer nodes than it counts; never report fewer than it names.
    count = max(status.unavailable_nodes or 0, len(names)) if status.unavailable_nodes is not None else len(names)
    return RelayStatus(
        flows_per_second=status.flows_rate,
        connected_nodes=status.connected_nodes,
        unavailable_nodes=count if (status.unavailable_nodes is not None or names) else None,
        unavailable_node_names=tuple(sorted(names)),
    )


async def poll_relay_status(
    hubble: Hubble, flows: FlowBuffer, clock: Clock, on_change: Callable[[], None], interval: float
) -> None:
    while True:
        try:
            view = relay_view(await hubble.server_status())
        except Exception as error:  # noqa: BLE001 - the stream's own error says more; keep the last view
            log.debug("Hubble Relay status: %s", error)
            view = None
        if view is not None and view != flows.relay:
            flows.relay = view
            on_change()
        elif view is None and flows.relay is not None:
            # Not answering: its last rate would be a figure from the past; fall back to ours.
            flows.relay = None
            on_change()
        await clock.sleep(interval)
