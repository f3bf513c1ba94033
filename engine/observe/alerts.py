"""Firing alerts, as Alertmanager's v2 API lists them (`GET /api/v2/alerts`), made into what the
Alerts pane shows: the active ones worst first, the silenced and inhibited ones only counted.

`Watchdog` (kube-prometheus-stack fires it all the time, on purpose: docs/monitoring.md) is not
a problem: it proves that Prometheus reaches Alertmanager, so it is reported as that.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from talos_platform.engine.drivers.clock import Clock
from talos_platform.engine.drivers.protocols import Alertmanager, AlertmanagerMissing
from talos_platform.engine.observe.freshness import ALERTMANAGER, SourceState, source_state

log = logging.getLogger(__name__)

ALERTS_INTERVAL = 10.0
"""Seconds between two reads of Alertmanager (Prometheus evaluates its rules every 30 s)."""

WATCHDOG = "Watchdog"
SEVERITY_ORDER = {"critical": 0, "error": 1, "warning": 2, "info": 3}
"""Worst first; any other severity (`none`, missing) comes after these."""
TARGET_LABELS = (
    "namespace",
    "pod",
    "container",
    "node",
    "instance",
    "job",
    "service",
    "deployment",
    "persistentvolumeclaim",
)
"""Labels that say what an alert is about, when it has no summary, in this order."""


@dataclass(frozen=True)
class AlertView:
    name: str
    severity: str
    about: str
    """The `summary` annotation, else the `description`, else the labels naming the target."""
    target: str
    """`namespace/pod`, the node or the instance the alert is about (may be empty)."""
    starts_at: float
    """When it started firing (seconds since the epoch)."""
    fingerprint: str = ""
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def critical(self) -> bool:
        return self.severity == "critical"


@dataclass(frozen=True)
class AlertsView:
    """What Alertmanager says, or why it could not be asked."""

    installed: bool = False
    """False when there is no Alertmanager to ask (not installed yet, or not configured)."""
    firing: tuple[AlertView, ...] = ()
    """Active alerts, worst first, then the longest firing; Watchdog is not among them."""
    silenced: int = 0
    inhibited: int = 0
    muted: int = 0
    """Suppressed by a time interval (mute or active time interval of a route)."""
    watchdog: bool = False
    """Watchdog fires: Prometheus reaches Alertmanager."""
    read: bool = False
    """True once Alertmanager answered at least once (before that `firing` says nothing)."""
    source: str = ""
    """Where it is read: `namespace/service` through the API server's service proxy."""
    error: str = ""
    """Why the last read failed (empty while it answers)."""

    @property
    def critical(self) -> int:
        return sum(1 for alert in self.firing if alert.critical)


def parse_time(text: str) -> float:
    """RFC 3339 as Alertmanager writes it (`2026-12-03T05:48:47.123456789Z`), in epoch seconds."""
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Python before 3.11.? takes at most microseconds: cut nanoseconds down.
    head, dot, rest = text.partition(".")
    if dot:
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{zone}"
    return datetime.fromisoformat(text).timestamp()


def alert_target(labels: Mapping[str, str]) -> str:
    namespace, pod = labels.get("namespace", ""), labels.get("pod", "")
    if pod:
        return f"{namespace}/{pod}" if namespace else pod
    for key in ("node", "instance", "persistentvolumeclaim", "deployment", "service", "job"):
        if labels.get(key):
            return (
                f"{namespace}/{labels[key]}"
                if namespace and key in ("persistentvolumeclaim", "deployment")
                else labels[key]
            )
    return namespace


def alert_view(raw: Mapping[str, Any]) -> AlertView:
    labels = {str(k): str(v) for k, v in (raw.get("labels") or {}).items()}
    annotations = {str(k): str(v) for k, v in (raw.get("annotations") or {}).items()}
    about = annotations.get("summary") or annotations.get("description") or annotations.get("message") or ""
    if not about:
        about = " ".join(f"{key}={labels[key]}" for key in TARGET_LABELS if labels.get(key))
    try:
        starts_at = parse_time(str(raw.get("startsAt") or ""))
    except ValueError:
        starts_at = 0.0
    return AlertView(
        name=labels.get("alertname", "(no alertname)"),
        severity=labels.get("severity", ""),
        about=" ".join(about.split()),
        target=alert_target(labels),
        starts_at=starts_at,
        fingerprint=str(raw.get("fingerprint") or ""),
        labels=tuple(sorted(labels.items())),
    )


