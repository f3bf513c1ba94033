"""An operation's run on the TUI's run screen: its steps, live output and the failure view with
retry, beside the cluster's live panes (the guided install's screen, titled by the operation)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from talos_platform.commands.install import Target
    from talos_platform.engine.session import OperationSession
    from talos_platform.tui.app import PlatformApp

# How the app's last outcome maps to the command's exit code (docs/cli.md).
TUI_OUTCOME_EXIT_CODES = {"succeeded": 0, "failed": 1, "interrupted": 130, "not-started": 130}


def run_on_screen(
    target: Target, session: OperationSession, new_session: Callable[[], OperationSession], note: str = ""
) -> int:
    """Runs `session` on the run screen until the user leaves it; a retry from the failure view
    runs `new_session()`. Returns the exit code of the last outcome (130 when closed before one)."""
    from talos_platform.headless import print_notes

    outcome = run_screen_app(target, session, new_session, note).run()
    if outcome is None:
        return 130  # the app was closed before the run reported an outcome
    if outcome == "succeeded":
        print_notes(session, sys.stdout)
    return TUI_OUTCOME_EXIT_CODES.get(outcome, 1)


def run_screen_app(
    target: Target, session: OperationSession, new_session: Callable[[], OperationSession], note: str = ""
) -> PlatformApp:
    """The app that runs `session` first and `new_session()` for each retry, observing the
    target's cluster (its drivers, clock and nodes) in the panes beside the steps."""
    from talos_platform.engine.observe import TalosTarget
    from talos_platform.tui.app import create_app

    sessions = iter([session])  # the plan shown before is the one that runs; a retry gets a new one
    return create_app(
        "install",
        drivers=target.drivers,
        clock=target.clock,
        talos_targets=[TalosTarget.from_config(node) for node in target.config.nodes],
        session_factory=lambda: next(sessions, None) or new_session(),
        simulation_note=note,
    )
