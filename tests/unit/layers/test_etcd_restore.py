"""The etcd restore's steps: the snapshot refused before anything is wiped, nothing wiped without
the node's permission, every reset issued before any wait, and nothing wiped again once the
bootstrap from the snapshot began."""

import hashlib
import json

import pytest
from support.drivers import FakeTalos, configured

from talos_platform.engine.errors import PermanentError
from talos_platform.engine.layers.etcd import SnapshotDamaged
from talos_platform.engine.layers.etcd_restore import (
    RECOVER_ETCD,
    ControlPlanesReset,
    EtcdRecovery,
    check_snapshot,
    etcd_restore_steps,
    wipe_permission,
)

from .helpers import make_context, platform_config

CONFIG = platform_config(control_planes=3, workers=1)
ADDRESSES = ["10.0.0.11", "10.0.0.12", "10.0.0.13"]
EVERY_PERMISSION = frozenset({wipe_permission("cp-1"), wipe_permission("cp-2"), wipe_permission("cp-3"), RECOVER_ETCD})


def whole_snapshot(path, content=b"registry"):
    database = content + b"\0" * (-len(content) % 512)
    path.write_bytes(database + hashlib.sha256(database).digest())
    return path


def record(path, **changes):
    data = path.read_bytes()
    fields = {"file": path.name, "node": "cp-1", "takenAt": "20261203T054700Z", "size": len(data)}
    fields |= {"sha256": hashlib.sha256(data).hexdigest(), "revision": 4193, **changes}
    path.with_suffix(".json").write_text(json.dumps(fields))


def test_a_recorded_snapshot_is_checked_against_its_record(tmp_path):
    snapshot = whole_snapshot(tmp_path / "a.db")
    record(snapshot)

    checked = check_snapshot(snapshot, tmp_path, skip_hash_check=False)

    assert checked.revision == 4193 and checked.checksum_checked
    assert "as recorded when taken from cp-1" in checked.describe() and "revision 4,193" in checked.describe()


def test_a_snapshot_without_a_record_is_accepted_on_its_checksum_and_says_so(tmp_path):
    snapshot = whole_snapshot(tmp_path / "elsewhere.db")

    checked = check_snapshot(snapshot, tmp_path / "etcd-snapshots", skip_hash_check=False)

    assert checked.record is None and "no record of it" in checked.describe()


def test_a_record_in_the_state_directory_is_found_by_its_sha256(tmp_path):
    kept = tmp_path / "etcd-snapshots"
    kept.mkdir()
    original = whole_snapshot(kept / "20261203T054700Z-cp-1.db")
    record(original)
    copy = tmp_path / "copied.db"
    copy.write_bytes(original.read_bytes())

    assert check_snapshot(copy, kept, skip_hash_check=False).revision == 4193


@pytest.mark.parametrize(
    ("damage", "refusal"),
    [
        ("flip", "fails its checksum"),
        ("cut", "fails its checksum"),
        ("recorded-size", "is not the snapshot that was recorded"),
        ("recorded-sha", "is not the snapshot that was recorded"),
    ],
)
def test_a_damaged_or_changed_snapshot_is_refused_saying_nothing_was_wiped(tmp_path, damage, refusal):
    snapshot = whole_snapshot(tmp_path / "a.db")
    record(snapshot)
    data = bytearray(snapshot.read_bytes())
    if damage == "flip":
        data[10] ^= 0x01
        snapshot.write_bytes(bytes(data))
    elif damage == "cut":
        snapshot.write_bytes(bytes(data[:-100]))
    elif damage == "recorded-size":
        record(snapshot, size=1)
    else:
        record(snapshot, sha256="0" * 64)

    with pytest.raises(SnapshotDamaged, match=refusal) as refused:
        check_snapshot(snapshot, tmp_path, skip_hash_check=False)
    assert "nothing was wiped" in refused.value.message


def test_a_database_copied_from_the_data_directory_needs_the_skip_flag(tmp_path):
    raw = tmp_path / "db"
    raw.write_bytes(b"\1" * 4096)  # bbolt pages, no checksum appended

    with pytest.raises(SnapshotDamaged) as refused:
        check_snapshot(raw, tmp_path, skip_hash_check=False)
    assert "--recover-skip-hash-check" in refused.value.hint
    checked = check_snapshot(raw, tmp_path, skip_hash_check=True)
    assert not checked.checksum_checked and "no checksum checked" in checked.describe()


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(PermanentError, match="there is no snapshot file at"):
        check_snapshot(tmp_path / "none.db", tmp_path, skip_hash_check=False)


def cluster(tmp_path, *, preparing=(), away=(), allowed=EVERY_PERMISSION):
    talos = FakeTalos()
    for name, address in zip(("cp-1", "cp-2", "cp-3"), ADDRESSES, strict=True):
        if name in away:
            continue
        talos.secure[address] = configured(address)
        if name not in preparing:
            talos.etcd[address] = ["cp-1", "cp-2", "cp-3"]
    ctx, lines = make_context(CONFIG, tmp_path, talos=talos)
    ctx.allowed = allowed
    snapshot = whole_snapshot(tmp_path / "a.db")
    return ctx, lines, talos, snapshot


