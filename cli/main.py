"""The composition root: parse the command line, hand over to a command, turn errors into
plain messages and exit codes."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from talos_platform import __version__, exit_codes
from talos_platform.commands import COMMAND_MODULES
from talos_platform.engine.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="talos-platform",
        description=(
            "Install and watch a Kubernetes platform on Talos Linux. With no command, runs the guided install."
        ),
    )
    parser.add_argument("--version", action="version", version=f"talos-platform {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"talos_platform.commands.{name}")
        except ModuleNotFoundError as missing:
            if missing.name == f"talos_platform.commands.{name}":
                continue  # command not built yet
            raise
        module.register(subparsers)
    from talos_platform.operation_command import operation_commands

    for command in operation_commands():  # an operation without a command module of its own
        if command.name not in subparsers.choices:
            command.register(subparsers)
    guided = importlib.import_module("talos_platform.commands.guided")
    guided.add_arguments(parser)
    parser.set_defaults(handler=guided.run)
    return parser


def check_simulation_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The simulation's options mean nothing without a simulation: say so rather than ignore them."""
    speed = getattr(args, "speed", None)
    if speed is not None and not speed > 0:  # also NaN
        parser.error("--speed must be above 0 (simulated seconds per real second; inf: as fast as possible)")
    flags = [getattr(args, name) for name in ("simulate", "simulated") if hasattr(args, name)]
    if flags and not any(flags):
        given = [
            option for option, default in SIMULATION_OPTIONS.items() if getattr(args, option[2:], default) != default
        ]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            parser.error(f"{' and '.join(given)} only {verb} to a simulation: add --simulate")


# Options that only shape a simulation, with their defaults.
SIMULATION_OPTIONS = {"--scenario": "default", "--seed": None}


def joined_command_words(argv: list[str]) -> list[str]:
    """`node add` and `node remove NAME` are the operations `node-add` and `node-remove`: two
    command words naming an operation are joined (after the global `--debug`), so every
    two-word operation reads as people say it (`etcd snapshot`, `upgrade talos`) while it has
    one name in the registry, the journal and `plan --operation`."""
    from talos_platform.engine.operations import registered_operations

    index = 0
    while index < len(argv) and argv[index] == "--debug":
        index += 1
    if index + 1 >= len(argv) or argv[index].startswith("-"):
        return argv
    names = {operation.name for operation in registered_operations()}
    joined = f"{argv[index]}-{argv[index + 1]}"
    if joined in names and argv[index] not in names:
        return [*argv[:index], joined, *argv[index + 2 :]]
    return argv


def main(argv: list[str] | None = None) -> int:
    # gRPC's core writes every failed TLS handshake to the terminal (descriptor 2) unless told
    # otherwise, over the dashboard; a node refusing our certificates is said in its row instead.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    parser = build_parser()
    args = parser.parse_args(joined_command_words(sys.argv[1:] if argv is None else list(argv)))
    check_simulation_options(parser, args)
    try:
        code: int = args.handler(args)
        return code
    except UserError as error:
        if args.debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return exit_codes.INVALID_CONFIG
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("interrupted", file=sys.stderr)
        return exit_codes.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`... --output json | head`): nothing left to say to it, and
        # Python's own flush at exit must not fail on the closed pipe either.
        _silence_stdout()
        return exit_codes.OK


def _silence_stdout() -> None:
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests): nothing will flush it
        pass
