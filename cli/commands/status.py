"""`talos-platform status`: the cluster's runs, read from the run journals.

Shows the latest run of any operation (or of `--operation NAME`, or `--run ID`): its outcome,
each step's state, failures with their hints, which steps earlier runs of the same operation
completed; then every run of every operation (operation, run id, started, outcome). Contacts
nothing. A run that still holds its operation's lock is shown as `running`. Exit 0 when the
shown run succeeded, 1 when it failed, was interrupted or killed or is still running, 2 when
there is no run to show.
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
    from talos_platform.engine.state import StateDirectory


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "status",
        help="show the last run (install or another operation) and every run, from the journals",
        description=(
            "Show the last run from the cluster's journals: outcome, each step's state, failures with "
            "what to do; then every run of every operation. Exit 0 if that run succeeded, 1 if not, "
            "2 if there is no run."
        ),
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--config", metavar="FILE", help="find the state directory from this config's cluster name")
    where.add_argument("--cluster", metavar="NAME", help="the cluster name")
    parser.add_argument("--state-dir", metavar="DIR", help="the cluster's state directory")
    parser.add_argument(
        "--simulate",
        "--simulated",
        dest="simulated",
        action="store_true",
        help="the simulated cluster's runs (as with install --simulate)",
    )
    parser.add_argument("--run", metavar="RUN_ID", help="show this run instead of the latest")
    parser.add_argument("--operation", metavar="NAME", help="show the latest run of this operation (e.g. install)")
    parser.add_argument("--output", choices=("text", "json"), default="text")
    from talos_platform.commands.dashboard import add_live_arguments

    add_live_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from talos_platform import exit_codes
    from talos_platform.engine.errors import UserError
    from talos_platform.engine.run.journal import list_runs
    from talos_platform.engine.state import state_directory_for

    if args.live:
        from talos_platform.commands.dashboard import live_status

        return live_status(args)
    name = args.cluster
    if args.state_dir is None and args.cluster is None and args.config is None:
        name = _only_cluster(args.simulated)
    if args.config:
        from talos_platform.engine.config.loading import read_config

        name = read_config(args.config).cluster.name
    state = state_directory_for(name or "", args.state_dir, simulated=args.simulated)
    runs = list_runs(state.runs)
    if not runs:
        raise UserError(
            f"no install run nor any other operation's recorded in {state.root}",
            hint="run `talos-platform install` first",
        )
    runs = _mark_live(runs, state)
    chosen = _choose(runs, args, state)

    same_operation = [run for run in runs if run.operation == chosen.operation]
    done_before = set()
    for earlier in same_operation[: [r.run_id for r in same_operation].index(chosen.run_id)]:
        done_before |= {step_id for step_id, step in earlier.steps.items() if step.done}

    if args.output == "json":
        json.dump(_as_record(chosen, state.root, runs), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(_as_text(chosen, state.root, runs, done_before))
    return exit_codes.OK if chosen.outcome == "succeeded" else exit_codes.STEP_FAILED


def _only_cluster(simulated: bool) -> str:
    """With no cluster named: the one cluster this machine keeps runs of, if there is just one."""
    from talos_platform.engine.errors import UserError
    from talos_platform.engine.state import clusters_with_runs

    found = clusters_with_runs(simulated=simulated)
    if len(found) == 1:
        return found[0]
    kind = "simulated clusters" if simulated else "clusters"
    if not found:
        raise UserError(
            f"no {kind} with runs on this machine",
            hint="run `talos-platform install` first, or give --state-dir DIR"
            + ("" if simulated else " (add --simulate for a simulated install's runs)"),
        )
    raise UserError(
        f"runs of {len(found)} {kind} here: {', '.join(found)}; say which",
        hint="give --cluster NAME, --config FILE or --state-dir DIR",
    )


def _choose(runs: list[RunRecord], args: argparse.Namespace, state: StateDirectory) -> RunRecord:
    from talos_platform.engine.errors import UserError

    if args.run:
        matching = [r for r in runs if r.run_id == args.run]
        if not matching:
            raise UserError(f"no run {args.run!r} in {state.runs}", hint=f"runs: {', '.join(r.run_id for r in runs)}")
        return matching[0]
    if args.operation:
        of_operation = [r for r in runs if r.operation == args.operation]
        if not of_operation:
            recorded = sorted({r.operation for r in runs})
            raise UserError(
                f"no {args.operation} run recorded in {state.root}",
                where="--operation",
                hint=f"recorded operations: {', '.join(recorded)}",
            )
        return of_operation[-1]
    return runs[-1]


def _mark_live(runs: list[RunRecord], state: StateDirectory) -> list[RunRecord]:
    """Read again, as running, the latest unfinished run of each operation whose lock is held."""
    from talos_platform.engine.run.journal import read_run

    latest = {run.operation: run for run in runs}
    for run in latest.values():
        if run.finished is None and state.busy(lock_scope_of(run.operation)):
            live = read_run(run.path.parent, live=True)
            runs = [live if each is run else each for each in runs]
    return runs


def lock_scope_of(operation: str) -> str:
    """The lock scope runs of `operation` take; an operation this version does not know (a
    journal from a newer one) is taken to share the cluster's."""
    from talos_platform.engine.errors import UserError
    from talos_platform.engine.operations import operation_named
    from talos_platform.engine.state import CLUSTER_LOCK_SCOPE

    try:
        return operation_named(operation).lock_scope
    except UserError:
        return CLUSTER_LOCK_SCOPE


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "?"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _started(run: RunRecord) -> str:
    """When a run started. A simulated run's events carry the simulator's clock, so its real
    start (the run id is made from the real clock) comes first and the simulated one is labelled."""
    at = _when(run.started.at if run.started else None)
    if not run.simulated:
        return at
    try:
        real = datetime.strptime(run.run_id.split("-")[0], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    except ValueError:
        return f"{at} (simulated clock)"
    return f"{real:%Y-%m-%d %H:%M:%S} UTC (simulated clock: {at})"


def _as_record(run: RunRecord, root: Path, runs: list[RunRecord]) -> dict[str, Any]:
    started = run.started
    return {
        "stateDir": str(root),
        "runs": len(runs),
        "operation": run.operation,
        "runId": run.run_id,
        "outcome": run.outcome,
        "simulated": run.simulated,
        "startedAt": started.at if started else None,
        "configDigest": started.config_digest if started else "",
        "resumeCommand": started.resume_command if started else "",
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
        "history": [
            {
                "operation": each.operation,
                "runId": each.run_id,
                "startedAt": each.started.at if each.started else None,
                "outcome": each.outcome,
                "simulated": each.simulated,
            }
            for each in runs
        ],
    }


def _as_text(run: RunRecord, root: Path, runs: list[RunRecord], done_before: set[str]) -> str:
    started = run.started
    label = f"SIMULATED {run.operation} run" if run.simulated else f"{run.operation} run"
    total = len(runs)
    lines = [
        f"{label} {run.run_id} ({total} run{'s' if total != 1 else ''} in {root})",
        f"started {_started(run)}, outcome: {run.outcome}",
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
        lines += ["", f"the {run.operation} is still running (it holds its lock); run status again to follow it"]
    elif run.outcome != "succeeded":
        command = started.resume_command if started and started.resume_command else f"talos-platform {run.operation}"
        lines += ["", f"resume with: {command}", "(finished steps are re-checked and skipped)"]
    return "\n".join(lines + _history(runs, run)) + "\n"


def _history(runs: list[RunRecord], shown: RunRecord) -> list[str]:
    """Every run of every operation, oldest first; the one shown above is marked."""
    if len(runs) < 2:
        return []
    width = max(len(run.operation) for run in runs)
    lines = ["", "runs:"]
    for run in runs:
        mark = "*" if run.run_id == shown.run_id else " "
        simulated = " (simulated)" if run.simulated else ""
        lines.append(f" {mark} {run.operation:<{width}}  {run.run_id}  {_started(run)}  {run.outcome}{simulated}")
    return lines
