"""Reading ArgoCD Applications (plain dicts from the Kube driver): wave, sync, health, and the
one sentence that says why an application is not there yet."""

from __future__ import annotations

from typing import Any

WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave"


def wave_of(app: dict[str, Any]) -> int:
    annotations = (app.get("metadata") or {}).get("annotations") or {}
    try:
        return int(str(annotations.get(WAVE_ANNOTATION, "0")).strip())
    except ValueError:
        return 0


def name_of(app: dict[str, Any]) -> str:
    name: str = (app.get("metadata") or {}).get("name", "")
    return name


def sync_status(app: dict[str, Any]) -> str:
    return ((app.get("status") or {}).get("sync") or {}).get("status", "") or "Unknown"


def health_status(app: dict[str, Any]) -> str:
    return ((app.get("status") or {}).get("health") or {}).get("status", "") or "Unknown"


def is_converged(app: dict[str, Any]) -> bool:
    return sync_status(app) == "Synced" and health_status(app) == "Healthy"


def owned_by_application_set(app: dict[str, Any]) -> bool:
    owners = (app.get("metadata") or {}).get("ownerReferences") or []
    return any(owner.get("kind") == "ApplicationSet" for owner in owners)


def blocking_message(app: dict[str, Any]) -> str:
    """`Degraded: <why>` from the most telling place: the app's health message, its error
    conditions, the last sync operation, or the first unhealthy resource it manages."""
    status = app.get("status") or {}
    if not status.get("sync") and not status.get("health"):
        return "not reconciled by ArgoCD yet"
    health = health_status(app)
    sync = sync_status(app)
    state = f"{sync}/{health}"
    message = (status.get("health") or {}).get("message", "")
    if not message:
        for condition in status.get("conditions") or []:
            if "Error" in condition.get("type", "") or "Warning" in condition.get("type", ""):
                message = condition.get("message", "")
                break
    if not message:
        operation = status.get("operationState") or {}
        if operation.get("phase") in ("Failed", "Error") or (
            operation.get("phase") == "Running" and operation.get("message")
        ):
            message = operation.get("message", "")
    if not message:
        for resource in status.get("resources") or []:
            resource_health = resource.get("health") or {}
            if resource_health.get("status") not in (None, "", "Healthy"):
                namespace = f"{resource['namespace']}/" if resource.get("namespace") else ""
                what = f"{resource.get('kind', '')} {namespace}{resource.get('name', '')}"
                message = f"{what} is {resource_health.get('status')}" + (
                    f": {resource_health['message']}" if resource_health.get("message") else ""
                )
                break
    return f"{state}: {message}" if message else state
