"""The config file brought in line after a day-2 operation changed the cluster, so the next
install or render does not undo it. The file's comments and layout are kept; the old file is
kept beside it as `.bak`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from talos_platform.engine.config.editing import edited_text
from talos_platform.engine.config.loading import read_config
from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.files import replace_keeping_backup
from talos_platform.engine.layers.base import BaseStep, done, todo
from talos_platform.engine.plan.context import StepContext
from talos_platform.engine.plan.step import Action, CheckResult

VersionField = Literal["kubernetesVersion", "talosVersion"]
_ATTRIBUTES: dict[VersionField, str] = {"kubernetesVersion": "kubernetes_version", "talosVersion": "talos_version"}


class VersionInConfig(BaseStep):
    """Writes `cluster.<field>: <to>` into the config file the operation was started with."""

    timeout = 60.0

    def __init__(
        self,
        config: PlatformConfig,
        field: VersionField,
        to: str,
        config_path: Path | None,
        *,
        step_id: str,
        layer: int,
        needs: tuple[str, ...],
    ):
        super().__init__(config, step_id=step_id, title="Write the new version into the config", needs=needs)
        self.layer = layer
        self.field = field
        self.to = to
        self.config_path = config_path

    def inputs(self) -> Any:
        return {"to": self.to, "file": str(self.config_path or "")}

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        if self.config_path is None:
            return (Action("no config file given: nothing to write"),)
        return (Action(f"set cluster.{self.field}: {self.to} in {self.config_path} (the old file kept as .bak)"),)

    def _written(self, path: Path) -> str:
        return str(getattr(read_config(path).cluster, _ATTRIBUTES[self.field]))

    async def _check(self, ctx: StepContext) -> CheckResult:
        if self.config_path is None:
            return done("no config file given (simulated scenario): nothing to write")
        if self._written(self.config_path) == self.to:
            return done(f"{self.config_path} says {self.to}")
        return todo(f"{self.config_path} still names the old version", *self.planned_actions(ctx))

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        assert self.config_path is not None
        before = self.config_path.read_text(encoding="utf-8")
        config = read_config(self.config_path)
        setattr(config.cluster, _ATTRIBUTES[self.field], self.to)
        replace_keeping_backup(self.config_path, before.encode(), edited_text(before, config).encode())
        ctx.output(f"{self.config_path}: {self.field} {self.to} (the old file kept as {self.config_path.name}.bak)")
