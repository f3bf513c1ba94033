"""Container logs of the simulated pods, written from what the pod's status says happened: a
start, a line per request interval while it runs, and for an instance that crashed, the way it
ended (an OOM kill writes nothing more: its log just stops). What `kubectl logs` would refuse
(a container that never started, no previous instance) is refused with the API's words."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from talos_platform.engine.errors import PermanentError
from talos_platform.engine.sim.model import iso

LINE_EVERY_SECONDS = 15.0
"""A running container writes a line this often (virtual time)."""


def seconds_of(stamp: str) -> float | None:
    if not stamp:
        return None
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def _status_of(pod: dict[str, Any], container: str) -> dict[str, Any] | None:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return next((s for s in statuses if s.get("name") == container), None)


def container_of(pod: dict[str, Any], container: str) -> str:
    """The container asked for; empty: the pod's first. Refused as the API does when unknown."""
    names: list[str] = [str(c.get("name", "")) for c in (pod.get("spec") or {}).get("containers") or []]
    name = pod["metadata"]["name"]
    if not container:
        if not names:
            raise PermanentError(f'pod "{name}" has no containers')
        return names[0]
    if container not in names:
        raise PermanentError(
            f"container {container} is not valid for pod {name}", hint=f"its containers: {', '.join(names)}"
        )
    return container


def _instance_lines(container: str, image: str, started: float, until: float) -> Iterator[tuple[float, str]]:
    yield started, f"{iso(started)} starting {container} ({image})"
    yield started + 1, f"{iso(started + 1)} listening on :8080"
    moment = started + LINE_EVERY_SECONDS
    served = 0
    while moment <= until:
        served += 1
        yield moment, f"{iso(moment)} GET /healthz 200 (health check #{served:,})"
        moment += LINE_EVERY_SECONDS


def _ending(terminated: dict[str, Any]) -> list[str]:
    """What an instance wrote as it died: nothing for a kill from outside (OOM), a fatal line
    for one that exited on its own."""
    if terminated.get("reason") == "OOMKilled" or terminated.get("exitCode") == 137:
        return []
    stamp = terminated.get("finishedAt", "")
    return [f"{stamp} fatal: {terminated.get('reason', 'Error')}, exiting with code {terminated.get('exitCode', 1)}"]


def log_lines(pod: dict[str, Any], container: str, *, previous: bool, now: float) -> tuple[list[str], float | None]:
    """(lines so far, the moment of the last one while the instance still runs, else None)."""
    name = pod["metadata"]["name"]
    container = container_of(pod, container)
    status = _status_of(pod, container)
    image = next((c.get("image", "") for c in pod["spec"].get("containers") or [] if c.get("name") == container), "")
    terminated = ((status or {}).get("lastState") or {}).get("terminated")
    if previous:
        if not terminated:
            raise PermanentError(f'previous terminated container "{container}" in pod "{name}" not found')
        return _dead_instance(container, image, terminated), None
    state = (status or {}).get("state") or {}
    if "running" in state:
        started = seconds_of(state["running"].get("startedAt", "")) or now
        lines = list(_instance_lines(container, image, started, now))
        return [text for _, text in lines], lines[-1][0]
    if terminated:
        # Waiting to be restarted (a crash loop): the log is the last instance's.
        return _dead_instance(container, image, terminated), None
    reason = ((state.get("waiting") or {}).get("reason")) or "ContainerCreating"
    raise PermanentError(f'container "{container}" in pod "{name}" is waiting to start: {reason}')


def _dead_instance(container: str, image: str, terminated: dict[str, Any]) -> list[str]:
    started = seconds_of(terminated.get("startedAt", ""))
    finished = seconds_of(terminated.get("finishedAt", "")) or started or 0.0
    lines = [text for _, text in _instance_lines(container, image, started or finished, finished)]
    return lines + _ending(terminated)
