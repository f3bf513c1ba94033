"""Drive a simulated platform through the Talos driver, as the install's layer 0 would."""

from __future__ import annotations

import math
from pathlib import Path

from talos_platform.engine.sim import simulated_platform


def platform_for(scenario: str = "default", **options):
    return simulated_platform(scenario, speed=math.inf, **options)


async def wait_until(platform, predicate, limit: float = 1800.0, step: float = 5.0) -> None:
    waited = 0.0
    while not predicate():
        assert waited < limit, "condition not reached in virtual time"
        await platform.clock.sleep(step)
        waited += step


async def generate_configs(platform, directory: Path) -> Path:
    talos = platform.drivers.talos
    for name, text in (("all.yaml", "machine: {}\n"), ("cp.yaml", "cluster: {}\n"), ("worker.yaml", "machine: {}\n")):
        (directory / name).write_text(text)
    await talos.generate_secrets(directory / "secrets.yaml")
    await talos.generate_config(
        cluster_name=platform.config.cluster.name,
        endpoint=f"https://{platform.config.api_endpoint_host}:6443",
        secrets=directory / "secrets.yaml",
        talos_version="v1.11",
        kubernetes_version="v1.34.1",
        patches_all=directory / "all.yaml",
        patches_control_plane=directory / "cp.yaml",
        patches_worker=directory / "worker.yaml",
        output_dir=directory / "out",
    )
    return directory / "out"


async def bring_up_kubernetes(platform, directory: Path) -> None:
    """Configs applied to every node, etcd bootstrapped, the API server answering."""
    out = await generate_configs(platform, directory)
    config = platform.config
    await wait_until(platform, lambda: all(m.stage == "maintenance" for m in platform.model.machines.values()))
    for node in config.nodes:
        file = out / ("controlplane.yaml" if node.role.value == "control-plane" else "worker.yaml")
        await platform.drivers.talos.apply_config(config.node_ip(node), file, insecure=True)
    await wait_until(platform, lambda: all(m.stage == "running" for m in platform.model.machines.values()))
    await platform.drivers.talos.bootstrap(config.node_ip(config.control_planes[0]), out / "talosconfig")
    await wait_until(platform, lambda: platform.model.api_up)
