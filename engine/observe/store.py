"""A local copy of one Kubernetes resource type, kept current by list + watch events.

Objects are transformed once when they change (e.g. a pod into its health), so building a
snapshot never re-reads raw objects. Stale events (a resourceVersion older than what the store
already holds for that object, or an event for an object deleted at a later version) are
ignored: watches can replay or reorder around reconnects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from talos_platform.engine.drivers.protocols import WatchEvent

T = TypeVar("T")
Key = tuple[str, str]


def object_key(obj: dict[str, Any]) -> Key:
    metadata = obj.get("metadata") or {}
    return metadata.get("namespace", "") or "", metadata.get("name", "") or ""


def _version(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", "") or "")


def is_older(candidate: str, current: str) -> bool:
    """True when `candidate` is strictly older than `current`.

    resourceVersions are opaque by contract, but every API server in practice uses etcd's integer
    revisions; when either does not parse as an integer nothing is judged stale."""
    if not candidate or not current:
        return False
    try:
        return int(candidate) < int(current)
    except ValueError:
        return False


def _not_newer(candidate: str, current: str) -> bool:
    return candidate == current or is_older(candidate, current)


class ObjectStore(Generic[T]):
    def __init__(self, transform: Callable[[dict[str, Any]], T], on_change: Callable[[], None] = lambda: None):
        self._transform = transform
        self._on_change = on_change
        self._items: dict[Key, T] = {}
        self._versions: dict[Key, str] = {}
        self._deleted: dict[Key, str] = {}
        self.resource_version = ""
        self.stale_events_ignored = 0
        self.version = 0
        """Counts accepted changes, so derived views are recomputed only when it moves."""

    def __len__(self) -> int:
        return len(self._items)

    def values(self) -> list[T]:
        return list(self._items.values())

    def get(self, key: Key) -> T | None:
        return self._items.get(key)

    def replace(self, items: Iterable[dict[str, Any]], resource_version: str) -> None:
        """Take a fresh list as the whole truth (objects missing from it were deleted meanwhile)."""
        self._items = {}
        self._versions = {}
        self._deleted = {}
        for obj in items:
            key = object_key(obj)
            self._items[key] = self._transform(obj)
            self._versions[key] = _version(obj)
        self.resource_version = resource_version
        self.version += 1
        self._on_change()

    def apply(self, event: WatchEvent) -> bool:
        """Apply one watch event; returns False when it was stale and ignored."""
        version = _version(event.object)
        if event.type == "BOOKMARK":
            if version and not is_older(version, self.resource_version):
                self.resource_version = version
            return True
        key = object_key(event.object)
        known = self._versions.get(key) or self._deleted.get(key, "")
        if (
            known
            and _not_newer(version, known)
            and not (event.type == "DELETED" and key in self._items and version == known)
        ):
            self.stale_events_ignored += 1
            return False
        if event.type == "DELETED":
            self._items.pop(key, None)
            self._versions.pop(key, None)
            self._deleted[key] = version
        elif event.type in ("ADDED", "MODIFIED"):
            self._items[key] = self._transform(event.object)
            self._versions[key] = version
            self._deleted.pop(key, None)
        else:
            return False
        if version and not is_older(version, self.resource_version):
            self.resource_version = version
        self.version += 1
        self._on_change()
        return True
