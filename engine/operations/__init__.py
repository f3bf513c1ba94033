"""Operations: what the engine runs. An operation is a named plan of steps: `install` is the
first; day-2 work (upgrade, node add, etcd snapshot) are others.

Each operation gets the same machinery without copying any of it: `OperationSession` builds its
plan from the config, takes its lock scope on the state directory, journals its runs (each
run's `RunStarted` names the operation, so its resume reads only its own runs), and the CLI
gives it `plan`, `--yes`, `--output json` and the install screen titled by it.

    EXAMPLE = Operation(name="etcd-snapshot", title="Etcd snapshot", plan_steps=snapshot_steps)
    register(EXAMPLE)

See docs/architecture.md, "Operations".
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from talos_platform.engine.errors import UserError
from talos_platform.engine.state import CLUSTER_LOCK_SCOPE

if TYPE_CHECKING:
    from talos_platform.engine.config.models import PlatformConfig
    from talos_platform.engine.plan.step import Step
    from talos_platform.engine.state import StateDirectory

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}$")

StepsFor = Callable[["PlatformConfig", Mapping[str, Any]], Sequence["Step"]]
"""(config, the operation's own options) -> its steps, needs pointing backwards."""


@dataclass(frozen=True)
class Operation:
    name: str
    """Stable name: the command that runs it and the `operation` its runs are journaled under.
    Lowercase letters, digits and '-'."""
    title: str
    """For headings and the screen title, e.g. `Install`."""
    plan_steps: StepsFor
    """The operation's steps for a config (imports heavy step modules only when called)."""
    lock_scope: str = CLUSTER_LOCK_SCOPE
    """Runs of operations with the same scope exclude each other on one state directory; every
    operation that changes the cluster shares the default."""
    summary: str = ""
    """One line for `--help` (what it does, not how)."""
    notes_after_success: Callable[[PlatformConfig, StateDirectory, bool], Iterable[str]] | None = None
    """(config, state directory, simulated) -> lines said after a successful run (where the keys
    and logins are kept, what to run next; never a secret value)."""

    def __post_init__(self) -> None:
        for field_name in ("name", "lock_scope"):
            if not _NAME.match(getattr(self, field_name)):
                raise ValueError(
                    f"operation {field_name} {getattr(self, field_name)!r}: use lowercase letters, digits, '-'"
                )

    def steps(self, config: PlatformConfig, options: Mapping[str, Any] | None = None) -> list[Step]:
        return list(self.plan_steps(config, dict(options or {})))

    def notes(self, config: PlatformConfig, state: StateDirectory, *, simulated: bool) -> list[str]:
        return list(self.notes_after_success(config, state, simulated)) if self.notes_after_success else []


BUILTIN_MODULES = (
    "install",
    "etcd_snapshot",
    "etcd_restore",
    "upgrade_kubernetes",
    "upgrade_talos",
    "node_add",
    "node_remove",
)
"""The product's own operations, one module each under engine/operations, in `--help` order."""

_registry: dict[str, Operation] = {}
_builtins_loaded = False


def register(operation: Operation) -> Operation:
    """Make `operation` known to the session, `plan` and `status`. A second operation of the same
    name is a mistake in the code, refused."""
    _load_builtins()
    if operation.name in _registry and _registry[operation.name] is not operation:
        raise ValueError(f"an operation named {operation.name!r} is already registered")
    _registry[operation.name] = operation
    return operation


def unregister(name: str) -> None:
    """Forget an operation (one a test or a plugin registered); unknown names are ignored."""
    _registry.pop(name, None)


def registered_operations() -> tuple[Operation, ...]:
    """Every known operation, the install first, then in the order they were registered."""
    _load_builtins()
    return tuple(_registry.values())


def operation_named(name: str) -> Operation:
    _load_builtins()
    try:
        return _registry[name]
    except KeyError:
        raise UserError(
            f"there is no operation named {name!r}",
            hint=f"operations are: {', '.join(_registry)}",
        ) from None


def _load_builtins() -> None:
    """The product's own operations register when their module is imported (not at package
    import: `engine.state` and the journal stay free of step code)."""
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for name in BUILTIN_MODULES:
            importlib.import_module(f"talos_platform.engine.operations.{name}")  # registers itself
