"""Shared by the functional tests that drive the real command line on the simulated platform."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.commands import ENVIRONMENT, run_simulated_install

__all__ = ["ENVIRONMENT", "run_simulated_install"]


@pytest.fixture
def simulated_install():
    return run_simulated_install


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The state directory of a finished simulated install, made once per test module."""
    state = tmp_path_factory.mktemp("installed") / "state"
    assert run_simulated_install(state).returncode == 0
    return state
