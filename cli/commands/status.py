"""`talos-platform status`: the install's state, read from the run journals.

Shows the latest run (its outcome, each step's state, failures with their hints) and which
steps earlier runs completed. Contacts nothing. A run whose install still holds the state
directory is shown as `running`. Exit 0 when the latest run succeeded, 1 when it failed, was
interrupted or killed or is still running, 2 when there is no run to show.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from talos_platform.engine.run.journal import RunRecord


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "status",
        help="show the state of the last install run (from its journal)",
        description=(
            "Show the last install run from the cluster's journal: outcome, each step's state, "
            "failures with what to do. Exit 0 if it succeeded, 1 if not, 2 if there is no run."
        ),
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--config", metavar="FILE", help="find the state directory from this config's cluster name")
    where.add_argument("--cluster", metavar="NAME", help="the cluster name")
    parser.add_argument("--state-dir", metavar="DIR", help="the cluster's state directory")
    parser.add_argument("--simulated", action="store_true", help="show the simulated runs of this cluster")
    parser.add_argument("--run", metavar="RUN_ID", help="show this run instead of the latest")
    parser.add_argument("--output", choices=("text", "json"), default="text")
    from talos_platform.commands.dashboard import add_live_arguments

    add_live_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from talos_platform import exit_codes
    from talos_platform.engine.errors import UserError
    from talos_platform.engine.run.journal import list_runs, read_run
    from talos_platform.engine.state import state_directory_for

    if args.live:
        from talos_platform.commands.dashboard import live_status

        return live_status(args)
    if args.state_dir is None and args.cluster is None and args.config is None:
        raise UserError("say which cluster", hint="give --config FILE, --cluster NAME or --state-dir DIR")
    name = args.cluster
    if args.config:
        from talos_platform.engine.config.loading import read_config

        name = read_config(args.config).cluster.name
    state = state_directory_for(name or "", args.state_dir, simulated=args.simulated)
    runs = list_runs(state.runs)
    if not runs:
        raise UserError(f"no install run recorded in {state.root}", hint="run `talos-platform install` first")
    chosen = runs[-1]
    if args.run:
        matching = [r for r in runs if r.run_id == args.run]
        if not matching:
            raise UserError(f"no run {args.run!r} in {state.runs}", hint=f"runs: {', '.join(r.run_id for r in runs)}")
        chosen = matching[0]
    if chosen is runs[-1] and chosen.finished is None and state.busy():
        chosen = runs[-1] = read_run(chosen.path.parent, live=True)  # the install holding the lock

    done_before = set()
    for earlier in runs[: runs.index(chosen)]:
        done_before |= {step_id for step_id, step in earlier.steps.items() if step.done}

    if args.output == "json":
        json.dump(_as_record(chosen, state.root, len(runs)), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(_as_text(chosen, state.root, len(runs), done_before))
    return exit_codes.OK if chosen.outcome == "succeeded" else exit_codes.STEP_FAILED


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "?"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _as_record(run: RunRecord, root: Path, total: int) -> dict[str, Any]:
    started = run.started
    return {
        "stateDir": str(root),
        "runs": total,
        "runId": run.run_id,
        "outcome": run.outcome,
        "simulated": run.simulated,
        "startedAt": started.at if started else None,
        "configDigest": started.config_digest if started else "",
        "steps": [
            {
                "stepId": step.step_id,
                "state": step.state,
                "attempt": step.attempt,
                "detail": step.detail,
                "hint": step.hint,
                "duration": step.duration,
            }
            for step in run.steps.values()
        ],
    }


def _as_text(run: RunRecord, root: Path, total: int, done_before: set[str]) -> str:
    started = run.started
    label = "SIMULATED run" if run.simulated else "run"
    lines = [
        f"{label} {run.run_id} ({total} run{'s' if total != 1 else ''} in {root})",
        f"started {_when(started.at if started else None)}, outcome: {run.outcome}",
        "",
    ]
    marks = {"succeeded": "done", "skipped": "done", "failed": "FAILED", "interrupted": "stopped"}
    for step in run.steps.values():
        state = marks.get(step.state, step.state)
        if step.state == "pending" and step.step_id in done_before:
            state = "pending (done in an earlier run)"
        detail = f"  {step.detail}" if step.detail and step.state != "succeeded" else ""
        lines.append(f"  {state:<10} {step.step_id}{detail}")
        if step.hint and step.state in ("failed", "interrupted"):
            lines.append(f"             hint: {step.hint}")
    if run.outcome == "running":
        lines += ["", "the install is still running (it holds the state directory); run status again to follow it"]
    elif run.outcome != "succeeded":
        lines += ["", "run `talos-platform install` again to resume: finished steps are re-checked and skipped"]
    return "\n".join(lines) + "\n"
