"""Cluster states of the issue-13 faults for snapshots: an app of apps waiting on a crash-looping
leaf, a node back in maintenance mode with its reason, a timed fault announced on the banner.
Raw objects and Talos facts through the real observe-layer code, as in cluster_data."""

from __future__ import annotations

from support.cluster_data import NODES, T0, application, node_object, pod_object

from talos_platform.engine.drivers.protocols import TalosNodeFacts
from talos_platform.engine.observe import ClusterSnapshot, TalosTarget, build_snapshot
from talos_platform.engine.observe.apps import app_view
from talos_platform.engine.observe.nodes import UsageHistory, kube_node
from talos_platform.engine.observe.pods import classify_pod
from talos_platform.engine.sim.timeline import FaultTimeline

MAINTENANCE_REASON = "install: disk /dev/nvme0n1 not found"
PROMETHEUS = "prometheus-kube-prometheus-stack-prometheus"


def _child(name: str, health: str, wave: int = 0, message: str = "") -> dict:
    entry = {"group": "argoproj.io", "kind": "Application", "namespace": "argocd", "name": name, "status": "Synced"}
    entry["health"] = {"status": health, **({"message": message} if message else {})}
    if wave:
        entry["syncWave"] = wave
    return entry


def _with(app: dict, resources: list[dict], waiting_for: str = "") -> dict:
    app["status"]["resources"] = resources
    if waiting_for:
        app["status"]["operationState"] = {
            "phase": "Running",
            "message": f"waiting for healthy state of argoproj.io/Application/{waiting_for}",
        }
    return app


def _apps() -> list[dict]:
    waiting = "Waiting for 1 pods to be ready..."
    return [
        application("gateway-api-crds", -100),
        application("cilium", -99),
        application("cert-manager", -98),
        application("external-dns", -97),
        application("argocd", -96),
        application("local-path-storage", -1),
        _with(
            application("layer-0", 0, "OutOfSync", "Missing"),
            [_child("platform", "Progressing", message=waiting), {"kind": "Application", "name": "apps"}],
            waiting_for="platform",
        ),
        _with(
            application("platform", 0, "Synced", "Progressing", waiting),
            [_child("vault", "Healthy"), _child("monitoring", "Progressing", 2, waiting)],
        ),
        application("vault", 0),
        application("vault-secrets-operator", 1),
        _with(
            application("monitoring", 2, "Synced", "Progressing", waiting),
            [
                {
                    "group": "apps",
                    "kind": "StatefulSet",
                    "namespace": "monitoring",
                    "name": PROMETHEUS,
                    "status": "Synced",
                    "health": {"status": "Progressing", "message": waiting},
                }
            ],
        ),
    ]


def blocked_cluster_snapshot() -> ClusterSnapshot:
    """worker-2 fell back to maintenance mode; monitoring's Prometheus is OOM-killed, so the root
    app of apps and `platform` only wait on it."""
    facts, history = {}, UsageHistory()
    for index, (name, address, _role) in enumerate(NODES):
        if name == "worker-2":
            fact = TalosNodeFacts(
                address, True, maintenance=True, stage="maintenance", talos_version="v1.11.5", error=MAINTENANCE_REASON
            )
        else:
            fact = TalosNodeFacts(
                address,
                True,
                stage="running",
                talos_version="v1.11.5",
                kubernetes_version="v1.34.1",
                cpu_percent=20.0 + index * 6,
                memory_percent=40.0 + index * 5,
            )
        history.record(fact)
        facts[address] = fact
    nodes = [kube_node(node_object(n, a, r)) for n, a, r in NODES if n != "worker-2"]
    pods = [
        pod_object(
            "monitoring",
            f"{PROMETHEUS}-0",
            "monitoring",
            "worker-1",
            waiting="CrashLoopBackOff",
            last="OOMKilled",
            restarts=9,
        ),
        pod_object("monitoring", "kube-prometheus-stack-operator-5d8f6-x2k9q", "monitoring", "worker-3"),
        pod_object("vault", "vault-0", "vault", "worker-1"),
    ]
    return build_snapshot(
        taken_at=T0 + 30,
        simulated=True,
        kube_nodes=nodes,
        facts=facts,
        targets=[TalosTarget(a, n, r) for n, a, r in NODES],
        history=history,
        pods=[classify_pod(p) for p in pods],
        apps=[app_view(a) for a in _apps()],
        flows=None,
        generation=1,
    )


def announced_outlook():
    """A node-down scenario 8 s after the hand-over: worker-3 loses power in 52 s."""
    timeline = FaultTimeline()
    timeline.add(T0 + 30 - 8 + 60, "worker-3 loses power", under_way="worker-3 is powered off")
    return timeline.outlook
