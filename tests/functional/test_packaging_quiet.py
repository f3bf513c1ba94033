"""Issue 14, item 9: `scripts/setup.sh` prints nothing on success. The script itself needs the
package index and about two minutes, so it is not run here; what made it loud is: setuptools
warned, for every data folder, that a package was absent from the `packages` configuration
(about 50 lines). Building the packages the way the editable install does must warn of nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.commands import ENVIRONMENT

ROOT = Path(__file__).resolve().parents[2]
NOT_A_WARNING = "warning: build_py: byte-compiling is disabled, skipping."
"""Said when the interpreter writes no bytecode (as under the test runner); pip's build does."""


def test_building_the_packages_warns_of_nothing(tmp_path):
    built = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path / "lib")],
        cwd=ROOT,
        env=ENVIRONMENT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert built.returncode == 0, built.stderr
    said = [line for line in (built.stdout + built.stderr).splitlines() if line.strip() and line != NOT_A_WARNING]
    assert said == []
    # The data folders are shipped all the same (a simulated scenario, the rehearsal's manifests).
    assert list((tmp_path / "lib" / "talos_platform" / "engine" / "sim" / "scenario_files").glob("*.yaml"))
    assert list((tmp_path / "lib" / "talos_platform" / "rehearsal" / "manifests").iterdir())
