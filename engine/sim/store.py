"""The simulated API server's object store: objects by resource, one global resourceVersion
counter (like etcd's revision), a bounded change history per resource for watches, and live
watcher queues.

Entries are either plain dicts (the API's JSON) or compact records with a `render()` method
(pods, so that 10,000 of them stay cheap); readers always get fresh dicts.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from talos_platform.engine.drivers.protocols import Resource

ResourceKey = tuple[str, str]  # (group, plural)

# Kinds that are cluster-scoped, for objects applied from manifests.
CLUSTER_SCOPED_KINDS = {
    "Namespace",
    "Node",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "ClusterIssuer",
    "StorageClass",
    "PriorityClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "GatewayClass",
    "PersistentVolume",
    "APIService",
    "CiliumClusterwideNetworkPolicy",
    "CSIDriver",
    "RuntimeClass",
    "IngressClass",
    "CiliumLoadBalancerIPPool",
    "CiliumL2AnnouncementPolicy",
}
_IRREGULAR_PLURALS = {"Endpoints": "endpoints", "Ingress": "ingresses", "Gateway": "gateways", "Policy": "policies"}


def clone(value: Any) -> Any:
    """Copy of JSON-like data; faster than copy.deepcopy for dicts and lists of scalars."""
    if isinstance(value, dict):
        return {key: clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clone(item) for item in value]
    return value


def plural_of(kind: str) -> str:
    if kind in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[kind]
    lower = kind.lower()
    if lower.endswith("y") and not lower.endswith(("ay", "ey", "oy")):
        return lower[:-1] + "ies"
    if lower.endswith(("s", "x", "ch", "sh")):
        return lower + "es"
    return lower + "s"


def resource_of(obj: dict[str, Any]) -> Resource:
    """The Resource an object belongs to, from its apiVersion and kind."""
    api_version = obj.get("apiVersion", "v1")
    group, _, version = api_version.rpartition("/")
    kind = obj.get("kind", "")
    return Resource(group, version, plural_of(kind), kind, namespaced=kind not in CLUSTER_SCOPED_KINDS)


def key_of(resource: Resource) -> ResourceKey:
    return (resource.group, resource.plural)


@dataclass
class _Change:
    resource_version: int
    type: str
    namespace: str
    object: dict[str, Any]


@dataclass
class _Kind:
    entries: dict[tuple[str, str], Any] = field(default_factory=dict)
    history: deque[Any] = field(default_factory=deque)
    floor: int = 0
    """Changes at or below this resourceVersion are forgotten (a watch from there gets 410)."""
    watchers: list[Watcher] = field(default_factory=list)


class Watcher:
    """One open watch: a queue of changes, closed with an error when the API goes away."""

    def __init__(self, namespace: str | None):
        self.namespace = namespace
        self.queue: asyncio.Queue[_Change | BaseException | None] = asyncio.Queue()

    def offer(self, change: _Change) -> None:
        if self.namespace is None or change.namespace == self.namespace:
            self.queue.put_nowait(change)


class ObjectStore:
    def __init__(self, history_size: int = 20_000):
        self._kinds: dict[ResourceKey, _Kind] = {}
        self._revision = 0
        self.history_size = history_size
        self.on_change: list[Callable[[Resource, str, Any], None]] = []
        self._resources: dict[ResourceKey, Resource] = {}

    # --- bookkeeping --------------------------------------------------------------------

    @property
    def revision(self) -> int:
        return self._revision

    def next_revision(self) -> int:
        self._revision += 1
        return self._revision

    def _kind(self, resource: Resource) -> _Kind:
        key = key_of(resource)
        kind = self._kinds.get(key)
        if kind is None:
            kind = self._kinds[key] = _Kind()
            self._resources[key] = resource
        return kind

    # --- reads --------------------------------------------------------------------------

    def get_entry(self, resource: Resource, namespace: str, name: str) -> Any:
        return self._kind(resource).entries.get((namespace, name))

    def entries(self, resource: Resource, namespace: str | None = None) -> Iterator[Any]:
        for (entry_namespace, _), entry in self._kind(resource).entries.items():
            if namespace is None or entry_namespace == namespace:
                yield entry

    def count(self, resource: Resource) -> int:
        return len(self._kind(resource).entries)

    def object_count(self) -> int:
        """How many objects there are, of every kind."""
        return sum(len(kind.entries) for kind in self._kinds.values())

    def object_names(self) -> Iterator[str]:
        """`group/plural/namespace/name` of every object (etcd's keys, roughly)."""
        for (group, plural), kind in self._kinds.items():
            for namespace, name in kind.entries:
                yield f"{group}/{plural}/{namespace}/{name}"

    # --- writes -------------------------------------------------------------------------

    def put(self, resource: Resource, namespace: str, name: str, entry: Any) -> str:
        """Create or replace; the entry's resourceVersion must be set by the caller via
        `stamp`. Returns `ADDED` or `MODIFIED`."""
        kind = self._kind(resource)
        change_type = "MODIFIED" if (namespace, name) in kind.entries else "ADDED"
        kind.entries[(namespace, name)] = entry
        self._record(resource, kind, change_type, namespace, entry)
        return change_type

    def delete(self, resource: Resource, namespace: str, name: str) -> Any:
        kind = self._kind(resource)
        entry = kind.entries.pop((namespace, name), None)
        if entry is not None:
            # The deletion is a change of its own, with a new resourceVersion.
            revision = str(self.next_revision())
            if hasattr(entry, "render"):
                entry.resource_version = int(revision)
                entry.cache = None
                final = entry.render()
            else:
                final = dict(entry)
                final["metadata"] = {**entry.get("metadata", {}), "resourceVersion": revision}
            self._record(resource, kind, "DELETED", namespace, final)
        return entry

    def _record(self, resource: Resource, kind: _Kind, change_type: str, namespace: str, entry: Any) -> None:
        rendered = render(entry)
        revision = int(rendered["metadata"]["resourceVersion"])
        change = _Change(revision, change_type, namespace, rendered)
        kind.history.append(change)
        while len(kind.history) > self.history_size:
            forgotten = kind.history.popleft()
            kind.floor = forgotten.resource_version
        for watcher in kind.watchers:
            watcher.offer(change)
        for listener in self.on_change:
            listener(resource, change_type, entry)

    # --- watches ------------------------------------------------------------------------

    def changes_since(self, resource: Resource, resource_version: int, namespace: str | None) -> list[_Change] | None:
        """Changes after `resource_version`, or None when that version is too old (410)."""
        kind = self._kind(resource)
        if resource_version < kind.floor:
            return None
        return [
            change
            for change in kind.history
            if change.resource_version > resource_version and (namespace is None or change.namespace == namespace)
        ]

    def add_watcher(self, resource: Resource, watcher: Watcher) -> None:
        self._kind(resource).watchers.append(watcher)

    def remove_watcher(self, resource: Resource, watcher: Watcher) -> None:
        watchers = self._kind(resource).watchers
        if watcher in watchers:
            watchers.remove(watcher)

    def all_watchers(self) -> Iterable[Watcher]:
        for kind in self._kinds.values():
            yield from kind.watchers

    def forget_history(self) -> None:
        """Compact: every change so far is forgotten (watches must start from a fresh list)."""
        for kind in self._kinds.values():
            kind.history.clear()
            kind.floor = self._revision


def render(entry: Any) -> dict[str, Any]:
    rendered: dict[str, Any] = entry.render() if hasattr(entry, "render") else entry
    return rendered
