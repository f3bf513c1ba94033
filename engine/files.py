"""The one atomic file writer: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path


def atomic_write(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> None:
    """Write `data` to `path` through a temp file in the same folder, fsync, then rename.

    The temp file gets `mode` before any byte is written, so a secret is never readable by
    others, not even for a moment. The folder is fsynced too, so the rename survives a crash.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    descriptor, temp_name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        raise
    fsync_folder(folder)


def replace_keeping_backup(path: Path, before: bytes, after: bytes) -> None:
    """Write `after` to `path` (a file the user keeps, e.g. the config file), `before` to
    `PATH.bak` first; both keep the file's mode. The temp files a write of either killed earlier
    left beside them are removed first: they are not the user's and would show in `git status`.
    Only call while no other process writes `path` (under the cluster's lock)."""
    backup = path.with_name(path.name + ".bak")
    for target in (path, backup):
        remove_stale_temp_files_of(target)
    mode = path.stat().st_mode & 0o777
    atomic_write(backup, before, mode=mode)
    atomic_write(path, after, mode=mode)


def remove_stale_temp_files_of(target: Path) -> list[Path]:
    """Delete the temp files `atomic_write` left beside `target` when its process was killed
    mid-write (`.NAME.XXXXXXXX.tmp`, nothing else); the ones removed."""
    leftover = re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}\.tmp")
    removed = []
    for candidate in target.parent.iterdir():
        if leftover.fullmatch(candidate.name) and candidate.is_file():
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def fsync_folder(folder: Path) -> None:
    """Make a new or renamed entry in `folder` survive a crash (best effort)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some filesystems do not allow opening a folder; the rename is still atomic
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
