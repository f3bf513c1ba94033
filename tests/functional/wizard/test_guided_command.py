"""`talos-platform` with no command, when there is no terminal to ask on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TALOS_PLATFORM = Path(sys.executable).parent / "talos-platform"


def _run(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(cwd / "state-home"), "TALOS_PLATFORM_LOOPBACK_ONLY": "1"}
    return subprocess.run(
        [str(TALOS_PLATFORM), *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_without_a_terminal_it_says_how_to_run_headless_and_writes_nothing(tmp_path):
    result = _run([], tmp_path)

    assert result.returncode == 2
    assert "needs a terminal" in result.stderr
    assert "talos-platform install --yes --config FILE" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_yes_without_a_config_names_what_is_missing(tmp_path):
    result = _run(["--yes"], tmp_path)

    assert result.returncode == 2
    assert "--yes needs --config FILE" in result.stderr
    assert "Traceback" not in result.stderr


def test_yes_runs_the_headless_install(tmp_path):
    result = _run(["--yes", "--simulate", "--speed", "1000", "--state-dir", str(tmp_path / "state")], tmp_path)

    assert result.returncode == 0, result.stderr
    assert "install succeeded" in result.stdout
    assert (tmp_path / "state" / "runs").is_dir()
