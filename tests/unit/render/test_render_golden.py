"""Golden files: the two README examples render exactly the committed trees.

After an intended change, regenerate and review the diff:
    TALOS_PLATFORM_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/render/test_render_golden.py
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from render_helpers import EXAMPLE_NAMES, example_config

from talos_platform.engine.render import render_tree

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("TALOS_PLATFORM_UPDATE_GOLDEN") == "1"


def committed(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_matches_its_golden_tree(name: str) -> None:
    rendered = render_tree(example_config(name))
    root = GOLDEN / name
    if UPDATE:
        shutil.rmtree(root, ignore_errors=True)
        for relative, content in rendered.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_bytes(content)
    expected = committed(root)
    assert expected, f"no golden files for {name}; run with TALOS_PLATFORM_UPDATE_GOLDEN=1"
    assert sorted(rendered) == sorted(expected), "files added or removed"
    for relative, content in rendered.items():
        assert content.decode() == expected[relative].decode(), f"{name}/{relative} differs"
