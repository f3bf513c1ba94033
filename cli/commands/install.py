"""`talos-platform install`: the headless install, for scripts and CI.

    talos-platform install --yes --config platform.yaml [--secrets FILE] [--state-dir D]
        [--output text|json] [--from-layer N] [--only STEP]
    talos-platform install --simulate [--scenario NAME] [--seed N] [--speed X]

No prompts and no TUI. Exit codes: see cli/exit_codes.py and docs/cli.md.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from talos_platform.engine.errors import UserError

# A default simulated install takes about 450 virtual seconds: about a minute to watch.
DEFAULT_SPEED = 8.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "install",
        help="install the platform without prompts (scripts, CI)",
        description=(
            "Install the platform headless: progress per layer on a terminal, plain lines when "
            "piped, JSON lines with --output json. Resumes where an earlier run stopped. "
            "Exit codes: 0 success, 1 a step failed, 2 invalid config or usage, 130 interrupted."
        ),
    )
    add_source_arguments(parser)
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation (required without a terminal)")
    parser.add_argument(
        "--output", choices=("text", "json"), default="text", help="text (default) or one JSON event per line"
    )
    parser.add_argument(
        "--from-layer", type=int, metavar="N", help="start at layer N; earlier steps it needs are only checked"
    )
    parser.add_argument(
        "--only", action="append", metavar="STEP", help="run only this step (repeatable); what it needs must be done"
    )
    parser.add_argument(
        "--concurrency", type=positive_int, default=4, metavar="N", help="steps run at once at most (default 4)"
    )
    parser.add_argument(
        "--push", action="store_true", help="push the rendered GitOps tree to gitops.repoUrl before layer 2"
    )
    parser.add_argument(
        "--reinitialise-vault",
        action="store_true",
        help="if this install's own interrupted run initialised Vault and lost its keys, and Vault still holds nothing "
        "(it stayed sealed), wipe Vault's storage and initialise it again; asks first, --yes confirms",
    )
    parser.set_defaults(handler=run)


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the config, secrets, state and drivers come from (shared with `plan`)."""
    parser.add_argument("--config", metavar="FILE", help="the platform config (YAML); required unless --simulate")
    parser.add_argument(
        "--secrets",
        metavar="FILE",
        help="secrets file (YAML, mode 0600; default: the state directory's secrets.yaml, where the wizard "
        "keeps it); TALOS_PLATFORM_* variables win",
    )
    parser.add_argument(
        "--state-dir", metavar="DIR", help="the cluster's state directory (default: per user, per cluster)"
    )
    parser.add_argument(
        "--simulate", action="store_true", help="run against the simulated platform; nothing real is touched"
    )
    parser.add_argument("--scenario", default="default", help="simulation scenario name or YAML file (with --simulate)")
    parser.add_argument("--seed", type=int, help="simulation random seed (with --simulate)")
    parser.add_argument(
        "--speed",
        type=speed,
        default=DEFAULT_SPEED,
        help=f"simulated seconds per real second (with --simulate; default {DEFAULT_SPEED:g}: a default install "
        "takes about a minute; inf = as fast as possible)",
    )


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (argparse turns the error into exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small: give 1 or more")
    return value


def speed(text: str) -> float:
    """An argparse type: simulated seconds per real second, above 0 (`inf`: as fast as possible)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if math.isnan(value) or value <= 0:
        raise argparse.ArgumentTypeError(
            f"{text} is not a speed: give a number above 0, or inf for as fast as possible"
        )
    return value


@dataclass
class Target:
    """Everything an install or a plan runs against."""

    config: Any
    secrets: Any
    state: Any
    drivers: Any
    clock: Any
    simulated: bool
    notice: str = ""
    """Said before anything else (a simulated install: a new cluster, or the one it resumes)."""
    hold: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    """Holds the state directory's lock from before anything there was touched; `release()` it
    when the command is done (the install's own lock is re-entrant on the same state)."""

    def release(self) -> None:
        self.hold.close()


SIMULATION_JOURNAL = "simulation.jsonl"


def _simulated_target(args: argparse.Namespace, *, record_only: bool) -> Target:
    """The simulated platform, kept in the state directory's journal: the same command after a
    Ctrl-C or kill -9 resumes the same simulated cluster. With --config the simulated machines
    are those of the user's config."""
    from talos_platform.engine.config.loading import ConfigInvalid, read_config
    from talos_platform.engine.config.validation import errors_only, validate
    from talos_platform.engine.sim import simulated_platform
    from talos_platform.engine.sim.scenarios import load_scenario, scenario_config
    from talos_platform.engine.sim.secrets import simulation_secrets
    from talos_platform.engine.state import state_directory_for, unwritable

    if args.config:
        config = read_config(args.config)
    else:
        config = scenario_config(*load_scenario(args.scenario))
    secrets, secrets_note = simulation_secrets(args.secrets, os.environ)
    errors = errors_only(validate(config, secrets))
    if errors:
        raise ConfigInvalid(errors, args.config or f"scenario {args.scenario}")
    state = state_directory_for(config.cluster.name, args.state_dir, simulated=True)
    journal = state.root / SIMULATION_JOURNAL
    replayed: Path | None = journal
    hold = contextlib.ExitStack()
    if record_only:
        # A plan changes nothing: it looks at a copy of an install's simulated cluster (never
        # starting or rewriting one), and nobody watches it happen, so it is not paced.
        replayed = _scratch_copy(journal) if journal.is_file() else None
    else:
        # Before the simulated cluster's journal is read or rewritten: a refused second install
        # must leave the running one's cluster alone.
        hold.enter_context(state.lock())
    try:
        platform = simulated_platform(
            args.scenario,
            seed=args.seed,
            speed=math.inf if record_only else args.speed,
            config=config if args.config else None,
            journal=replayed,
        )
    except OSError as error:
        hold.close()
        raise unwritable(state, error) from None
    except BaseException:
        hold.close()
        raise
    return Target(
        config,
        secrets,
        state,
        platform.drivers,
        platform.clock,
        simulated=True,
        notice=f"{simulation_notice(platform, journal if replayed else None)}; {secrets_note}",
        hold=hold,
    )


def _scratch_copy(journal: Any) -> Any:
    import atexit
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="talos-platform-plan-"))
    atexit.register(shutil.rmtree, folder, True)
    copy = folder / journal.name
    shutil.copyfile(journal, copy)
    return copy


