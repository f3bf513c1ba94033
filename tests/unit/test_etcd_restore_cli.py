"""etcd-restore's confirmations: on a terminal one question per control plane (naming it and what
is wiped) and one for the bootstrap, a damaged file refused before any question; with --yes the
explicit flag, or a refusal; the resume command keeps the file and the flags."""

import argparse
import hashlib
import json
from pathlib import Path

import pytest

from talos_platform.commands.etcd_restore import COMMAND, UNDERSTOOD
from talos_platform.commands.install import Target
from talos_platform.engine.config.loading import load_config
from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.drivers.clock import RealClock
from talos_platform.engine.errors import UserError
from talos_platform.engine.layers.etcd_restore import RECOVER_ETCD, wipe_permission
from talos_platform.engine.state import StateDirectory

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "metal-3cp-3w.yaml"


def arguments(tmp_path, snapshot, **given):
    values = {
        "file": str(snapshot),
        "snapshot": None,
        "recover_skip_hash_check": False,
        "i_understand_this_wipes_etcd": False,
        "yes": False,
        "state_dir": str(tmp_path / "state"),
    }
    return argparse.Namespace(**(values | given))


@pytest.fixture
def command(monkeypatch, tmp_path):
    state = StateDirectory(tmp_path / "state")
    target = Target(load_config(EXAMPLE), Secrets(), state, None, RealClock(), simulated=False)
    monkeypatch.setattr(COMMAND, "_target", target)
    return COMMAND


@pytest.fixture
def snapshot(tmp_path):
    database = b"\0" * 512
    path = tmp_path / "a.db"
    path.write_bytes(database + hashlib.sha256(database).digest())
    return path


def answering(monkeypatch, *answers):
    asked = []
    replies = iter(answers)

    def ask(question):
        asked.append(question)
        return next(replies)

    monkeypatch.setattr("builtins.input", ask)
    return asked


def test_on_a_terminal_each_control_plane_and_the_bootstrap_are_asked_for(command, snapshot, tmp_path, monkeypatch):
    asked = answering(monkeypatch, "y", "y", "yes", "y")

    allowed = command.allowed(arguments(tmp_path, snapshot), interactive=True)

    assert set(allowed) == {wipe_permission("cp-1"), wipe_permission("cp-2"), wipe_permission("cp-3"), RECOVER_ETCD}
    assert asked[0].startswith("Wipe EPHEMERAL on cp-1 (192.168.10.11): its etcd data")
    assert asked[3].startswith("Bootstrap etcd on cp-1 (192.168.10.11) from a.db?")


def test_the_snapshot_is_described_from_the_record_in_the_clusters_state(command, tmp_path, monkeypatch, capsys):
    kept = tmp_path / "state" / "etcd-snapshots"
    kept.mkdir(parents=True)
    database = b"\1" * 512
    snapshot = kept / "20261203T054700Z-cp-2.db"
    snapshot.write_bytes(database + hashlib.sha256(database).digest())
    data = snapshot.read_bytes()
    record = {"file": snapshot.name, "node": "cp-2", "takenAt": "20261203T054700Z", "size": len(data)}
    record |= {"sha256": hashlib.sha256(data).hexdigest(), "revision": 4193}
    snapshot.with_suffix(".json").write_text(json.dumps(record))
    copy = tmp_path / "copy.db"
    copy.write_bytes(data)
    answering(monkeypatch, "y", "y", "y", "y")

    command.allowed(arguments(tmp_path, copy), interactive=True)

    assert "as recorded when taken from cp-2 at 20261203T054700Z, revision 4,193" in capsys.readouterr().out


def test_one_no_stops_it_naming_the_node(command, snapshot, tmp_path, monkeypatch):
    asked = answering(monkeypatch, "y", "n")

    with pytest.raises(UserError, match="nothing was wiped") as refused:
        command.allowed(arguments(tmp_path, snapshot), interactive=True)
    assert refused.value.where == "cp-2" and len(asked) == 2


def test_a_damaged_file_is_refused_before_any_question(command, snapshot, tmp_path, monkeypatch):
    asked = answering(monkeypatch)
    snapshot.write_bytes(snapshot.read_bytes()[:-1] + b"x")

    with pytest.raises(UserError, match="fails its checksum"):
        command.allowed(arguments(tmp_path, snapshot), interactive=True)
    assert asked == []


def test_yes_needs_the_explicit_flag(command, snapshot, tmp_path):
    with pytest.raises(UserError, match="--yes alone does not confirm") as refused:
        command.allowed(arguments(tmp_path, snapshot, yes=True), interactive=False)
    assert refused.value.where == UNDERSTOOD

    allowed = command.allowed(arguments(tmp_path, snapshot, yes=True, i_understand_this_wipes_etcd=True), False)
    assert RECOVER_ETCD in allowed and wipe_permission("cp-3") in allowed


def test_the_resume_command_keeps_the_file_and_the_flags(command, snapshot, tmp_path):
    given = arguments(tmp_path, snapshot, yes=True, i_understand_this_wipes_etcd=True, recover_skip_hash_check=True)

    assert command.own_flags(given) == ["--recover-skip-hash-check", UNDERSTOOD, str(snapshot)]
