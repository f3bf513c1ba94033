"""Shared by the functional tests that drive the real command line on the simulated platform."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ENVIRONMENT = {**os.environ, "TALOS_PLATFORM_LOOPBACK_ONLY": "1"}


def run_simulated_install(state: Path, *extra: str) -> subprocess.CompletedProcess:
    """`talos-platform install --simulate` at full speed on `state`, with no terminal to ask on."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "talos_platform",
            "install",
            "--simulate",
            "--speed",
            "inf",
            "--state-dir",
            str(state),
            *extra,
        ],
        env=ENVIRONMENT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def simulated_install():
    return run_simulated_install


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The state directory of a finished simulated install, made once per test module."""
    state = tmp_path_factory.mktemp("installed") / "state"
    assert run_simulated_install(state).returncode == 0
    return state
