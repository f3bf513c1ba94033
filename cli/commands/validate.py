"""`talos-platform validate --config FILE [--secrets FILE]`: every problem at once, exit 0 or 2."""

from __future__ import annotations

import argparse
import dataclasses
import os

from talos_platform import exit_codes


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a config file (and secrets) and list every problem",
        description=(
            "Check a config file against every rule and list all problems with what to do. "
            "Secrets are checked too when --secrets is given or a TALOS_PLATFORM_* secret "
            "variable is set. Exits 0 when there are no errors (warnings allowed), 2 otherwise."
        ),
    )
    parser.add_argument("--config", required=True, metavar="FILE", help="the platform config (YAML)")
    parser.add_argument("--secrets", metavar="FILE", help="the secrets file (YAML, mode 0600)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from talos_platform.engine.config.loading import ConfigInvalid, read_config
    from talos_platform.engine.config.secrets import ENV_NAMES, load_secrets
    from talos_platform.engine.config.validation import Problem, errors_only, validate
    from talos_platform.engine.errors import UserError

    problems: list[Problem] = []
    config = None
    try:
        config = read_config(args.config)
    except ConfigInvalid as invalid:
        problems += invalid.problems

    secrets = None
    if args.secrets or any(os.environ.get(name) for name in ENV_NAMES.values()):
        try:
            secrets = load_secrets(args.secrets, os.environ)
        except UserError as error:
            where = f"secrets ({args.secrets})" if args.secrets else "secrets"
            problems.append(Problem(where, error.message, error.hint or ""))

    if config is not None:
        problems += validate(config, secrets)
    if config is not None and not errors_only(problems):
        from talos_platform.engine.render.encryption_at_rest import rendered_patch_problems

        problems += rendered_patch_problems(config)  # no patch may drop the key that encrypts Secrets

    errors = errors_only(problems)
    warnings = len(problems) - len(errors)
    for problem in sorted(problems, key=lambda problem: not problem.is_error):
        if not problem.path:  # about the whole file: name it
            problem = dataclasses.replace(problem, path=args.config)
        print(problem.format())
    if errors:
        print(f"{args.config}: invalid, {_count(len(errors), 'error')}, {_count(warnings, 'warning')}")
        return exit_codes.INVALID_CONFIG
    print(f"{args.config}: valid" + (f", {_count(warnings, 'warning')}" if warnings else ""))
    return exit_codes.OK


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")
