"""Layer 0 of a rehearsal: no Talos machine is started, but every node's machine config is made
the way the install makes it and judged by the real talosctl of the nodes' Talos minor:
`gen secrets`, `gen config` with the rendered patches, the node's own patches applied as
`apply-config --config-patch` would apply them, then `validate --strict`, and each control plane
must hold the key that encrypts Secrets at rest. Offline commands
only: no node is ever contacted.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TIMEOUT = 120


@dataclass
class NodeCheck:
    node: str
    ok: bool
    output: str
    """What talosctl said (its refusal, when not ok)."""


class Talosctl:
    """One pinned talosctl, run in a work directory with a private HOME and talosconfig."""

    def __init__(self, binary: Path, workdir: Path):
        self.binary, self.workdir = binary, workdir
        home = workdir / "home"
        self.env = {**os.environ, "HOME": str(home), "TALOSCONFIG": str(home / "talosconfig")}

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [str(self.binary), *args], cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=TIMEOUT
        )
        if check and completed.returncode != 0:
            raise RuntimeError(
                f"{self.binary.name} {' '.join(args)} exited {completed.returncode}:\n"
                f"{completed.stdout}{completed.stderr}"
            )
        return completed

    def run_driver_argv(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        """A command line built by the talosctl driver, run with this binary."""
        return self.run(*argv[1:])


def check_machine_configs(config: Any, tool: Talosctl) -> list[NodeCheck]:
    """Every node's final machine config, validated by `tool`; one result per node."""
    from talos_platform.engine.config.models import Platform, Role
    from talos_platform.engine.config.versions import TalosFeatures
    from talos_platform.engine.drivers import talosctl as driver
    from talos_platform.engine.layers.talos import PATCH_ALL, PATCH_CONTROL_PLANE, PATCH_WORKER, node_patch_names
    from talos_platform.engine.render import talos_patches
    from talos_platform.engine.render.encryption_at_rest import machine_config_problem

    work = tool.workdir
    features = TalosFeatures.for_version(config.cluster.talos_version)
    patches = talos_patches(config)
    for key, text in patches.items():
        (work / "patches" / key).parent.mkdir(parents=True, exist_ok=True)
        (work / "patches" / key).write_text(text)
    tool.run_driver_argv(driver.gen_secrets_argv(work / "secrets.yaml"))
    tool.run_driver_argv(
        driver.gen_config_argv(
            cluster_name=config.cluster.name,
            endpoint=f"https://{config.api_endpoint_host}:6443",
            secrets=work / "secrets.yaml",
            talos_version=config.cluster.talos_version,
            kubernetes_version=config.cluster.kubernetes_version,
            patches_all=work / "patches" / PATCH_ALL,
            patches_control_plane=work / "patches" / PATCH_CONTROL_PLANE,
            patches_worker=work / "patches" / PATCH_WORKER,
            output_dir=work / "out",
        )
    )
    mode = "container" if config.cluster.platform is Platform.docker else "metal"
    per_node = node_patch_names(config, patches)
    results = []
    for node in config.nodes:
        role_file = work / "out" / ("controlplane.yaml" if node.role is Role.control_plane else "worker.yaml")
        own = tuple(work / "patches" / key for key, name in per_node.items() if name == node.name)
        # The same patch list the install hands to apply-config for this node.
        argv = driver.apply_config_argv("127.0.0.1", role_file, insecure=True, patches=own)
        patch_args = [
            arg for index, value in enumerate(argv) if value == "--config-patch" for arg in ("--patch", argv[index + 1])
        ]
        final = work / "nodes" / f"{node.name}.yaml"
        final.parent.mkdir(exist_ok=True)
        if patch_args:
            patched = tool.run(
                "machineconfig", "patch", str(role_file), *patch_args, "--output", str(final), check=False
            )
            if patched.returncode != 0:
                results.append(NodeCheck(node.name, False, (patched.stderr or patched.stdout).strip()))
                continue
        else:
            final.write_text(role_file.read_text())
        validated = tool.run("validate", "--config", str(final), "--mode", mode, "--strict", check=False)
        said = (validated.stdout + validated.stderr).strip()
        # talosctl accepts a control plane that leaves Secrets unencrypted; the install does not.
        unencrypted = machine_config_problem(final.read_text(), features) if node.role is Role.control_plane else ""
        if validated.returncode == 0 and unencrypted:
            results.append(NodeCheck(node.name, False, f"Secrets would not be encrypted at rest: {unencrypted}"))
            continue
        results.append(NodeCheck(node.name, validated.returncode == 0, said))
    if config.cluster.platform is Platform.docker:
        # Docker's workers come from worker.yaml as generated.
        workers = tool.run(
            "validate", "--config", str(work / "out" / "worker.yaml"), "--mode", mode, "--strict", check=False
        )
        results.append(
            NodeCheck("workers (generated)", workers.returncode == 0, (workers.stdout + workers.stderr).strip())
        )
    return results
