"""What the Talos API says about one node, for the dashboard: with our certificates first, and
from the maintenance API when the node answers but refuses them (it fell back to maintenance
mode, e.g. after a failed install: then its reason is what there is to read)."""

from __future__ import annotations

from talos_platform.engine.drivers.protocols import Drivers, EtcdHealth, TalosNodeFacts
from talos_platform.engine.drivers.talosctl import is_no_talosconfig_yet


async def facts_for(drivers: Drivers, address: str) -> TalosNodeFacts:
    facts = await _ask(drivers, address, insecure=False)
    if facts.error and not facts.stage and (facts.reachable or is_no_talosconfig_yet(facts.error)):
        # Answers, but not with our PKI, or could not be asked with it (no talosconfig before the
        # install made one): a node in maintenance mode answers `--insecure`. A node that refused
        # or did not answer is not asked twice.
        maintenance = await _ask(drivers, address, insecure=True)
        if maintenance.reachable and maintenance.maintenance:
            return maintenance
    return facts


async def _ask(drivers: Drivers, address: str, *, insecure: bool) -> TalosNodeFacts:
    try:
        return await drivers.talos.node_facts(address, insecure=insecure)
    except Exception as error:  # noqa: BLE001 - an unreachable node is a row, never an abort
        return TalosNodeFacts(address=address, reachable=False, error=str(error) or type(error).__name__)


async def etcd_health_for(drivers: Drivers, address: str, facts: TalosNodeFacts | None = None) -> EtcdHealth:
    """What control plane `address` says about its etcd; a failure is the answer's error.

    `facts`: this poll's facts of the node. etcd is read through the same Talos API, so when that
    did not answer, etcd is not asked: a node that accepts connections but never answers would
    otherwise cost a second timeout in the same poll, and the answer would be the same."""
    if facts is not None and not facts.reachable:
        return EtcdHealth(address, error=facts.error or "the node's Talos API does not answer")
    try:
        return await drivers.talos.etcd_health(address)
    except Exception as error:  # noqa: BLE001 - a silent etcd is a problem shown, never an abort
        return EtcdHealth(address, error=str(error) or type(error).__name__)
