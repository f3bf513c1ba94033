"""Same config, same bytes: in memory and on disk, across separate renders."""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from render_helpers import EXAMPLE_NAMES, EXAMPLES, example_config

from talos_platform.engine.render import render_repository, render_tree


def read_tree(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_render_tree_is_byte_identical_across_renders(name: str) -> None:
    first = render_tree(example_config(name))
    second = render_tree(example_config(name))
    assert first == second
    assert list(first) == sorted(first), "paths come out in a stable order"


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_render_repository_writes_exactly_the_tree(name: str, tmp_path: Path) -> None:
    config = example_config(name)
    render_repository(config, tmp_path / "one")
    render_repository(config, tmp_path / "two")
    one, two = read_tree(tmp_path / "one"), read_tree(tmp_path / "two")
    assert one == two == render_tree(config)


def test_output_has_no_timestamps_or_local_paths(tmp_path: Path) -> None:
    text = b"".join(render_tree(example_config("metal-3cp-3w")).values()).decode()
    assert str(tmp_path.parent) not in text
    assert not re.search(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", text) and "creationTimestamp" not in text
    assert datetime.date.today().isoformat() not in text


def test_same_bytes_under_different_hash_seeds(tmp_path: Path) -> None:
    """Set and dict ordering tied to string hashing must not leak into the output."""
    script = (
        "import hashlib, sys\n"
        "from talos_platform.engine.config.loading import load_config\n"
        "from talos_platform.engine.render import render_tree\n"
        "tree = render_tree(load_config(sys.argv[1]))\n"
        "digest = hashlib.sha256()\n"
        "for path, content in tree.items():\n"
        "    digest.update(path.encode() + b'\\0' + content + b'\\0')\n"
        "print(digest.hexdigest())\n"
    )
    digests = set()
    for seed in ("1", "2", "3"):
        completed = subprocess.run(
            [sys.executable, "-c", script, str(EXAMPLES / "metal-3cp-3w.yaml")],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        digests.add(completed.stdout.strip())
    assert len(digests) == 1
