"""Lay out the `talos_platform` package as Python tools expect to find it on disk.

setup.py installs the design card's folders (cli/, engine/, tui/, wizards/, rehearsal/) under one
`talos_platform` namespace, which the editable install resolves with an import hook. Static tools
(mypy, import-linter) read folders, not hooks: this builds `.package-tree/talos_platform/` from
symbolic links to the real files, taking the folders from the installed package itself, so the tree
cannot drift from setup.py. Prints the tree's root (for MYPYPATH / PYTHONPATH).
"""

import importlib.util
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / ".package-tree"
SUBPACKAGES = ("engine", "tui", "wizards", "rehearsal")


def package_folder(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"{name} is not installed: run ./scripts/setup.sh first")
    return Path(next(iter(spec.submodule_search_locations)))


def build() -> Path:
    shutil.rmtree(TREE, ignore_errors=True)
    top = TREE / "talos_platform"
    top.mkdir(parents=True)
    for entry in package_folder("talos_platform").iterdir():
        if entry.name != "__pycache__":
            (top / entry.name).symlink_to(entry)
    for sub in SUBPACKAGES:
        (top / sub).symlink_to(package_folder(f"talos_platform.{sub}"))
    return TREE


if __name__ == "__main__":
    print(build())
