"""The live install (or any other operation's run, titled by it): its steps as a checklist, the
selected step's output, the cluster panes lighting up as their layer comes online, a failure view
with the hint and a retry key."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Header, Static

from talos_platform.tui.install_state import InstallProgress
from talos_platform.tui.screens.dashboard import ClusterView
from talos_platform.tui.styles import BAD, GOOD
from talos_platform.tui.widgets.grid import INSTALL_PANE_IDS, ClusterPanes
from talos_platform.tui.widgets.key_hints import KeyHints
from talos_platform.tui.widgets.nodes import NOTHING_EXPECTED, InstallExpectations
from talos_platform.tui.widgets.pane import Pane
from talos_platform.tui.widgets.step_output import StepOutput
from talos_platform.tui.widgets.steps import STOPPING, StepsPane, steps_content

APPLY_CONFIG_STEP = "L0.apply-config."
"""The prefix of the step that applies one node's machine config (the node's name follows)."""


def nodes_awaiting_config(progress: InstallProgress) -> frozenset[str]:
    """The nodes whose apply-config step has not succeeded (or been skipped as done) yet."""
    return frozenset(
        step.id.removeprefix(APPLY_CONFIG_STEP)
        for step in progress.steps.values()
        if step.id.startswith(APPLY_CONFIG_STEP) and step.state not in ("succeeded", "skipped")
    )


def nodes_rebooting_into_config(progress: InstallProgress) -> frozenset[str]:
    """The nodes whose apply-config step is running: it sent the config and waits for the node to
    install and reboot into it (a node that does not answer before the send fails the attempt, so
    its step is retrying, not running). Done or failed, the node is no longer expected to be silent."""
    return frozenset(
        step.id.removeprefix(APPLY_CONFIG_STEP)
        for step in progress.steps.values()
        if step.id.startswith(APPLY_CONFIG_STEP) and step.state == "running"
    )


def install_expectations(progress: InstallProgress) -> InstallExpectations:
    """What the run expects of its nodes now; nothing once it ended."""
    if progress.outcome:
        return NOTHING_EXPECTED
    return InstallExpectations(nodes_awaiting_config(progress), nodes_rebooting_into_config(progress))


def failure_text(progress: InstallProgress) -> Text:
    """Every failed step in plan order (the first is usually the cause), with what to do."""
    failed = [s for s in progress.steps.values() if s.state == "failed"]
    text = Text()
    if not failed:
        text.append(f"✗ {progress.operation} {progress.outcome}\n", style=f"bold {BAD}")
    for step in failed[:3]:
        text.append(f"✗ {step.title} failed ", style=f"bold {BAD}")
        text.append(f"({step.id})\n")
        text.append(step.error + "\n")
        if step.hint:
            text.append("What to do: ", style="bold")
            text.append(step.hint + "\n")
    if len(failed) > 3:
        text.append(f"… and {len(failed) - 3} more failed steps\n")
    # Each key keeps its following space inside its own run: SVG renderers drop the spaces a
    # run starts with.
    text.append("\nr ", style="bold")
    text.append("retry (finished steps are re-checked, not redone) · ")
    text.append("q ", style="bold")
    text.append(f"quit (running the {progress.operation} again resumes)")
    return text


def success_text(progress: InstallProgress) -> Text:
    """The run succeeded: what to do next (where the kubeconfig and talosconfig are, the
    dashboard command, where logins are kept), as the headless install prints it."""
    text = Text()
    # No run starts with a space (SVG renderers drop it): the separator ends the heading's run.
    text.append(f"✓ {progress.operation} succeeded · ", style=f"bold {GOOD}")
    text.append("q ", style="bold")
    text.append("quit")
    for note in progress.notes:
        text.append("\n" + note)
    return text


class InstallScreen(ClusterView):
    BINDINGS = [
        Binding("r", "retry", "Retry"),
        Binding("q", "request_quit", "Quit"),
    ]

    def __init__(self, progress: InstallProgress, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.progress = progress
        self.follow_running = True
        """The checklist's cursor follows the running step until the user moves or scrolls it."""
        self._followed_to_the_end = False
        self._followed: str | None = None
        """The step row the cursor was last put on by following."""

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield self.banner()
        with Horizontal(id="install-top"):
            yield StepsPane(id="steps", title=f"{self.progress.title} steps")
            with Vertical(id="install-right"):
                yield StepOutput(id="output")
                yield Static("", id="failure")
                yield Static("", id="success")
        yield ClusterPanes(INSTALL_PANE_IDS, id="cluster", classes="install")
        yield self.filter_input()
        yield KeyHints()

    def on_mount(self) -> None:
        self.show_simulation_banner(self.app.simulated_drivers)
        self.query_one("#failure").display = False
        self.query_one("#success").display = False
        self.ready = True
        self.refresh_progress()
        self.query_one(StepsPane).table.focus()
        if self.snapshot is not None:
            self.show_snapshot(self.snapshot)

    @property
    def steps_pane(self) -> StepsPane:
        return self.query_one(StepsPane)

    def pane_names(self) -> tuple[str, ...]:
        return ("steps", *INSTALL_PANE_IDS)

    def pane(self, pane_id: str) -> Pane:
        return self.steps_pane if pane_id == "steps" else super().pane(pane_id)

    def redraw_pane(self, pane: Pane) -> None:
        if pane is self.steps_pane:
            self.refresh_progress()
        else:
            super().redraw_pane(pane)

    def refresh_progress(self) -> None:
        """Redraw the checklist, the output and the failure view from `progress`."""
        if not self.ready or not self.is_attached:
            return  # a fast run can finish before the panes exist: `on_mount` draws it then
        pane = self.steps_pane
        pane.show(steps_content(self.progress))
        if self.follow_running and self._moved_by_user():
            self.follow_running = False
        if self.follow_running and self.progress.last_started and not self._followed_to_the_end:
            self._followed = f"step:{self.progress.last_started}"
            pane.select_key(self._followed)
            # Once the outcome is known the selection is the user's: a later redraw (the run's
            # own end message) must not pull it back.
            self._followed_to_the_end = bool(self.progress.outcome)
        self._show_selected_output()
        self._show_install_expectations()
        failure = self.query_one("#failure", Static)
        failed = self.progress.outcome in ("failed", "interrupted") or self.progress.outcome.startswith("crashed")
        failure.display = failed
        if failed:
            failure.update(failure_text(self.progress))
        succeeded = self.progress.outcome == "succeeded"
        success = self.query_one("#success", Static)
        success.display = succeeded
        self.set_class(succeeded, "finished")
        if succeeded:
            success.update(success_text(self.progress))
            self.sub_title = f"{self.progress.operation} succeeded"
        elif self.progress.stop_requested and not self.progress.outcome:
            self.sub_title = f"{self.progress.operation}: {STOPPING}"
        if self.progress.simulated:
            self.show_simulation_banner(True)

    def _show_install_expectations(self) -> None:
        """Until the run applied a node's config, its maintenance mode is what the run expects;
        while its step waits for the node to reboot into it, its silence is."""
        expected = install_expectations(self.progress)
        panes = self.panes
        if expected != panes.expected:
            panes.expected = expected
            if self.snapshot is not None:
                self.redraw()

    def _moved_by_user(self) -> bool:
        """The cursor is off the row following put it on, or the list was scrolled with the wheel.
        Read from the table's state, not from highlight messages: on a busy machine those arrive
        late, and a late one from a redraw looked like the user's."""
        moved = self._followed is not None and self.steps_pane.selected_key() != self._followed
        return moved or self.steps_pane.scrolled_by_user

    def _show_selected_output(self) -> None:
        key = self.steps_pane.selected_key() or ""
        if key.startswith("step:"):
            self.query_one(StepOutput).follow(self.progress.steps.get(key[5:]))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.parent is self.steps_pane:
            self._show_selected_output()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.parent is self.steps_pane:
            self.follow_running = False
            self._show_selected_output()
            return
        super().on_data_table_row_selected(event)

    def action_retry(self) -> None:
        if self.progress.outcome in ("failed", "interrupted") or self.progress.outcome.startswith("crashed"):
            self.follow_running = True
            self._followed_to_the_end = False
            self._followed = None
            self.steps_pane.scrolled_by_user = False
            self.app.start_install()

    def action_request_quit(self) -> None:
        if not self.progress.running:
            self.app.exit(self.progress.outcome or "not-started")
            return
        from talos_platform.tui.screens.confirm import ConfirmScreen

        if isinstance(self.app.screen, ConfirmScreen):
            return  # already asking (a second Ctrl+C or q)

        def answered(yes: bool | None) -> None:
            if yes:
                self.app.interrupt_install_and_exit()

        self.app.push_screen(
            ConfirmScreen(
                f"{_with_article(self.progress.operation).capitalize()} is running. Quit now?\n\n"
                f"The steps in progress are interrupted; running the {self.progress.operation} again resumes "
                "where it stopped."
            ),
            answered,
        )

    def status_line(self) -> Text:
        outcome = self.progress.outcome
        return (
            Text(f"{self.progress.operation} {outcome}", style=GOOD if outcome == "succeeded" else BAD)
            if outcome
            else Text("")
        )


def _with_article(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"
