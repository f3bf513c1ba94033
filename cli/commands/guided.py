"""`talos-platform` with no command: the guided install (wizard, plan, confirm, install)."""

from __future__ import annotations

import argparse
import sys

from talos_platform.engine.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="start the wizard from this existing config file")


def run(args: argparse.Namespace) -> int:
    if not sys.stdin.isatty():
        raise UserError(
            "the guided install needs a terminal",
            hint="run headless with `talos-platform install --yes --config platform.yaml`",
        )
    raise UserError("the guided wizard is not available in this build", hint="use `talos-platform install --yes --config FILE`")
