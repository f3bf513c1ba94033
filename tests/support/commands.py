"""Running the real command line in a subprocess, loopback-only, with no terminal to ask on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ENVIRONMENT = {**os.environ, "TALOS_PLATFORM_LOOPBACK_ONLY": "1"}


def talos_platform(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`talos-platform ARGV...` as a user would run it from a script."""
    return subprocess.run(
        [sys.executable, "-m", "talos_platform", *argv],
        env=ENVIRONMENT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_simulated_install(state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`talos-platform install --simulate` at full speed on `state`."""
    return talos_platform("install", "--simulate", "--speed", "inf", "--state-dir", str(state), *extra)
