"""Apps-by-wave pane: ArgoCD Applications grouped and ordered by sync wave."""

from __future__ import annotations

from rich.text import Text

from talos_platform.engine.observe import AppView, ClusterSnapshot
from talos_platform.tui.styles import BAD, GOOD, MUTED, WAIT, WARN, bad, good, muted, number
from talos_platform.tui.widgets.pane import Pane, PaneContent, Row, add_part, matches

COLUMNS = ("Wave", "Application", "Sync", "Health", "Message")

WAVE_STATE = {
    "done": ("✓ done", GOOD),
    "blocked": ("● blocked", BAD),
    "starting": ("◌ starting", WAIT),
    "waiting": ("… waiting", MUTED),
}


def health_text(app: AppView) -> Text:
    if app.only_waiting:
        # An app of apps mid-sync reports Missing for children not created yet: it only waits.
        return Text(f"… waiting for {app.waiting_for.partition('/')[2]}", style=MUTED)
    if app.health == "Healthy":
        return good("✓ Healthy")
    if app.health == "Progressing":
        return Text("◌ Progressing", style=WAIT)
    if app.health in ("Degraded", "Missing"):
        return bad(f"✗ {app.health}")
    return Text(app.health, style=WARN)


def sync_text(app: AppView) -> Text:
    if app.only_waiting:
        return Text("Syncing", style=WAIT)
    return good("Synced") if app.sync == "Synced" else Text(app.sync, style=WARN)


def apps_content(snapshot: ClusterSnapshot, query: str = "") -> PaneContent:
    rows = []
    for wave in snapshot.waves:
        label, colour = WAVE_STATE[wave.state]
        members = [a for a in wave.apps if matches(query, a.name, a.sync, a.health, a.message, f"wave {wave.wave}")]
        if not members:
            continue
        rows.append(
            Row(
                f"wave:{wave.wave}",
                (
                    Text(f"{wave.wave:>5}", style="bold"),
                    Text(label, style=colour),
                    "",
                    "",
                    muted(f"{number(len(wave.apps))} apps"),
                ),
            )
        )
        for app in members:
            message = "" if app.only_waiting else app.message[:400]
            rows.append(Row(f"app:{app.name}", ("", "  " + app.name, sync_text(app), health_text(app), message)))
    apps = snapshot.apps
    settled = sum(1 for a in apps if a.settled)
    summary = Text(f"{number(settled)}/{number(len(apps))} Synced+Healthy")
    if snapshot.blocked:
        starting = any(wave.state == "starting" for wave in snapshot.waves)
        summary.append("\n" + snapshot.blocked, style=WAIT if starting else f"bold {BAD}")
    if query:
        add_part(summary, f"filter: {query}", "italic")
    return PaneContent(
        f"Apps by wave ({number(len(apps))})",
        COLUMNS,
        tuple(rows),
        summary,
        empty="no ArgoCD Applications yet (layer 2 creates them)",
        online=bool(apps),
        flexible=((4, 30),),  # the Message (why it is not Healthy) wraps rather than being cut
    )


class AppsPane(Pane):
    content_function = staticmethod(apps_content)
