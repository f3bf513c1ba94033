"""Step checklist: layers 0-4, each step with its state, duration and retries."""

from __future__ import annotations

from rich.text import Text
from textual import events

from talos_platform.tui.install_state import InstallProgress
from talos_platform.tui.styles import BAD, GOOD, MUTED, WAIT, WARN, number
from talos_platform.tui.widgets.fast_table import FastTable
from talos_platform.tui.widgets.pane import Pane, PaneContent, Row, add_part

COLUMNS = ("", "Step", "Time", "Retry")
SIMULATED_COLUMNS = ("", "Step", "Sim time", "Retry")
"""A simulated run's step times are on the simulator's clock, which runs faster than the real one."""
LAYER_NAMES = {
    0: "Talos nodes",
    1: "bootstrap: Gateway API, Cilium, ArgoCD",
    2: "ArgoCD layer-0 apps",
    3: "platform services",
    4: "applications",
}
STOPPING = "‖ stopping after the current step…"
"""Said as soon as the user asks to stop: the steps in flight may take a while to finish."""

STATE_GLYPH = {
    "pending": ("·", MUTED),
    "running": ("◌", WAIT),
    "retrying": ("↻", WARN),
    "succeeded": ("✓", GOOD),
    "skipped": ("✓", MUTED),
    "failed": ("✗", f"bold {BAD}"),
    "interrupted": ("‖", WARN),
}


def steps_content(progress: InstallProgress) -> PaneContent:
    rows = []
    layers = sorted({s.layer for s in progress.steps.values()})
    for layer in layers:
        steps = [s for s in progress.steps.values() if s.layer == layer]
        done = sum(1 for s in steps if s.state in ("succeeded", "skipped"))
        style = GOOD if done == len(steps) else ("bold" if any(s.state != "pending" for s in steps) else MUTED)
        rows.append(
            Row(
                f"layer:{layer}",
                (
                    Text(f"L{layer}", style=style),
                    Text(f"{LAYER_NAMES.get(layer, '')}", style=style),
                    Text(f"{done}/{len(steps)}", style=style),
                    "",
                ),
            )
        )
        for step in steps:
            glyph, colour = STATE_GLYPH.get(step.state, ("?", ""))
            elapsed = progress.elapsed(step)
            rows.append(
                Row(
                    f"step:{step.id}",
                    (
                        Text(glyph, style=colour),
                        Text("  " + step.title, style=colour if step.state == "failed" else ""),
                        f"{elapsed:.1f}s" if elapsed is not None else "",
                        Text(number(step.retries), style=WARN) if step.retries else "",
                    ),
                )
            )
    total = len(progress.steps)
    done = sum(1 for s in progress.steps.values() if s.state in ("succeeded", "skipped"))
    summary = Text(f"{number(done)}/{number(total)} steps done")
    if progress.outcome:
        colour = GOOD if progress.outcome == "succeeded" else BAD
        add_part(summary, f"{progress.operation} {progress.outcome}", f"bold {colour}")
    elif progress.stop_requested:
        add_part(summary, STOPPING, f"bold {WARN}")
    columns = SIMULATED_COLUMNS if progress.simulated else COLUMNS
    return PaneContent(f"{progress.title} steps", columns, tuple(rows), summary, empty="planning…")


class StepsTable(FastTable):
    """The checklist's table. It notes a scroll of the mouse wheel (which moves no cursor), so that
    the run screen stops following the running step once the user scrolls the list."""

    scrolled_by_user = False

    def on_mouse_scroll_down(self, _: events.MouseScrollDown) -> None:
        self.scrolled_by_user = True

    def on_mouse_scroll_up(self, _: events.MouseScrollUp) -> None:
        self.scrolled_by_user = True


class StepsPane(Pane):
    TABLE_CLASS = StepsTable

    @property
    def scrolled_by_user(self) -> bool:
        return self.query_one(StepsTable).scrolled_by_user

    @scrolled_by_user.setter
    def scrolled_by_user(self, scrolled: bool) -> None:
        self.query_one(StepsTable).scrolled_by_user = scrolled
