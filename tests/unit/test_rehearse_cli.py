"""`talos-platform rehearse` refuses what it cannot rehearse with a message, never a traceback,
and before it starts anything."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / ".venv" / "bin" / "talos-platform"
METAL = REPO / "examples" / "metal-3cp-3w.yaml"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALOS_PLATFORM_")}
    result = subprocess.run([str(SCRIPT), "rehearse", *args], capture_output=True, text=True, env=env, timeout=60)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def test_without_a_chart_repository_it_says_how_to_give_one():
    result = run("--config", str(METAL), "--yes")
    assert result.returncode == 2
    assert "no chart repository to rehearse with" in result.stderr
    assert "--charts DIR" in result.stderr


def test_a_folder_without_an_index_is_named(tmp_path: Path):
    result = run("--config", str(METAL), "--charts", str(tmp_path), "--yes")
    assert result.returncode == 2
    assert f"{tmp_path} is not a Helm chart repository folder (no index.yaml)" in result.stderr


def test_an_invalid_config_is_refused_with_its_problems(tmp_path: Path):
    config = tmp_path / "platform.yaml"
    config.write_text(METAL.read_text().replace("vip: 192.168.10.10", "vip: 192.168.10.11"))
    result = run("--config", str(config), "--charts", str(tmp_path), "--yes")
    assert result.returncode == 2
    assert "cluster.vip" in result.stderr
