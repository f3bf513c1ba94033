"""A config and a step context with fake drivers (tests/support/drivers.py) for table-driven
step tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.drivers import FakeGit, FakeKube, FakeTalos, FakeTools, FakeVault

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.drivers.clock import RealClock
from talos_platform.engine.drivers.protocols import Drivers
from talos_platform.engine.plan.context import StepContext
from talos_platform.engine.state import StateDirectory


def platform_config(
    *,
    talos_version: str = "v1.11.5",
    vip: str | None = "10.0.0.10",
    control_planes: int = 1,
    workers: int = 1,
    private: bool = False,
    repo_url: str = "https://git.example.com/platform.git",
    **components: Any,
) -> PlatformConfig:
    nodes = [
        {"name": f"cp-{i}", "address": f"10.0.0.{10 + i}/24", "role": "control-plane", "link": "eth0"}
        for i in range(1, control_planes + 1)
    ]
    nodes += [
        {"name": f"w-{i}", "address": f"10.0.0.{20 + i}/24", "installDisk": "/dev/nvme0n1"}
        for i in range(1, workers + 1)
    ]
    return PlatformConfig.model_validate(
        {
            "cluster": {
                "name": "demo",
                "vip": vip,
                "talosVersion": talos_version,
                "kubernetesVersion": "v1.34.1",
                "network": {"gateway": "10.0.0.1"},
            },
            "nodes": nodes,
            "domain": {"base": "example.com", "acmeEmail": "ops@example.com"},
            "gitops": {"repoUrl": repo_url, "private": private},
            "components": components,
        }
    )


def make_context(
    config: PlatformConfig,
    tmp_path: Path,
    *,
    talos: FakeTalos | None = None,
    kube: FakeKube | None = None,
    vault: FakeVault | None = None,
    git: FakeGit | None = None,
    tools: FakeTools | None = None,
    secrets: Secrets | None = None,
) -> tuple[StepContext, list[str]]:
    lines: list[str] = []
    state = StateDirectory(tmp_path / "state").ensure()
    drivers = Drivers(talos=talos or FakeTalos(), kube=kube or FakeKube(), vault=vault, git=git, tools=tools)
    context = StepContext(
        config=config,
        secrets=secrets or Secrets(),
        state=state,
        drivers=drivers,
        clock=RealClock(),
        step_id="test",
        output=lines.append,
    )
    return context, lines
