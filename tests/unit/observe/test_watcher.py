"""Watch edge cases: 410 Gone, dropped connections, out-of-order and stale events."""

import asyncio

import pytest
from support.clock import ManualClock
from support.drivers import ScriptedKube, pod

from talos_platform.engine.drivers.protocols import PODS, ObjectList, WatchEvent, WatchExpired
from talos_platform.engine.observe.pods import classify_pod
from talos_platform.engine.observe.store import ObjectStore
from talos_platform.engine.observe.watcher import ResourceWatcher


async def run_until_idle(watcher: ResourceWatcher, kube: ScriptedKube) -> None:
    task = asyncio.create_task(watcher.run())
    await asyncio.wait_for(kube.idle["pods"].wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def names(store: ObjectStore) -> list[str]:
    return sorted(p.name for p in store.values())


async def test_410_gone_relists_and_drops_objects_deleted_meanwhile():
    kube = ScriptedKube()
    kube.lists["pods"] = [ObjectList([pod("a", "10"), pod("b", "10")], "10"), ObjectList([pod("a", "30")], "30")]
    kube.watches["pods"] = [
        [WatchEvent("ADDED", pod("c", "11")), WatchExpired("too old")],
        [WatchEvent("ADDED", pod("d", "31"))],
    ]
    store = ObjectStore(classify_pod)
    watcher = ResourceWatcher(kube, PODS, store, ManualClock())

    await run_until_idle(watcher, kube)

    assert names(store) == ["a", "d"]
    assert watcher.relists_after_expiry == 1
    assert kube.list_calls == ["pods", "pods"]
    assert kube.watch_calls == [("pods", "10"), ("pods", "30"), ("pods", "31")]


async def test_dropped_connection_backs_off_and_resumes_from_last_version_without_relisting():
    kube = ScriptedKube()
    kube.lists["pods"] = [ObjectList([pod("a", "10")], "10")]
    kube.watches["pods"] = [
        [WatchEvent("ADDED", pod("b", "12")), ConnectionError("reset by peer")],
        [ConnectionError("refused")],
        [WatchEvent("MODIFIED", pod("b", "15"))],
    ]
    clock = ManualClock()
    store = ObjectStore(classify_pod)
    watcher = ResourceWatcher(kube, PODS, store, clock)

    await run_until_idle(watcher, kube)

    assert names(store) == ["a", "b"]
    assert kube.list_calls == ["pods"]
    assert [v for _, v in kube.watch_calls] == ["10", "12", "12", "15"]
    assert watcher.reconnects == 2
    # Exponential: the second failure waits longer than the first.
    assert clock.sleeps[:2] == [0.5, 1.0]
    assert watcher.error == ""  # cleared once events flow again


async def test_error_is_kept_while_the_api_is_down():
    kube = ScriptedKube()
    kube.lists["pods"] = [ConnectionError("connection refused"), ObjectList([pod("a", "5")], "5")]
    store = ObjectStore(classify_pod)
    watcher = ResourceWatcher(kube, PODS, store, ManualClock())
    await run_until_idle(watcher, kube)
    assert names(store) == ["a"]
    assert watcher.reconnects == 1


def test_out_of_order_and_stale_events_are_ignored_per_object():
    changes = []
    store = ObjectStore(classify_pod, lambda: changes.append(1))
    store.replace([pod("a", "10")], "10")
    crashing = {
        "containerStatuses": [{"name": "main", "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]
    }

    assert store.apply(WatchEvent("MODIFIED", pod("a", "12", **crashing)))
    assert not store.apply(WatchEvent("MODIFIED", pod("a", "11")))  # older: replayed
    assert not store.apply(WatchEvent("MODIFIED", pod("a", "12")))  # same version again
    assert store.get(("apps", "a")).problem.kind == "CrashLoopBackOff"

    assert store.apply(WatchEvent("DELETED", pod("a", "14")))
    assert not store.apply(WatchEvent("ADDED", pod("a", "13")))  # stale add after the delete
    assert len(store) == 0
    assert store.apply(WatchEvent("ADDED", pod("a", "15")))  # recreated later: accepted
    assert store.stale_events_ignored == 3
    assert store.resource_version == "15"
    assert len(changes) == 4  # replace + three accepted events


def test_bookmark_advances_the_version_without_touching_objects():
    store = ObjectStore(classify_pod)
    store.replace([pod("a", "10")], "10")
    store.apply(WatchEvent("BOOKMARK", {"metadata": {"resourceVersion": "40"}}))
    assert store.resource_version == "40"
    assert len(store) == 1


async def test_a_quiet_watch_the_server_accepted_clears_the_error_and_says_so_at_once():
    # After an outage the resumed watch of a resource nobody changes brings only the driver's
    # opening bookmark; the dashboard must stop showing the outage then, not at the next change.
    kube = ScriptedKube()
    kube.lists["pods"] = [ObjectList([pod("a", "10")], "10")]
    kube.watches["pods"] = [
        [ConnectionError("watch on pods dropped")],
        [WatchEvent("BOOKMARK", {"metadata": {"resourceVersion": "10"}}), None],
    ]
    seen: list[str] = []
    watcher = ResourceWatcher(
        kube, PODS, ObjectStore(classify_pod), ManualClock(), on_state_change=lambda: seen.append(watcher.error)
    )
    await run_until_idle(watcher, kube)
    assert seen == ["pods: watch on pods dropped", ""]
    assert watcher.error == "" and watcher.reconnects == 1
    assert kube.list_calls == ["pods"]


async def test_a_watch_that_ends_with_only_bookmarks_waits_before_watching_again():
    kube = ScriptedKube()
    kube.lists["pods"] = [ObjectList([pod("a", "10")], "10")]
    kube.watches["pods"] = [[WatchEvent("BOOKMARK", {"metadata": {"resourceVersion": "10"}})]] * 3
    clock = ManualClock()
    watcher = ResourceWatcher(kube, PODS, ObjectStore(classify_pod), clock)
    await run_until_idle(watcher, kube)
    # One pause per empty round (the bookmark resets the backoff): no busy loop of requests.
    assert clock.sleeps == [0.5, 0.5, 0.5]
