"""`talos-platform render --config FILE --out DIR`: write the GitOps repository and the Talos
config patches (no secrets) into a new or empty folder, all at once or not at all."""

from __future__ import annotations

import argparse

from talos_platform import exit_codes


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "render",
        help="write the GitOps repository and Talos patches for a config",
        description=(
            "Render what ArgoCD syncs from (bootstrap/, bootstrap-app.yaml, layer-0/, platform/, "
            "apps/) and the Talos config patches (talos/) into DIR, which must be new or empty "
            "(or hold only .git: a fresh clone). "
            "The same config always renders the same bytes; no secret is ever written."
        ),
    )
    parser.add_argument("--config", required=True, metavar="FILE", help="the platform config (YAML)")
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="output folder (new, empty, or a fresh clone holding only .git)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from talos_platform.engine.config.loading import load_config
    from talos_platform.engine.render import render_repository

    config = load_config(args.config)
    written = render_repository(config, args.out)
    print(f"rendered {len(written)} files into {args.out}")
    print("next: commit and push the folder to " + config.gitops.repo_url)
    return exit_codes.OK
