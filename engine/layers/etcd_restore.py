"""Restoring etcd from a snapshot: Talos' disaster-recovery flow, guided and checked.

The snapshot is checked first (etcd's own checksum, then the size and SHA-256 that
`etcd-snapshot` recorded beside it); a file that fails is refused before anything is wiped.
Then every control plane's EPHEMERAL partition is wiped (`talosctl reset
--system-labels-to-wipe EPHEMERAL --reboot --graceful=false`), all of them before any is waited
for, so that no wiped member comes back and joins members still running; once etcd waits in
Preparing on each, the first control plane is bootstrapped from the snapshot (`talosctl
bootstrap --recover-from`), the others join it, and the Kubernetes API comes back.

Nothing is wiped without a confirmation naming the node (`wipe_permission`, given by the
command line); the restore record (`etcd-restore.json` in the state directory, written before
the bootstrap) keeps a resumed run from wiping again what was already restored from.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talos_platform.engine.config.models import Node, PlatformConfig
from talos_platform.engine.drivers import talosctl
from talos_platform.engine.drivers.protocols import NODES, AlreadyBootstrapped
from talos_platform.engine.errors import PermanentError, TransientError
from talos_platform.engine.files import atomic_write
from talos_platform.engine.layers.base import BaseStep, done, todo
from talos_platform.engine.layers.etcd import SnapshotDamaged, snapshot_records, verify_snapshot
from talos_platform.engine.plan.context import StepContext
from talos_platform.engine.plan.step import Action, CheckResult

if TYPE_CHECKING:
    from talos_platform.engine.state import StateDirectory

_POLL_SECONDS = 10.0
_UP_STAGES = ("running", "booting")
PREPARING = "Preparing"
RUNNING = "Running"

RECOVER_ETCD = "recover-etcd"
"""Permission (see StepContext.allowed) to bootstrap etcd from the snapshot."""


def wipe_permission(node_name: str) -> str:
    """Permission to wipe the EPHEMERAL partition of this control plane."""
    return f"wipe-ephemeral:{node_name}"


# --- the snapshot -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedSnapshot:
    path: Path
    sha256: str
    size: int
    checksum_checked: bool
    """False for a database copied from etcd's data directory (no checksum; --recover-skip-hash-check)."""
    record: dict[str, Any] | None
    """What `etcd-snapshot` recorded when it took the file (None: taken some other way)."""

    @property
    def revision(self) -> int | None:
        revision = (self.record or {}).get("revision")
        return revision if isinstance(revision, int) and not isinstance(revision, bool) else None

    def describe(self) -> str:
        checked = (
            "etcd's checksum matches" if self.checksum_checked else "no checksum checked (--recover-skip-hash-check)"
        )
        said = f"{self.path}: {self.size:,} bytes, SHA-256 {self.sha256[:16]}…, {checked}"
        if self.record is None:
            return said + "; no record of it in the state directory (revision unknown until etcd runs it)"
        return (
            said
            + f"; as recorded when taken from {self.record.get('node', '?')} at {self.record.get('takenAt', '?')}, "
            f"revision {_number(self.revision)}"
        )


def check_snapshot(path: Path, snapshots: Path, *, skip_hash_check: bool) -> CheckedSnapshot:
    """The snapshot at `path`, checked: etcd's checksum (unless `skip_hash_check`), and its size and
    SHA-256 against the record `etcd-snapshot` wrote beside it or kept in `snapshots`."""
    if not path.is_file():
        raise PermanentError(
            f"there is no snapshot file at {path}",
            hint=f"give the path of a snapshot, e.g. one `etcd-snapshot` kept in {snapshots}",
        )
    try:
        if skip_hash_check:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            digest = verify_snapshot(path)
    except SnapshotDamaged as damaged:
        raise SnapshotDamaged(
            damaged.message + "; nothing was wiped",
            hint="restore from another snapshot (`ls` the state directory's etcd-snapshots/); a database copied "
            "from etcd's data directory (member/snap/db) has no checksum: give --recover-skip-hash-check for it",
        ) from None
    except OSError as error:
        raise PermanentError(
            f"cannot read the snapshot {path}: {error.strerror}", hint="check its permissions"
        ) from None
    size = path.stat().st_size
    record = _record_of(path, snapshots, digest)
    if record is not None and (record.get("sha256") != digest or record.get("size") != size):
        raise SnapshotDamaged(
            f"{path} is not the snapshot that was recorded: {size:,} bytes, SHA-256 {digest[:16]}…, where "
            f"its record says {_number(record.get('size'))} bytes, SHA-256 "
            f"{str(record.get('sha256'))[:16]}…; nothing was wiped",
            hint="the file changed after it was taken: restore from another snapshot",
        )
    return CheckedSnapshot(path, digest, size, not skip_hash_check, record)


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else "?"


