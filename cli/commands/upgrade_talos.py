"""`talos-platform upgrade-talos --to VERSION`: the Talos upgrade's own arguments."""

from __future__ import annotations

import argparse
from typing import Any

from talos_platform.commands.install import positive_int
from talos_platform.engine.errors import ESCAPE_FLAG, UserError
from talos_platform.engine.layers.upgrade_gates import GATE_CONDITION_SYNTAX, parse_gate_condition
from talos_platform.operation_command import OperationCommand


def add_eviction_escape(parser: argparse._ActionsContainer) -> None:
    parser.add_argument(
        ESCAPE_FLAG,
        action="store_true",
        help="when a PodDisruptionBudget refuses to let a pod leave a node being drained, delete the pods left on it "
        "instead (`kubectl drain --disable-eviction`): the budget is bypassed and named in the output. Default: "
        "budgets are honoured and the run stops, naming the blocked pod",
    )


class UpgradeTalosCommand(OperationCommand):
    def add_plan_arguments(self, parser: argparse._ActionsContainer) -> None:
        parser.add_argument("--to", metavar="VERSION", help="the Talos version to upgrade to, e.g. v1.14.1")
        parser.add_argument(
            "--max-parallel",
            type=positive_int,
            default=1,
            metavar="N",
            help="workers upgraded at once (control planes always one at a time; default 1)",
        )
        parser.add_argument(
            "--drop-extensions",
            action="store_true",
            help="go on when the nodes run system extensions the config's schematic lacks (the upgrade removes them)",
        )
        parser.add_argument(
            "--gate-command",
            action="append",
            default=[],
            metavar="CMD",
            help="a gate of your own after each node, before the next: CMD (run with `sh -c`, NODE and NODE_IP set) "
            "must exit 0; run again every 10 s until it does or the node's wait runs out. Repeatable. E.g. "
            "'kubectl -n rook-ceph wait cephcluster/rook-ceph --for=jsonpath={.status.ceph.health}=HEALTH_OK "
            "--timeout=5s'",
        )
        add_eviction_escape(parser)

        parser.add_argument(
            "--gate-condition",
            action="append",
            default=[],
            type=gate_condition,
            metavar=GATE_CONDITION_SYNTAX,
            help="a Kubernetes object condition that must hold after each node, before the next (as "
            "`kubectl wait --for=condition=C`): e.g. deployment/web:shop=Available, node/worker-1=Ready, "
            "cephclusters.v1.ceph.rook.io/rook-ceph:rook-ceph=Ready; STATUS defaults to True. Kinds: deployment, "
            "statefulset, daemonset, pod, node, job, pvc, application, certificate, or PLURAL.VERSION.GROUP. "
            "Checked every 10 s until it holds or the node's wait runs out. Repeatable",
        )

    def options(self, args: argparse.Namespace) -> dict[str, Any]:
        return {
            "to": getattr(args, "to", None),
            "config_path": getattr(args, "config", None),
            "max_parallel": getattr(args, "max_parallel", 1),
            "drop_extensions": bool(getattr(args, "drop_extensions", False)),
            "gates": tuple(getattr(args, "gate_command", None) or ()),
            "delete_if_eviction_fails": bool(getattr(args, "delete_if_eviction_fails", False)),
            "conditions": tuple(getattr(args, "gate_condition", None) or ()),
        }

    def own_flags(self, args: argparse.Namespace) -> list[str]:
        flags = ["--to", args.to] if getattr(args, "to", None) else []
        if getattr(args, "max_parallel", 1) != 1:
            flags += ["--max-parallel", str(args.max_parallel)]
        if getattr(args, "drop_extensions", False):
            flags.append("--drop-extensions")
        for command in getattr(args, "gate_command", None) or ():
            flags += ["--gate-command", command]
        for condition in getattr(args, "gate_condition", None) or ():
            flags += ["--gate-condition", condition]
        if getattr(args, "delete_if_eviction_fails", False):
            flags.append(ESCAPE_FLAG)
        return flags


def gate_condition(text: str) -> str:
    """Checked while the arguments are read, kept as given (the journal's inputs, the resume command)."""
    try:
        parse_gate_condition(text)
    except UserError as error:
        raise argparse.ArgumentTypeError(f"{error.message}; give {GATE_CONDITION_SYNTAX}") from None
    return text


COMMAND = UpgradeTalosCommand(
    "upgrade-talos",
    help="upgrade Talos node by node (control planes one at a time), each verified and gated",
    description=(
        "Check the target (supported, runs the cluster's Kubernetes, the same talosctl version, talosconfig "
        "endpoints that are nodes, no downgrade), take an etcd snapshot, then upgrade the control planes one at a "
        "time and the workers --max-parallel at a time with `talosctl upgrade --image` (the installer of the "
        "config's schematic; the preflight refuses when it lacks an extension a node runs today, unless "
        "--drop-extensions; a drain a PodDisruptionBudget blocks stops the run, unless --delete-if-eviction-fails, "
        "which then deletes the blocked pods with `kubectl drain --disable-eviction` and upgrades again). "
        "After each node: its running version verified (a node back on the "
        "old version fails the rollout), then it must be Ready, etcd healthy (every control plane a started "
        "member that answers, no learner, no alarm), Vault unsealed (with the saved keys), and every ArgoCD "
        "Application that was Synced and Healthy before the upgrade Synced and Healthy again (a step before "
        "the first node names those that were not: they are not gated), then your own --gate-condition and "
        "--gate-command checks, before the next node. Finally the config file gets the version (comments kept, .bak). "
        "Resumes at the node where an earlier run stopped. Exit codes: 0 success, 1 a step failed, 2 invalid "
        "config or usage, 130 interrupted."
    ),
)
