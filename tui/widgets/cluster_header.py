"""The line above the panes: which cluster and context, whether the Kubernetes API answers, how fast
it answers, and how old the data on screen is."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from talos_platform.engine.observe import ClusterSnapshot
from talos_platform.engine.observe.api_latency import level, worst
from talos_platform.engine.observe.freshness import STALE_AFTER_SECONDS
from talos_platform.tui.styles import BAD, GOOD, MUTED, WARN
from talos_platform.tui.widgets.pane import add_part


def data_age(snapshot: ClusterSnapshot, now: float) -> float:
    """Seconds since the Kubernetes data on screen was last known current: since the API stopped
    answering, or since the last snapshot (an observer that stalls ages its data too)."""
    kubernetes = snapshot.freshness.kubernetes
    current_until = kubernetes.down_since if kubernetes.down_since is not None else snapshot.taken_at
    return max(0.0, now - current_until)


def header_text(snapshot: ClusterSnapshot | None, now: float | None, cluster: str = "", context: str = "") -> Text:
    text = Text()
    add_part(text, f"cluster {cluster or '?'}", "bold")
    add_part(text, f"context {context or '?'}")
    if snapshot is None:
        add_part(text, "Kubernetes API: not read yet", MUTED)
        return text
    now = snapshot.taken_at if now is None else max(now, snapshot.taken_at)
    kubernetes = snapshot.freshness.kubernetes
    age = data_age(snapshot, now)
    style = f"bold {BAD}" if age >= STALE_AFTER_SECONDS else WARN if age >= 5 else MUTED
    add_part(text, f"last update {age:.0f} s ago", style)
    # The error goes last: it is the part the line may have to cut.
    if kubernetes.reachable:
        add_part(text, "Kubernetes API ✓ answering", GOOD)
        for part, style in latency_parts(snapshot):
            add_part(text, part, style)
    else:
        unreachable = f"Kubernetes API ✗ unreachable for {kubernetes.age(now):.0f} s: {kubernetes.error}"
        add_part(text, unreachable, f"bold {BAD}")
    return text


class ClusterHeader(Static):
    def __init__(self, cluster: str = "", context: str = "", **kwargs: Any):
        super().__init__("", **kwargs)
        self.cluster = cluster
        self.context = context
        self.snapshot: ClusterSnapshot | None = None
        self._drawn: Text | None = None

    def show(self, snapshot: ClusterSnapshot | None, now: float | None = None) -> None:
        self.snapshot = snapshot
        text = header_text(snapshot, now, self.cluster, self.context)
        if text != self._drawn:
            self.update(text, layout=False)
            self._drawn = text


LEVEL_STYLE = {"none": MUTED, "slow": f"bold {WARN}", "very slow": f"bold {BAD}"}


def seconds_text(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def latency_parts(snapshot: ClusterSnapshot) -> list[tuple[str, str]]:
    """`round trip p50 12 ms, p99 45 ms` and the server's slowest verb (`server p99 LIST 80 ms`), or
    `⚠ API slow: …` in orange (red when very slow); `/metrics not allowed` when RBAC refuses it."""
    api = snapshot.api
    parts = []
    if api.round_trip_p99 is not None and api.round_trip_p50 is not None:
        slowness = level(api.round_trip_p99)
        figures = f"p50 {seconds_text(api.round_trip_p50)}, p99 {seconds_text(api.round_trip_p99)}"
        prefix = "⚠ API slow: round trip" if slowness != "none" else "round trip"
        parts.append((f"{prefix} {figures}", LEVEL_STYLE[slowness]))
    slowest = worst(api.verbs)
    if slowest is not None:
        slowness = level(slowest.p99_seconds)
        prefix = "⚠ server slow: p99" if slowness != "none" else "server p99"
        parts.append((f"{prefix} {slowest.verb} {seconds_text(slowest.p99_seconds)}", LEVEL_STYLE[slowness]))
    elif api.metrics == "not allowed":
        parts.append(("server /metrics not allowed", MUTED))
    return parts
