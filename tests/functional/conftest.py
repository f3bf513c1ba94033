"""Shared by the functional tests that drive the real command line on the simulated platform."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.commands import ENVIRONMENT, run_simulated_install

__all__ = ["ENVIRONMENT", "run_simulated_install"]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "metal-3cp-3w.yaml"


@pytest.fixture
def simulated_install():
    return run_simulated_install


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The state directory of a finished simulated install, made once per test module."""
    state = tmp_path_factory.mktemp("installed") / "state"
    assert run_simulated_install(state).returncode == 0
    return state


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory) -> Path:
    """One simulated install of the 3+3 example (its config file beside the state directory), made
    once per test module: day-2 operations change both."""
    folder = tmp_path_factory.mktemp("installed")
    config, state = folder / "platform.yaml", folder / "state"
    shutil.copy(EXAMPLE, config)
    assert run_simulated_install(state, "--yes", "--config", str(config)).returncode == 0
    return folder


@pytest.fixture
def example_cluster(installed_example: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of `installed_example` for one test: (config file, state directory)."""
    shutil.copytree(installed_example / "state", tmp_path / "state")
    shutil.copy(installed_example / "platform.yaml", tmp_path / "platform.yaml")
    return tmp_path / "platform.yaml", tmp_path / "state"
