"""etcd snapshots: talosctl's report parsed, etcd's checksum checked, every run a new file."""

import dataclasses
import hashlib

import pytest

from talos_platform.engine.drivers.protocols import EtcdSnapshot
from talos_platform.engine.drivers.talosctl import etcd_snapshot_argv, parse_etcd_snapshot
from talos_platform.engine.layers.etcd import EtcdSnapshotStep, SnapshotDamaged, snapshot_records, verify_snapshot

from .helpers import make_context, platform_config

# What talosctl v1.14 prints (cmd/talosctl/cmd/talos/etcd.go): the file is in place by then.
TALOSCTL_OUTPUT = (
    'etcd snapshot saved to "/state/etcd-snapshots/20261203T101500Z-cp-1.db" (3690528 bytes)\n'
    "snapshot info: hash 4c0b1f1e, revision 51866, total keys 1204, total size 3690496\n"
)


def snapshot_file(path, pages=2):
    database = bytes(range(256)) * 2 * pages
    path.write_bytes(database + hashlib.sha256(database).digest())
    return path


def test_talosctl_report_is_parsed():
    assert parse_etcd_snapshot(TALOSCTL_OUTPUT) == EtcdSnapshot(
        size=3690528, etcd_hash="4c0b1f1e", revision=51866, total_keys=1204
    )


def test_an_unexpected_report_is_an_error_not_a_guess():
    with pytest.raises(ValueError, match="unexpected `talosctl etcd snapshot` output"):
        parse_etcd_snapshot("Error: rpc error: code = Unavailable\n")


def test_the_command_line_is_talosctls_own(tmp_path):
    argv = etcd_snapshot_argv("10.0.0.11", tmp_path / "talosconfig", tmp_path / "s.db")
    assert argv[-3:] == ["etcd", "snapshot", str(tmp_path / "s.db")]
    assert "--nodes" in argv or "-n" in argv


def test_a_whole_snapshot_passes_and_its_digest_is_of_the_whole_file(tmp_path):
    path = snapshot_file(tmp_path / "s.db")
    assert verify_snapshot(path) == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("damage", ["flip a byte", "cut short"])
def test_a_damaged_snapshot_is_refused(tmp_path, damage):
    path = snapshot_file(tmp_path / "s.db")
    data = bytearray(path.read_bytes())
    if damage == "flip a byte":
        data[100] ^= 0xFF
    else:
        data = data[:-512]
    path.write_bytes(bytes(data))

    with pytest.raises(SnapshotDamaged, match="fails its checksum"):
        verify_snapshot(path)


async def test_every_run_takes_a_new_snapshot_and_records_it(tmp_path):
    config = platform_config()
    ctx, lines = make_context(config, tmp_path)
    step = EtcdSnapshotStep(config)

    for _ in range(2):
        check = await step.check(ctx)
        assert not check.done
        await step.apply(ctx, check)

    records = snapshot_records(ctx.state.etcd_snapshots)
    assert len(records) == 2 and records[0]["file"] != records[1]["file"]
    assert records[0]["node"] == config.control_planes[0].name
    for record in records:
        path = ctx.state.etcd_snapshots / record["file"]
        assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert path.stat().st_mode & 0o777 == 0o600
    assert "revision 1" in lines[-1] and "SHA-256" in lines[-1]


async def test_a_resumed_attempt_reuses_its_snapshot_while_the_file_matches_its_record(tmp_path):
    config = platform_config()
    ctx, _ = make_context(config, tmp_path)
    first = dataclasses.replace(ctx, operation="upgrade-talos", run_id="run-1", attempt=frozenset({"run-1"}))
    step = EtcdSnapshotStep(config)
    await step.apply(first, await step.check(first))
    (record,) = snapshot_records(ctx.state.etcd_snapshots)
    assert (record["operation"], record["runId"]) == ("upgrade-talos", "run-1")

    resumed = dataclasses.replace(first, run_id="run-2", attempt=frozenset({"run-1", "run-2"}))
    check = await step.check(resumed)
    assert check.done and record["file"] in check.reason and record["takenAt"] in check.reason

    another_attempt = dataclasses.replace(first, run_id="run-3", attempt=frozenset({"run-3"}))
    another_operation = dataclasses.replace(resumed, operation="upgrade-kubernetes")
    assert not (await step.check(another_attempt)).done
    assert not (await step.check(another_operation)).done

    (ctx.state.etcd_snapshots / record["file"]).write_bytes(b"\0" * 544)  # changed since: not reused
    assert not (await step.check(resumed)).done
