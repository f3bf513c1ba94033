"""The command line of an operation: `talos-platform <operation> --yes --config FILE ...`.

Every operation (see engine/operations) runs through the same path: the sources (config,
secrets, state directory, drivers or the simulator), the selection (`--from-layer`, `--only`),
the confirmation or `--yes`, the progress (`--output text|json`), Ctrl-C and SIGTERM ending with
the exact command that resumes it, and `plan --operation NAME` for its dry run. An operation
with arguments of its own subclasses `OperationCommand` and fills in its hooks; one without
needs no command code at all (`command_for` gives it the plain one).

No prompts beyond the confirmation. Progress is printed, or with `--tui` shown on the run screen
beside the cluster's live panes (cli/run_screen.py). Exit codes: see cli/exit_codes.py and docs/cli.md.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import TYPE_CHECKING, Any

from talos_platform.engine.errors import UserError

if TYPE_CHECKING:
    from talos_platform.commands.install import Target
    from talos_platform.engine.config.models import Node
    from talos_platform.engine.operations import Operation
    from talos_platform.engine.plan.preview import OwnDryRun
    from talos_platform.engine.session import OperationSession


class OperationCommand:
    """`talos-platform <name>`: runs the operation of that name headless."""

    def __init__(self, name: str, *, help: str = "", description: str = ""):
        self.name = name
        self.help = help or f"run the {name} without prompts (scripts, CI)"
        self.description = description or (
            f"Run the {name} headless: progress per layer on a terminal, plain lines when piped, JSON lines with "
            "--output json. Resumes where an earlier run stopped. "
            "Exit codes: 0 success, 1 a step failed, 2 invalid config or usage, 130 interrupted."
        )

    @property
    def operation(self) -> Operation:
        from talos_platform.engine.operations import operation_named

        return operation_named(self.name)

    # --- hooks for an operation's own arguments --------------------------------------------------

    def add_plan_arguments(self, parser: argparse._ActionsContainer) -> None:
        """Arguments that change which steps are planned; `plan --operation NAME` takes them too."""

    def add_run_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Arguments only a run takes."""

    def options(self, args: argparse.Namespace) -> dict[str, Any]:
        """The operation's own options (handed to its `plan_steps`) from the parsed arguments."""
        return {}

    def allowed(self, args: argparse.Namespace, interactive: bool) -> tuple[str, ...]:
        """Destructive recoveries asked for on the command line, confirmed (see StepContext.allowed)."""
        return ()

    def own_flags(self, args: argparse.Namespace) -> list[str]:
        """The operation's own arguments as argv, for the command that resumes a run."""
        return []

    def simulated_machines(self, args: argparse.Namespace) -> list[Node]:
        """Nodes whose machines a simulation boots into maintenance mode first (what the user does
        by hand before `node add`)."""
        return []

    # --- the shared path -----------------------------------------------------------------------

    def register(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
        from talos_platform.commands.install import add_source_arguments, positive_int

        parser = subparsers.add_parser(self.name, help=self.help, description=self.description)
        add_source_arguments(parser)
        parser.add_argument(
            "--yes", action="store_true", help="do not ask for confirmation (required without a terminal)"
        )
        parser.add_argument(
            "--output", choices=("text", "json"), default="text", help="text (default) or one JSON event per line"
        )
        parser.add_argument(
            "--tui",
            action="store_true",
            help="follow the run on the run screen: its steps and output beside the cluster's live panes, "
            "retry from a failure (needs a terminal)",
        )
        parser.add_argument(
            "--from-layer", type=int, metavar="N", help="start at layer N; earlier steps it needs are only checked"
        )
        parser.add_argument(
            "--only",
            action="append",
            metavar="STEP",
            help="run only this step (repeatable); what it needs must be done",
        )
        parser.add_argument(
            "--concurrency", type=positive_int, default=4, metavar="N", help="steps run at once at most (default 4)"
        )
        self.add_plan_arguments(parser)
        self.add_run_arguments(parser)
        parser.set_defaults(handler=self.run)
        return parser

    def run(self, args: argparse.Namespace) -> int:
        """A Ctrl-C or SIGTERM at any moment, start-up included, ends with exit 130 and the exact
        command that resumes the run."""
        from talos_platform import exit_codes

        previous = _sigterm_interrupts()
        try:
            code = self._run(args)
        except KeyboardInterrupt:
            if getattr(args, "debug", False):
                raise
            code = exit_codes.INTERRUPTED
            print(f"interrupted before the {self.name} got under way", file=sys.stderr)
            self._tell_resume(args)
        finally:
            _restore_sigterm(previous)
        return code

    def resume_command(self, args: argparse.Namespace) -> str:
        """The command that resumes this run: the same operation, sources, state and selection."""
        import shlex

        from talos_platform.commands.install import DEFAULT_SPEED

        argv = ["talos-platform"] + (["--debug"] if getattr(args, "debug", False) else []) + [self.name]
        for flag, value in (("--config", args.config), ("--secrets", args.secrets), ("--state-dir", args.state_dir)):
            if value:
                argv += [flag, value]
        if args.simulate:
            argv.append("--simulate")
            if args.scenario != "default":
                argv += ["--scenario", args.scenario]
            if args.seed is not None:
                argv += ["--seed", str(args.seed)]
            if args.speed != DEFAULT_SPEED:
                argv += ["--speed", f"{args.speed:g}"]
        if getattr(args, "yes", False):
            argv.append("--yes")
        if getattr(args, "tui", False):
            argv.append("--tui")
        if getattr(args, "output", "text") != "text":
            argv += ["--output", args.output]
        if getattr(args, "from_layer", None) is not None:
            argv += ["--from-layer", str(args.from_layer)]
        for step in getattr(args, "only", None) or ():
            argv += ["--only", step]
        if getattr(args, "concurrency", 4) != 4:
            argv += ["--concurrency", str(args.concurrency)]
        return shlex.join(argv + self.own_flags(args))

    def _tell_resume(self, args: argparse.Namespace) -> None:
        try:
            print(f"resume with: {self.resume_command(args)}", file=sys.stderr, flush=True)
        except (BrokenPipeError, ValueError):
            pass

    def _run(self, args: argparse.Namespace) -> int:
        from talos_platform.commands.install import prepare

        if getattr(args, "debug", False):
            import logging

            logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
        interactive = sys.stdin.isatty()
        if getattr(args, "tui", False):
            refuse_tui_without_terminal(args.output)
        if not args.yes and not interactive and not args.simulate:
            raise UserError(
                f"{self.name} changes machines and needs a confirmation, but there is no terminal to ask on",
                hint=f"add --yes to run the {self.name} without prompts (for scripts and CI)",
            )
        target = prepare(args, operation=self.operation, machines=self.simulated_machines(args))
        try:
            return self._run_prepared(args, target, interactive)
        finally:
            target.release()

    def session(self, args: argparse.Namespace, target: Target, interactive: bool = False) -> OperationSession:
        """The session this command runs (or, for `plan`, previews)."""
        from talos_platform.engine.session import OperationSession

        return OperationSession(
            self.operation,
            target.config,
            target.secrets,
            target.state,
            target.drivers,
            target.clock,
            options=self.options(args),
            concurrency=getattr(args, "concurrency", 4),
            from_layer=getattr(args, "from_layer", None),
            only=getattr(args, "only", None),
            allow=self.allowed(args, interactive),
            resume_command=self.resume_command(args),
        )

    def _run_prepared(self, args: argparse.Namespace, target: Target, interactive: bool) -> int:
        from talos_platform import exit_codes
        from talos_platform.headless import run_session

        session = self.session(args, target, interactive)
        if not args.yes and not target.simulated:
            from talos_platform.engine.plan.preview import OwnDryRunFailed

            try:
                confirmed = self.confirmed(session, target)
            except OwnDryRunFailed as failed:
                print(f"error: {failed}; nothing was changed", file=sys.stderr)
                print(f"  hint: {failed.hint or 'fix what it says, then run the command again'}", file=sys.stderr)
                return exit_codes.STEP_FAILED
            if not confirmed:
                print("nothing was changed")
                return exit_codes.INTERRUPTED
        if target.notice:
            # The first line says which simulated cluster this is; JSON output keeps stdout to events.
            print(target.notice, file=sys.stderr if args.output == "json" else sys.stdout, flush=True)
        if getattr(args, "tui", False):
            from talos_platform.run_screen import run_on_screen

            note = f"simulated {self.name}" if target.simulated else ""
            code = run_on_screen(target, session, lambda: self.session(args, target, interactive), note)
            interrupted = code == exit_codes.INTERRUPTED
        else:
            code = run_session(session, args.output)
            interrupted = session.outcome == "interrupted"
        if interrupted:
            self._tell_resume(args)
        return code

    def confirmed(self, session: OperationSession, target: Target) -> bool:
        """The plan's summary and the own dry run of every step that has one (what its tool would
        change), then the question. A dry run that fails raises OwnDryRunFailed, naming its step."""
        import asyncio

        print(summary(session, target))
        for dry_run in asyncio.run(session.own_dry_runs()):
            print(format_own_dry_run(dry_run))
        try:
            answer = input(f"Proceed with the {self.name}? [y/N] ").strip().lower()
        except EOFError:  # Ctrl-D
            answer = ""
        return answer in ("y", "yes")


def format_own_dry_run(dry_run: OwnDryRun) -> str:
    """A step's own dry run as the confirmation shows it: indented under its step."""
    lines = [f"{dry_run.step_id}: {dry_run.title} - its own dry run says what would change:"]
    lines += [f"    {line}" for line in dry_run.lines] or ["    (it printed nothing)"]
    return "\n".join(lines)


def refuse_tui_without_terminal(output: str) -> None:
    """`--tui` draws on a terminal: refused, naming the option, where there is none to draw on."""
    if output == "json":
        raise UserError("--tui and --output json cannot be used together", hint="drop one of them")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UserError(
            "--tui needs a terminal, but standard input or output is redirected",
            hint="run it from a terminal, or leave out --tui for printed progress",
        )


def command_for(operation: Operation) -> OperationCommand:
    """The command of an operation: `COMMAND` of the module `talos_platform.commands.<name>` when
    the operation has one (its own arguments), else the plain one."""
    module_name = f"talos_platform.commands.{operation.name.replace('-', '_')}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as missing:
        if missing.name != module_name:
            raise
        return OperationCommand(operation.name, help=operation.summary)
    command = getattr(module, "COMMAND", None)
    return (
        command if isinstance(command, OperationCommand) else OperationCommand(operation.name, help=operation.summary)
    )


def operation_commands() -> list[OperationCommand]:
    """The command of every registered operation, the install first."""
    from talos_platform.engine.operations import registered_operations

    return [command_for(operation) for operation in registered_operations()]


def summary(session: OperationSession, target: Target) -> str:
    lines = [f"cluster {target.config.cluster.name}, state in {target.state.root}"]
    for layer in session.plan.layers:
        ids = [s.id for s in session.plan.steps_in_layer(layer) if s.id in session.selected]
        if ids:
            lines.append(f"  layer {layer}: {len(ids)} steps ({', '.join(ids[:4])}{', ...' if len(ids) > 4 else ''})")
    from talos_platform.engine.run.events import DEFAULT_OPERATION

    plan = "plan" if session.operation.name == DEFAULT_OPERATION else f"plan --operation {session.operation.name}"
    lines.append(
        f"Each step is checked first; steps already done are skipped. See `talos-platform {plan}` for the commands."
    )
    return "\n".join(lines)


def _sigterm_interrupts() -> Any:
    """SIGTERM from here on stops the run as Ctrl-C does (instead of killing it silently); the
    running session replaces this with its own clean stop."""
    import signal

    def interrupt(signal_number: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        return None


def _restore_sigterm(previous: Any) -> None:
    import signal

    if previous is not None:
        try:
            signal.signal(signal.SIGTERM, previous)
        except ValueError:
            pass
