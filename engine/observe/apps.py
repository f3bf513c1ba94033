"""ArgoCD Applications grouped by sync wave, and which app holds back which wave."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from talos_platform.engine.observe.blockers import Blocker, describe, pods_behind, trace
from talos_platform.engine.observe.snapshot import AppView, PodProblem, ResourceHealth, WaveView

SYNC_WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave"


def app_view(application: dict[str, Any]) -> AppView:
    metadata = application.get("metadata") or {}
    status = application.get("status") or {}
    health = status.get("health") or {}
    sync = status.get("sync") or {}
    return AppView(
        name=metadata.get("name", ""),
        namespace=metadata.get("namespace", ""),
        wave=_wave(metadata),
        sync=sync.get("status", "") or "Unknown",
        health=health.get("status", "") or "Unknown",
        message=_message(status),
        project=(application.get("spec") or {}).get("project", ""),
        waiting_for=_waiting_for(status),
        unhealthy=_unhealthy(status),
    )


# ArgoCD's sync operation names what a wave waits on: "waiting for healthy state of group/Kind/name"
# (the group is `v1` for the core API).
_WAITING = re.compile(r"waiting for healthy state of (?:[^/\s]+/)?(?P<kind>[A-Za-z]+)/(?P<name>[^\s,;]+)")


def _waiting_for(status: dict[str, Any]) -> str:
    operation = status.get("operationState") or {}
    if operation.get("phase") != "Running":
        return ""
    found = _WAITING.search(operation.get("message", "") or "")
    return f"{found['kind']}/{found['name']}" if found else ""


def _unhealthy(status: dict[str, Any]) -> tuple[ResourceHealth, ...]:
    found = []
    for resource in status.get("resources") or []:
        health = resource.get("health") or {}
        state = health.get("status") or ("Missing" if resource.get("status") == "OutOfSync" else "")
        if state in ("", "Healthy"):
            continue
        found.append(
            ResourceHealth(
                kind=resource.get("kind", ""),
                name=resource.get("name", ""),
                namespace=resource.get("namespace", "") or "",
                group=resource.get("group", "") or "",
                health=state,
                message=health.get("message", "") or "",
                sync_wave=_int(resource.get("syncWave", 0)),
            )
        )
    return tuple(found)


def _int(raw: Any) -> int:
    try:
        return int(str(raw).strip())
    except ValueError:
        return 0


def _wave(metadata: dict[str, Any]) -> int:
    # The annotation is a string; ArgoCD treats anything unparsable as wave 0.
    raw = (metadata.get("annotations") or {}).get(SYNC_WAVE_ANNOTATION, "0")
    try:
        return int(str(raw).strip())
    except ValueError:
        return 0


def _message(status: dict[str, Any]) -> str:
    health_message: str = (status.get("health") or {}).get("message", "")
    if health_message:
        return health_message
    for condition in status.get("conditions") or []:
        if condition.get("message"):
            message: str = condition["message"]
            return message
    operation = status.get("operationState") or {}
    if operation.get("phase") in ("Failed", "Error") or (
        operation.get("phase") == "Running" and operation.get("message")
    ):
        failed: str = operation.get("message", "")
        return failed
    return ""


def group_by_wave(apps: Iterable[AppView], problems: Iterable[PodProblem] = ()) -> tuple[tuple[WaveView, ...], str]:
    """Waves in order, each marked done/blocked/waiting, and the `wave N is blocked by X: message`
    line for the first wave that is not done (empty when all are). X is the leaf Application an
    app of apps waits on, with the resource it waits on and the problem pods behind it."""
    apps = list(apps)
    by_name = {app.name: app for app in apps}
    by_wave: dict[int, list[AppView]] = {}
    for app in apps:
        by_wave.setdefault(app.wave, []).append(app)
    waves: list[WaveView] = []
    blocked_line = ""
    for wave in sorted(by_wave):
        members = tuple(sorted(by_wave[wave], key=lambda a: (a.settled, a.name)))
        if blocked_line:
            state = "waiting"
        elif all(app.settled for app in members):
            state = "done"
        else:
            starting, said = blocked_or_starting(trace(_worst(members), by_name), problems)
            state = "starting" if starting else "blocked"
            blocked_line = f"wave {wave} {said}"
        waves.append(WaveView(wave, members, state))
    return tuple(waves), blocked_line


def blocked_or_starting(blocker: Blocker, problems: Iterable[PodProblem]) -> tuple[bool, str]:
    """(only starting, `waits for X: …` or `is blocked by X: …`): the one judgement the dashboard's
    waves and the install's wave steps share."""
    problems = list(problems)
    if only_starting(blocker, problems):
        return True, f"waits for {describe(blocker, problems)}"
    return False, f"is blocked by {describe(blocker, problems)}"


def progressing(blocker: Blocker) -> bool:
    """Only Progressing: the one health whose pods may still be starting (worth reading them)."""
    health = blocker.resource.health if blocker.resource is not None else blocker.app.health
    return health == "Progressing"


def only_starting(blocker: Blocker, problems: Iterable[PodProblem]) -> bool:
    """The blocker is only Progressing, and every pod behind it is starting (within its start
    grace): the wave is on its way, not blocked."""
    behind = pods_behind(blocker, problems)
    return progressing(blocker) and bool(behind) and all(pod.starting for pod in behind)


_HEALTH_ORDER = {"Degraded": 0, "Missing": 1, "Unknown": 2, "Progressing": 3, "Suspended": 4, "Healthy": 5}


def _worst(apps: tuple[AppView, ...]) -> AppView:
    # An app of apps that only waits on a child is never the worst: the child (or its own) is.
    unsettled = [a for a in apps if not a.settled]
    return min(unsettled, key=lambda a: (a.only_waiting, _HEALTH_ORDER.get(a.health, 2), a.sync == "Synced", a.name))
