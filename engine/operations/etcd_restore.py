"""`talos-platform etcd-restore FILE`: Talos' disaster recovery from an etcd snapshot, checked
and confirmed step by step (see engine/layers/etcd_restore.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talos_platform.engine.errors import UserError
from talos_platform.engine.operations import Operation, register

if TYPE_CHECKING:
    from talos_platform.engine.config.models import PlatformConfig
    from talos_platform.engine.plan.step import Step
    from talos_platform.engine.state import StateDirectory


def restore_steps(config: PlatformConfig, options: Mapping[str, Any]) -> list[Step]:
    """Options: `snapshot` (the file, required) and `skip_hash_check` (a copy of etcd's data directory)."""
    from talos_platform.engine.layers.etcd_restore import etcd_restore_steps

    snapshot = options.get("snapshot")
    if not snapshot:
        raise UserError(
            "which snapshot? give its file, e.g. etcd-restore STATE/etcd-snapshots/20261203T054700Z-cp-1.db",
            where="FILE",
            hint="`plan --operation etcd-restore` takes it as --snapshot FILE",
        )
    return list(
        etcd_restore_steps(
            config, Path(snapshot).expanduser().absolute(), skip_hash_check=bool(options.get("skip_hash_check"))
        )
    )


def after_restore(config: PlatformConfig, state: StateDirectory, simulated: bool) -> list[str]:
    from talos_platform.engine.layers.etcd_restore import read_restore_record

    record = read_restore_record(state)
    if not record or record.get("phase") != "finished":
        return []
    revision = record.get("revision")
    taken = f", revision {revision:,} when it was taken" if isinstance(revision, int) else ""
    return [
        f"restored from {record.get('snapshot')} (SHA-256 {str(record.get('sha256'))[:16]}…{taken}); the Kubernetes "
        f"API now serves revision {record.get('apiRevision') or '?'}",
        "what changed in the cluster after the snapshot is gone: ArgoCD syncs back what Git holds; check what "
        "keeps its state elsewhere",
    ]


ETCD_RESTORE = register(
    Operation(
        name="etcd-restore",
        title="Etcd restore",
        plan_steps=restore_steps,
        summary="restore etcd from a snapshot (Talos disaster recovery): wipes etcd on every control plane, confirmed",
        notes_after_success=after_restore,
    )
)
