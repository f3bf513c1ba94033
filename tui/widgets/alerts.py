"""Alerts pane: what Alertmanager says is firing, worst first, with how long each has fired.
Silenced, inhibited and muted alerts are counted in the summary, not listed; Watchdog is shown as
what it proves (Prometheus reaches Alertmanager), not as a problem."""

from __future__ import annotations

from rich.text import Text

from talos_platform.engine.observe import ClusterSnapshot
from talos_platform.engine.observe.alerts import AlertsView, AlertView
from talos_platform.tui.styles import BAD, GOOD, MUTED, WAIT, WARN, muted, number
from talos_platform.tui.widgets.pane import Pane, PaneContent, Row, add_part, matches

COLUMNS = ("Severity", "Alert", "For", "About", "Target")
"""How long it fires comes before the free text, so a narrow terminal still shows it."""
ABOUT_WIDTH = 60

SEVERITY_STYLE = {"critical": ("✗ critical", f"bold {BAD}"), "error": ("✗ error", BAD), "warning": ("▲ warning", WARN)}


def severity_text(severity: str) -> Text:
    label, style = SEVERITY_STYLE.get(severity, (f"● {severity or 'none'}", WAIT if severity == "info" else MUTED))
    return Text(label, style=style)


def firing_for(seconds: float) -> str:
    """`42 s`, `17 min`, `3 h 05 min`, `2 d 4 h`: how long an alert has fired."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def alert_row(alert: AlertView, now: float) -> Row:
    key = f"alert:{alert.fingerprint or alert.name + '/' + alert.target}"
    return Row(
        key,
        (
            severity_text(alert.severity),
            alert.name,
            firing_for(now - alert.starts_at) if alert.starts_at else "-",
            # Short enough that Target and For fit beside it; the detail view (Enter) has it whole.
            alert.about if len(alert.about) <= ABOUT_WIDTH else alert.about[: ABOUT_WIDTH - 1] + "…",
            alert.target,
        ),
    )


def alerts_summary(view: AlertsView) -> Text:
    summary = Text()
    critical = view.critical
    firing = f"{number(len(view.firing))} firing" + (f" ({number(critical)} critical)" if critical else "")
    add_part(summary, firing, f"bold {BAD}" if critical else WARN if view.firing else GOOD)
    for count, what in ((view.silenced, "silenced"), (view.inhibited, "inhibited"), (view.muted, "muted")):
        if count:
            add_part(summary, f"{number(count)} {what}", MUTED)
    if view.watchdog:
        add_part(summary, "Watchdog ✓ Prometheus reaches Alertmanager", MUTED)
    else:
        add_part(summary, "Watchdog not firing: Prometheus does not reach Alertmanager, or evaluates no rules", WARN)
    return summary


def alerts_content(snapshot: ClusterSnapshot, query: str = "") -> PaneContent:
    view = snapshot.alerts
    title = "Alerts"
    if not view.installed:
        why = view.error or "no Alertmanager to read from (components.monitoring installs it)"
        return PaneContent(title, COLUMNS, summary=muted(view.source), empty=why, online=False)
    if not view.read:
        waiting = (
            f"Alertmanager {view.source} does not answer: {view.error}"
            if view.error
            else f"reading Alertmanager {view.source} ..."
        )
        return PaneContent(title, COLUMNS, summary=Text(), empty=waiting, online=False)
    now = snapshot.taken_at
    shown = [a for a in view.firing if matches(query, a.name, a.severity, a.about, a.target)]
    summary = alerts_summary(view)
    if view.error:
        add_part(summary, f"Alertmanager does not answer: {view.error}", f"bold {BAD}")
    if query:
        add_part(summary, f"filter: {query}", "italic")
    if view.firing:
        empty = f"no firing alert matches {query!r}"
    else:
        empty = "no alert was firing at Alertmanager's last answer" if view.error else "no alerts firing"
    return PaneContent(
        f"{title} ({number(len(view.firing))})",
        COLUMNS,
        tuple(alert_row(a, now) for a in shown),
        summary,
        empty=empty,
    )


class AlertsPane(Pane):
    content_function = staticmethod(alerts_content)
