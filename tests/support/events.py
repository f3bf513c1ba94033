"""An example of any event type, built from its fields, so tests can cover every type there is."""

from __future__ import annotations

import dataclasses

from talos_platform.engine.run.events import Event

STEP_ID = "L0.example"


def example_value(name: str, annotation: str):
    """A value of a field's (string) annotation; step ids name STEP_ID."""
    if name == "step_id":
        return STEP_ID
    if name == "steps":
        return (STEP_ID,)
    if annotation == "str":
        return f"{name} text"
    if annotation == "tuple[str, ...]":
        return (f"{name} one", f"{name} two")
    if annotation == "int":
        return 2
    if annotation == "float":
        return 1.5
    if annotation == "bool":
        return False
    raise AssertionError(f"teach example_value the field type {annotation!r} ({name})")


def example_event(cls: type[Event]) -> Event:
    values = {f.name: example_value(f.name, str(f.type)) for f in dataclasses.fields(cls) if f.name != "at"}
    return cls(at=1_000.0, **values)