def _record_of(path: Path, snapshots: Path, digest: str) -> dict[str, Any] | None:
    """The record beside the file (`X.json` for `X.db`), else one in `snapshots` of the same SHA-256."""
    beside = path.with_suffix(".json")
    if beside.is_file():
        try:
            record = json.loads(beside.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = None
        if isinstance(record, dict) and record.get("file") == path.name:
            return record
    return next((r for r in snapshot_records(snapshots) if r.get("sha256") == digest), None)


def file_digest(path: Path) -> str:
    """The SHA-256 of the file, or '' when it cannot be read (the check step says why)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


# --- the restore record -------------------------------------------------------------------------


def restore_record_path(state: StateDirectory) -> Path:
    return state.root / "etcd-restore.json"


def read_restore_record(state: StateDirectory) -> dict[str, Any] | None:
    try:
        record = json.loads(restore_record_path(state).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _write_restore_record(state: StateDirectory, record: dict[str, Any]) -> None:
    atomic_write(restore_record_path(state), (json.dumps(record, indent=2) + "\n").encode(), mode=0o600)


def _under_way(state: StateDirectory, digest: str) -> dict[str, Any] | None:
    """The record of a restore from this snapshot that bootstrapped, or began to, and did not finish."""
    record = read_restore_record(state)
    if record and record.get("sha256") == digest and record.get("phase") == "recovering":
        return record
    return None


# --- the steps ----------------------------------------------------------------------------------


class _RestoreStep(BaseStep):
    def __init__(
        self,
        config: PlatformConfig,
        snapshot: Path,
        skip_hash_check: bool,
        *,
        step_id: str,
        title: str,
        needs: tuple[str, ...] = (),
    ):
        super().__init__(config, step_id=step_id, title=title, needs=needs)
        self.snapshot = snapshot
        self.skip_hash_check = skip_hash_check

    def inputs(self) -> Any:
        return {
            "snapshot": str(self.snapshot),
            "skipHashCheck": self.skip_hash_check,
            "controlPlanes": [n.name for n in self.config.control_planes],
        }

    @property
    def first(self) -> Node:
        return self.config.control_planes[0]

    def address(self, node: Node) -> str:
        return self.config.node_ip(node)

    async def etcd_state(self, ctx: StepContext, node: Node) -> str:
        """`Running`, `Preparing`, ... or what keeps the node from saying (`away (rebooting)`)."""
        facts = await ctx.drivers.talos.node_facts(self.address(node), insecure=False)
        # A control plane whose etcd waits for a bootstrap may still say `booting`; any other stage
        # (resetting, rebooting, ...) is a node on its way down or up.
        if not facts.reachable or facts.stage not in _UP_STAGES:
            return f"away ({facts.stage or facts.error or 'no answer'})"
        try:
            return await ctx.drivers.talos.etcd_service_state(self.address(node), ctx.state.talosconfig)
        except TransientError as error:
            return f"not answering ({error.message})"


class RestoreSnapshotCheck(_RestoreStep):
    """The snapshot is whole, and the one that was recorded: refused here, nothing is wiped."""

    layer = 0
    timeout = 300.0

    def __init__(self, config: PlatformConfig, snapshot: Path, skip_hash_check: bool):
        super().__init__(config, snapshot, skip_hash_check, step_id="R.verify", title="Check the snapshot")

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        checksum = "" if self.skip_hash_check else "etcd's checksum (the SHA-256 it appends), then "
        return (
            Action(
                f"check {self.snapshot}: {checksum}size and SHA-256 against what etcd-snapshot recorded (node, "
                "revision); a file that fails is refused before anything is wiped"
            ),
        )

    async def _check(self, ctx: StepContext) -> CheckResult:
        checked = check_snapshot(self.snapshot, ctx.state.etcd_snapshots, skip_hash_check=self.skip_hash_check)
        return done(checked.describe())


class ControlPlanesReset(_RestoreStep):
    """Every control plane's EPHEMERAL wiped and rebooted, until its etcd waits in Preparing."""

    layer = 1
    timeout = 1800.0

    def __init__(self, config: PlatformConfig, snapshot: Path, skip_hash_check: bool):
        super().__init__(
            config,
            snapshot,
            skip_hash_check,
            step_id="R.reset",
            title="Wipe etcd on every control plane (EPHEMERAL)",
            needs=("R.verify",),
        )

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        wipes = tuple(
            Action(
                f"wipe {node.name}'s EPHEMERAL partition (etcd's data, the kubelet's state, container images, logs; "
                "its config stays) and reboot it, without leaving etcd",
                command=tuple(talosctl.reset_ephemeral_argv(self.address(node), ctx.state.talosconfig)),
            )
            for node in self.config.control_planes
        )
        return wipes + (
            Action(
                "wait until every control plane is back with etcd waiting in Preparing (`talosctl service etcd` on "
                "each)",
                command=tuple(talosctl.service_argv(self.address(self.first), ctx.state.talosconfig, "etcd")),
            ),
        )

    async def _check(self, ctx: StepContext) -> CheckResult:
        if _under_way(ctx.state, file_digest(self.snapshot)):
            return done("an interrupted run already bootstrapped from this snapshot: nothing is wiped again")
        states = {node.name: await self.etcd_state(ctx, node) for node in self.config.control_planes}
        if all(state == PREPARING for state in states.values()):
            return done("etcd waits in Preparing on every control plane: nothing to wipe")
        said = ", ".join(f"{name}: {state}" for name, state in states.items())
        return todo(f"etcd on the control planes: {said}", *self.planned_actions(ctx))

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        to_wipe: list[Node] = []
        for node in self.config.control_planes:
            state = await self.etcd_state(ctx, node)
            if state == PREPARING:
                ctx.output(f"{node.name}: etcd already waits in Preparing")
            elif state.startswith("away"):
                # Most likely rebooting from a reset an interrupted run issued: the wait tells.
                ctx.output(f"{node.name} is {state}: waiting for it instead of wiping it")
            else:
                to_wipe.append(node)
        refused = [node.name for node in to_wipe if wipe_permission(node.name) not in ctx.allowed]
        if refused:
            raise PermanentError(
                f"wiping the EPHEMERAL partition of {', '.join(refused)} was not confirmed: nothing was wiped",
                hint="run etcd-restore on a terminal and answer y for each control plane, or add "
                "--yes --i-understand-this-wipes-etcd",
            )
        # Every reset is issued before any node is waited for: a wiped member that came back while
        # others still ran etcd would join them instead of waiting for the bootstrap.
        for node in to_wipe:
            ctx.output(f"{node.name}: wiping EPHEMERAL and rebooting")
            await ctx.drivers.talos.reset_ephemeral(self.address(node), ctx.state.talosconfig)

    async def _wait(self, ctx: StepContext) -> None:
        deadline = ctx.clock.now() + self.wait_budget
        while True:
            states = {node.name: await self.etcd_state(ctx, node) for node in self.config.control_planes}
            waiting = [f"{name}: {state}" for name, state in states.items() if state != PREPARING]
            if not waiting:
                ctx.output("etcd waits in Preparing on every control plane")
                return
            if ctx.clock.now() >= deadline:
                raise PermanentError(
                    f"etcd does not wait for a bootstrap on every control plane: {', '.join(waiting)}",
                    hint="a node whose etcd runs again joined members that were still running: run the restore "
                    "again (it wipes what does not wait); a node that stays away: `talosctl -n NODE dmesg`",
                )
            ctx.output(f"waiting for Preparing: {', '.join(waiting)}")
            await ctx.clock.sleep(_POLL_SECONDS)


class EtcdRecovery(_RestoreStep):
    """`talosctl bootstrap --recover-from` on the first control plane; the others join it."""

    layer = 2
    timeout = 900.0

    def __init__(self, config: PlatformConfig, snapshot: Path, skip_hash_check: bool):
        super().__init__(
            config,
            snapshot,
            skip_hash_check,
            step_id="R.recover",
            title=f"Bootstrap etcd from the snapshot on {config.control_planes[0].name}",
            needs=("R.reset",),
        )

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        return (
            Action(f"record the restore in {restore_record_path(ctx.state)}, so that a resumed run never wipes again"),
            Action(
                f"bootstrap etcd on {self.first.name} from {self.snapshot}; the other control planes join it",
                command=tuple(
                    talosctl.bootstrap_recover_argv(
                        self.address(self.first),
                        ctx.state.talosconfig,
                        self.snapshot,
                        skip_hash_check=self.skip_hash_check,
                    )
                ),
            ),
            Action(f"wait until etcd runs on {self.first.name}"),
        )

    async def _check(self, ctx: StepContext) -> CheckResult:
        if _under_way(ctx.state, file_digest(self.snapshot)):
            members = await self._members(ctx)
            if members:
                return done(f"etcd runs from the snapshot on {self.first.name} (members: {', '.join(members)})")
            return todo(
                "an interrupted run began the bootstrap from this snapshot; etcd does not run yet",
                *self.planned_actions(ctx)[1:],
                resumed=True,
            )
        running = [n.name for n in self.config.control_planes if await self.etcd_state(ctx, n) == RUNNING]
        if running:
            raise PermanentError(
                f"etcd runs on {', '.join(running)}: a restore bootstraps only when etcd waits in Preparing on every "
                "control plane",
                hint="run the restore again: it wipes the control planes whose etcd runs",
            )
        return todo("etcd waits in Preparing on every control plane", *self.planned_actions(ctx))

    async def _members(self, ctx: StepContext) -> list[str]:
        try:
            return await ctx.drivers.talos.etcd_members(self.address(self.first), ctx.state.talosconfig)
        except TransientError:
            return []

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        if RECOVER_ETCD not in ctx.allowed:
            raise PermanentError(
                f"the bootstrap of {self.first.name} from {self.snapshot} was not confirmed",
                hint="run etcd-restore on a terminal and answer y, or add --yes --i-understand-this-wipes-etcd",
            )
        checked = check_snapshot(self.snapshot, ctx.state.etcd_snapshots, skip_hash_check=self.skip_hash_check)
        if not check.facts.get("resumed"):
            _write_restore_record(
                ctx.state,
                {
                    "snapshot": str(self.snapshot),
                    "sha256": checked.sha256,
                    "size": checked.size,
                    "revision": checked.revision,
                    "node": self.first.name,
                    "phase": "recovering",
                    "startedAt": _stamp(ctx),
                },
            )
        try:
            await ctx.drivers.talos.bootstrap_recover(
                self.address(self.first), ctx.state.talosconfig, self.snapshot, skip_hash_check=self.skip_hash_check
            )
        except AlreadyBootstrapped:
            if not check.facts.get("resumed"):
                raise
            ctx.output(f"{self.first.name} was bootstrapped from the snapshot by the interrupted run")

    async def _wait(self, ctx: StepContext) -> None:
        deadline = ctx.clock.now() + self.wait_budget
        while True:
            members = await self._members(ctx)
            if self.first.name in members:
                ctx.output(f"etcd runs from the snapshot on {self.first.name}")
                return
            if ctx.clock.now() >= deadline:
                raise PermanentError(
                    f"etcd does not run on {self.first.name} after the bootstrap from {self.snapshot}",
                    hint=f"look at `talosctl -n {self.address(self.first)} service etcd` and `logs etcd`",
                )
            ctx.output(f"waiting for etcd on {self.first.name}")
            await ctx.clock.sleep(_POLL_SECONDS)


class RestoredClusterHealthy(_RestoreStep):
    """Every control plane an etcd member again, the Kubernetes API back; the revision reported."""

    layer = 3
    timeout = 1800.0

    def __init__(self, config: PlatformConfig, snapshot: Path, skip_hash_check: bool):
        super().__init__(
            config,
            snapshot,
            skip_hash_check,
            step_id="R.healthy",
            title="Wait for every etcd member and the Kubernetes API",
            needs=("R.recover",),
        )

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        return (
            Action(
                "wait until every control plane is an etcd member with etcd Running, and the Kubernetes API answers; "
                "report the revision it serves",
                command=tuple(talosctl.etcd_members_argv(self.address(self.first), ctx.state.talosconfig)),
                api_call="GET /api/v1/nodes",
            ),
        )

    async def _check(self, ctx: StepContext) -> CheckResult:
        return todo("after a restore, etcd and the Kubernetes API are waited for", *self.planned_actions(ctx))

    async def _wait(self, ctx: StepContext) -> None:
        deadline = ctx.clock.now() + self.wait_budget
        while True:
            waiting, revision = await self._not_yet(ctx)
            if waiting is None:
                self._finished(ctx, revision)
                return
            if ctx.clock.now() >= deadline:
                raise PermanentError(
                    f"etcd was restored, but {waiting}",
                    hint="look at `talosctl -n NODE service etcd` and `talosctl -n NODE logs etcd` on the control "
                    "planes; run the restore again to keep waiting (nothing is wiped again)",
                )
            ctx.output(f"waiting: {waiting}")
            await ctx.clock.sleep(_POLL_SECONDS)

    async def _not_yet(self, ctx: StepContext) -> tuple[str | None, str]:
        try:
            members = await ctx.drivers.talos.etcd_members(self.address(self.first), ctx.state.talosconfig)
        except TransientError as error:
            return f"etcd members cannot be listed ({error.message})", ""
        wanted = [n.name for n in self.config.control_planes]
        missing = [name for name in wanted if name not in members]
        if missing:
            return (
                f"etcd members back: {len(wanted) - len(missing)} of {len(wanted)} (not yet {', '.join(missing)})",
                "",
            )
        for node in self.config.control_planes:
            state = await self.etcd_state(ctx, node)
            if state != RUNNING:
                return f"etcd on {node.name} is {state}", ""
        try:
            nodes = await ctx.drivers.kube.list(NODES)
        except (TransientError, PermanentError, ConnectionError, OSError) as error:
            return f"the Kubernetes API does not answer yet ({error})", ""
        return None, nodes.resource_version

    def _finished(self, ctx: StepContext, revision: str) -> None:
        record = read_restore_record(ctx.state) or {}
        recorded = record.get("revision")
        taken = f" (the snapshot was taken at revision {recorded:,})" if isinstance(recorded, int) else ""
        ctx.output(
            f"etcd runs on {', '.join(n.name for n in self.config.control_planes)} with every member; the Kubernetes "
            f"API answers at revision {revision or '?'}{taken}"
        )
        if record:
            record.update(phase="finished", finishedAt=_stamp(ctx), apiRevision=revision)
            _write_restore_record(ctx.state, record)


def _stamp(ctx: StepContext) -> str:
    return datetime.fromtimestamp(ctx.clock.now(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def etcd_restore_steps(config: PlatformConfig, snapshot: Path, *, skip_hash_check: bool = False) -> list[BaseStep]:
    """Check the snapshot, wipe every control plane, bootstrap from the snapshot, wait for health."""
    return [
        step(config, snapshot, skip_hash_check)
        for step in (RestoreSnapshotCheck, ControlPlanesReset, EtcdRecovery, RestoredClusterHealthy)
    ]
