"""One object as the dashboard's YAML and describe views show it, read on demand: the object
without its managedFields (and a Secret without its values), `kubectl describe`-like lines with
its events, and a pod's containers for choosing whose log to read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from talos_platform.engine.drivers.protocols import APPLICATIONS, EVENTS, NAMESPACES, NODES, PODS, Drivers, Resource

REDACTED = "[REDACTED]"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_EVENTS = 20


@dataclass(frozen=True)
class ObjectRef:
    """The object behind a dashboard row."""

    resource: Resource
    name: str
    namespace: str = ""

    @property
    def label(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.resource.kind} {where}{self.name}"


def pod_ref(namespace: str, name: str) -> ObjectRef:
    return ObjectRef(PODS, name, namespace)


def node_ref(name: str) -> ObjectRef:
    return ObjectRef(NODES, name)


def namespace_ref(name: str) -> ObjectRef:
    return ObjectRef(NAMESPACES, name)


def application_ref(name: str, namespace: str = "argocd") -> ObjectRef:
    return ObjectRef(APPLICATIONS, name, namespace)


@dataclass(frozen=True)
class ContainerInfo:
    name: str
    init: bool
    restarts: int
    state: str
    """`running`, `waiting: CrashLoopBackOff`, `terminated: Completed`, or `not started`."""
    has_previous: bool
    """An instance ran before this one (`--previous` has a log to read)."""


@dataclass(frozen=True)
class ObjectView:
    """An object as read for the YAML and describe views; `error` when it could not be read."""

    ref: ObjectRef
    object: dict[str, Any] | None = None
    events: tuple[dict[str, Any], ...] = ()
    error: str = ""


# --- what is shown ----------------------------------------------------------------------------------


def shown_object(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as the views show it: no managedFields (noise), and a Secret's values never:
    each key stays, its value is replaced, and so is a last-applied annotation that would hold them."""
    shown = dict(obj)
    metadata = dict(shown.get("metadata") or {})
    metadata.pop("managedFields", None)
    if shown.get("kind") == "Secret":
        for field in ("data", "stringData"):
            if isinstance(shown.get(field), dict):
                shown[field] = dict.fromkeys(shown[field], REDACTED)
        annotations = metadata.get("annotations")
        if isinstance(annotations, dict) and LAST_APPLIED in annotations:
            metadata["annotations"] = {**annotations, LAST_APPLIED: REDACTED}
    shown["metadata"] = metadata
    return shown


def object_yaml(obj: dict[str, Any]) -> str:
    return yaml.safe_dump(shown_object(obj), sort_keys=False, allow_unicode=True, width=1000)


