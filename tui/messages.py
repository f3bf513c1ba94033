"""Messages the engine side hands to the UI (posted from the engine thread with post_message)."""

from __future__ import annotations

from textual.message import Message


class SnapshotPublished(Message):
    """A newer snapshot is waiting in the bridge's slot (snapshots replace each other)."""


class InstallEventsArrived(Message):
    """Install events are waiting in the bridge's batch (taken in order by the handler)."""


class InstallFinished(Message):
    def __init__(self, outcome: str, notes: tuple[str, ...] = ()):
        super().__init__()
        self.outcome = outcome
        """`succeeded`, `failed`, `interrupted`, or `crashed: <error>`."""
        self.notes = notes
        """What the operation says after success (where the kubeconfig is, how to open the
        dashboard): places and commands, never a value."""
