"""`talos-platform etcd-snapshot`: a checked snapshot of etcd into the state directory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from talos_platform.engine.operations import Operation, register

if TYPE_CHECKING:
    from talos_platform.engine.config.models import PlatformConfig
    from talos_platform.engine.plan.step import Step
    from talos_platform.engine.state import StateDirectory


def snapshot_steps(config: PlatformConfig, options: Mapping[str, Any]) -> list[Step]:
    from talos_platform.engine.layers.etcd import EtcdSnapshotStep

    return [EtcdSnapshotStep(config)]


def where_snapshots_are(config: PlatformConfig, state: StateDirectory, simulated: bool) -> list[str]:
    from talos_platform.engine.layers.etcd import snapshot_records

    records = snapshot_records(state.etcd_snapshots)
    if not records:
        return []
    latest = records[-1]
    where = state.etcd_snapshots / latest["file"]
    return [
        f"snapshot: {where} ({latest['size']:,} bytes, revision {latest['revision']:,}, SHA-256 {latest['sha256']})",
        f"{len(records)} snapshot(s) kept in {state.etcd_snapshots}, 0600: they hold every Secret of the cluster; "
        "copy them off this machine",
    ]


ETCD_SNAPSHOT = register(
    Operation(
        name="etcd-snapshot",
        title="Etcd snapshot",
        plan_steps=snapshot_steps,
        summary="take a checked etcd snapshot into the state directory (0600)",
        notes_after_success=where_snapshots_are,
    )
)
