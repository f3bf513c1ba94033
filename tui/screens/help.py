"""Help on `?`: every key, and what the colours mean."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from talos_platform.engine.observe.api_latency import SLOW_SECONDS, VERY_SLOW_SECONDS
from talos_platform.engine.observe.freshness import STALE_AFTER_SECONDS
from talos_platform.engine.observe.pressure import (
    CRITICAL_PERCENT,
    DISK_CRITICAL_PERCENT,
    DISK_HIGH_PERCENT,
    HIGH_PERCENT,
    PRESSURE_CONDITIONS,
)
from talos_platform.tui.styles import BAD, GOOD, MUTED, WAIT, WARN

KEYS = (
    ("Tab / Shift+Tab, 1-5", "move between panes (5: alerts, on the dashboard)"),
    ("↑ ↓ j k PgUp PgDn, mouse", "move within a pane"),
    ("g / G, Home / End", "first / last row"),
    (": NAME", "go to a pane by name (nodes, apps, pods, flows, alerts, steps; po, no, hubble …)"),
    ("s / S", "sort the focused pane by its next column / reverse the order"),
    ("Enter", "details: conditions, events, recent flows"),
    ("f / a / n (in pod details)", "jump to the pod's flows, its ArgoCD app, its node"),
    ("l (pods)", "the pod's log, followed: c container, p previous instance (a crash), / search, G end"),
    ("d (pods, nodes, apps)", "describe: the fields that matter and the events (nodes: what Talos says)"),
    ("y (pods, nodes, apps)", "the object's YAML, read-only, no managedFields (a Secret: keys only)"),
    ("/", "filter the focused pane (flows: ns:NAME pod:NAME verdict:dropped)"),
    ("Esc", "close, clear the filter, restore a maximised pane"),
    ("z", "maximise the focused pane (again to restore)"),
    ("p", "pause / resume the flow stream (new flows are counted meanwhile)"),
    ("t", "light / dark theme"),
    ("Ctrl+P", "command palette"),
    ("r", "retry a failed install (install screen)"),
    ("?", "this help"),
    ("q, Ctrl+C", "quit (asks first while an install runs)"),
)


def help_renderable() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for key, meaning in KEYS:
        table.add_row(key, meaning)
    table.add_row("", "")
    legend = Text()
    for glyph, meaning, colour in (
        ("✓", "done / healthy", GOOD),
        ("◌", "in progress", WAIT),
        ("●", "needs attention", WARN),
        ("✗", "failed / unreachable / dropped", BAD),
        ("·", "not started", MUTED),
    ):
        legend.append(f"{glyph} {meaning}   ", style=colour)
    table.add_row("Colours", legend)
    pressure = Text()
    pressure.append(f"CPU or memory ≥ {HIGH_PERCENT:.0f}% orange", style=WARN)
    pressure.append(", ")
    pressure.append(f"≥ {CRITICAL_PERCENT:.0f}% red", style=f"bold {BAD}")
    pressure.append("; disk ")
    pressure.append(f"≥ {DISK_HIGH_PERCENT:.0f}% orange", style=WARN)
    pressure.append(", ")
    pressure.append(f"≥ {DISK_CRITICAL_PERCENT:.0f}% red", style=f"bold {BAD}")
    pressure.append(" (- when the kubelet's stats are unknown); Kubernetes' ")
    pressure.append(", ".join(PRESSURE_CONDITIONS), style=f"bold {BAD}")
    pressure.append(" when the kubelet sets them: a Ready node under pressure shows ● Ready and why")
    table.add_row("Pressure", pressure)
    latency = Text("API round trip or server p99 ")
    latency.append(f"≥ {SLOW_SECONDS:g} s slow (orange)", style=WARN)
    latency.append(", ")
    latency.append(f"≥ {VERY_SLOW_SECONDS:g} s very slow (red)", style=f"bold {BAD}")
    latency.append("; `server /metrics not allowed`: RBAC does not grant reading /metrics")
    table.add_row("API latency", latency)
    table.add_row(
        "Stale",
        Text(
            f"a pane whose source has not answered for {STALE_AFTER_SECONDS:.0f} s says `stale N s: … unreachable` "
            "in its title and greys its marks: it shows the last known state, not the present one",
            style=MUTED,
        ),
    )
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body", classes="modal-body") as body:
            body.border_title = "Keys"
            yield Static(help_renderable())
