"""`talos-platform node remove NAME`: the removal's own arguments, and the question before an
etcd member is removed by hand."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from talos_platform.commands.node_add import show_config_change
from talos_platform.commands.upgrade_talos import add_eviction_escape
from talos_platform.engine.errors import ESCAPE_FLAG, UserError
from talos_platform.operation_command import OperationCommand

if TYPE_CHECKING:
    from talos_platform.commands.install import Target


class NodeRemoveCommand(OperationCommand):
    def add_plan_arguments(self, parser: argparse._ActionsContainer) -> None:
        parser.add_argument(
            "--node", dest="node_option", metavar="NAME", help="the node to remove (or give it as NAME)"
        )
        add_eviction_escape(parser)

    def add_run_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("node_name", nargs="?", metavar="NAME", help="the node to remove, as the config names it")
        parser.add_argument(
            "--remove-etcd-member",
            metavar="ID",
            help="only when a control plane cannot leave etcd by itself (it no longer answers): remove "
            "this etcd member, the ID the failed run showed next to the node (asked first; with --yes this flag "
            "is the consent)",
        )

    def options(self, args: argparse.Namespace) -> dict[str, Any]:
        return {
            "name": node_name(args),
            "config_path": getattr(args, "config", None),
            "delete_if_eviction_fails": bool(getattr(args, "delete_if_eviction_fails", False)),
        }

    def own_flags(self, args: argparse.Namespace) -> list[str]:
        name = node_name(args)
        flags = ["--node", name] if name else []
        if getattr(args, "remove_etcd_member", None):
            flags += ["--remove-etcd-member", args.remove_etcd_member]
        if getattr(args, "delete_if_eviction_fails", False):
            flags.append(ESCAPE_FLAG)
        return flags

    def _run_prepared(self, args: argparse.Namespace, target: Target, interactive: bool) -> int:
        if not args.yes and not target.simulated:
            show_config_change(self, args, target)
        return super()._run_prepared(args, target, interactive)

    def allowed(self, args: argparse.Namespace, interactive: bool) -> tuple[str, ...]:
        from talos_platform.engine.layers.node_remove import REMOVE_ETCD_MEMBER

        member = getattr(args, "remove_etcd_member", None)
        if not member:
            return ()
        allowance = (f"{REMOVE_ETCD_MEMBER}:{member}",)
        if args.yes or args.simulate and not interactive:
            return allowance
        if not interactive:
            raise UserError(
                "--remove-etcd-member removes a member from etcd and needs a confirmation, but there is no terminal "
                "to ask on",
                where="--remove-etcd-member",
                hint="add --yes to confirm it",
            )
        question = (
            f"--remove-etcd-member {member}: if etcd lists member {member} as {node_name(args)} and that node "
            "cannot leave by itself, remove the member (through another control plane). Check the ID is the one "
            f"shown for {node_name(args)}. Allow that? [y/N] "
        )
        try:
            answer = input(question).strip().lower()
        except EOFError:
            answer = ""
        if answer not in ("y", "yes"):
            raise UserError(
                "the etcd member will not be removed; nothing was changed",
                where="--remove-etcd-member",
                hint="run again without --remove-etcd-member, or answer y",
            )
        return allowance


def node_name(args: argparse.Namespace) -> str | None:
    name: str | None = getattr(args, "node_name", None) or getattr(args, "node_option", None)
    return name


COMMAND = NodeRemoveCommand(
    "node-remove",
    help="remove a node: quorum kept, drained, reset gracefully (leaves etcd), Node deleted, config updated",
    description=(
        "Remove a node from a running cluster (also spelled `talos-platform node remove NAME`). Refused when it "
        "would leave 2 control planes, take etcd below quorum (the members that stay must have a healthy voting "
        "majority) or remove the last worker. Then: an etcd snapshot (control planes), `kubectl cordon` and "
        "`kubectl drain` (PodDisruptionBudgets honoured; one that blocks is named; with --delete-if-eviction-fails the "
        "pods it keeps are deleted instead, bypassing it), `talosctl reset --graceful` (the "
        "node leaves etcd itself, wipes its disks and halts), `kubectl delete node`, the talosconfig endpoints "
        "(control planes) and the config file (comments kept, the old file as .bak). A control plane that no longer "
        "answers cannot leave etcd by itself: the run stops with its etcd member ID and node shown; run again with "
        "--remove-etcd-member ID to remove that member. Resumes where an earlier run stopped. Exit codes: 0 "
        "success, 1 a step failed, 2 invalid config or usage, 130 interrupted."
    ),
)
