"""atomic_write: whole file or nothing, with the mode set before the data is written."""

from __future__ import annotations

import os
import stat

import pytest

from talos_platform.engine import files
from talos_platform.engine.files import atomic_write


def test_writes_with_the_requested_mode(tmp_path):
    path = tmp_path / "secret"
    atomic_write(path, b"data", mode=0o600)
    assert path.read_bytes() == b"data"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_replacing_a_readable_file_tightens_its_mode(tmp_path):
    path = tmp_path / "secret"
    path.write_text("old")
    path.chmod(0o644)
    atomic_write(path, b"new", mode=0o600)
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_failed_write_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "config.yaml"
    path.write_bytes(b"old")

    def broken_fsync(descriptor):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        atomic_write(path, b"new")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["config.yaml"]


def test_relative_path_in_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    atomic_write("plain.txt", b"x")
    assert (tmp_path / "plain.txt").read_bytes() == b"x"


def test_replacing_a_kept_file_keeps_the_old_one_as_bak_with_its_mode(tmp_path):
    path = tmp_path / "platform.yaml"
    path.write_bytes(b"old")
    path.chmod(0o640)

    files.replace_keeping_backup(path, b"old", b"new")

    assert path.read_bytes() == b"new" and (tmp_path / "platform.yaml.bak").read_bytes() == b"old"
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE((tmp_path / "platform.yaml.bak").stat().st_mode) == 0o640


def test_replacing_a_kept_file_removes_the_temp_files_a_killed_write_of_it_left(tmp_path):
    path = tmp_path / "platform.yaml"
    path.write_bytes(b"old")
    # What a process killed inside atomic_write leaves: its temp file, never renamed.
    for name in (".platform.yaml.k3x_9q2a.tmp", ".platform.yaml.bak.0a1b2c3d.tmp"):
        (tmp_path / name).write_bytes(b"half")
    # Not temp files of these two writes: kept.
    for name in (".platform.yaml.notes.tmp", ".other.yaml.k3x_9q2a.tmp", ".platform.yaml.k3x_9q2a.tmp.keep"):
        (tmp_path / name).write_bytes(b"theirs")

    files.replace_keeping_backup(path, b"old", b"new")

    assert sorted(os.listdir(tmp_path)) == [
        ".other.yaml.k3x_9q2a.tmp",
        ".platform.yaml.k3x_9q2a.tmp.keep",
        ".platform.yaml.notes.tmp",
        "platform.yaml",
        "platform.yaml.bak",
    ]
