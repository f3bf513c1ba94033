"""Every method of every driver protocol has a simulated implementation with the same
parameters, so a protocol that grows a method shows up here first."""

import inspect

import pytest

from talos_platform.engine.drivers import protocols
from talos_platform.engine.sim import SimulatedTools
from talos_platform.engine.sim.git import SimulatedGit
from talos_platform.engine.sim.hubble import SimulatedHubble
from talos_platform.engine.sim.kube import SimulatedKube
from talos_platform.engine.sim.talos import SimulatedTalos
from talos_platform.engine.sim.vault import SimulatedVault

PAIRS = [
    (protocols.Kube, SimulatedKube),
    (protocols.Talos, SimulatedTalos),
    (protocols.Hubble, SimulatedHubble),
    (protocols.Git, SimulatedGit),
    (protocols.Vault, SimulatedVault),
    (protocols.Tools, SimulatedTools),
]


def protocol_methods(protocol):
    return {
        name: member
        for name, member in vars(protocol).items()
        if inspect.isfunction(member) and not name.startswith("_")
    }


@pytest.mark.parametrize("protocol, implementation", PAIRS, ids=lambda p: getattr(p, "__name__", ""))
def test_the_simulator_implements_every_method_with_the_same_parameters(protocol, implementation):
    for name, declared in protocol_methods(protocol).items():
        implemented = getattr(implementation, name, None)
        assert implemented is not None, f"{implementation.__name__} lacks {name}"
        wanted = [(p.name, p.kind, p.default) for p in inspect.signature(declared).parameters.values()]
        have = [(p.name, p.kind, p.default) for p in inspect.signature(implemented).parameters.values()]
        assert have == wanted, f"{implementation.__name__}.{name}"
        is_async = inspect.iscoroutinefunction(declared)
        is_stream = inspect.isasyncgenfunction(implemented)
        assert inspect.iscoroutinefunction(implemented) == is_async or (not is_async and is_stream), name


def test_drivers_of_a_simulated_platform_are_complete_and_labelled():
    from talos_platform.engine.sim import simulated_platform

    drivers = simulated_platform("default").drivers
    assert drivers.simulated and all(
        getattr(drivers, name) is not None for name in ("talos", "kube", "hubble", "git", "vault", "tools")
    )
