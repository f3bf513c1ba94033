"""The simulated platform: in-memory drivers over one platform model on a virtual clock.

    platform = simulated_platform("default", seed=7, speed=math.inf)
    platform.drivers   # Drivers(simulated=True): talos, kube, hubble, alertmanager, git, vault, tools
    platform.clock     # the virtual Clock the engine must use with these drivers
    platform.config    # the scenario's PlatformConfig
    platform.secrets   # clearly fake secrets

The engine runs against it exactly as against a real cluster; only the drivers differ.
See clock.py for why time is discrete-event (determinism), scenarios.py for the YAML format.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from talos_platform.engine.config.models import Node, PlatformConfig
from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.drivers.process import ProcessRunner, run_gate
from talos_platform.engine.drivers.protocols import Drivers, GateResult
from talos_platform.engine.sim.alertmanager import SimulatedAlertmanager
from talos_platform.engine.sim.argo import ArgoController
from talos_platform.engine.sim.changes import journal_first_nodes
from talos_platform.engine.sim.clock import SimulatedClock
from talos_platform.engine.sim.git import GitRemote, SimulatedGit
from talos_platform.engine.sim.hubble import HubbleModel, SimulatedHubble
from talos_platform.engine.sim.installed import fast_forward_install, seed_gitops_repository, seed_workload_repository
from talos_platform.engine.sim.kube import SimulatedKube
from talos_platform.engine.sim.model import PlatformModel
from talos_platform.engine.sim.scenarios import (
    Scenario,
    ScenarioInvalid,
    list_scenarios,
    load_scenario,
    scenario_config,
)
from talos_platform.engine.sim.secrets import fake_secrets
from talos_platform.engine.sim.talos import SimulatedTalos
from talos_platform.engine.sim.vault import SimulatedVault, VaultState
from talos_platform.engine.sim.workloads import WorkloadController

__all__ = ["SimulatedPlatform", "simulated_platform", "list_scenarios", "ScenarioInvalid", "SIMULATION_LABEL"]

SIMULATION_LABEL = "SIMULATION — no real machines are touched"

TOOL_VERSIONS = {"kubectl": "v1.34.1", "helm": "v3.19.0"}


class SimulatedTools:
    """Local tool versions as a well-equipped machine would report them."""

    def __init__(self, talos_version: str, clock: SimulatedClock):
        self._versions = {"talosctl": talos_version, **TOOL_VERSIONS}
        self._clock = clock

    async def version(self, tool: str) -> str:
        return self._versions.get(tool, "")

    async def gate(self, command: str, env: dict[str, str], timeout: float) -> GateResult:
        """The user's gate command runs for real here too (it is theirs, on this machine), told
        by TALOS_PLATFORM_SIMULATED=1 that the cluster it would check is simulated."""
        async with self._clock.held():  # it takes real time; the simulated cluster waits for it
            return await run_gate(ProcessRunner(), command, {**env, "TALOS_PLATFORM_SIMULATED": "1"}, timeout)


@dataclass
class SimulatedPlatform:
    scenario: Scenario
    config: PlatformConfig
    secrets: Secrets
    clock: SimulatedClock
    drivers: Drivers
    model: PlatformModel
    seed: int

    @property
    def label(self) -> str:
        return f"{SIMULATION_LABEL} (scenario {self.scenario.name}, seed {self.seed})"

    def close(self) -> None:
        """Stop the clock's background task (also stops when the event loop ends)."""
        self.clock.close()


def _nodes(data: list[Any]) -> list[Node]:
    return [Node.model_validate(node) for node in data]


def rack_new_machines(model: PlatformModel) -> None:
    """Every node of the config has a machine: one at an address the config gained since the
    cluster was built is booted into maintenance mode, waiting for `node add` or the install to
    give it its config. (A machine reset by `node remove` stays off: a node added again takes a
    new address here.)"""
    if model.config.cluster.platform.value != "metal":
        return
    for node in model.config.nodes:
        address = model.config.node_ip(node)
        machine = model.machine(address)
        if machine is None:
            model.changes.machine_racked(node.name, address, node.role.value, node.install_disk)


def simulated_platform(
    scenario: str | Path = "default",
    *,
    seed: int | None = None,
    speed: float = 1.0,
    installed: bool = False,
    config: PlatformConfig | None = None,
    journal: Path | None = None,
    machines: Sequence[Node] = (),
    day_two: bool = False,
) -> SimulatedPlatform:
    """Build a simulated platform from a shipped scenario name or a scenario file.

    `speed` is virtual seconds per real second (math.inf, 0 or less: as fast as possible; the
    order of events is the same at every speed). `installed=True` starts from a finished install (for
    the dashboard); otherwise machines are waiting in maintenance mode for the engine.
    `config` simulates that cluster instead of the scenario's own (the scenario then only
    brings timings, workloads and faults). `journal` (a file in the state directory) keeps
    the simulated cluster across processes: every change the engine makes is appended, and a
    later call with the same scenario, seed and config replays it to the same cluster, so a
    killed simulated install resumes like a real one. `machines`: nodes about to be added
    (`node add`) whose machines are booted into maintenance mode, as the user would before
    adding them. `day_two`: a day-2 operation (an upgrade, `node add`) is about to run on the
    journalled cluster: the scenario's faults that were so before it began are put in place.
    Raises ScenarioInvalid (a UserError) for
    an unknown or malformed scenario."""
    if installed and journal is not None:
        raise ValueError("an installed=True platform is not journalled")
    loaded, path = load_scenario(scenario)
    config = config if config is not None else scenario_config(loaded, path)
    seed = loaded.seed if seed is None else int(seed)
    clock = SimulatedClock(speed=speed if speed and speed > 0 else math.inf)
    # A journalled cluster is rebuilt with the nodes it started with; nodes added or removed
    # since (`node add`, `node remove`) are changes in its journal, or made just after it.
    first_nodes = journal_first_nodes(Path(journal), loaded, seed, config) if journal is not None else None
    built_from = config if first_nodes is None else config.model_copy(update={"nodes": _nodes(first_nodes)})
    model = PlatformModel(loaded, built_from, seed, clock)
    model.workloads = WorkloadController(model)
    model.vault = VaultState(model)
    model.git = GitRemote()
    model.hubble = HubbleModel(model)
    model.argo = ArgoController(model)
    seed_gitops_repository(model)
    seed_workload_repository(model)
    drivers = Drivers(
        talos=SimulatedTalos(model, client_version=config.cluster.talos_version),
        kube=SimulatedKube(model),
        hubble=SimulatedHubble(model.hubble),
        alertmanager=SimulatedAlertmanager(model) if config.components.monitoring.enabled else None,
        git=SimulatedGit(model.git, clock, commit=model.changes.commit),
        vault=SimulatedVault(model.vault),
        tools=SimulatedTools(config.cluster.talos_version, clock),
        simulated=True,
    )
    drivers.extra["simulation_label"] = SIMULATION_LABEL
    drivers.extra["scenario"] = loaded.name
    # What the scenario's timed faults are about to do, as a function of virtual time.
    drivers.extra["fault_outlook"] = model.timeline.outlook
    if installed:
        fast_forward_install(model)
    elif journal is not None:
        model.changes.journal = Path(journal)
        model.changes.start_or_replay()
        model.config = config
        rack_new_machines(model)
        if day_two:
            model.operation_starting()
    if not installed:
        for node in machines:
            if model.machine(config.node_ip(node)) is None:
                model.changes.machine_racked(node.name, config.node_ip(node), node.role.value, node.install_disk)
    return SimulatedPlatform(loaded, config, fake_secrets(), clock, drivers, model, seed)
