"""Checked style: ruff's lint and format check, and mypy, as configured in pyproject.toml.

A failure shows the tool's own findings. Fix them, or justify a rule's exception in pyproject.toml
with a comment (a `# type: ignore` needs its error code and a reason)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *argv], cwd=cwd, capture_output=True, text=True, timeout=600)


def passes(result: subprocess.CompletedProcess[str], what: str) -> None:
    if result.returncode != 0:
        pytest.fail(f"{what} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}", pytrace=False)


def test_ruff_lint_finds_nothing():
    passes(run("-m", "ruff", "check", "."), "ruff check")


def test_the_code_is_formatted_by_ruff():
    passes(run("-m", "ruff", "format", "--check", "."), "ruff format --check (run `ruff format` on the files named)")


def test_mypy_finds_nothing():
    # mypy reads folders: lay the installed package out as one (see scripts/package_tree.py).
    built = run("scripts/package_tree.py")
    passes(built, "scripts/package_tree.py")
    tree = Path(built.stdout.strip().splitlines()[-1])
    checked = run(
        "-m",
        "mypy",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "--cache-dir",
        str(ROOT / ".mypy_cache"),
        "-p",
        "talos_platform",
        cwd=tree,
    )
    passes(checked, "mypy -p talos_platform")
