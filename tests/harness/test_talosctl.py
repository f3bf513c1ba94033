"""The real talosctl, offline only: gen secrets, gen config with patches, validate --mode metal.

No command here contacts a node: the endpoint and VIP are written into configs, never dialed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from talos_platform.rehearsal.binaries import pinned_versions

# Documentation range (TEST-NET-1): appears in the config only.
VIP = "192.0.2.10"


def _pinned_talos_version() -> str:
    return pinned_versions()["TALOS_VERSION"]


@pytest.fixture
def talosctl(harness_bin, tmp_path: Path):
    """Run talosctl in tmp_path with a private HOME and talosconfig; returns the result."""
    env = {**os.environ, "HOME": str(tmp_path / "home"), "TALOSCONFIG": str(tmp_path / "home" / "talosconfig")}

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [str(harness_bin("talosctl")), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        if check and completed.returncode != 0:
            raise AssertionError(
                f"talosctl {' '.join(args)} exited {completed.returncode}:\n{completed.stdout}{completed.stderr}"
            )
        return completed

    return run


def _write_patches(directory: Path) -> None:
    (directory / "all.yaml").write_text(
        yaml.safe_dump(
            {
                "machine": {"certSANs": [VIP, "127.0.0.1"]},
                "cluster": {
                    "apiServer": {"certSANs": [VIP, "127.0.0.1"]},
                    "network": {"cni": {"name": "none"}},
                    "proxy": {"disabled": True},
                },
            }
        )
    )
    (directory / "controlplane.yaml").write_text(
        yaml.safe_dump(
            {
                "machine": {"network": {"interfaces": [{"interface": "eth0", "dhcp": True, "vip": {"ip": VIP}}]}},
                "cluster": {"allowSchedulingOnControlPlanes": True},
            }
        )
    )
    (directory / "worker.yaml").write_text(
        yaml.safe_dump(
            {
                "machine": {"nodeLabels": {"node-role.kubernetes.io/worker": ""}},
            }
        )
    )


def test_talosctl_is_the_pinned_release(talosctl):
    assert _pinned_talos_version() in talosctl("version", "--client").stdout


def test_gen_secrets_gen_config_and_validate_for_metal(talosctl, tmp_path: Path):
    talosctl("gen", "secrets", "-o", "secrets.yaml")
    secrets = yaml.safe_load((tmp_path / "secrets.yaml").read_text())
    assert {"cluster", "secrets", "certs"} <= set(secrets)
    # The bundle is the cluster's PKI: talosctl refuses to overwrite it.
    assert talosctl("gen", "secrets", "-o", "secrets.yaml", check=False).returncode != 0

    _write_patches(tmp_path)
    minor = ".".join(_pinned_talos_version().split(".")[:2])
    talosctl(
        "gen",
        "config",
        "rehearsal",
        f"https://{VIP}:6443",
        "--with-secrets",
        "secrets.yaml",
        "--talos-version",
        minor,
        "--config-patch",
        "@all.yaml",
        "--config-patch-control-plane",
        "@controlplane.yaml",
        "--config-patch-worker",
        "@worker.yaml",
        "--output-dir",
        "out",
    )
    controlplane = yaml.safe_load((tmp_path / "out" / "controlplane.yaml").read_text())
    worker = yaml.safe_load((tmp_path / "out" / "worker.yaml").read_text())
    assert controlplane["cluster"]["network"]["cni"]["name"] == "none"
    assert controlplane["cluster"]["proxy"]["disabled"] is True
    assert controlplane["cluster"]["allowSchedulingOnControlPlanes"] is True
    assert controlplane["machine"]["network"]["interfaces"][0]["vip"]["ip"] == VIP
    assert VIP in controlplane["cluster"]["apiServer"]["certSANs"]
    assert "interfaces" not in worker["machine"].get("network", {})
    assert worker["machine"]["nodeLabels"] == {"node-role.kubernetes.io/worker": ""}
    # Both roles share the cluster's CA from the secrets bundle.
    assert controlplane["cluster"]["ca"]["crt"] == secrets["certs"]["k8s"]["crt"]

    for role in ("controlplane", "worker"):
        talosctl("validate", "--config", f"out/{role}.yaml", "--mode", "metal", "--strict")


def test_validate_rejects_a_metal_config_without_install_disk(talosctl, tmp_path: Path):
    talosctl("gen", "config", "rehearsal", f"https://{VIP}:6443", "--output-dir", "out")
    config = yaml.safe_load((tmp_path / "out" / "worker.yaml").read_text())
    del config["machine"]["install"]
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(config))
    refused = talosctl("validate", "--config", "broken.yaml", "--mode", "metal", check=False)
    assert refused.returncode != 0
    assert "install" in (refused.stdout + refused.stderr)
    # The same document is acceptable where no install is needed.
    talosctl("validate", "--config", "broken.yaml", "--mode", "container")
