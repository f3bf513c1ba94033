"""Kubernetes Events about pods (`v1 Event`), as the scheduler and kubelets write them:
Scheduled, FailedScheduling, Pulling/Pulled, Started, BackOff, Failed... A repeated event is
aggregated like the real recorder does (count and lastTimestamp go up) instead of piling up."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from talos_platform.engine.drivers.protocols import EVENTS

if TYPE_CHECKING:
    from talos_platform.engine.sim.model import PlatformModel
    from talos_platform.engine.sim.pods import PodRecord

# Components that report each reason, as `source.component` shows them.
_SOURCES = {"Scheduled": "default-scheduler", "FailedScheduling": "default-scheduler"}


class EventRecord:
    __slots__ = (
        "namespace",
        "name",
        "uid",
        "kind",
        "reason",
        "message",
        "type",
        "count",
        "first",
        "last",
        "object_name",
        "object_uid",
        "node",
        "resource_version",
        "cache",
        "component",
        "api_version",
    )
    namespace: str
    name: str
    uid: str
    kind: str
    reason: str
    message: str
    type: str
    count: int
    first: str
    last: str
    object_name: str
    object_uid: str
    node: str
    resource_version: int
    cache: dict[str, Any] | None
    component: str
    api_version: str

    def render(self) -> dict[str, Any]:
        if self.cache is None:
            source: dict[str, str] = {"component": self.component or _SOURCES.get(self.reason, "kubelet")}
            if source["component"] == "kubelet" and self.node:
                source["host"] = self.node
            self.cache = {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {
                    "name": self.name,
                    "namespace": self.namespace,
                    "uid": self.uid,
                    "resourceVersion": str(self.resource_version),
                    "creationTimestamp": self.first,
                },
                "involvedObject": {
                    "kind": self.kind,
                    "namespace": self.namespace,
                    "name": self.object_name,
                    "uid": self.object_uid,
                    "apiVersion": self.api_version or "v1",
                },
                "reason": self.reason,
                "message": self.message,
                "type": self.type,
                "count": self.count,
                "firstTimestamp": self.first,
                "lastTimestamp": self.last,
                "source": source,
            }
        return self.cache


class EventRecorder:
    def __init__(self, model: PlatformModel):
        self.model = model
        self._by_key: dict[tuple[str, str, str, str], EventRecord] = {}

    def pod(self, pod: PodRecord, reason: str, message: str, *, warning: bool = False) -> None:
        record = self._record("Pod", pod.namespace, pod.name, pod.uid, reason, message, warning)
        record.node = pod.node
        self._store(record)

    def controller(self, kind: str, namespace: str, name: str, uid: str, reason: str, message: str) -> None:
        """A warning from a workload controller about its object (e.g. FailedCreate when the API
        server refuses the pods it tries to create)."""
        record = self._record(kind, namespace, name, uid, reason, message, True)
        record.component = f"{kind.lower()}-controller"
        record.api_version = "apps/v1"
        self._store(record)

    def _record(
        self, kind: str, namespace: str, name: str, uid: str, reason: str, message: str, warning: bool
    ) -> EventRecord:
        key = (namespace, name, reason, message if reason not in ("BackOff", "FailedCreate") else "")
        record = self._by_key.get(key)
        now = self.model.now_iso()
        if record is None:
            record = EventRecord()
            digest = hashlib.sha256(f"{uid}/{reason}/{message}".encode()).hexdigest()[:16]
            record.namespace, record.name, record.uid = namespace, f"{name}.{digest}", self.model.new_uid()
            record.kind, record.reason, record.type = kind, reason, "Warning" if warning else "Normal"
            record.count, record.first = 0, now
            record.object_name, record.object_uid = name, uid
            record.component, record.api_version, record.node = "", "", ""
            self._by_key[key] = record
        record.message = message
        record.count += 1
        record.last = now
        return record

    def _store(self, record: EventRecord) -> None:
        record.cache = None
        record.resource_version = self.model.store.next_revision()
        self.model.store.put(EVENTS, record.namespace, record.name, record)