async def test_nothing_is_wiped_without_every_nodes_permission(tmp_path):
    ctx, _, talos, snapshot = cluster(tmp_path, allowed=frozenset({wipe_permission("cp-1")}))
    step = ControlPlanesReset(CONFIG, snapshot, False)

    with pytest.raises(PermanentError, match="cp-2, cp-3 was not confirmed: nothing was wiped"):
        await step.apply(ctx, await step.check(ctx))
    assert not [call for call in talos.changes() if call[0] == "reset_ephemeral"]


async def test_only_control_planes_whose_etcd_runs_are_wiped_and_one_away_is_waited_for(tmp_path):
    ctx, lines, talos, snapshot = cluster(tmp_path, preparing=("cp-2",), away=("cp-3",))
    step = ControlPlanesReset(CONFIG, snapshot, False)

    check = await step.check(ctx)
    assert "cp-1: Running, cp-2: Preparing, cp-3: away" in check.reason
    await step.apply(ctx, check)

    assert [call for call in talos.changes() if call[0] == "reset_ephemeral"] == [("reset_ephemeral", "10.0.0.11")]
    assert "cp-3 is away (connection refused): waiting for it instead of wiping it" in lines


async def test_etcd_preparing_everywhere_is_done(tmp_path):
    ctx, _, _, snapshot = cluster(tmp_path, preparing=("cp-1", "cp-2", "cp-3"))

    check = await ControlPlanesReset(CONFIG, snapshot, False).check(ctx)

    assert check.done and "nothing to wipe" in check.reason


async def test_once_the_bootstrap_began_nothing_is_wiped_again_and_it_is_not_repeated(tmp_path):
    ctx, _, talos, snapshot = cluster(tmp_path, preparing=("cp-1", "cp-2", "cp-3"))
    recovery = EtcdRecovery(CONFIG, snapshot, False)
    await recovery.apply(ctx, await recovery.check(ctx))
    assert [c[:2] for c in talos.changes()] == [("bootstrap_recover", "10.0.0.11")]
    kept = json.loads((ctx.state.root / "etcd-restore.json").read_text())
    assert kept["phase"] == "recovering" and kept["node"] == "cp-1"

    # etcd runs again everywhere: a resumed run must take that for the restore, not wipe it.
    talos.etcd.update({address: ["cp-1", "cp-2", "cp-3"] for address in ADDRESSES})
    assert (await ControlPlanesReset(CONFIG, snapshot, False).check(ctx)).done
    again = await recovery.check(ctx)
    assert again.done and "etcd runs from the snapshot on cp-1" in again.reason


async def test_the_bootstrap_is_refused_while_etcd_runs_somewhere(tmp_path):
    ctx, _, _, snapshot = cluster(tmp_path, preparing=("cp-1", "cp-3"))

    with pytest.raises(PermanentError, match="etcd runs on cp-2"):
        await EtcdRecovery(CONFIG, snapshot, False).check(ctx)


async def test_the_bootstrap_needs_its_permission(tmp_path):
    ctx, _, talos, snapshot = cluster(tmp_path, preparing=("cp-1", "cp-2", "cp-3"), allowed=frozenset())
    recovery = EtcdRecovery(CONFIG, snapshot, False)

    with pytest.raises(PermanentError, match="not confirmed"):
        await recovery.apply(ctx, await recovery.check(ctx))
    assert talos.changes() == [] and not (ctx.state.root / "etcd-restore.json").exists()


def test_the_steps_in_order_and_the_skip_flag_reaches_the_command(tmp_path):
    ctx, _, _, snapshot = cluster(tmp_path)
    steps = etcd_restore_steps(CONFIG, snapshot, skip_hash_check=True)

    assert [(s.id, s.needs) for s in steps] == [
        ("R.verify", ()),
        ("R.reset", ("R.verify",)),
        ("R.recover", ("R.reset",)),
        ("R.healthy", ("R.recover",)),
    ]
    (bootstrap,) = [a for a in steps[2].planned_actions(ctx) if a.command]
    assert bootstrap.command[-4:] == ("bootstrap", "--recover-from", str(snapshot), "--recover-skip-hash-check")


def test_a_record_with_odd_values_is_told_not_raised(tmp_path):
    snapshot = whole_snapshot(tmp_path / "a.db")
    record(snapshot, revision="many")

    assert "revision ?" in check_snapshot(snapshot, tmp_path, skip_hash_check=False).describe()
    record(snapshot, size="big")
    with pytest.raises(SnapshotDamaged, match="its record says \\? bytes"):
        check_snapshot(snapshot, tmp_path, skip_hash_check=False)
