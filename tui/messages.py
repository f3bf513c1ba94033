"""Messages the engine side hands to the UI (posted from the engine thread with post_message)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message



class SnapshotPublished(Message):
    """A newer snapshot is waiting in the bridge's slot (snapshots replace each other)."""


class InstallEventsArrived(Message):
    """Install events are waiting in the bridge's batch (taken in order by the handler)."""


@dataclass
class InstallFinished(Message):
    outcome: str
    """`succeeded`, `failed`, `interrupted`, or `crashed: <error>`."""

    def __post_init__(self) -> None:
        super().__init__()
