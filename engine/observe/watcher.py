"""Keeps an ObjectStore current: list, then watch from the list's resourceVersion.

- 410 Gone (WatchExpired): the version fell out of the server's window; list again.
- ConnectionError or any other failure: wait (exponential backoff on the clock) and watch again
  from the last version seen, so nothing is missed and nothing is re-listed needlessly.
- A watch that ends normally (server-side timeout) is simply resumed.
The last error is kept for the UI; the store keeps its contents meanwhile. Any event, a BOOKMARK
included, means the server answers again: the error is cleared then, even on a quiet resource.
`on_state_change` is called whenever the error appears or clears, so it is shown at once;
`down_since` says when the server stopped answering (the store's contents are current until then).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from talos_platform.engine.drivers.backoff import Backoff
from talos_platform.engine.drivers.clock import Clock
from talos_platform.engine.drivers.protocols import Kube, Resource, WatchExpired
from talos_platform.engine.observe.store import ObjectStore

log = logging.getLogger(__name__)


class ResourceWatcher:
    def __init__(
        self,
        kube: Kube,
        resource: Resource,
        store: ObjectStore[Any],
        clock: Clock,
        *,
        namespace: str | None = None,
        backoff: Backoff | None = None,
        watch_timeout_seconds: int = 300,
        on_state_change: Callable[[], None] = lambda: None,
    ):
        self.kube = kube
        self.resource = resource
        self.store = store
        self.clock = clock
        self.namespace = namespace
        self.backoff = backoff or Backoff()
        self.watch_timeout_seconds = watch_timeout_seconds
        self.on_state_change = on_state_change
        self.error = ""
        self.down_since: float | None = None
        self.lists = 0
        self.relists_after_expiry = 0
        self.reconnects = 0
        self.synced = False

    async def run(self) -> None:
        need_list = True
        while True:
            try:
                if need_list:
                    listed = await self.kube.list(self.resource, self.namespace)
                    self.store.replace(listed.items, listed.resource_version)
                    self.lists += 1
                    self.synced = True
                    need_list = False
                    self._set_error("")
                received = changes = 0
                async for event in self.kube.watch(
                    self.resource, self.store.resource_version, self.namespace, self.watch_timeout_seconds
                ):
                    received += 1
                    if received == 1:
                        self.backoff.reset()
                        self._set_error("")
                    if event.type != "BOOKMARK":
                        changes += 1
                    self.store.apply(event)
                if changes == 0:
                    # A watch that ends at once without a change would otherwise spin.
                    await self.clock.sleep(self.backoff.next_delay())
            except WatchExpired:
                self.relists_after_expiry += 1
                need_list = True
            except Exception as error:  # noqa: BLE001 - any failure means: wait, then try again
                self._set_error(f"{self.resource.plural}: {str(error) or type(error).__name__}")
                self.reconnects += 1
                log.debug("watch of %s failed: %s", self.resource.plural, error)
                await self.clock.sleep(self.backoff.next_delay())

    def _set_error(self, error: str) -> None:
        if error and self.down_since is None:
            self.down_since = self.clock.now()
        elif not error:
            self.down_since = None
        if error != self.error:
            self.error = error
            self.on_state_change()
