"""`talos-platform node add`: the new node from flags, or from the wizard's node questions
(each answer checked as the install checks it) when a terminal is there to ask on."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from talos_platform.engine.errors import UserError
from talos_platform.operation_command import OperationCommand

if TYPE_CHECKING:
    from rich.console import Console

    from talos_platform.commands.install import Target
    from talos_platform.engine.config.models import Node

NODE_FLAGS = (("name", "--name"), ("address", "--address"), ("role", "--role"), ("installDisk", "--install-disk"))


class NodeAddCommand(OperationCommand):
    def add_plan_arguments(self, parser: argparse._ActionsContainer) -> None:
        parser.add_argument("--name", metavar="NAME", help="the node's hostname, a DNS label unique in the cluster")
        parser.add_argument(
            "--address",
            "--ip",
            dest="address",
            metavar="IP[/PREFIX]",
            help="its IPv4 address, e.g. 10.0.0.23/24 (the prefix may be left out with cluster.network.nodeSubnet)",
        )
        parser.add_argument("--role", choices=("control-plane", "worker"), help="control-plane or worker (default)")
        parser.add_argument("--install-disk", metavar="DISK", help="the disk Talos installs onto (default /dev/sda)")
        parser.add_argument("--link", metavar="INTERFACE", help="the interface carrying its address (e.g. eth0)")

    def options(self, args: argparse.Namespace) -> dict[str, Any]:
        node = {
            "name": getattr(args, "name", None),
            "address": getattr(args, "address", None),
            "role": getattr(args, "role", None),
            "installDisk": getattr(args, "install_disk", None),
            "link": getattr(args, "link", None),
        }
        return {"node": node, "config_path": getattr(args, "config", None)}

    def own_flags(self, args: argparse.Namespace) -> list[str]:
        flags = []
        for key, flag in (*NODE_FLAGS, ("link", "--link")):
            value = getattr(args, key if key != "installDisk" else "install_disk", None)
            if value:
                flags += [flag, value]
        return flags

    def simulated_machines(self, args: argparse.Namespace) -> list[Node]:
        """The new node's machine, when the node can be added (a refused one is refused before
        the simulated cluster changes at all)."""
        from talos_platform.engine.config.loading import read_config
        from talos_platform.engine.operations.node_add import before_and_after, new_node

        if not getattr(args, "name", None) or not getattr(args, "address", None) or not args.config:
            return []
        node = new_node(self.options(args))
        try:
            before_and_after(read_config(args.config), node)
        except UserError:
            return []
        return [node]

    def run(self, args: argparse.Namespace) -> int:
        if not (args.name and args.address) and not args.yes and sys.stdin.isatty():
            ask_for_node(args)
        return super().run(args)

    def _run_prepared(self, args: argparse.Namespace, target: Target, interactive: bool) -> int:
        if not args.yes and not target.simulated:
            show_config_change(self, args, target)
        return super()._run_prepared(args, target, interactive)


def show_config_change(command: OperationCommand, args: argparse.Namespace, target: Target) -> None:
    """The config file's diff, before the question that lets anything happen."""
    from talos_platform.engine.layers.node_membership import NodesInConfigFile

    for step in command.operation.steps(target.config, command.options(args)):
        if isinstance(step, NodesInConfigFile) and step.config_path is not None:
            diff = step.edit().diff
            if diff:
                print(f"{step.config_path} will change (comments kept, the old file as .bak):")
                print("\n".join(diff))


def ask_for_node(args: argparse.Namespace, console: Console | None = None) -> None:
    """The wizard's questions about one node, on the config given (each answer validated with
    the whole config, as in the install's wizard); the answers become the flags."""
    from rich.console import Console

    from talos_platform.engine.config.loading import read_config
    from talos_platform.wizards.answers import Answers
    from talos_platform.wizards.flow import run_questions
    from talos_platform.wizards.sections import node_questions

    if not args.config:
        raise UserError("--config is required to ask about the new node", where="--config")
    answers = Answers.from_config(read_config(args.config))
    index = answers.add_node()
    for key, _flag in NODE_FLAGS:
        given = getattr(args, key if key != "installDisk" else "install_disk", None)
        if given:
            answers.nodes[index][key] = given
    console = console or Console()
    console.print(f"The new node of cluster {answers.get('cluster.name')} (Esc goes back):")
    if not run_questions(answers, console, node_questions(index, offer_another=False)):
        raise UserError("no node was given; nothing was changed", where="node add")
    answered = answers.nodes[index]
    args.name, args.address = answered.get("name"), answered.get("address")
    args.role, args.install_disk = answered.get("role"), answered.get("installDisk")
    args.link = answered.get("link") or args.link


COMMAND = NodeAddCommand(
    "node-add",
    help="add a node (flags or questions): config file updated, machine config applied, joined",
    description=(
        "Add a node to a running cluster (also spelled `talos-platform node add`). The node comes from --name, "
        "--address, --role, --install-disk and --link, or, on a terminal without them, from the wizard's node "
        "questions. It is validated as the install validates a config, then: the config file gets the node (comments "
        "kept, the diff shown, the old file as .bak), the node is checked in maintenance mode with its install disk, "
        "the machine configs are generated again and the node's applied (`talosctl apply-config --insecure`), and "
        "the command waits until its Node is Ready; for a control plane, an etcd snapshot is taken first and it "
        "waits until the new etcd member is promoted from learner to voting member. Resumes where an earlier run "
        "stopped. Exit codes: 0 success, 1 a step failed, 2 invalid config or usage, 130 interrupted."
    ),
)
