"""The composition root: parse the command line, hand over to a command, turn errors into
plain messages and exit codes."""

from __future__ import annotations

import argparse
import importlib
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
    guided = importlib.import_module("talos_platform.commands.guided")
    guided.add_arguments(parser)
    parser.set_defaults(handler=guided.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
