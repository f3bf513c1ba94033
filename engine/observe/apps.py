"""ArgoCD Applications grouped by sync wave, and which app holds back which wave."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from talos_platform.engine.observe.snapshot import AppView, WaveView

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
    )


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


def group_by_wave(apps: Iterable[AppView]) -> tuple[tuple[WaveView, ...], str]:
    """Waves in order, each marked done/blocked/waiting, and the `wave N is blocked by X: message`
    line for the first wave that is not done (empty when all are)."""
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
            state = "blocked"
            culprit = _worst(members)
            reason = culprit.message or f"{culprit.sync}/{culprit.health}"
            blocked_line = f"wave {wave} is blocked by {culprit.name}: {reason}"
        waves.append(WaveView(wave, members, state))
    return tuple(waves), blocked_line


_HEALTH_ORDER = {"Degraded": 0, "Missing": 1, "Unknown": 2, "Progressing": 3, "Suspended": 4, "Healthy": 5}


def _worst(apps: tuple[AppView, ...]) -> AppView:
    unsettled = [a for a in apps if not a.settled]
    return min(unsettled, key=lambda a: (_HEALTH_ORDER.get(a.health, 2), a.sync == "Synced", a.name))