def severity_rank(severity: str) -> int:
    return SEVERITY_ORDER.get(severity, len(SEVERITY_ORDER))


def summarise_alerts(raw_alerts: Iterable[Mapping[str, Any]], source: str = "") -> AlertsView:
    """Alertmanager's alert list (`gettableAlerts`) as the pane's view."""
    firing: list[AlertView] = []
    silenced = inhibited = muted = 0
    watchdog = False
    for raw in raw_alerts:
        status = raw.get("status") or {}
        state = status.get("state", "active")
        if state == "suppressed" or status.get("silencedBy") or status.get("inhibitedBy") or status.get("mutedBy"):
            if status.get("silencedBy"):
                silenced += 1
            elif status.get("inhibitedBy"):
                inhibited += 1
            else:
                muted += 1
            continue
        view = alert_view(raw)
        if view.name == WATCHDOG:
            watchdog = True
            continue
        firing.append(view)
    firing.sort(key=lambda a: (severity_rank(a.severity), a.starts_at, a.name, a.target))
    return AlertsView(
        installed=True,
        firing=tuple(firing),
        silenced=silenced,
        inhibited=inhibited,
        muted=muted,
        watchdog=watchdog,
        read=True,
        source=source,
    )


class AlertReader:
    """Reads Alertmanager every `interval` seconds; keeps the last answer while it does not answer."""

    def __init__(self, alertmanager: Alertmanager | None, clock: Clock, on_change: Callable[[], None]):
        self.alertmanager = alertmanager
        self.clock = clock
        self.on_change = on_change
        source = getattr(alertmanager, "source", "") if alertmanager is not None else ""
        self.view = AlertsView(installed=alertmanager is not None, source=source)
        self.down_since: float | None = None

    def state(self) -> SourceState:
        if not self.view.installed:
            return SourceState(ALERTMANAGER)
        return source_state(ALERTMANAGER, self.view.error, self.down_since)

    async def read_once(self) -> None:
        assert self.alertmanager is not None
        source = self.view.source
        try:
            view = summarise_alerts(await self.alertmanager.alerts(), source)
            self.down_since = None
        except AlertmanagerMissing as missing:
            # Not installed (yet): no outage, nothing stale; the pane says so.
            view = AlertsView(installed=False, source=source, error=str(missing))
            self.down_since = None
        except Exception as error:  # noqa: BLE001 - shown in the pane; the last answer stays
            log.debug("Alertmanager: %s", error)
            if self.down_since is None:
                self.down_since = self.clock.now()
            view = AlertsView(
                installed=True,
                firing=self.view.firing,
                silenced=self.view.silenced,
                inhibited=self.view.inhibited,
                muted=self.view.muted,
                watchdog=self.view.watchdog,
                read=self.view.read,
                source=source,
                error=str(error) or type(error).__name__,
            )
        if view != self.view:
            self.view = view
            self.on_change()

    async def run(self, interval: float = ALERTS_INTERVAL) -> None:
        while True:
            await self.read_once()
            await self.clock.sleep(interval)


async def read_alerts_once(
    alertmanager: Alertmanager | None, clock: Clock, timeout: float
) -> tuple[AlertsView, SourceState]:
    """One read, for `status --live`."""
    reader = AlertReader(alertmanager, clock, lambda: None)
    if alertmanager is not None:
        try:
            await asyncio.wait_for(reader.read_once(), timeout)
        except TimeoutError:
            reader.view = AlertsView(installed=True, source=reader.view.source, error=f"no answer within {timeout:g} s")
            reader.down_since = clock.now()
    return reader.view, reader.state()
