"""What a step gets to work with: the config, the secrets, the state directory, the drivers,
the clock, and a way to report output lines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.drivers.clock import Clock

if TYPE_CHECKING:
    from talos_platform.engine.config.secrets import Secrets
    from talos_platform.engine.drivers.protocols import Drivers
    from talos_platform.engine.state import StateDirectory


@dataclass
class StepContext:
    config: PlatformConfig
    secrets: Secrets
    state: StateDirectory
    drivers: Drivers
    clock: Clock
    step_id: str
    output: Callable[[str], None]
    """Report one line of output for this step (redacted and turned into a StepOutput event)."""
    allowed: frozenset[str] = frozenset()
    """Destructive recoveries the user allowed for this run, by name (`reinitialise-vault`)."""
    operation: str = ""
    """The operation this run is (`upgrade-talos`); empty outside a session's run (a preview)."""
    run_id: str = ""
    """This run's id; empty outside a session's run."""
    attempt: frozenset[str] = frozenset()
    """The ids of the runs of this attempt of the operation: this run and the earlier runs it
    resumes (see engine/run/journal.py `attempt_run_ids`)."""
    left_unfinished: frozenset[str] = frozenset()
    """Steps an earlier run of this attempt started and did not finish (killed, interrupted or
    failed): a resume may find their work half done."""