def containers_of(pod: dict[str, Any]) -> tuple[ContainerInfo, ...]:
    """Init containers first, as the pod runs them, then the others."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    found = []
    for init, specs, statuses in (
        (True, spec.get("initContainers") or [], status.get("initContainerStatuses") or []),
        (False, spec.get("containers") or [], status.get("containerStatuses") or []),
    ):
        by_name = {s.get("name"): s for s in statuses}
        for container in specs:
            name = container.get("name", "")
            seen = by_name.get(name) or {}
            found.append(
                ContainerInfo(
                    name=name,
                    init=init,
                    restarts=int(seen.get("restartCount") or 0),
                    state=_state_text(seen.get("state") or {}),
                    has_previous=bool((seen.get("lastState") or {}).get("terminated")),
                )
            )
    return tuple(found)


def _state_text(state: dict[str, Any]) -> str:
    for name in ("running", "waiting", "terminated"):
        if name in state:
            reason = (state[name] or {}).get("reason", "")
            return f"{name}: {reason}" if reason else name
    return "not started"


# --- describe ---------------------------------------------------------------------------------------


def describe_lines(obj: dict[str, Any], events: Iterable[dict[str, Any]] = ()) -> list[str]:
    """`kubectl describe`-like text: the fields that matter for the kind, then its events."""
    shown = shown_object(obj)
    metadata = shown.get("metadata") or {}
    lines = [f"Name:          {metadata.get('name', '')}"]
    if metadata.get("namespace"):
        lines.append(f"Namespace:     {metadata['namespace']}")
    lines.append(f"Created:       {metadata.get('creationTimestamp', '-')}")
    lines += _mapping("Labels", metadata.get("labels"))
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if k != LAST_APPLIED}
    lines += _mapping("Annotations", annotations)
    owners = metadata.get("ownerReferences") or []
    if owners:
        lines.append("Controlled By: " + ", ".join(f"{o.get('kind')}/{o.get('name')}" for o in owners))
    kind = shown.get("kind", "")
    lines += {
        "Pod": _pod_lines,
        "Node": _node_lines,
        "Application": _application_lines,
        "Secret": _secret_lines,
    }.get(kind, _status_lines)(shown)
    lines.append("Events:")
    listed = list(events)
    if not listed:
        lines.append("  <none>")
    for event in listed[-MAX_EVENTS:]:
        count = int(event.get("count") or 1)
        when = event.get("lastTimestamp") or event.get("eventTime") or ""
        lines.append(
            f"  {event.get('type', ''):<8} {event.get('reason', ''):<20} {when:<21} "
            f"(x{count:,})  {event.get('message', '')}".rstrip()
        )
    return lines


def _mapping(title: str, values: dict[str, Any] | None) -> list[str]:
    if not values:
        return [f"{title + ':':<15}<none>"]
    items = sorted(values.items())
    first, *rest = items
    return [f"{title + ':':<15}{first[0]}={first[1]}"] + [f"{'':<15}{k}={v}" for k, v in rest]


def _conditions(conditions: list[dict[str, Any]]) -> list[str]:
    if not conditions:
        return []
    lines = ["Conditions:", f"  {'Type':<28} {'Status':<8} {'Reason':<24} Message"]
    for c in conditions:
        lines.append(
            f"  {c.get('type', ''):<28} {c.get('status', ''):<8} {c.get('reason', '') or '-':<24} "
            f"{c.get('message', '')}".rstrip()
        )
    return lines


def _pod_lines(pod: dict[str, Any]) -> list[str]:
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    lines = [
        f"Node:          {spec.get('nodeName') or '<none>'}" + (f"/{status['hostIP']}" if status.get("hostIP") else ""),
        f"Status:        {status.get('phase', '-')}",
        f"IP:            {status.get('podIP') or '<none>'}",
        f"QoS Class:     {status.get('qosClass', '-')}",
    ]
    statuses = {
        s.get("name"): s for s in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
    }
    for title, containers in (
        ("Init Containers:", spec.get("initContainers")),
        ("Containers:", spec.get("containers")),
    ):
        if not containers:
            continue
        lines.append(title)
        for container in containers:
            seen = statuses.get(container.get("name")) or {}
            lines.append(f"  {container.get('name', '')}:")
            lines.append(f"    Image:          {container.get('image', '')}")
            lines.append(f"    State:          {_state_text(seen.get('state') or {})}")
            last = (seen.get("lastState") or {}).get("terminated")
            if last:
                lines.append(
                    f"    Last State:     terminated: {last.get('reason', '')} (exit {last.get('exitCode', '?')}), "
                    f"{last.get('startedAt', '')} → {last.get('finishedAt', '')}"
                )
            lines.append(f"    Ready:          {seen.get('ready', False)}")
            lines.append(f"    Restart Count:  {int(seen.get('restartCount') or 0):,}")
            resources = container.get("resources") or {}
            for part in ("requests", "limits"):
                if resources.get(part):
                    values = ", ".join(f"{k}={v}" for k, v in sorted(resources[part].items()))
                    lines.append(f"    {part.capitalize() + ':':<16}{values}")
    lines += _conditions(status.get("conditions") or [])
    tolerations = spec.get("tolerations") or []
    if tolerations:
        lines.append(
            "Tolerations:   " + ", ".join(f"{t.get('key', '*')}:{t.get('effect', '') or 'any'}" for t in tolerations)
        )
    return lines


def _node_lines(node: dict[str, Any]) -> list[str]:
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    info = status.get("nodeInfo") or {}
    lines = [
        "Addresses:     " + ", ".join(f"{a.get('type')}={a.get('address')}" for a in status.get("addresses") or []),
        f"OS Image:      {info.get('osImage', '-')}",
        f"Kubelet:       {info.get('kubeletVersion', '-')}",
        f"Runtime:       {info.get('containerRuntimeVersion', '-')}",
        f"Unschedulable: {bool(spec.get('unschedulable'))}",
    ]
    taints = spec.get("taints") or []
    lines.append(
        "Taints:        "
        + (
            ", ".join(f"{t.get('key')}{'=' + t['value'] if t.get('value') else ''}:{t.get('effect')}" for t in taints)
            or "<none>"
        )
    )
    for part in ("capacity", "allocatable"):
        if status.get(part):
            lines.append(
                f"{part.capitalize() + ':':<15}" + ", ".join(f"{k}={v}" for k, v in sorted(status[part].items()))
            )
    lines += _conditions(status.get("conditions") or [])
    return lines


def _application_lines(app: dict[str, Any]) -> list[str]:
    spec = app.get("spec") or {}
    status = app.get("status") or {}
    sources = spec.get("sources") or ([spec["source"]] if spec.get("source") else [])
    destination = spec.get("destination") or {}
    lines = [f"Project:       {spec.get('project', '-')}"]
    for source in sources:
        where = source.get("chart") or source.get("path") or ""
        lines.append(f"Source:        {source.get('repoURL', '')} {where} @ {source.get('targetRevision', 'HEAD')}")
    lines.append(
        f"Destination:   {destination.get('server') or destination.get('name', '')} "
        f"namespace {destination.get('namespace', '-')}"
    )
    sync = status.get("sync") or {}
    health = status.get("health") or {}
    lines.append(
        f"Sync:          {sync.get('status', 'Unknown')}" + (f" to {sync['revision']}" if sync.get("revision") else "")
    )
    lines.append(
        f"Health:        {health.get('status', 'Unknown')}"
        + (f": {health['message']}" if health.get("message") else "")
    )
    operation = status.get("operationState") or {}
    if operation:
        lines.append(f"Operation:     {operation.get('phase', '')}: {operation.get('message', '')}".rstrip(": "))
    resources = [
        r
        for r in status.get("resources") or []
        if (r.get("health") or {}).get("status", "Healthy") != "Healthy" or r.get("status") != "Synced"
    ]
    if resources:
        lines.append("Resources not Synced or not Healthy:")
        for r in resources[:30]:
            health_of = r.get("health") or {}
            lines.append(
                f"  {r.get('kind')}/{r.get('namespace', '') + '/' if r.get('namespace') else ''}{r.get('name')}: "
                f"{r.get('status', '-')}, {health_of.get('status', '-')}"
                + (f": {health_of['message']}" if health_of.get("message") else "")
            )
    lines += _conditions(status.get("conditions") or [])
    return lines


def _secret_lines(secret: dict[str, Any]) -> list[str]:
    lines = [f"Type:          {secret.get('type', 'Opaque')}", "Data (values never shown):"]
    keys = sorted(set(secret.get("data") or {}) | set(secret.get("stringData") or {}))
    lines.extend(f"  {key}" for key in keys)
    return lines if keys else [*lines, "  <none>"]


def _status_lines(obj: dict[str, Any]) -> list[str]:
    status = obj.get("status") or {}
    lines = [f"Status:        {status['phase']}"] if status.get("phase") else []
    return lines + _conditions(status.get("conditions") or [])


# --- reading ----------------------------------------------------------------------------------------


async def read_object_view(drivers: Drivers, ref: ObjectRef) -> ObjectView:
    """The object and the events about it (newest last); errors are a message, never raised."""
    try:
        obj = await drivers.kube.get(ref.resource, ref.name, ref.namespace or None)
    except Exception as error:  # noqa: BLE001 - shown in the view
        return ObjectView(ref, error=f"could not read {ref.label}: {str(error) or type(error).__name__}")
    if obj is None:
        return ObjectView(ref, error=f"{ref.label} is gone from the cluster")
    try:
        listed = await drivers.kube.list(EVENTS, ref.namespace or "default")
    except Exception:  # noqa: BLE001 - the object is shown without its events
        listed = None
    events = [
        e
        for e in (listed.items if listed is not None else [])
        if (e.get("involvedObject") or {}).get("name") == ref.name
        and (e.get("involvedObject") or {}).get("kind", ref.resource.kind) == ref.resource.kind
    ]
    events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    return ObjectView(ref, obj, tuple(events))
