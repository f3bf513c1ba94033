"""Which Talos and Kubernetes versions we support, and which config keys each Talos version uses.

Talos moved settings from keys into separate documents over time (ARCHITECTURE.md section 8):
the VIP became a `Layer2VIPConfig` document in 1.12; CNI none, kube-proxy off and the install
disk became documents in 1.14. Patches are rendered for the nodes' version, and talosctl is always told that
version (`--talos-version`), so a newer talosctl does not produce keys older nodes reject.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VERSION_PATTERN = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")

# Talos minor versions we render for, and the Kubernetes minors each supports: Talos' support
# matrix, six minors back from the release's default Kubernetes (the same range each release's
# `pkg/machinery/compatibility/talosNNN` accepts, e.g. 1.32.0 to 1.37.99 for Talos 1.14).
SUPPORTED_TALOS: dict[tuple[int, int], tuple[tuple[int, int], ...]] = {
    (1, 10): tuple((1, minor) for minor in range(28, 34)),
    (1, 11): tuple((1, minor) for minor in range(29, 35)),
    (1, 12): tuple((1, minor) for minor in range(30, 36)),
    (1, 13): tuple((1, minor) for minor in range(31, 37)),
    (1, 14): tuple((1, minor) for minor in range(32, 38)),
}


class VersionError(ValueError):
    pass


def parse_version(text: str) -> tuple[int, int, int]:
    """`v1.11.5` -> (1, 11, 5); raises VersionError for anything else."""
    match = VERSION_PATTERN.match(text.strip())
    if not match:
        raise VersionError(f"{text!r} is not a version like v1.11.5")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def minor(text: str) -> tuple[int, int]:
    major, minor_number, _ = parse_version(text)
    return (major, minor_number)


@dataclass(frozen=True)
class TalosFeatures:
    """Config shape of one Talos version."""

    version: tuple[int, int]

    @classmethod
    def for_version(cls, talos_version: str) -> TalosFeatures:
        return cls(minor(talos_version))

    @property
    def vip_as_document(self) -> bool:
        """VIP is a `Layer2VIPConfig` document (1.12+) instead of `machine.network.interfaces[].vip`."""
        return self.version >= (1, 12)

    @property
    def hostname_as_document(self) -> bool:
        """Hostname is a `HostnameConfig` document (1.12+; `auto: stable` is generated, so a
        static name needs `auto: off`) instead of `machine.network.hostname`."""
        return self.version >= (1, 12)

    @property
    def network_as_documents(self) -> bool:
        """CNI none and kube-proxy off are separate documents (1.14+) instead of
        `cluster.network.cni`/`cluster.proxy`."""
        return self.version >= (1, 14)

    @property
    def install_as_document(self) -> bool:
        """The install disk is an `UnattendedInstallConfig` document (1.14+, a disk selector
        expression) instead of `machine.install.disk`; Talos refuses both together."""
        return self.version >= (1, 14)

    @property
    def encryption_as_document(self) -> bool:
        """`gen config` writes the key that encrypts Secrets at rest into a `KubeEtcdEncryptionConfig`
        document (1.14+) instead of `cluster.secretboxEncryptionSecret` (`aescbcEncryptionSecret`
        on clusters made before Talos 1.3); 1.14 still accepts the legacy key."""
        return self.version >= (1, 14)

    @property
    def directory_user_volumes(self) -> bool:
        """A `UserVolumeConfig` can be a directory on the EPHEMERAL partition (`volumeType:
        directory`, 1.12+), mounted at `/var/mnt/<name>` and seen by the kubelet; before, user
        volumes were partitions of a spare disk, and a hostPath folder needed a kubelet extra mount."""
        return self.version >= (1, 12)

    @property
    def contract(self) -> str:
        """The value for `talosctl gen config --talos-version`."""
        return f"v{self.version[0]}.{self.version[1]}"


def supported_talos_versions() -> list[str]:
    return [f"v{major}.{minor_number}" for major, minor_number in SUPPORTED_TALOS]


def kubernetes_supported_by(talos_version: str) -> list[str]:
    return [f"v{a}.{b}" for a, b in SUPPORTED_TALOS.get(minor(talos_version), ())]
