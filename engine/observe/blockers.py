"""The real blocker behind an app of apps: follow the Applications a sync waits on down to the
one that is actually unhealthy, and the resource inside it (with the pods behind it).

A parent Application mid-sync reports `OutOfSync/Missing` (its later waves are not created yet)
and `waiting for healthy state of argoproj.io/Application/<child>`: it only waits. The cause is
at the leaf: `monitoring: StatefulSet monitoring/prometheus Progressing — Waiting for 1 pods to be
ready... (pod prometheus-0 CrashLoopBackOff, OOMKilled)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from talos_platform.engine.observe.snapshot import AppView, PodProblem, ResourceHealth

# ArgoCD's order, worst first. A Missing resource of a sync in progress is usually a later wave
# not created yet, so it comes last: what exists and is unhealthy is the cause.
_RANK = {"Degraded": 0, "Unknown": 1, "Progressing": 2, "Suspended": 3, "Missing": 4}

# Kinds whose pods carry the resource's name as a prefix (`<name>-<hash>-<id>`, `<name>-0`).
_POD_OWNERS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}


@dataclass(frozen=True)
class Blocker:
    app: AppView
    """The leaf Application: the one that is itself unhealthy, not one waiting on a child."""
    resource: ResourceHealth | None
    """The resource inside it that it waits on, when ArgoCD says."""
    via: tuple[str, ...] = ()
    """The Applications followed to get there, outermost first (without the leaf)."""


def trace(app: AppView, apps: Mapping[str, AppView]) -> Blocker:
    """Follow `app` down through the child Applications it waits on to the leaf."""
    via: list[str] = []
    seen = {app.name}
    while True:
        resource = _waited_on(app)
        child = apps.get(resource.name) if resource is not None and resource.is_application else None
        if child is None or child.name in seen or child.settled:
            return Blocker(app, resource, tuple(via))
        via.append(app.name)
        seen.add(child.name)
        app = child


def _waited_on(app: AppView) -> ResourceHealth | None:
    if app.waiting_for:
        kind, _, name = app.waiting_for.partition("/")
        for resource in app.unhealthy:
            if resource.kind == kind and resource.name == name:
                return resource
        return ResourceHealth(kind=kind, name=name, group="argoproj.io" if kind == "Application" else "")
    if not app.unhealthy:
        return None
    return min(app.unhealthy, key=lambda r: (_RANK.get(r.health, 1), r.sync_wave, not r.is_application))


def pods_behind(blocker: Blocker, problems: Iterable[PodProblem]) -> list[PodProblem]:
    """The problem pods of the blocking resource (by name), else of the leaf app."""
    problems = list(problems)
    resource = blocker.resource
    if resource is not None and resource.kind in _POD_OWNERS:
        owned = [p for p in problems if p.namespace == resource.namespace and p.name.startswith(resource.name + "-")]
        if owned:
            return owned
    if resource is not None and resource.kind == "Pod":
        return [p for p in problems if p.namespace == resource.namespace and p.name == resource.name]
    return [p for p in problems if p.app == blocker.app.name]


def pod_note(problem: PodProblem) -> str:
    """`pod prometheus-0 CrashLoopBackOff, OOMKilled`, `pod vault-0 Pending: Unschedulable: ...` or
    `pod web-1 starting: web: ContainerCreating`."""
    if problem.kind == "OOMKilled":
        return f"pod {problem.name} CrashLoopBackOff, OOMKilled"
    if problem.kind == "Restarts":
        return f"pod {problem.name}: {problem.detail}"  # `4 restarts` says it
    if problem.starting:
        return f"pod {problem.name} starting: {_short(problem.detail, 110)}"
    detail = problem.detail
    if detail.startswith(f"{problem.kind}: "):
        detail = detail[len(problem.kind) + 2 :]
    return f"pod {problem.name} {problem.kind}: {_short(detail, 110)}"


def describe(blocker: Blocker, problems: Iterable[PodProblem] = ()) -> str:
    """`monitoring: StatefulSet monitoring/x Progressing — <message> (pod ...)`."""
    app, resource = blocker.app, blocker.resource
    if resource is not None:
        text = f"{app.name}: {resource.label} {resource.health or app.health}"
        message = resource.message or (app.message if resource.health == app.health else "")
        if message:
            text += f" — {message}"
    else:
        text = f"{app.name}: {app.message or f'{app.sync}/{app.health}'}"
    pods = pods_behind(blocker, problems)
    if pods:
        more = f", +{len(pods) - 1} more" if len(pods) > 1 else ""
        text += f" ({pod_note(pods[0])}{more})"
    return text


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
