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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talos_platform.engine.errors import UserError
from talos_platform.operation_command import OperationCommand

if TYPE_CHECKING:
    from collections.abc import Sequence

    from talos_platform.engine.config.models import Node
    from talos_platform.engine.operations import Operation

# A default simulated install takes about 450 virtual seconds: about a minute to watch.
DEFAULT_SPEED = 8.0


class InstallCommand(OperationCommand):
    """The install's own arguments: `--push` (also on `plan`) and `--reinitialise-vault`."""

    def add_plan_arguments(self, parser: argparse._ActionsContainer) -> None:
        parser.add_argument(
            "--push", action="store_true", help="push the rendered GitOps tree to gitops.repoUrl before layer 2"
        )

    def add_run_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--reinitialise-vault",
            action="store_true",
            help="if this install's own interrupted run initialised Vault and lost its keys, and Vault still holds "
            "nothing (it stayed sealed), wipe Vault's storage and initialise it again; asks first, --yes confirms",
        )

    def options(self, args: argparse.Namespace) -> dict[str, Any]:
        # Without --push the URL decides (a local repository is always pushed to): see platform_steps.
        return {"push": True} if getattr(args, "push", False) else {}

    def allowed(self, args: argparse.Namespace, interactive: bool) -> tuple[str, ...]:
        return _allowed_recoveries(args, interactive)

    def own_flags(self, args: argparse.Namespace) -> list[str]:
        flags = ["--push"] if getattr(args, "push", False) else []
        return flags + (["--reinitialise-vault"] if getattr(args, "reinitialise_vault", False) else [])


COMMAND = InstallCommand(
    "install",
    help="install the platform without prompts (scripts, CI)",
    description=(
        "Install the platform headless: progress per layer on a terminal, plain lines when "
        "piped, JSON lines with --output json. Resumes where an earlier run stopped. "
        "Exit codes: 0 success, 1 a step failed, 2 invalid config or usage, 130 interrupted."
    ),
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    COMMAND.register(subparsers)


def run(args: argparse.Namespace) -> int:
    return COMMAND.run(args)


def resume_command(args: argparse.Namespace) -> str:
    """The command that resumes this install: the same sources, state and selection."""
    return COMMAND.resume_command(args)


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


def _simulated_target(
    args: argparse.Namespace, operation: Operation, *, record_only: bool, machines: Sequence[Node] = ()
) -> Target:
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
        # Before the simulated cluster's journal is read or rewritten: a refused second run must
        # leave the running one's cluster alone.
        hold.enter_context(state.lock(operation.lock_scope, holder=operation.name))
    try:
        platform = simulated_platform(
            args.scenario,
            seed=args.seed,
            speed=math.inf if record_only else args.speed,
            config=config if args.config else None,
            journal=replayed,
            machines=machines,
            day_two=operation.name != "install",
        )
    except OSError as error:
        hold.close()
        raise unwritable(state, error) from None
    except BaseException:
        hold.close()
        raise
    if not record_only:  # when the command is done: the next run starts where this one left off
        hold.callback(platform.model.changes.note_time)
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


def prepare(
    args: argparse.Namespace,
    *,
    record_only: bool = False,
    operation: Operation | None = None,
    machines: Sequence[Node] = (),
) -> Target:
    """Load config and secrets, validate them, pick the state directory and the drivers.

    `record_only`: real drivers record changing commands instead of running them (for `plan`).
    `operation` (default: the install) is the one about to run: its lock scope is taken.
    `machines`: on a simulation, machines booted into maintenance mode first (`node add`'s).
    """
    from talos_platform.engine.config.loading import ConfigInvalid, read_config
    from talos_platform.engine.config.secrets import load_secrets
    from talos_platform.engine.config.validation import errors_only, validate
    from talos_platform.engine.drivers.clock import RealClock
    from talos_platform.engine.state import state_directory_for

    if operation is None:
        from talos_platform.engine.operations import operation_named
        from talos_platform.engine.run.events import DEFAULT_OPERATION

        operation = operation_named(DEFAULT_OPERATION)
    if args.simulate:
        return _simulated_target(args, operation, record_only=record_only, machines=machines)
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
        hold.enter_context(state.lock(operation.lock_scope, holder=operation.name))
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
