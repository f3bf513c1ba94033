"""`talos-platform etcd-restore FILE`: the restore's own arguments, and the confirmations it
needs before anything is wiped: one question per control plane and one for the bootstrap on a
terminal; with --yes, `--i-understand-this-wipes-etcd` as well, or it refuses."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talos_platform.engine.errors import StepError, UserError
from talos_platform.operation_command import OperationCommand

if TYPE_CHECKING:
    from talos_platform.commands.install import Target
    from talos_platform.engine.config.models import PlatformConfig
    from talos_platform.engine.session import OperationSession
    from talos_platform.engine.state import StateDirectory

UNDERSTOOD = "--i-understand-this-wipes-etcd"


class EtcdRestoreCommand(OperationCommand):
    def __init__(self, name: str, *, help: str = "", description: str = ""):
        super().__init__(name, help=help, description=description)
        self._target: Target | None = None

    def add_plan_arguments(self, parser: argparse._ActionsContainer) -> None:
        parser.add_argument("--snapshot", metavar="FILE", help="the snapshot to restore from (etcd-restore FILE)")
        parser.add_argument(
            "--recover-skip-hash-check",
            action="store_true",
            help="the snapshot is a database copied from etcd's data directory (member/snap/db), which carries no "
            "checksum: skip that check here and on the node",
        )

    def add_run_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("file", nargs="?", metavar="FILE", help="the snapshot to restore from")
        parser.add_argument(
            UNDERSTOOD,
            action="store_true",
            help="with --yes: confirm that etcd's data on every control plane is wiped and replaced by the snapshot "
            "(--yes alone refuses)",
        )

    def options(self, args: argparse.Namespace) -> dict[str, Any]:
        return {"snapshot": _snapshot(args), "skip_hash_check": bool(getattr(args, "recover_skip_hash_check", False))}

    def own_flags(self, args: argparse.Namespace) -> list[str]:
        flags = ["--recover-skip-hash-check"] if getattr(args, "recover_skip_hash_check", False) else []
        flags += [UNDERSTOOD] if getattr(args, "i_understand_this_wipes_etcd", False) else []
        snapshot = _snapshot(args)
        return flags + ([str(Path(snapshot).expanduser().absolute())] if snapshot else [])

    def session(self, args: argparse.Namespace, target: Target, interactive: bool = False) -> OperationSession:
        self._target = target  # the confirmations name its control planes and read its snapshot records
        return super().session(args, target, interactive)

    def allowed(self, args: argparse.Namespace, interactive: bool) -> tuple[str, ...]:
        from talos_platform.engine.layers.etcd_restore import RECOVER_ETCD, wipe_permission

        if not hasattr(args, "i_understand_this_wipes_etcd") or self._target is None:
            return ()  # `plan`: a preview wipes nothing
        config = self._target.config
        every = tuple(wipe_permission(node.name) for node in config.control_planes) + (RECOVER_ETCD,)
        names = ", ".join(node.name for node in config.control_planes)
        if args.yes:
            if not args.i_understand_this_wipes_etcd:
                raise UserError(
                    f"etcd-restore wipes etcd's data on every control plane ({names}) and replaces the cluster's "
                    "state with the snapshot; --yes alone does not confirm that",
                    where=UNDERSTOOD,
                    hint=f"add {UNDERSTOOD} to --yes, or run without --yes on a terminal to answer for each node",
                )
            return every
        if not interactive:
            raise UserError(
                "etcd-restore wipes etcd on every control plane and needs a confirmation, but there is no terminal "
                "to ask on",
                where=UNDERSTOOD,
                hint=f"add --yes {UNDERSTOOD}",
            )
        return self._ask(args, config, self._target.state)

    def _ask(self, args: argparse.Namespace, config: PlatformConfig, state: StateDirectory) -> tuple[str, ...]:
        from talos_platform.engine.layers.etcd_restore import RECOVER_ETCD, check_snapshot, wipe_permission

        snapshot = Path(_snapshot(args) or "").expanduser().absolute()
        try:  # a file that fails its checks is refused before any question
            checked = check_snapshot(snapshot, state.etcd_snapshots, skip_hash_check=bool(args.recover_skip_hash_check))
        except StepError as error:
            raise UserError(error.message, where="FILE", hint=error.hint) from None
        first = config.control_planes[0]
        print(
            f"etcd-restore replaces everything etcd holds for cluster {config.cluster.name} with the snapshot\n"
            f"  {checked.describe()}\n"
            "Every control plane's EPHEMERAL partition is wiped (etcd's data, the kubelet's state, container images "
            f"and logs; the machine config stays), then {first.name} is bootstrapped from the snapshot. What changed "
            "in the cluster after the snapshot was taken is lost.",
            flush=True,
        )
        allowed: list[str] = []
        for node in config.control_planes:
            _confirm(
                f"Wipe EPHEMERAL on {node.name} ({config.node_ip(node)}): its etcd data, kubelet state, images and "
                "logs? [y/N] ",
                node.name,
            )
            allowed.append(wipe_permission(node.name))
        _confirm(f"Bootstrap etcd on {first.name} ({config.node_ip(first)}) from {snapshot.name}? [y/N] ", first.name)
        return (*allowed, RECOVER_ETCD)


def _confirm(question: str, where: str) -> None:
    try:
        answer = input(question).strip().lower()
    except EOFError:
        answer = ""
    if answer not in ("y", "yes"):
        raise UserError("not confirmed: nothing was wiped", where=where, hint="run etcd-restore again and answer y")


def _snapshot(args: argparse.Namespace) -> str | None:
    return getattr(args, "file", None) or getattr(args, "snapshot", None)


COMMAND = EtcdRestoreCommand(
    "etcd-restore",
    help="restore etcd from a snapshot (Talos disaster recovery); wipes etcd on every control plane, confirmed",
    description=(
        "Restore the cluster's etcd from a snapshot FILE, the Talos disaster-recovery way: the snapshot is checked "
        "(etcd's checksum; size and SHA-256 against what etcd-snapshot recorded), every control plane's EPHEMERAL "
        "partition is wiped (talosctl reset --system-labels-to-wipe EPHEMERAL --reboot --graceful=false) until etcd "
        "waits in Preparing, the first control plane is bootstrapped from the snapshot (talosctl bootstrap "
        "--recover-from), and the run waits for every etcd member and the Kubernetes API. Each wipe is confirmed on "
        f"the terminal; with --yes, {UNDERSTOOD} is required. Resumes where an earlier run stopped, never wiping "
        "again after the bootstrap. Exit codes: 0 success, 1 a step failed, 2 invalid config or usage (or not "
        "confirmed), 130 interrupted."
    ),
)
