"""Fake steps over a fake world, and what the engine's tests build around them (a small config,
drivers the fake steps never call, step contexts, events of one type).

A FakeWorld is the "outside system": a step's `check` honestly reports what the world holds,
`apply` changes the world, so resume and skip logic are tested against real state, not flags.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from support.clock import ManualClock
from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.drivers.protocols import Drivers
from talos_platform.engine.plan.context import StepContext
from talos_platform.engine.plan.step import Action, CheckResult
from talos_platform.engine.run.events import Event
from talos_platform.engine.state import StateDirectory

CANARY = "canary-s3cr3t-token-81f2"


def small_config(name: str = "demo") -> PlatformConfig:
    return PlatformConfig.model_validate(
        {
            "cluster": {"name": name},
            "nodes": [{"name": "cp-1", "address": "10.0.0.11/24", "role": "control-plane"}],
            "domain": {"base": "example.com", "acmeEmail": "ops@example.com"},
            "gitops": {"repoUrl": "https://git.example.com/platform.git"},
        }
    )


@dataclass
class FakeWorld:
    done: set[str] = field(default_factory=set)
    applied: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    active: int = 0
    max_active: int = 0
    order: list[str] = field(default_factory=list)


@dataclass(eq=False)
class FakeStep:
    id: str
    world: FakeWorld
    layer: int = 0
    needs: tuple[str, ...] = ()
    timeout: float = 5.0
    title: str = ""
    digest: str = "v1"
    apply_errors: list[Exception] = field(default_factory=list)
    """Raised by `apply`, one per attempt, before the world changes."""
    gate: asyncio.Event | None = None
    """When set, `apply` waits for it (to hold a step in flight)."""
    wait_forever: bool = False
    output: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.title = self.title or f"fake {self.id}"

    def input_digest(self) -> str:
        return self.digest

    async def check(self, ctx: StepContext) -> CheckResult:
        self.world.checks.append(self.id)
        if self.id in self.world.done:
            return CheckResult(reason=f"{self.id} found in place")
        return CheckResult(actions=self.planned_actions(ctx), reason="missing")

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        return (Action(f"create {self.id}", command=("fake", "create", self.id)),)

    async def apply(self, ctx: StepContext, check: CheckResult) -> None:
        self.world.active += 1
        self.world.max_active = max(self.world.max_active, self.world.active)
        self.world.order.append(self.id)
        try:
            if self.gate is not None:
                await self.gate.wait()
            for line in self.output:
                ctx.output(line)
            if self.apply_errors:
                raise self.apply_errors.pop(0)
            self.world.done.add(self.id)
            self.world.applied.append(self.id)
        finally:
            self.world.active -= 1

    async def wait(self, ctx: StepContext) -> None:
        if self.wait_forever:
            await asyncio.Event().wait()


def fake_drivers() -> Drivers:
    return Drivers(talos=object(), kube=object(), simulated=True)  # fake steps never call them


def context_factory(state_root: Path, secrets: Secrets | None = None, clock=None):
    state = StateDirectory(state_root)
    config = small_config()

    def make(step_id: str, output) -> StepContext:
        return StepContext(
            config=config,
            secrets=secrets or Secrets(),
            state=state,
            drivers=fake_drivers(),
            clock=clock or ManualClock(),
            step_id=step_id,
            output=output,
        )

    return make


def of_type(events: list[Event], kind: type) -> list:
    return [event for event in events if isinstance(event, kind)]
