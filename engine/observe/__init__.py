"""Live stores for the dashboard fed by watches and streams, published as snapshots."""

from talos_platform.engine.observe.nodes import TalosTarget
from talos_platform.engine.observe.observer import Observer, build_snapshot
from talos_platform.engine.observe.once import snapshot_once
from talos_platform.engine.observe.pods import owning_app
from talos_platform.engine.observe.snapshot import (
    AppView,
    ClusterSnapshot,
    DroppedPair,
    FlowStats,
    FlowView,
    HealthyPod,
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
    "HealthyPod",
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
