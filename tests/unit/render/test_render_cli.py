"""`talos-platform render`: exit codes and messages a user sees."""

from __future__ import annotations

from pathlib import Path

import pytest
from render_helpers import EXAMPLES

from talos_platform.main import main


def test_render_command_writes_the_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "gitops"
    assert main(["render", "--config", str(EXAMPLES / "metal-3cp-3w.yaml"), "--out", str(out)]) == 0
    assert "rendered" in capsys.readouterr().out
    assert (out / "talos" / "nodes" / "cp-1.yaml").is_file()
    assert (out / "README.md").read_text().startswith("# homelab: platform repository")


def test_render_command_refuses_a_non_empty_folder_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "keep.txt").write_text("x")
    assert main(["render", "--config", str(EXAMPLES / "docker-single.yaml"), "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "not empty" in error and "hint:" in error and "Traceback" not in error


def test_render_command_reports_a_missing_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "--config", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "out")]) == 2
    assert "file not found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
