"""etcd snapshots: the cluster's whole state in one file, taken from a control plane through the
Talos API (`talosctl etcd snapshot`), checked, and recorded beside it.

A snapshot holds every Secret of the cluster: it is kept 0600 in the state directory's
`etcd-snapshots/`, with a `.json` record (node, size, SHA-256 of the file, etcd's revision and
hash). The file is checked before it is recorded: etcd appends the SHA-256 of the database to
every snapshot, and a file whose checksum does not match is kept aside as `.corrupt`, never
recorded. Nothing is ever overwritten.

One rule for every operation that takes a snapshot first: an attempt takes one. A run that
resumes an interrupted or failed attempt of the same operation reuses the snapshot that attempt
took and recorded (named, with when), as long as its file still matches its record; a new
attempt (after a success, or after another operation ran) takes a new one. An operation may add
why no snapshot is needed any more (`EtcdSnapshotStep.past_the_change`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.drivers.talosctl import etcd_snapshot_argv
from talos_platform.engine.errors import PermanentError, TransientError
from talos_platform.engine.files import atomic_write
from talos_platform.engine.layers.base import BaseStep, done, todo
from talos_platform.engine.plan.context import StepContext
from talos_platform.engine.plan.step import Action, CheckResult

_CHECKSUM_BYTES = hashlib.sha256().digest_size


class SnapshotDamaged(PermanentError):
    """The snapshot's checksum does not match its content."""


def verify_snapshot(path: Path) -> str:
    """The SHA-256 of the whole file, once etcd's own checksum (the SHA-256 of the database,
    appended to it) matches. Raises SnapshotDamaged otherwise."""
    data = path.read_bytes()
    database, checksum = data[:-_CHECKSUM_BYTES], data[-_CHECKSUM_BYTES:]
    if len(data) % 512 != _CHECKSUM_BYTES or hashlib.sha256(database).digest() != checksum:
        raise SnapshotDamaged(
            f"the etcd snapshot {path} fails its checksum ({len(data)} bytes): it is not a whole database",
            hint="take another snapshot; if it fails again, check the control plane's disk and etcd",
        )
    return hashlib.sha256(data).hexdigest()


def snapshot_records(folder: Path) -> list[dict[str, Any]]:
    """The recorded snapshots in `folder`, oldest first."""
    records = []
    for record in sorted(folder.glob("*.json")):
        try:
            records.append(json.loads(record.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return records


def snapshot_of_this_attempt(ctx: StepContext) -> dict[str, Any] | None:
    """The newest snapshot a run of this attempt took and recorded whose file still matches its
    record (a file changed or gone since is not reused)."""
    if not ctx.run_id:
        return None
    folder = ctx.state.etcd_snapshots
    records: list[dict[str, Any]] = snapshot_records(folder)
    for record in reversed(records):
        if record.get("operation") != ctx.operation or record.get("runId") not in ctx.attempt:
            continue
        try:
            if verify_snapshot(folder / str(record["file"])) == record.get("sha256"):
                return dict(record)
        except (OSError, KeyError, SnapshotDamaged):
            continue
    return None


def _unused(path: Path) -> Path:
    """`path`, or `path` numbered when a snapshot of that second exists: none is overwritten."""
    number = 1
    while path.exists() or path.with_suffix(".json").exists():
        number += 1
        path = path.with_name(f"{path.stem.rsplit('~', 1)[0]}~{number}{path.suffix}")
    return path


class EtcdSnapshotStep(BaseStep):
    """Stream a snapshot from the first control plane that gives one, check it, record it."""

    layer = 0
    timeout = 900.0

    def __init__(self, config: PlatformConfig, *, needs: tuple[str, ...] = ()):
        super().__init__(config, step_id="E.snapshot", title="Take an etcd snapshot", needs=needs)

    def inputs(self) -> Any:
        return [node.name for node in self.config.control_planes]

    async def _check(self, ctx: StepContext) -> CheckResult:
        taken = snapshot_of_this_attempt(ctx)
        if taken is not None:
            return done(
                f"this {ctx.operation} was resumed: the snapshot its first run took is kept, "
                f"{ctx.state.etcd_snapshots / str(taken['file'])} (taken {taken['takenAt']} from {taken['node']}, "
                f"revision {taken['revision']}, checked again now)"
            )
        past = await self.past_the_change(ctx)
        if past:
            return done(past)
        return todo("no snapshot taken by this attempt yet", *self.planned_actions(ctx))

    async def past_the_change(self, ctx: StepContext) -> str | None:
        """Why a snapshot is no longer "before" the change it guards (an earlier run began it), or
        None. By default the change is guarded until this attempt took its snapshot."""
        return None

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        first = self.config.control_planes[0]
        folder = ctx.state.etcd_snapshots
        destination = folder / f"TIMESTAMP-{first.name}.db"
        return (
            Action(
                f"stream etcd's snapshot from {first.name} (the next control plane if it cannot) into {folder}",
                command=tuple(etcd_snapshot_argv(self.config.node_ip(first), ctx.state.talosconfig, destination)),
            ),
            Action(f"check its checksum and record node, size, SHA-256, revision and hash in {destination.stem}.json"),
        )

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        folder = ctx.state.etcd_snapshots
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for stale in folder.glob("*.db.part"):  # left by a killed talosctl
            stale.unlink(missing_ok=True)
        stamp = datetime.fromtimestamp(ctx.clock.now(), UTC).strftime("%Y%m%dT%H%M%SZ")
        refused = []
        for node in self.config.control_planes:
            destination = _unused(folder / f"{stamp}-{node.name}.db")
            try:
                taken = await ctx.drivers.talos.etcd_snapshot(
                    self.config.node_ip(node), ctx.state.talosconfig, destination
                )
            except TransientError as error:
                refused.append(f"{node.name}: {error.message}")
                ctx.output(f"{node.name} gave no snapshot: {error.message}")
                continue
            destination.chmod(0o600)
            try:
                digest = verify_snapshot(destination)
            except SnapshotDamaged:
                destination.replace(destination.with_suffix(".corrupt"))
                raise
            record = {
                "file": destination.name,
                "node": node.name,
                "takenAt": stamp,
                "size": taken.size,
                "sha256": digest,
                "revision": taken.revision,
                "totalKeys": taken.total_keys,
                "etcdHash": taken.etcd_hash,
                "operation": ctx.operation,
                "runId": ctx.run_id,
            }
            atomic_write(destination.with_suffix(".json"), (json.dumps(record, indent=2) + "\n").encode(), mode=0o600)
            ctx.output(
                f"{destination} from {node.name}: {taken.size:,} bytes, revision {taken.revision:,}, "
                f"{taken.total_keys:,} keys, etcd hash {taken.etcd_hash}, SHA-256 {digest[:16]}…"
            )
            return
        raise TransientError(
            "no control plane gave an etcd snapshot: " + "; ".join(refused),
            hint="check that the control planes are up and etcd runs (`talosctl -n NODE service etcd`)",
        )
