"""The discrete-event clock: time moves only when every task waits, in deadline order."""

import asyncio
import math
import time

import pytest

from talos_platform.engine.sim.clock import SimulatedClock


async def test_sleepers_wake_in_deadline_order_and_time_jumps():
    clock = SimulatedClock(start=1000.0)
    woke = []

    async def sleeper(name, seconds):
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    started = time.monotonic()
    await asyncio.gather(sleeper("late", 3600), sleeper("early", 5), sleeper("middle", 60))
    assert woke == [("early", 1005.0), ("middle", 1060.0), ("late", 4600.0)]
    assert time.monotonic() - started < 5.0  # an hour of virtual time, no real waiting
    clock.close()


async def test_time_does_not_move_while_a_task_is_still_busy():
    clock = SimulatedClock(start=0.0)
    seen = []

    async def busy():
        for _ in range(200):
            await asyncio.sleep(0)  # runnable all along: the clock must wait for it
        seen.append(clock.now())

    async def sleeper():
        await clock.sleep(10)
        seen.append(clock.now())

    await asyncio.gather(busy(), sleeper())
    assert seen == [0.0, 10.0]
    clock.close()


async def test_wait_for_times_out_on_virtual_time_and_cancels_the_work():
    clock = SimulatedClock(start=0.0)
    cancelled = asyncio.Event()

    async def never():
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    with pytest.raises(TimeoutError):
        await clock.wait_for(never(), 30)
    assert clock.now() == 30.0 and cancelled.is_set()

    async def quick():
        await clock.sleep(1)
        return "done"

    assert await clock.wait_for(quick(), 30) == "done"
    assert clock.now() == 31.0
    clock.close()


async def test_callbacks_run_when_time_reaches_them_but_never_drive_time():
    clock = SimulatedClock(start=0.0)
    fired = []
    clock.call_later(5, lambda: fired.append(clock.now()))
    clock.call_later(50, lambda: fired.append(clock.now()))
    handle = clock.call_later(20, lambda: fired.append("cancelled"))
    handle.cancel()
    await asyncio.sleep(0.01)
    assert fired == [] and clock.now() == 0.0  # nobody waits on the clock: time stands still
    await clock.sleep(30)
    assert fired == [5.0]
    await clock.sleep(30)
    assert fired == [5.0, 50.0]
    clock.close()


async def _interleaving(speed: float) -> list[tuple[str, float]]:
    clock = SimulatedClock(start=0.0, speed=speed)
    log = []

    async def worker(name, delays):
        for delay in delays:
            await clock.sleep(delay)
            log.append((name, clock.now()))

    await asyncio.gather(worker("a", [0.2, 0.2, 0.1]), worker("b", [0.1, 0.3, 0.1]), worker("c", [0.5]))
    clock.close()
    return log


async def test_speed_paces_real_time_without_changing_the_order():
    unpaced = await _interleaving(math.inf)
    started = time.monotonic()
    paced = await _interleaving(5.0)  # 0.5 virtual seconds at 5x: about 0.1 s real
    elapsed = time.monotonic() - started
    assert paced == unpaced
    assert 0.08 <= elapsed < 2.0


def test_speed_must_be_positive():
    with pytest.raises(ValueError):
        SimulatedClock(speed=0)


async def test_paced_time_keeps_to_real_time_without_drifting_ahead():
    clock = SimulatedClock(start=0.0, speed=2.0)
    started = time.monotonic()
    for _ in range(20):
        await clock.sleep(0.05)  # 1 virtual second at 2x: half a real second
    elapsed = time.monotonic() - started
    assert clock.now() == pytest.approx(1.0)
    assert 0.48 <= elapsed < 2.0
    clock.close()


async def test_time_stands_still_while_real_work_holds_it():
    """A process on this machine (a user's gate command) is waited for in real time: at full
    speed the clock must not read the idle loop as a reason to jump to a timeout."""
    clock = SimulatedClock(start=1000.0)

    async def real_work():
        async with clock.held():
            await asyncio.sleep(0.2)  # real time; nothing is ready meanwhile
            return clock.now()

    async def timeout():
        await clock.sleep(1800)
        return "timed out"

    guard = asyncio.ensure_future(timeout())
    assert await real_work() == 1000.0
    assert not guard.done()
    assert await guard == "timed out"  # released: time runs again
    assert clock.now() == 2800.0
