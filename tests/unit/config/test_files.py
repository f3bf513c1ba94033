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
