"""Typed, frozen, past-tense events: everything a run does is told through these.

The TUI, the headless renderer and the journal are only consumers. Every event serialises to
one JSON object (`to_record`) and back (`event_from_record`), which is what the journal stores.
Events are redacted before anyone sees them (see `redaction.py`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

EVENT_TYPES: dict[str, type[Event]] = {}
"""Every event type by its `type`: each class enters as it is defined (`Event.__init_subclass__`)."""


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of all events. `at` is the wall-clock (or simulated) time, seconds since the epoch."""

    at: float = field(default_factory=time.time)
    type: ClassVar[str] = "Event"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # An inherited `type` would journal the new event under its parent's name.
        if cls.__dict__.get("type") != cls.__name__:
            raise TypeError(f"{cls.__name__} must declare type: ClassVar[str] = {cls.__name__!r}")
        EVENT_TYPES[cls.type] = cls

    def to_record(self) -> dict[str, Any]:
        record = {"type": self.type}
        record.update(dataclasses.asdict(self))
        return record


DEFAULT_OPERATION = "install"
"""The operation of a run whose RunStarted names none: journals written before there were
operations hold installs only."""


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    run_id: str
    steps: tuple[str, ...]
    """Ids of the steps this run will consider, in plan order."""
    config_digest: str = ""
    """Digest of the config the plan was built from (resume compares it)."""
    simulated: bool = False
    operation: str = DEFAULT_OPERATION
    """The operation this run is (`install`, ...): its journal is read back only for it."""
    resume_command: str = ""
    """The command line that resumes this run (`status` shows it); secrets come from files or
    the environment, never from the command line, so it holds none."""
    type: ClassVar[str] = "RunStarted"


@dataclass(frozen=True, kw_only=True)
class StepStarted(Event):
    step_id: str
    layer: int
    title: str
    attempt: int = 1
    type: ClassVar[str] = "StepStarted"


@dataclass(frozen=True, kw_only=True)
class StepOutput(Event):
    """One line a step printed or a command it ran wrote (already redacted)."""

    step_id: str
    line: str
    stream: str = "stdout"
    type: ClassVar[str] = "StepOutput"


@dataclass(frozen=True, kw_only=True)
class StepSkipped(Event):
    step_id: str
    reason: str
    input_digest: str = ""
    """Set when `check` found the step done under this config digest (resume compares it)."""
    type: ClassVar[str] = "StepSkipped"


@dataclass(frozen=True, kw_only=True)
class StepRetrying(Event):
    step_id: str
    attempt: int
    """The attempt that failed."""
    delay: float
    error: str
    type: ClassVar[str] = "StepRetrying"


@dataclass(frozen=True, kw_only=True)
class StepSucceeded(Event):
    step_id: str
    duration: float
    input_digest: str = ""
    """Digest of the config inputs the step used; a changed digest re-runs the step on resume."""
    type: ClassVar[str] = "StepSucceeded"


@dataclass(frozen=True, kw_only=True)
class StepFailed(Event):
    step_id: str
    error: str
    hint: str = ""
    interrupted: bool = False
    """True when the step stopped because the run was interrupted (Ctrl-C, SIGTERM), not by
    its own failure: running the install again resumes it."""
    type: ClassVar[str] = "StepFailed"


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    run_id: str
    outcome: str
    """`succeeded`, `failed` or `interrupted`."""
    type: ClassVar[str] = "RunFinished"


def event_from_record(record: dict[str, Any]) -> Event:
    """Inverse of `Event.to_record`; raises ValueError for an unknown type or a record of the
    wrong shape (not an object, a field of the wrong type), so a damaged journal line is skipped
    instead of breaking a reader later."""
    if not isinstance(record, dict):
        raise ValueError(f"an event must be a JSON object, not {type(record).__name__}")
    data = dict(record)
    kind = data.pop("type", None)
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown event type {kind!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    data = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in fields}
    for name, value in data.items():
        if not _has_type(value, str(fields[name].type)):
            raise ValueError(f"{kind} field {name!r} holds {type(value).__name__}, not {fields[name].type}")
    try:
        return cls(**data)
    except TypeError as error:  # a required field is missing
        raise ValueError(f"{kind}: {error}") from None


def _has_type(value: Any, annotation: str) -> bool:
    """Whether a JSON value fits an event field's (string) annotation."""
    if annotation == "str":
        return isinstance(value, str)
    if annotation == "bool":
        return isinstance(value, bool)
    if annotation == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation == "tuple[str, ...]":
        return isinstance(value, tuple) and all(isinstance(item, str) for item in value)
    return True
