"""The engine must not depend on any user interface (ARCHITECTURE.md section 2)."""

import json
import subprocess
import sys

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
