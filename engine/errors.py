"""Errors a user can meet: what went wrong, where, and what to do."""

from __future__ import annotations


class UserError(Exception):
    """An error meant for the person at the keyboard, printed without a traceback.

    `where` names the field path, node or step; `hint` says what to do next.
    """

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class StepError(Exception):
    """Raised by a step phase. The runner decides from the subclass whether to retry."""

    def __init__(self, message: str, *, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint


class TransientError(StepError):
    """Worth retrying with backoff: a node still booting, an API briefly away, a conflict."""


class PermanentError(StepError):
    """Retrying will not help; the run stops and shows `hint` (what the user should do)."""


class EvictionRefused(PermanentError):
    """A drain stopped because a PodDisruptionBudget refused to let a pod be evicted. Only the
    user's explicit `--delete-if-eviction-fails` turns it into deleting the pods instead."""


ESCAPE_FLAG = "--delete-if-eviction-fails"
"""The flag of `upgrade talos` and `node remove` that deletes the pods a budget keeps."""
