"""Same config, same bytes: in memory and on disk, across separate renders."""

from __future__ import annotations

from pathlib import Path

import pytest
from render_helpers import EXAMPLE_NAMES, example_config

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
    assert "2026" not in text and "creationTimestamp" not in text
