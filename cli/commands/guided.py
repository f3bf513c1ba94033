"""`talos-platform` with no command: the guided install (wizard, files, plan, confirm, install).

talos-platform                      the wizard from defaults
talos-platform --config FILE        the wizard starting from FILE (saved back to it)
talos-platform --simulate           the wizard on the simulated scenario, installed on the simulator
talos-platform --yes --config FILE  no wizard: the headless install (same as `install --yes`)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from talos_platform.commands.install import DEFAULT_SPEED, speed
from talos_platform.engine.errors import UserError

if TYPE_CHECKING:
    from rich.console import Console

    from talos_platform.commands.install import Target
    from talos_platform.engine.session import InstallSession
    from talos_platform.wizards.answers import Answers
    from talos_platform.wizards.files import WrittenFiles
    from talos_platform.wizards.guided import GuidedOptions

HEADLESS_HINT = (
    "run headless with `talos-platform install --yes --config FILE` "
    "(write FILE by hand or with the wizard on a terminal)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:

    parser.add_argument(
        "--config", metavar="FILE", help="start the wizard from this existing config file (saved back to it)"
    )
    parser.add_argument(
        "--state-dir", metavar="DIR", help="the cluster's state directory (default: per user, per cluster)"
    )
    parser.add_argument(
        "--simulate", action="store_true", help="start from the simulated scenario and install on the simulator"
    )
    parser.add_argument("--scenario", default="default", help="simulation scenario (with --simulate)")
    parser.add_argument(
        "--speed",
        type=speed,
        default=DEFAULT_SPEED,
        help=f"simulated seconds per real second (with --simulate; default {DEFAULT_SPEED:g})",
    )
    parser.add_argument("--yes", action="store_true", help="no wizard and no questions: install headless from --config")


def _on_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _headless(args: argparse.Namespace) -> int:
    """`--yes` without a command means the headless install; hand over to `install`."""
    from talos_platform.main import main

    if args.config is None and not args.simulate:
        raise UserError("--yes needs --config FILE (or --simulate)", hint=HEADLESS_HINT)
    argv = ["install", "--yes"]
    if args.config:
        argv += ["--config", args.config]
    if args.state_dir:
        argv += ["--state-dir", args.state_dir]
    if args.simulate:
        argv += ["--simulate", "--scenario", args.scenario, "--speed", str(args.speed)]
    if args.debug:
        argv.insert(0, "--debug")
    return main(argv)


def run(args: argparse.Namespace) -> int:
    if args.yes:
        return _headless(args)
    if not _on_terminal():
        raise UserError("the guided install needs a terminal to ask its questions", hint=HEADLESS_HINT)
    from rich.console import Console

    from talos_platform.wizards.guided import GuidedOptions, run_guided

    options = GuidedOptions(
        config_path=Path(args.config) if args.config else None,
        state_dir=Path(args.state_dir) if args.state_dir else None,
        simulate=args.simulate,
        scenario=args.scenario,
        speed=args.speed,
    )
    return run_guided(options, Console(), hand_over=hand_over)


def hand_over(written: WrittenFiles, answers: Answers, options: GuidedOptions, console: Console) -> int:
    """Files are written: build the install exactly as `install` would, show its plan, ask,
    then run it (in the TUI when there is one, else with the headless progress)."""
    from talos_platform.commands.install import prepare
    from talos_platform.wizards.guided import install_command

    later = f"Install later with:\n  {install_command(written, options)}"
    source = argparse.Namespace(
        config=str(written.config),
        secrets=str(written.secrets) if written.secrets else None,
        state_dir=str(options.state_dir) if options.state_dir else None,
        simulate=options.simulate,
        scenario=options.scenario,
        seed=None,
        speed=options.speed,
    )
    target = prepare(source)
    try:
        return _confirm_and_install(target, later, written, options, console)
    finally:
        target.release()


def _confirm_and_install(
    target: Target, later: str, written: WrittenFiles, options: GuidedOptions, console: Console
) -> int:
    from talos_platform import exit_codes
    from talos_platform.engine.session import InstallSession
    from talos_platform.wizards.guided import install_command
    from talos_platform.wizards.plan_view import confirm_install, show_plan

    def new_session() -> InstallSession:
        return InstallSession(target.config, target.secrets, target.state, target.drivers, target.clock)

    session = new_session()
    show_plan(console, session.plan, simulated=target.simulated, selected=session.selected)
    try:
        go = confirm_install(simulated=target.simulated)
    except KeyboardInterrupt:
        go = None
    if not go:
        console.print("install not started (the files above are kept)")
        console.print(later, markup=False)
        return exit_codes.INTERRUPTED if go is None else exit_codes.OK
    code = _run_install(session, new_session, target)
    if code != exit_codes.OK:
        console.print("Running the same install again resumes where it stopped:", markup=False)
        console.print(f"  {install_command(written, options)}", markup=False)
    return code


def _run_install(session: InstallSession, new_session: Callable[[], InstallSession], target: Target) -> int:
    """On the run screen with live panes when the TUI is installed, otherwise the headless
    progress display. Ctrl-C / q stops the install cleanly either way; running again resumes.
    Once the screen closes after a success the terminal keeps the next steps."""
    try:
        import talos_platform.tui.app  # noqa: F401 - only whether it can be imported
    except ImportError:
        from talos_platform.headless import run_session

        return run_session(session, "text")
    from talos_platform.run_screen import run_on_screen

    return run_on_screen(target, session, new_session, "guided install" if target.simulated else "")
