"""How current each pane's data is: which source feeds it, whether that source answers, and since
when it does not.

Watches and the flow stream are live while they answer, so their data is current until the
moment they break; from then on it ages. Past `STALE_AFTER_SECONDS` a pane says so instead of
showing the last known state as if it were now.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

STALE_AFTER_SECONDS = 10.0
"""A source that has not answered for this long makes its panes stale (shorter breaks are watch
reconnects, which are normal)."""

KUBERNETES_API = "Kubernetes API"
HUBBLE_RELAY = "Hubble Relay"
ALERTMANAGER = "Alertmanager"


@dataclass(frozen=True)
class SourceState:
    source: str
    """`Kubernetes API`, `Hubble Relay` or `Alertmanager`."""
    reachable: bool = True
    error: str = ""
    down_since: float | None = None
    """When it stopped answering (the observer's clock); None while it answers."""
    answered: bool = True
    """It has answered since the observer started. False: nothing was ever read from it (an
    install before its cluster exists), so there is no last known state to be stale."""

    def age(self, now: float) -> float:
        """Seconds the data has not been current (0 while the source answers)."""
        return max(0.0, now - self.down_since) if self.down_since is not None else 0.0

    def stale(self, now: float, after: float = STALE_AFTER_SECONDS) -> bool:
        return not self.reachable and self.age(now) >= after

    def stale_label(self, now: float, after: float = STALE_AFTER_SECONDS) -> str:
        """`stale 42 s: Kubernetes API unreachable`, `waiting 42 s: Kubernetes API not answering
        yet` when it never answered, or empty while the data is current enough."""
        if not self.stale(now, after):
            return ""
        if not self.answered:
            return f"{NEVER_ANSWERED} {self.age(now):.0f} s: {self.source} not answering yet"
        return f"stale {self.age(now):.0f} s: {self.source} unreachable"


NEVER_ANSWERED = "waiting"
"""How a label of a source that never answered starts (see `SourceState.stale_label`)."""


ANSWERING = SourceState(KUBERNETES_API)


@dataclass(frozen=True)
class Freshness:
    """The source state behind each pane, and the Kubernetes API as a whole (for the header)."""

    kubernetes: SourceState = ANSWERING
    nodes: SourceState = ANSWERING
    apps: SourceState = ANSWERING
    pods: SourceState = ANSWERING
    flows: SourceState = SourceState(HUBBLE_RELAY)
    alerts: SourceState = SourceState(ALERTMANAGER)

    def for_pane(self, pane_id: str) -> SourceState:
        state: SourceState = getattr(self, pane_id)
        return state


def source_state(source: str, error: str, down_since: float | None, answered: bool = True) -> SourceState:
    if not error:
        return SourceState(source)
    return SourceState(source, reachable=False, error=error, down_since=down_since, answered=answered)


def combined(states: Iterable[SourceState], source: str = KUBERNETES_API) -> SourceState:
    """Down when any part is down, since the earliest break."""
    down = [s for s in states if not s.reachable]
    if not down:
        return SourceState(source)
    first = min(down, key=lambda s: s.down_since if s.down_since is not None else float("inf"))
    answered = all(s.answered for s in down)
    return SourceState(source, reachable=False, error=first.error, down_since=first.down_since, answered=answered)