def simulation_notice(platform: Any, journal: Any) -> str:
    changes = platform.model.changes
    if journal is None:
        return "SIMULATED: a new simulated cluster (nothing installed on it yet)"
    if changes.replayed:
        return f"SIMULATED: resuming the simulated cluster kept in {journal} ({changes.replayed} changes replayed)"
    if changes.started_over:
        return (
            f"SIMULATED: {journal} held another scenario's, seed's or config's cluster; "
            "starting a new simulated cluster"
        )
    return f"SIMULATED: a new simulated cluster, kept in {journal} so a stopped install resumes"


def prepare(args: argparse.Namespace, *, record_only: bool = False) -> Target:
    """Load config and secrets, validate them, pick the state directory and the drivers.

    `record_only`: real drivers record changing commands instead of running them (for `plan`).
    """
    from talos_platform.engine.config.loading import ConfigInvalid, read_config
    from talos_platform.engine.config.secrets import load_secrets
    from talos_platform.engine.config.validation import errors_only, validate
    from talos_platform.engine.run.clock import RealClock
    from talos_platform.engine.state import state_directory_for

    if args.simulate:
        return _simulated_target(args, record_only=record_only)
    if args.config is None:
        raise UserError("--config is required", hint="give your platform.yaml, or use --simulate for a demo")

    config = read_config(args.config)
    state = state_directory_for(config.cluster.name, args.state_dir)
    secrets = load_secrets(secrets_file(args, state), os.environ)
    errors = errors_only(validate(config, secrets))
    if errors:
        raise ConfigInvalid(errors, args.config)

    from talos_platform.engine.drivers.real import real_drivers
    from talos_platform.engine.run.redaction import Redactor

    hold = contextlib.ExitStack()
    if not record_only:
        hold.enter_context(state.lock())
    try:
        drivers = real_drivers(config, state, secrets, Redactor.from_secrets(secrets), dry_run=record_only)
    except BaseException:
        hold.close()
        raise
    return Target(
        config, secrets, state, drivers, RealClock(), simulated=bool(getattr(drivers, "simulated", False)), hold=hold
    )


def secrets_file(args: argparse.Namespace, state: Any) -> Any:
    """`--secrets`, else the secrets file the wizard keeps in the cluster's state directory."""
    if args.secrets:
        return args.secrets
    return state.secrets_file if state.secrets_file.exists() else None


def run(args: argparse.Namespace) -> int:
    """The install; a Ctrl-C or SIGTERM at any moment, start-up included, ends with exit 130 and
    the exact command that resumes it."""
    from talos_platform import exit_codes

    previous = _sigterm_interrupts()
    try:
        code = _run(args)
    except KeyboardInterrupt:
        if getattr(args, "debug", False):
            raise
        code = exit_codes.INTERRUPTED
        print("interrupted before the install got under way", file=sys.stderr)
        _tell_resume(args)
    finally:
        _restore_sigterm(previous)
    return code


def _sigterm_interrupts() -> Any:
    """SIGTERM from here on stops the install as Ctrl-C does (instead of killing it silently);
    the running install replaces this with its own clean stop."""
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


