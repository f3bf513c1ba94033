"""`talos-platform plan --config FILE [--operation NAME] [--offline] [--push]`: the dry run of an
operation (the install unless `--operation` names another).

Per layer, every step: already done or still to do, and the exact commands or API calls it
would make (secrets redacted). Online, each step's check runs with drivers that record
changing commands instead of running them; `--simulate` (with install's scenario flags) checks
against the simulated platform. `--offline` contacts nothing at all and lists every step as to
do, with the actions it would take on machines where nothing is done yet.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
from typing import TYPE_CHECKING, Any

from talos_platform.commands.install import add_source_arguments
from talos_platform.engine.run.events import DEFAULT_OPERATION
from talos_platform.operation_command import command_for, operation_commands

if TYPE_CHECKING:
    from talos_platform.engine.plan.preview import StepPreview


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "plan",
        # Operations may share an option (both upgrades take --to): the same option, defined once.
        conflict_handler="resolve",
        help="show what an install (or another operation) would do, with the exact commands (dry run)",
        description=(
            "Show the plan of the install (or --operation NAME) per layer: for each step whether it is "
            "already done and the exact commands or API calls it would make, secrets redacted. Nothing is changed. "
            "With --offline nothing is contacted and every step is listed as to do."
        ),
    )
    add_source_arguments(parser)
    commands = operation_commands()
    parser.add_argument(
        "--operation",
        choices=[command.name for command in commands],
        default=DEFAULT_OPERATION,
        help=f"the operation to plan (default {DEFAULT_OPERATION})",
    )
    parser.add_argument(
        "--offline", action="store_true", help="contact nothing (no node, no API); list every step as to do"
    )
    parser.add_argument("--output", choices=("text", "json"), default="text", help="text (default) or JSON")
    for command in commands:  # the arguments that change an operation's steps, as its own command takes them
        command.add_plan_arguments(parser.add_argument_group(f"{command.name} (with --operation {command.name})"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from talos_platform import exit_codes
    from talos_platform.commands.install import prepare
    from talos_platform.engine.operations import operation_named
    from talos_platform.engine.plan.preview import offline_drivers

    command = command_for(operation_named(args.operation))
    if args.offline and not args.simulate:
        target = _offline_target(args)
    else:
        target = prepare(args, record_only=True, operation=command.operation, machines=command.simulated_machines(args))
    if args.offline:
        target.drivers = offline_drivers()  # even a simulated platform is not asked
    session = command.session(args, target)
    previews = asyncio.run(session.preview(offline=args.offline))
    if args.output == "json":
        json.dump(
            {
                "operation": command.name,
                "cluster": target.config.cluster.name,
                "offline": args.offline,
                "simulated": target.simulated,
                "steps": [preview.to_record() for preview in previews],
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
    else:
        if target.notice:
            sys.stdout.write(target.notice + "\n")
        sys.stdout.write(
            format_plan(previews, target.config.cluster.name, args.offline, target.simulated, command.name)
        )
    return exit_codes.OK


def _offline_target(args: argparse.Namespace) -> Any:
    """Config and secrets only: an offline plan builds no real driver at all."""
    import os

    from talos_platform.commands.install import Target, secrets_file
    from talos_platform.engine.config.loading import ConfigInvalid, read_config
    from talos_platform.engine.config.secrets import load_secrets
    from talos_platform.engine.config.validation import errors_only, validate
    from talos_platform.engine.drivers.clock import RealClock
    from talos_platform.engine.errors import UserError
    from talos_platform.engine.state import state_directory_for

    if args.config is None:
        raise UserError("--config is required", hint="give your platform.yaml")
    config = read_config(args.config)
    state = state_directory_for(config.cluster.name, args.state_dir)
    secrets = load_secrets(secrets_file(args, state), os.environ)  # given ones are redacted
    errors = errors_only(validate(config))  # secrets are not needed to show a plan
    if errors:
        raise ConfigInvalid(errors, args.config)
    return Target(config, secrets, state, None, RealClock(), simulated=False)


def format_plan(
    previews: list[StepPreview], cluster: str, offline: bool, simulated: bool, operation: str = DEFAULT_OPERATION
) -> str:
    mode = "offline, nothing was checked" if offline else "checked against the cluster, nothing changed"
    lines = [f"{'SIMULATED ' if simulated else ''}{operation} plan for cluster {cluster} ({mode})"]
    layers = sorted({p.layer for p in previews})
    for layer in layers:
        lines.append("")
        lines.append(f"Layer {layer}")
        for preview in (p for p in previews if p.layer == layer):
            lines.append(f"  [{preview.state:^7}] {preview.step_id}: {preview.title}")
            if preview.reason:
                lines.append(f"            {preview.reason}")
            for action in preview.actions:
                lines.append(f"            - {action.description}")
                if action.command:
                    lines.append(f"                $ {shlex.join(action.command)}")
                if action.api_call:
                    lines.append(f"                {action.api_call}")
            if preview.own_dry_run:
                lines.append("            its own dry run says:")
                lines.extend(f"              | {line}" for line in preview.own_dry_run)
    counts = {state: sum(1 for p in previews if p.state == state) for state in ("to do", "done", "unknown")}
    lines.append("")
    lines.append(", ".join(f"{count} {state}" for state, count in counts.items() if count) or "the plan is empty")
    return "\n".join(lines) + "\n"
