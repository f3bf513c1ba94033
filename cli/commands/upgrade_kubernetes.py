"""`talos-platform upgrade-kubernetes --to VERSION`: the Kubernetes upgrade's own arguments."""

from __future__ import annotations

import argparse
from typing import Any

from talos_platform.operation_command import OperationCommand


class UpgradeKubernetesCommand(OperationCommand):
    def add_plan_arguments(self, parser: argparse._ActionsContainer) -> None:
        parser.add_argument("--to", metavar="VERSION", help="the Kubernetes version to upgrade to, e.g. v1.37.2")

    def options(self, args: argparse.Namespace) -> dict[str, Any]:
        return {"to": getattr(args, "to", None), "config_path": getattr(args, "config", None)}

    def own_flags(self, args: argparse.Namespace) -> list[str]:
        return ["--to", args.to] if getattr(args, "to", None) else []


COMMAND = UpgradeKubernetesCommand(
    "upgrade-kubernetes",
    help="upgrade Kubernetes (talosctl upgrade-k8s) after a preflight and an etcd snapshot",
    description=(
        "Check the target version (supported by the nodes' Talos, no downgrade, one minor version at a time), "
        "take an etcd snapshot, run `talosctl upgrade-k8s --to VERSION` (its dry run first), verify every node "
        "reports the version, then write it into the config file (comments kept, the old file as .bak). "
        "Resumes where an earlier run stopped. Exit codes: 0 success, 1 a step failed, 2 invalid config or "
        "usage, 130 interrupted."
    ),
)
