"""Live stores for the dashboard fed by watches and streams, published as snapshots."""

from .nodes import TalosTarget
from .observer import Observer, build_snapshot
from .once import snapshot_once
from .pods import owning_app
from .snapshot import (
    AppView,
    ClusterSnapshot,
    DroppedPair,
    FlowStats,
    FlowView,
    NamespaceHealth,
    NodeView,
    PodProblem,
    WaveView,
)

__all__ = [
    "AppView",
    "ClusterSnapshot",
    "DroppedPair",
    "FlowStats",
    "FlowView",
    "NamespaceHealth",
    "NodeView",
    "Observer",
    "PodProblem",
    "TalosTarget",
    "WaveView",
    "build_snapshot",
    "owning_app",
    "snapshot_once",
]
