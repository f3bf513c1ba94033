"""The public entry point other modules wire `--simulate` to."""

import math

import pytest

from talos_platform.engine.errors import UserError
from talos_platform.engine.sim import list_scenarios, simulated_platform


def test_default_scenario_builds_a_labelled_simulated_platform():
    platform = simulated_platform("default", seed=3, speed=math.inf)
    assert platform.drivers.simulated is True
    assert platform.seed == 3
    assert len(platform.config.control_planes) == 3 and len(platform.config.workers) == 3
    assert "simulated" in platform.secrets.git_token
    assert "SIMULATION" in platform.label


def test_unknown_scenario_is_a_user_error_listing_the_choices():
    with pytest.raises(UserError) as raised:
        simulated_platform("no-such-scenario")
    assert "default" in str(raised.value)
    assert "default" in list_scenarios()


async def test_machines_boot_into_maintenance_on_virtual_time(tmp_path):
    scenario = tmp_path / "late.yaml"
    scenario.write_text("cluster: {controlPlanes: 1, workers: 1}\ntimings: {nodeBoot: 20}\n")
    platform = simulated_platform(scenario, speed=math.inf)
    address = platform.config.node_ip(platform.config.nodes[0])
    before = await platform.drivers.talos.node_facts(address, insecure=True)
    assert before.reachable is False
    await platform.clock.sleep(60)
    after = await platform.drivers.talos.node_facts(address, insecure=True)
    assert after.reachable and after.maintenance and after.stage == "maintenance"
    platform.close()
