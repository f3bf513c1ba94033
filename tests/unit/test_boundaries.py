"""The engine must not depend on any user interface (ARCHITECTURE.md section 2), and imports go one
way between the rooms of docs/architecture.md (the import-linter contracts in pyproject.toml)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

UI_MODULES = ("textual", "questionary", "prompt_toolkit", "talos_platform.tui", "talos_platform.wizards")


def test_importing_the_whole_engine_loads_no_ui_library():
    code = (
        "import json, pkgutil, importlib, sys\n"
        "import talos_platform.engine as engine\n"
        "for info in pkgutil.walk_packages(engine.__path__, 'talos_platform.engine.'):\n"
        "    importlib.import_module(info.name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(result.stdout)
    offending = [m for m in loaded if m.split(".")[0] in UI_MODULES or m.startswith(UI_MODULES)]
    assert offending == []
    assert "talos_platform.engine.config.models" in loaded


def test_no_generic_top_level_packages_are_installed(tmp_path):
    code = (
        "import importlib.util, json\n"
        "print(json.dumps({n: importlib.util.find_spec(n) is not None"
        " for n in ('engine', 'tui', 'wizards', 'cli', 'talos_platform')}))\n"
    )
    # Run outside the checkout so only what is installed can be found.
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    found = json.loads(result.stdout)
    assert found == {"engine": False, "tui": False, "wizards": False, "cli": False, "talos_platform": True}


def test_imports_keep_the_contracts_of_pyproject():
    """`lint-imports` reads folders, not the editable install's import hook: it runs on the package
    laid out by scripts/package_tree.py. A broken contract fails with import-linter's report."""
    tree = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "package_tree.py")], capture_output=True, text=True, check=True
    ).stdout.strip()
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": tree},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
