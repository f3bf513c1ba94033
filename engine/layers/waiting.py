"""Waiting on Kubernetes objects with list + watch (never a sleep loop).

`wait_for_objects` lists a resource, asks a predicate whether the objects are ready, and then
follows a watch from the list's resourceVersion, asking again on every change. A 410 Gone
relists; a dropped connection reconnects with backoff. The predicate returns (ready, status)
(or an awaitable of it, when judging needs to read more): the status is the last thing said when
the time runs out. `recheck` says when the judgement may change with no change to the objects (a
pod's start grace ends): then the objects are listed and judged again.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from talos_platform.engine.drivers.protocols import Resource, WatchExpired
from talos_platform.engine.errors import TransientError

if TYPE_CHECKING:
    from talos_platform.engine.plan.context import StepContext

Objects = dict[tuple[str, str], dict[str, Any]]
Predicate = Callable[[Objects], tuple[bool, str] | Awaitable[tuple[bool, str]]]
Recheck = Callable[[], float | None]
"""Seconds until the judgement may change by itself, or None."""

RECONNECT_DELAYS = (1.0, 2.0, 5.0, 10.0)
NOTHING_SEEN = "nothing seen yet"
"""The status before the first successful list: the API never answered."""


class WaitTimedOut(Exception):
    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


def key_of(obj: dict[str, Any]) -> tuple[str, str]:
    metadata = obj.get("metadata") or {}
    return (metadata.get("namespace") or "", metadata.get("name") or "")


async def current_objects(
    ctx: StepContext, resource: Resource, namespace: str | None = None, label_selector: str = ""
) -> Objects:
    listed = await ctx.drivers.kube.list(resource, namespace=namespace, label_selector=label_selector)
    return {key_of(obj): obj for obj in listed.items}


async def wait_for_objects(
    ctx: StepContext,
    resource: Resource,
    ready: Predicate,
    *,
    timeout: float,
    namespace: str | None = None,
    label_selector: str = "",
    recheck: Recheck | None = None,
) -> str:
    """Return the final status once `ready(objects)` holds; raise WaitTimedOut with the last
    status after `timeout` seconds (on the step clock)."""
    status = [NOTHING_SEEN]
    reported = [""]
    connection_error = [""]

    async def judge(objects: Objects) -> bool:
        judged = ready(objects)
        ok, text = await judged if inspect.isawaitable(judged) else judged
        status[0] = text
        if text and text != reported[0]:
            reported[0] = text
            ctx.output(text)
        return ok

    async def follow() -> str:
        failures = 0
        while True:
            try:
                listed = await ctx.drivers.kube.list(resource, namespace=namespace, label_selector=label_selector)
                objects = {key_of(obj): obj for obj in listed.items}
                connection_error[0] = ""
                if await judge(objects):
                    return status[0]
                version = listed.resource_version
                failures = 0
                events = ctx.drivers.kube.watch(resource, version, namespace=namespace)
                try:
                    async for event in _until_recheck(ctx, events, recheck):
                        if event.type == "BOOKMARK":
                            continue
                        key = key_of(event.object)
                        if label_selector and not _matches(event.object, label_selector):
                            continue
                        if event.type == "DELETED":
                            objects.pop(key, None)
                        else:
                            objects[key] = event.object
                        if await judge(objects):
                            return status[0]
                finally:
                    # Close the stream now (its connection and thread), not whenever it is collected.
                    close = getattr(events, "aclose", None)
                    if close is not None:
                        await close()
                # The server ended the watch (its timeout): list again and carry on.
            except WatchExpired:
                continue
            except (ConnectionError, OSError, TransientError) as error:
                delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
                failures += 1
                connection_error[0] = str(error)
                await ctx.clock.sleep(delay)

    try:
        return await ctx.clock.wait_for(follow(), timeout)
    except TimeoutError:
        suffix = f" (last connection error: {connection_error[0]})" if connection_error[0] else ""
        raise WaitTimedOut(status[0] + suffix) from None


async def _until_recheck(ctx: StepContext, events: Any, recheck: Recheck | None) -> AsyncIterator[Any]:
    """The watch's events, ending (to list and judge again) when `recheck` says the judgement may
    have changed without one."""
    iterator = aiter(events)
    while True:
        seconds = recheck() if recheck is not None else None
        try:
            if seconds is None:
                event = await anext(iterator)
            else:
                event = await ctx.clock.wait_for(anext(iterator), seconds)
        except (StopAsyncIteration, TimeoutError):
            return
        yield event


def _matches(obj: dict[str, Any], selector: str) -> bool:
    """Equality-based label selectors (`a=b,c=d`, `a`): enough for the waits here."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            name, value = term.split("!=", 1)
            if labels.get(name.strip()) == value.strip():
                return False
        elif "=" in term:
            name, value = term.replace("==", "=").split("=", 1)
            if labels.get(name.strip()) != value.strip():
                return False
        elif term not in labels:
            return False
    return True


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for item in (obj.get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            found: dict[str, Any] = item
            return found
    return None


def condition_true(obj: dict[str, Any], kind: str) -> bool:
    found = condition(obj, kind)
    return bool(found and found.get("status") == "True")
