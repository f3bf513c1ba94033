"""`talos-platform rehearse`: the dress rehearsal of a config, on this machine only.

    talos-platform rehearse --config platform.yaml --charts DIR [--yes] [--output text|json]

Layer 0 is judged by the real talosctl of the nodes' Talos version (every node's machine config,
`validate --strict`); layers 1-4 run the install's own steps against a local control plane
shaped like Talos' (PodSecurity enforced, no storage provisioner), with the real kubectl, helm
and ArgoCD, the GitOps repository on a local Git server and the charts from DIR (a Helm
repository folder, served on 127.0.0.1 through the config's `mirrors`). Needs the harness
binaries (scripts/build-harness.sh) and root (the pods' network namespace). Nothing leaves
loopback. Exit codes: 0 everything came up, 1 something would block, 2 usage or config.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from talos_platform.engine.errors import UserError

CHARTS_ENV = "TALOS_PLATFORM_REHEARSAL_CHARTS"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "rehearse",
        help="dress rehearsal of a config with the real ArgoCD on a local control plane",
        description=(
            "Rehearse the install of a config on this machine: talosctl validates every node's "
            "machine config, then layers 1-4 run against a local Talos-shaped control plane with the "
            "real kubectl, helm and ArgoCD, and the report says what would block on real machines."
        ),
    )
    parser.add_argument("--config", metavar="FILE", required=True, help="the platform config (YAML)")
    parser.add_argument(
        "--charts",
        metavar="DIR",
        help=f"a Helm chart repository folder (index.yaml, the charts, gateway-api/<version>/); default ${CHARTS_ENV}",
    )
    parser.add_argument("--yes", action="store_true", help="no screen: headless progress, then the report")
    parser.add_argument(
        "--output", choices=("text", "json"), default="text", help="headless progress as text or JSON lines"
    )
    parser.add_argument(
        "--workdir", metavar="DIR", help="keep the rehearsal's files and logs here (default: a temporary folder)"
    )
    parser.set_defaults(handler=run)


def _charts(args: argparse.Namespace) -> Path:
    folder = args.charts or os.environ.get(CHARTS_ENV)
    if not folder:
        raise UserError(
            "no chart repository to rehearse with",
            hint=f"give --charts DIR (or set {CHARTS_ENV}): a folder "
            "with an index.yaml and the packaged charts of the config's versions",
        )
    path = Path(folder)
    if not (path / "index.yaml").is_file():
        raise UserError(
            f"{path} is not a Helm chart repository folder (no index.yaml)",
            where="--charts",
            hint="point it at the folder holding index.yaml and the .tgz charts",
        )
    return path


def _require_harness(config: Any) -> None:
    from talos_platform.rehearsal.binaries import (
        ARGOCD_BINARIES,
        CLUSTER_BINARIES,
        HarnessBinaryMissing,
        cilium_crds_dir,
        missing_binaries,
        redis_server_path,
        talosctl_name,
    )

    talos_minor = ".".join(config.cluster.talos_version.split(".")[:2])
    try:
        talosctl = talosctl_name(talos_minor)
    except ValueError as error:
        raise UserError(str(error), where="cluster.talosVersion") from None
    problems = missing_binaries((*CLUSTER_BINARIES, *ARGOCD_BINARIES, talosctl))
    for check in (redis_server_path, lambda: cilium_crds_dir(config.components.cilium.version)):
        try:
            check()
        except HarnessBinaryMissing as error:
            problems.append(str(error))
    if problems:
        raise UserError(
            "the rehearsal harness is not built:\n  " + "\n  ".join(problems),
            hint="run scripts/build-harness.sh (the first build takes a while)",
        )
    if os.geteuid() != 0:
        raise UserError(
            "the rehearsal needs root: it keeps the pods' addresses in a network namespace of its own",
            hint="run it as root (or in a container or VM where you are)",
        )


def run(args: argparse.Namespace) -> int:
    from talos_platform import exit_codes
    from talos_platform.engine.config.loading import ConfigInvalid, read_config
    from talos_platform.engine.config.validation import errors_only, validate
    from talos_platform.engine.drivers.loopback import ENV_VAR

    # Every real driver refuses anything but loopback from here on.
    os.environ[ENV_VAR] = "1"
    config = read_config(args.config)
    errors = errors_only(validate(config))
    if errors:
        raise ConfigInvalid(errors, args.config)
    charts = _charts(args)
    _require_harness(config)
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="talos-platform-rehearsal-"))
    workdir.mkdir(parents=True, exist_ok=True)
    out = sys.stderr if args.output == "json" else sys.stdout
    talos_ok = _layer0(config, workdir, out)
    outcome, report = _layers_1_to_4(config, charts, workdir, args)
    _print_report(report, outcome, talos_ok, workdir, out)
    return exit_codes.OK if outcome == "succeeded" and talos_ok and not report.blocked else exit_codes.STEP_FAILED


def _layer0(config: Any, workdir: Path, out: Any) -> bool:
    from talos_platform.rehearsal.binaries import harness_bin
    from talos_platform.rehearsal.talos_check import Talosctl, check_machine_configs

    minor = ".".join(config.cluster.talos_version.split(".")[:2])
    folder = workdir / "talos"
    folder.mkdir(parents=True, exist_ok=True)
    tool = Talosctl(harness_bin("talosctl", version=minor), folder)
    print(f"REHEARSAL layer 0: machine configs checked by {tool.binary.name} (no Talos machine is started)", file=out)
    results = check_machine_configs(config, tool)
    for result in results:
        line = "valid" if result.ok else f"REFUSED: {result.output}"
        print(f"  {result.node}: {line}", file=out)
    return all(result.ok for result in results)


def _layers_1_to_4(config: Any, charts: Path, workdir: Path, args: argparse.Namespace) -> tuple[str, Any]:
    from talos_platform.engine.config.secrets import Secrets
    from talos_platform.engine.state import StateDirectory
    from talos_platform.rehearsal.dress import DressRehearsal

    # Stand-in tokens: nothing in a rehearsal calls Cloudflare or a Git host.
    secrets = Secrets(cloudflare_api_token="rehearsal-standin-token", cloudflare_tunnel_token="rehearsal-standin-token")
    with DressRehearsal(config, charts=charts, workdir=workdir / "layers") as rehearsal:
        state = StateDirectory(workdir / "state").ensure()
        session = rehearsal.session(secrets, state)
        if args.yes or not sys.stdout.isatty():
            from talos_platform.headless import run_session

            code = run_session(session, args.output)
            outcome = {0: "succeeded", 130: "interrupted"}.get(code, "failed")
        else:
            outcome = _in_the_install_screen(session, rehearsal)
        if outcome != "succeeded":
            return outcome, rehearsal.report()
        print(
            "REHEARSAL: waiting for ArgoCD to settle the app-of-apps parents (up to 4 minutes)",
            file=sys.stderr if args.output == "json" else sys.stdout,
            flush=True,
        )
        return outcome, rehearsal.settled_report()


def _in_the_install_screen(session: Any, rehearsal: Any) -> str:
    from talos_platform.engine.drivers.clock import RealClock
    from talos_platform.tui.app import create_app

    sessions = iter([session])
    app = create_app(
        "install",
        drivers=session.drivers,
        clock=RealClock(),
        session_factory=lambda: next(sessions, None),
        rehearsal=True,
    )
    return app.run() or "interrupted"


def _print_report(report: Any, outcome: str, talos_ok: bool, workdir: Path, out: Any) -> None:
    print("REHEARSAL report (ArgoCD Applications, by wave):", file=out)
    for app in report.applications:
        mark = "✓" if (app.sync, app.health) == ("Synced", "Healthy") else "✗"
        print(f"  {mark} {app.wave:>5}  {app.name}: {app.sync}/{app.health}", file=out)
    if report.blocked:
        print("What would block on real machines:", file=out)
        for app in report.blocked:
            print(f"  {app.name}: {app.message or app.sync + '/' + app.health}", file=out)
    elif outcome == "succeeded" and talos_ok:
        print("Everything came up. Not rehearsed: the Talos machines themselves (boot, disks, network, VIP).", file=out)
    print(f"Rehearsal files and logs: {workdir}", file=out)