def resume_command(args: argparse.Namespace) -> str:
    """The command that resumes this install: the same sources, state and selection."""
    import shlex

    argv = ["talos-platform"] + (["--debug"] if getattr(args, "debug", False) else []) + ["install"]
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
    if getattr(args, "output", "text") != "text":
        argv += ["--output", args.output]
    if getattr(args, "from_layer", None) is not None:
        argv += ["--from-layer", str(args.from_layer)]
    for step in getattr(args, "only", None) or ():
        argv += ["--only", step]
    if getattr(args, "concurrency", 4) != 4:
        argv += ["--concurrency", str(args.concurrency)]
    if getattr(args, "push", False):
        argv.append("--push")
    if getattr(args, "reinitialise_vault", False):
        argv.append("--reinitialise-vault")
    return shlex.join(argv)


def _tell_resume(args: argparse.Namespace) -> None:
    try:
        print(f"resume with: {resume_command(args)}", file=sys.stderr, flush=True)
    except (BrokenPipeError, ValueError):
        pass


def _run(args: argparse.Namespace) -> int:
    if getattr(args, "debug", False):
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    interactive = sys.stdin.isatty()
    if not args.yes and not interactive and not args.simulate:
        raise UserError(
            "install changes machines and needs a confirmation, but there is no terminal to ask on",
            hint="add --yes to install without prompts (for scripts and CI)",
        )
    target = prepare(args)
    try:
        return _install(args, target, interactive)
    finally:
        target.release()


def _install(args: argparse.Namespace, target: Target, interactive: bool) -> int:
    from talos_platform import exit_codes
    from talos_platform.engine.session import InstallSession
    from talos_platform.headless import run_session

    steps = None
    if args.push:
        from talos_platform.engine.layers import platform_steps

        steps = platform_steps(target.config, push=True)
    session = InstallSession(
        target.config,
        target.secrets,
        target.state,
        target.drivers,
        target.clock,
        steps=steps,
        concurrency=args.concurrency,
        from_layer=args.from_layer,
        only=args.only,
        allow=_allowed_recoveries(args, interactive),
    )
    if not args.yes and not target.simulated:
        print(_summary(session, target))
        try:
            answer = input("Proceed with the install? [y/N] ").strip().lower()
        except EOFError:  # Ctrl-D
            answer = ""
        if answer not in ("y", "yes"):
            print("nothing was changed")
            return exit_codes.INTERRUPTED
    if target.notice:
        # The first line says which simulated cluster this is; JSON output keeps stdout to events.
        print(target.notice, file=sys.stderr if args.output == "json" else sys.stdout, flush=True)
    code = run_session(session, args.output)
    if session.outcome == "interrupted":
        _tell_resume(args)
    return code


REINITIALISE_VAULT_QUESTION = (
    "--reinitialise-vault: if this install finds that its own interrupted run initialised Vault and lost the "
    "unseal keys and root token, and Vault has stayed sealed since (so it holds nothing), it deletes Vault's "
    "storage (volume claim vault/data-vault-0) and initialises Vault again. Allow that? [y/N] "
)


def _allowed_recoveries(args: argparse.Namespace, interactive: bool) -> tuple[str, ...]:
    """Destructive recoveries asked for on the command line, confirmed (or `--yes`)."""
    from talos_platform.engine.layers.platform import REINITIALISE_VAULT

    if not getattr(args, "reinitialise_vault", False):
        return ()
    if args.yes:
        return (REINITIALISE_VAULT,)
    if not interactive:
        raise UserError(
            "--reinitialise-vault may wipe Vault's storage and needs a confirmation, "
            "but there is no terminal to ask on",
            where="--reinitialise-vault",
            hint="add --yes to confirm it",
        )
    try:
        answer = input(REINITIALISE_VAULT_QUESTION).strip().lower()
    except EOFError:
        answer = ""
    if answer not in ("y", "yes"):
        raise UserError(
            "Vault's storage will not be wiped; nothing was changed",
            where="--reinitialise-vault",
            hint="run again without --reinitialise-vault, or answer y",
        )
    return (REINITIALISE_VAULT,)


def _summary(session: Any, target: Target) -> str:
    lines = [f"cluster {target.config.cluster.name}, state in {target.state.root}"]
    for layer in session.plan.layers:
        ids = [s.id for s in session.plan.steps_in_layer(layer) if s.id in session.selected]
        if ids:
            lines.append(f"  layer {layer}: {len(ids)} steps ({', '.join(ids[:4])}{', ...' if len(ids) > 4 else ''})")
    lines.append(
        "Each step is checked first; steps already done are skipped. See `talos-platform plan` for the commands."
    )
    return "\n".join(lines)
