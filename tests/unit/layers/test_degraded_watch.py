"""A Degraded leaf fails its step only after the grace, without a break; a recovery resets it."""

import asyncio

from talos_platform.engine.layers.degraded import DegradedWatch
from talos_platform.engine.observe.blockers import Blocker
from talos_platform.engine.observe.snapshot import AppView
from talos_platform.engine.sim.clock import SimulatedClock


def blocker(name: str, health: str) -> Blocker:
    return Blocker(AppView(name, "argocd", 0, "Synced", health), None)


async def test_the_grace_runs_from_the_last_time_the_app_turned_degraded():
    clock = SimulatedClock()
    watch = DegradedWatch(clock, grace=120)
    start = clock.now()
    expired = asyncio.ensure_future(watch.expired())

    async def story():
        watch.see(blocker("cert-manager", "Degraded"))
        await clock.sleep(60)
        watch.see(blocker("cert-manager", "Progressing"))  # it recovered for a while
        await clock.sleep(40)
        watch.see(blocker("cert-manager", "Degraded"))
        await clock.sleep(30)
        watch.see(blocker("cert-manager", "Degraded"))  # still the same: the grace goes on

    await story()
    found = await expired
    clock.close()
    assert found.app.name == "cert-manager"
    assert clock.now() - start == 100 + 120


async def test_nothing_expires_while_nothing_is_degraded():
    clock = SimulatedClock()
    watch = DegradedWatch(clock, grace=10)
    watch.see(blocker("vault", "Progressing"))
    expired = asyncio.ensure_future(watch.expired())
    await clock.sleep(3600)
    assert not expired.done()
    expired.cancel()
    clock.close()
