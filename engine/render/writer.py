"""Writing the rendered tree: all of it or nothing.

The tree is rendered in memory first, then written into a hidden temp folder and renamed into
place: a new folder in one step; an existing empty folder by renaming its few top-level entries,
rolled back on failure. Any failure removes the temp folder, so no half repository is left.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.errors import UserError
from talos_platform.engine.render.tree import render_tree
from talos_platform.engine.render.validation_gate import ensure_valid


def render_repository(config: PlatformConfig, out_dir: str | os.PathLike[str]) -> list[str]:
    """Render the repository into `out_dir` (absent or empty). Returns the relative paths written."""
    target = Path(out_dir).absolute()
    ensure_valid(config)
    _check_target(target)
    files = render_tree(config)
    try:
        if target.is_dir():
            _fill_empty_folder(target, files)
        else:
            _create_folder(target, files)
    except OSError as error:
        raise UserError(
            f"could not write the rendered repository: {error.strerror or error}",
            where=str(target),
            hint="choose an output folder you can write to (it must be empty or not exist yet)",
        ) from error
    return list(files)


def _write_tree(root: Path, files: dict[str, bytes]) -> None:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def _create_folder(target: Path, files: dict[str, bytes]) -> None:
    """A new folder: write it under a temp name beside the target, then rename it into place."""
    created_parents = _make_parents(target.parent)
    staging: Path | None = None
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.render-", dir=target.parent))
        _write_tree(staging, files)
        staging.chmod(0o755)
        os.rename(staging, target)
    except OSError:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        for folder in reversed(created_parents):
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _fill_empty_folder(target: Path, files: dict[str, bytes]) -> None:
    """An existing empty folder keeps its identity (it may be someone's working directory or a
    mount point): the tree is written into a hidden temp folder inside it, on the same
    filesystem, and its few top-level entries are renamed into place; any failure takes every
    moved entry back out, so the folder ends up complete or empty."""
    staging = Path(tempfile.mkdtemp(prefix=".render-", dir=target))
    moved: list[Path] = []
    try:
        _write_tree(staging, files)
        for entry in sorted(staging.iterdir()):
            destination = target / entry.name
            os.rename(entry, destination)
            moved.append(destination)
    except OSError:
        for destination in moved:
            if destination.is_dir():
                shutil.rmtree(destination, ignore_errors=True)
            else:
                destination.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_target(target: Path) -> None:
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise UserError(
            "the output path exists and is not a folder",
            where=str(target),
            hint="choose a new or empty folder for the rendered repository",
        )
    # `.git` alone is a fresh clone of the GitOps repository: rendering into it is the usual way.
    if target.is_dir() and any(entry.name != ".git" for entry in target.iterdir()):
        raise UserError(
            "the output folder is not empty; refusing to mix a new render with existing files",
            where=str(target),
            hint="choose a new or empty folder (a fresh clone holding only .git is fine), "
            "or move the old render away first",
        )
    parent = _existing_ancestor(target.parent)
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(
            "cannot create the output folder here: no write permission",
            where=str(parent),
            hint="choose an output folder you can write to",
        )


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _make_parents(folder: Path) -> list[Path]:
    """Create missing parent folders, returning those created (to undo on failure)."""
    missing: list[Path] = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    created: list[Path] = []
    for path in reversed(missing):
        try:
            path.mkdir()
        except OSError as error:
            for done in reversed(created):
                done.rmdir()
            raise UserError(
                f"could not create the folder: {error.strerror or error}",
                where=str(path),
                hint="choose an output folder you can write to",
            ) from error
        created.append(path)
    return created
