"""A node in maintenance mode is found through its maintenance API whenever the secure ask could not
say what it is: refused with our PKI, or not askable yet (no talosconfig early in an install); a node
that does not answer at all is not asked twice."""

from pathlib import Path

import pytest
from support.drivers import FakeTalos

from talos_platform.engine.drivers.protocols import Drivers, TalosNodeFacts
from talos_platform.engine.drivers.talosctl import no_talosconfig_yet
from talos_platform.engine.observe.talos_facts import facts_for

ADDRESS = "192.168.10.22"
MAINTENANCE = TalosNodeFacts(ADDRESS, True, maintenance=True, stage="maintenance")


@pytest.mark.parametrize(
    "secure",
    [
        TalosNodeFacts(ADDRESS, False, error=no_talosconfig_yet(Path("/state/talosconfig"))),
        TalosNodeFacts(ADDRESS, True, error="tls: failed to verify certificate: x509: unknown authority"),
    ],
    ids=["no-talosconfig-yet", "refused-our-pki"],
)
async def test_a_node_in_maintenance_mode_is_found_through_the_maintenance_api(secure):
    talos = FakeTalos(secure={ADDRESS: secure}, insecure={ADDRESS: MAINTENANCE})
    facts = await facts_for(Drivers(talos=talos, kube=None), ADDRESS)
    assert facts == MAINTENANCE


@pytest.mark.parametrize("error", ["i/o timeout", "connect: connection refused"])
async def test_a_node_that_does_not_answer_is_asked_once(error):
    silent = TalosNodeFacts(ADDRESS, False, error=f"dial tcp {ADDRESS}:50000: {error}")
    talos = FakeTalos(secure={ADDRESS: silent}, insecure={ADDRESS: MAINTENANCE})
    assert await facts_for(Drivers(talos=talos, kube=None), ADDRESS) == silent
    assert talos.calls == [("node_facts", ADDRESS, False)]
