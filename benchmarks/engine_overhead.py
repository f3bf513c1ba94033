"""Engine overhead: how long from a step becoming ready to the engine noticing it.

A fake outside system makes each step ready at a random moment (an asyncio.Event set from a
timer, as a watch event would). We time from that moment to
  - the engine emitting StepSucceeded for the step (through the redactor, the journal's
    fsync and the subscribers), and
  - the engine starting the step that needed it (StepStarted of the next step).
The same readiness moments are then noticed by a polling loop, the way shell installers wait
(`until kubectl ...; do sleep 10; done`). Its mean latency is interval/2 when readiness falls
at a uniformly random point of the polling cycle; we measure a scaled-down poller to check
that model and scale it to the 10 s interval.

    .venv/bin/python benchmarks/engine_overhead.py [--samples 300] [--poll-interval 0.02]

Not run by pytest; results go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.drivers.clock import RealClock
from talos_platform.engine.drivers.protocols import Drivers
from talos_platform.engine.plan.context import StepContext
from talos_platform.engine.plan.planner import Plan
from talos_platform.engine.plan.step import Action, CheckResult
from talos_platform.engine.run.events import StepStarted, StepSucceeded
from talos_platform.engine.run.journal import Journal
from talos_platform.engine.run.redaction import Redactor
from talos_platform.engine.run.runner import Runner

SHELL_POLL_INTERVAL = 10.0


@dataclass
class OutsideSystem:
    """Makes step `i` ready `delays[i]` seconds after its apply, recording when."""

    delays: list[float]
    ready_events: dict[int, asyncio.Event] = field(default_factory=dict)
    ready_at: dict[int, float] = field(default_factory=dict)

    def event(self, index: int) -> asyncio.Event:
        return self.ready_events.setdefault(index, asyncio.Event())

    def start(self, index: int) -> None:
        asyncio.get_running_loop().call_later(self.delays[index], self._ready, index)

    def _ready(self, index: int) -> None:
        self.ready_at[index] = time.perf_counter()
        self.event(index).set()


@dataclass(eq=False)
class WaitingStep:
    index: int
    system: OutsideSystem
    id: str = ""
    layer: int = 0
    title: str = "wait for the outside system"
    needs: tuple[str, ...] = ()
    timeout: float = 30.0

    def input_digest(self) -> str:
        return "bench"

    async def check(self, ctx) -> CheckResult:
        return CheckResult(actions=(Action("make it so"),))

    async def apply(self, ctx, check) -> None:
        self.system.start(self.index)

    async def wait(self, ctx) -> None:
        await self.system.event(self.index).wait()


def config() -> PlatformConfig:
    return PlatformConfig.model_validate(
        {
            "cluster": {"name": "bench"},
            "nodes": [{"name": "cp-1", "address": "10.0.0.11/24", "role": "control-plane"}],
            "domain": {"base": "example.com", "acmeEmail": "ops@example.com"},
            "gitops": {"repoUrl": "https://git.example.com/platform.git"},
        }
    )


async def engine_latencies(delays: list[float], journal_dir: Path | None) -> tuple[list[float], list[float]]:
    system = OutsideSystem(delays)
    steps = []
    for index in range(len(delays)):
        step = WaitingStep(index, system, id=f"step-{index}")
        if index:
            step.needs = (f"step-{index - 1}",)
        steps.append(step)
    secrets = Secrets(git_username="ops", git_token="ghp_" + "x" * 36, cloudflare_api_token="c" * 40)
    cfg = config()
    drivers = Drivers(talos=object(), kube=object())
    clock = RealClock()

    def context(step_id, output):
        return StepContext(cfg, secrets, None, drivers, clock, step_id, output)

    journal = Journal(journal_dir) if journal_dir else None
    runner = Runner(
        Plan(steps), context, journal=journal, redactor=Redactor.from_secrets(secrets), clock=clock, concurrency=4
    )
    noticed: dict[str, float] = {}
    started: dict[str, float] = {}

    def observe(event):
        if isinstance(event, StepSucceeded):
            noticed[event.step_id] = time.perf_counter()
        elif isinstance(event, StepStarted):
            started[event.step_id] = time.perf_counter()

    runner.subscribe(observe)
    outcome = await runner.run()
    if journal:
        journal.close()
    assert outcome == "succeeded", outcome
    to_success = [noticed[f"step-{i}"] - system.ready_at[i] for i in range(len(delays))]
    to_next = [started[f"step-{i + 1}"] - system.ready_at[i] for i in range(len(delays) - 1)]
    return to_success, to_next


async def poller_latencies(delays: list[float], interval: float) -> list[float]:
    latencies = []
    for index in range(len(delays)):
        system = OutsideSystem(delays)
        system.start(index)
        while not system.event(index).is_set():  # what `until ...; do sleep N; done` does
            await asyncio.sleep(interval)
        latencies.append(time.perf_counter() - system.ready_at[index])
    return latencies


def summary(name: str, values: list[float], scale: float = 1.0) -> str:
    ms = sorted(v * 1000 * scale for v in values)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return (
        f"| {name} | {len(ms)} | {statistics.mean(ms):.3f} | {statistics.median(ms):.3f} | {p95:.3f} | {ms[-1]:.3f} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--poll-interval", type=float, default=0.02, help="scaled-down poller interval (s)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    # Readiness 1-30 ms after apply: arbitrary, and irrelevant to the engine's reaction time.
    delays = [rng.uniform(0.001, 0.030) for _ in range(args.samples)]

    with tempfile.TemporaryDirectory() as folder:
        journaled, journaled_next = asyncio.run(engine_latencies(delays, Path(folder)))
    in_memory, in_memory_next = asyncio.run(engine_latencies(delays, None))
    polled = asyncio.run(poller_latencies(delays, args.poll_interval))
    scale = SHELL_POLL_INTERVAL / args.poll_interval

    print(f"python {platform.python_version()}, {platform.machine()}, {args.samples} samples, seed {args.seed}")
    print()
    print("| from ready to ... | samples | mean ms | median ms | p95 ms | max ms |")
    print("|---|---|---|---|---|---|")
    print(summary("engine: StepSucceeded emitted (journal fsync on)", journaled))
    print(summary("engine: next step started (journal fsync on)", journaled_next))
    print(summary("engine: StepSucceeded emitted (no journal)", in_memory))
    print(summary("engine: next step started (no journal)", in_memory_next))
    print(summary(f"poller, sleep {args.poll_interval * 1000:g} ms (measured)", polled))
    print(summary(f"poller, sleep {SHELL_POLL_INTERVAL:g} s (measured, scaled x{scale:g})", polled, scale))
    print()
    print(
        f"Analytical poller (readiness uniform over the cycle): mean = interval/2 = "
        f"{args.poll_interval / 2 * 1000:g} ms for {args.poll_interval * 1000:g} ms; "
        f"{SHELL_POLL_INTERVAL / 2:g} s for {SHELL_POLL_INTERVAL:g} s (max {SHELL_POLL_INTERVAL:g} s)."
    )
    ratio = (SHELL_POLL_INTERVAL / 2) / statistics.mean(journaled_next)
    print(
        f"Mean engine reaction (ready -> next step started, journal on) is {ratio:,.0f}x shorter than the 10 s "
        "poller's."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
