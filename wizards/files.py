"""Writing the wizard's result: the config YAML and the secrets file (0600), both atomic, both
or neither.

An existing config is edited, not replaced: its comments and layout are kept
(engine/config/editing.py), the change is shown before it is written, and the file as it was is
kept beside it as `<name>.bak`.

Where the secrets go: the cluster's state directory, not beside the config. The config is meant
to be committed and shared; a secrets file next to it would sooner or later be committed too.
The state directory is private to this user (0700) and is where the install looks anyway.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from talos_platform.engine.config.editing import ConfigEdit, edited_text
from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.secrets import Secrets, write_secrets_file
from talos_platform.engine.files import atomic_write


@dataclass(frozen=True)
class WrittenFiles:
    config: Path
    secrets: Path | None
    """None when no secret was given (none needed)."""
    interrupted: bool = False
    """Ctrl-C arrived while writing: the files were finished, the caller should stop now."""


@contextmanager
def interrupts_deferred() -> Iterator[list[int]]:
    """Hold Ctrl-C until the block is done, so the two files are written together or not at
    all. The yielded list records a Ctrl-C that arrived meanwhile."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = signal.signal(signal.SIGINT, lambda number, frame: received.append(number))
    try:
        yield received
    finally:
        signal.signal(signal.SIGINT, previous)


def _snapshot(path: Path) -> tuple[bytes, int] | None:
    """The file's content and mode, to put it back if the second write fails."""
    try:
        return path.read_bytes(), path.stat().st_mode & 0o777
    except FileNotFoundError:
        return None


def _restore(path: Path, before: tuple[bytes, int] | None) -> None:
    if before is None:
        path.unlink(missing_ok=True)
    else:
        atomic_write(path, before[0], mode=before[1])


def planned_edit(config: PlatformConfig, path: Path) -> ConfigEdit:
    """What saving `config` at `path` would change. Raises OSError or UnicodeDecodeError when an
    existing file cannot be read."""
    try:
        before: str | None = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        before = None
    return ConfigEdit(before, edited_text(before, config))


def backup_of(path: Path) -> Path:
    return path.with_name(path.name + ".bak")


def save_config(path: Path, edit: ConfigEdit) -> None:
    """Write `edit` (nothing when it changes nothing), keeping the file as it was in `<name>.bak`."""
    if not edit.changed:
        return
    mode = 0o644
    if edit.before is not None:
        mode = path.stat().st_mode & 0o777
        atomic_write(backup_of(path), edit.before.encode("utf-8"), mode=mode)
    atomic_write(path, edit.after.encode("utf-8"), mode=mode)


def write_files(
    config: PlatformConfig,
    secrets: Secrets,
    config_path: Path,
    secrets_path: Path | None,
    edit: ConfigEdit | None = None,
) -> WrittenFiles:
    """Write the secrets file (if any secret is given) and then the config (`edit`, as shown to
    the user; planned here when not given); if the config cannot be written, the secrets file is
    put back as it was."""
    with interrupts_deferred() as interrupts:
        written_secrets = None
        before = None
        if secrets_path is not None and secrets.given():
            secrets_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            before = _snapshot(secrets_path)
            write_secrets_file(secrets_path, secrets)
            written_secrets = secrets_path
        try:
            config_path.parent.mkdir(parents=True, exist_ok=True)
            save_config(config_path, edit if edit is not None else planned_edit(config, config_path))
        except BaseException:
            if written_secrets is not None:
                _restore(written_secrets, before)
            raise
    return WrittenFiles(config_path, written_secrets, interrupted=bool(interrupts))


def config_path_problem(text: str) -> str | None:
    """Why the config cannot be saved at `text`, or None."""
    if not text.strip():
        return "enter a file name, e.g. platform.yaml"
    path = Path(text.strip()).expanduser()
    if path.is_dir():
        return f"{path} is a folder; add a file name, e.g. {path / 'platform.yaml'}"
    folder = path.parent if str(path.parent) else Path(".")
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        return f"cannot write into {existing}"
    return None
