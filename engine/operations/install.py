"""The install: layers 0-4 of the platform, the first operation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from talos_platform.engine.access import next_steps
from talos_platform.engine.operations import Operation, register
from talos_platform.engine.run.events import DEFAULT_OPERATION

if TYPE_CHECKING:
    from talos_platform.engine.config.models import PlatformConfig
    from talos_platform.engine.plan.step import Step


def install_steps(config: PlatformConfig, options: Mapping[str, Any]) -> list[Step]:
    """Every step of layers 0-4. Option `push`: publish the rendered tree to `gitops.repoUrl`
    before layer 2 (None or absent decides from the URL, see `platform_steps`)."""
    from talos_platform.engine.layers import platform_steps  # heavy; only when really planning

    return platform_steps(config, push=options.get("push"))


INSTALL = register(
    Operation(name=DEFAULT_OPERATION, title="Install", plan_steps=install_steps, notes_after_success=next_steps)
)
