"""Deterministic cluster states for TUI tests and snapshots: raw Kubernetes objects, Talos facts
and flows, turned into snapshots by the real observe-layer code (nothing is hand-made at the
snapshot level, so the panes see what they would see from a cluster)."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from talos_platform.engine.config.loading import load_config
from talos_platform.engine.drivers.protocols import (
    EtcdAlarm,
    EtcdHealth,
    EtcdMember,
    EtcdMemberStatus,
    Flow,
    FlowEndpoint,
    LostEvents,
    TalosNodeFacts,
)
from talos_platform.engine.layers import platform_steps
from talos_platform.engine.observe import ClusterSnapshot, TalosTarget, build_snapshot
from talos_platform.engine.observe.alerts import AlertsView, summarise_alerts
from talos_platform.engine.observe.api_latency import RoundTrips, ServerLatency, api_latency
from talos_platform.engine.observe.apps import app_view, group_by_wave
from talos_platform.engine.observe.etcd import LearnerClock, etcd_view
from talos_platform.engine.observe.flows import FlowBuffer
from talos_platform.engine.observe.freshness import ALERTMANAGER, KUBERNETES_API, Freshness, SourceState
from talos_platform.engine.observe.node_disk import node_filesystem
from talos_platform.engine.observe.nodes import UsageHistory, kube_node, merge_nodes
from talos_platform.engine.observe.observer import summarise_pods
from talos_platform.engine.observe.pods import classify_pod
from talos_platform.engine.observe.snapshot import ApiLatency, FlowStats, RelayStatus
from talos_platform.engine.plan.planner import Plan
from talos_platform.engine.run.events import (
    RunFinished,
    RunStarted,
    StepFailed,
    StepOutput,
    StepRetrying,
    StepStarted,
    StepSucceeded,
)
from talos_platform.engine.sim.api_server_stats import RequestDurations
from talos_platform.tui.install_state import InstallProgress

T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC: a fixed clock for stable screenshots

NODES = [
    ("cp-1", "192.168.10.11", "control-plane"),
    ("cp-2", "192.168.10.12", "control-plane"),
    ("cp-3", "192.168.10.13", "control-plane"),
    ("worker-1", "192.168.10.21", "worker"),
    ("worker-2", "192.168.10.22", "worker"),
    ("worker-3", "192.168.10.23", "worker"),
]

APPS = [  # name, wave, namespace of its pods, replicas
    ("gateway-api", -100, "", 0),
    ("cilium", -99, "kube-system", 3),
    ("cert-manager", -98, "cert-manager", 3),
    ("external-dns", -97, "external-dns", 1),
    ("argocd", -96, "argocd", 4),
    ("vault", 0, "vault", 3),
    ("vault-secrets-operator", 0, "vault-secrets-operator", 1),
    ("monitoring", 0, "monitoring", 5),
    ("cloudflare-tunnel", 0, "cloudflare", 2),
    ("shop", 10, "shop", 4),
    ("blog", 10, "blog", 2),
]


def node_object(name: str, address: str, role: str, ready: bool = True, pressure: tuple[str, ...] = ()) -> dict:
    labels = {"node-role.kubernetes.io/control-plane": ""} if role == "control-plane" else {}
    pressed = [
        {"type": kind, "status": "True", "reason": f"KubeletHas{kind}", "message": f"kubelet has {kind}"}
        for kind in pressure
        if kind != "MemoryPressure"
    ]
    return {
        "metadata": {"name": name, "labels": labels, "resourceVersion": "1"},
        "status": {
            "addresses": [{"type": "InternalIP", "address": address}],
            "nodeInfo": {"kubeletVersion": "v1.34.1"},
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"}
                if "MemoryPressure" not in pressure
                else {"type": "MemoryPressure", "status": "True", "reason": "KubeletHasInsufficientMemory"},
                *pressed,
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "message": "kubelet is posting ready status" if ready else "Kubelet stopped posting node status.",
                },
            ],
        },
    }


def pod_object(
    namespace: str,
    name: str,
    app: str,
    node: str,
    *,
    waiting: str = "",
    last: str = "",
    restarts: int = 0,
    phase: str = "Running",
    unschedulable: str = "",
    message: str = "",
) -> dict:
    state = (
        {"waiting": {"reason": waiting, "message": message}}
        if waiting
        else {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
    )
    container = {
        "name": name.rsplit("-", 2)[0],
        "ready": not waiting and phase == "Running",
        "restartCount": restarts,
        "state": state,
    }
    if last:
        container["lastState"] = {"terminated": {"reason": last, "exitCode": 137 if last == "OOMKilled" else 1}}
    conditions = (
        [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": unschedulable}]
        if unschedulable
        else [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "True" if container["ready"] else "False"},
        ]
    )
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/instance": app},
            "resourceVersion": "1",
        },
        "spec": {"nodeName": "" if unschedulable else node},
        "status": {"phase": phase, "conditions": conditions, "containerStatuses": [] if unschedulable else [container]},
    }


def application(name: str, wave: int, sync: str = "Synced", health: str = "Healthy", message: str = "") -> dict:
    return {
        "metadata": {"name": name, "namespace": "argocd", "annotations": {"argocd.argoproj.io/sync-wave": str(wave)}},
        "spec": {"project": "platform" if wave < 10 else "apps"},
        "status": {"sync": {"status": sync}, "health": {"status": health, "message": message}},
    }


def _flow(
    second: float, verdict: str, source: str, destination: str, port: int, reason: str = "", policy: str = ""
) -> Flow:
    sns, spod = source.split("/")
    dns, dpod = destination.split("/")
    return Flow(
        time=T0 + second,
        verdict=verdict,
        source=FlowEndpoint(sns, spod),
        destination=FlowEndpoint(dns, dpod),
        protocol="TCP",
        destination_port=port,
        node_name="worker-1",
        drop_reason=reason,
        policy=policy,
    )


def _flows(faulty: bool) -> FlowBuffer:
    buffer = FlowBuffer(capacity=5000)
    pairs = [
        ("shop/web-0", "shop/api-0", 8080),
        ("shop/api-0", "shop/postgres-0", 5432),
        ("monitoring/prometheus-0", "shop/api-0", 9090),
        ("blog/blog-0", "kube-system/coredns-0", 53),
        ("argocd/argocd-repo-server-0", "argocd/argocd-redis-0", 6379),
    ]
    for i in range(600):
        second = i * 0.05
        source, destination, port = pairs[i % len(pairs)]
        if faulty and i % 4 == 0:
            buffer.add(_flow(second, "DROPPED", "shop/web-0", "payments/ledger-0", 8443, "POLICY_DENIED"), T0 + second)
        elif faulty and i % 9 == 0:
            buffer.add(
                _flow(second, "DROPPED", "blog/blog-0", "vault/vault-0", 8200, "POLICY_DENY", "vault/deny-blog"),
                T0 + second,
            )
        else:
            buffer.add(_flow(second, "FORWARDED", source, destination, port), T0 + second)
    if faulty:
        buffer.add(LostEvents(count=1200, source="HUBBLE_RING_BUFFER"), T0 + 29)
        buffer.add(LostEvents(count=80, source="PERF_EVENT_RING_BUFFER"), T0 + 29)
        # Relay cannot reach worker-3's Hubble (its Talos API does not answer either).
        buffer.relay = RelayStatus(
            flows_per_second=1840.0, connected_nodes=5, unavailable_nodes=1, unavailable_node_names=("worker-3",)
        )
    return buffer


def etcd_healths(*, troubled: bool = False, addresses: tuple[str, ...] = ()) -> dict[str, EtcdHealth]:
    """What the three control planes' Talos APIs say about etcd. `troubled`: cp-1's database is
    at 95% of its 2 GiB quota with a NOSPACE alarm raised, and cp-3 is a learner. `addresses`:
    the control planes' addresses instead of NODES' (cp-1, cp-2, cp-3 in that order)."""
    planes = [(name, address) for name, address, role in NODES if role == "control-plane"]
    if addresses:
        planes = [(name, address) for (name, _), address in zip(planes, addresses, strict=True)]
    ids = {name: f"{index + 1:x}a3c5e7f9b2d4e6{index + 1:x}" for index, (name, _) in enumerate(planes)}
    members = tuple(
        EtcdMember(ids[n], n, (f"https://{a}:2380",), (f"https://{a}:2379",), learner=troubled and n == "cp-3")
        for n, a in planes
    )
    alarms = (EtcdAlarm(ids["cp-1"], "NOSPACE"),) if troubled else ()
    healths = {}
    for position, (name, address) in enumerate(planes):
        size = 2_040_000_000 if troubled and name == "cp-1" else 41_000_000 + position * 250_000
        learner = troubled and name == "cp-3"
        status = EtcdMemberStatus(
            member_id=ids[name],
            db_size=size,
            db_size_in_use=size * 2 // 3,
            leader=ids["cp-1"],
            raft_index=(90_000 if learner else 184_220 - position),
            raft_term=4,
            raft_applied_index=(90_000 if learner else 184_220 - position),
            learner=learner,
        )
        healths[address] = EtcdHealth(address, status=status, members=members, alarms=alarms)
    return healths


def cluster_snapshot(
    faulty: bool = False,
    simulated: bool = True,
    *,
    stale: bool = False,
    pressure: bool = False,
    slow_api: bool = False,
    disk_full: bool = False,
    etcd: str = "",
) -> ClusterSnapshot:
    """`stale`: the Kubernetes API stopped answering 42 s before the snapshot (the stores keep
    their last contents); `pressure`: three workers near or past their limits; `slow_api`: every
    request takes seconds; `disk_full`: worker-2's filesystem 97% full (DiskPressure), worker-1's 85%;
    `etcd`: the control planes' etcd as `etcd_healths` makes it, `healthy` or `troubled` (cp-3 a
    learner for five minutes)."""
    facts, history = {}, UsageHistory()
    for index, (name, address, _role) in enumerate(NODES):
        if faulty and name == "worker-3":
            fact = TalosNodeFacts(address, reachable=False, error="connection refused (Talos API port 50000)")
        else:
            for sample in range(12):
                history.record(
                    TalosNodeFacts(
                        address,
                        True,
                        cpu_percent=15 + (index * 7 + sample * 5) % 60,
                        memory_percent=35 + (index * 11 + sample * 3) % 40,
                    )
                )
            cpu = 96.0 if faulty and name == "worker-2" else 20.0 + index * 6
            memory = 40.0 + index * 5
            if pressure:
                cpu, memory = {"worker-1": (98.0, 71.0), "worker-2": (62.0, 97.0), "worker-3": (35.0, 84.0)}.get(
                    name, (cpu, memory)
                )
            fact = TalosNodeFacts(
                address,
                True,
                stage="running",
                talos_version="v1.11.5",
                kubernetes_version="v1.34.1",
                cpu_percent=cpu,
                memory_percent=memory,
            )
        history.record(fact)
        facts[address] = fact
    pressed = {"worker-2": ("MemoryPressure",), "worker-3": ("DiskPressure",)} if pressure else {}
    if disk_full:
        pressed = {**pressed, "worker-2": (*pressed.get("worker-2", ()), "DiskPressure")}
    nodes = [
        kube_node(node_object(n, a, r, ready=not (faulty and n == "worker-3"), pressure=pressed.get(n, ())))
        for n, a, r in NODES
    ]

    pods = []
    workers = ["worker-1", "worker-2", "worker-3"]
    for app, _wave, namespace, replicas in APPS:
        for i in range(replicas):
            pods.append(pod_object(namespace, f"{app}-{i}-7f9c", app, workers[i % 3]))
    if faulty:
        pods += [
            pod_object(
                "shop", "api-5d8f6-x2k9q", "shop", "worker-2", waiting="CrashLoopBackOff", last="OOMKilled", restarts=14
            ),
            pod_object(
                "blog", "blog-worker-0", "blog", "worker-1", waiting="CrashLoopBackOff", last="Error", restarts=6
            ),
            pod_object(
                "shop",
                "search-0",
                "shop",
                "",
                phase="Pending",
                unschedulable="0/6 nodes are available: 3 Insufficient memory, 3 node(s) had untolerated taint "
                "{node-role.kubernetes.io/control-plane: }.",
            ),
            pod_object(
                "monitoring",
                "grafana-6c7d-mm2p4",
                "monitoring",
                "worker-1",
                waiting="ImagePullBackOff",
                phase="Pending",
                message='Back-off pulling image "grafana/grafana:13.9.9": not found',
            ),
            pod_object("cert-manager", "cert-manager-webhook-0", "cert-manager", "worker-3", restarts=4),
        ]
    apps = []
    for name, wave, _ns, _replicas in APPS:
        if faulty and name == "cert-manager":
            apps.append(
                application(
                    name,
                    wave,
                    "Synced",
                    "Degraded",
                    "Deployment cert-manager-webhook has 0/1 ready replicas (node worker-3 unreachable)",
                )
            )
        elif faulty and wave >= 0:
            apps.append(application(name, wave, "OutOfSync", "Missing", "waiting for wave -98"))
        else:
            apps.append(application(name, wave))
    targets = [TalosTarget(a, n, r) for n, a, r in NODES]
    etcd_state = None
    if etcd:
        healths, learners = etcd_healths(troubled=etcd == "troubled"), LearnerClock()
        learners.record(healths.values(), T0 + 30 - 300)
        planes = [n for n in merge_nodes(nodes, facts, targets, history) if n.role == "control-plane"]
        etcd_state = etcd_view(planes, healths, learners, T0 + 30)
    return build_snapshot(
        taken_at=T0 + 30,
        simulated=simulated,
        kube_nodes=nodes,
        facts=facts,
        targets=targets,
        history=history,
        pods=[classify_pod(p) for p in pods],
        apps=[app_view(a) for a in apps],
        flows=_flows(faulty),
        generation=1,
        freshness=_stale_kubernetes(T0 + 30 - 42) if stale else None,
        kube_error=STALE_ERROR if stale else "",
        api=_api_latency(slow_api),
        disks=_disks(faulty, pressure, disk_full),
        etcd=etcd_state,
        alerts=_alerts(faulty, pressure, stale),
    )


def _disks(faulty: bool, pressure: bool, disk_full: bool) -> dict[str, tuple[int, int]]:
    """Filesystem use as kubelet stats summaries give it; an unreachable node's kubelet gives none."""
    capacity = 120 * 1024**3
    percents = {name: 18.0 + index * 6.5 for index, (name, _address, _role) in enumerate(NODES)}
    if pressure:
        percents["worker-3"] = 92.0
    if disk_full:
        percents.update({"worker-1": 85.0, "worker-2": 97.0})
    if faulty:
        del percents["worker-3"]
    summaries = {
        name: json.dumps({"node": {"fs": {"usedBytes": int(capacity * percent / 100), "capacityBytes": capacity}}})
        for name, percent in percents.items()
    }
    return {name: use for name, text in summaries.items() if (use := node_filesystem(text)) is not None}


def _api_latency(slow: bool) -> ApiLatency:
    """The dashboard's round trips and two `/metrics` scrapes a minute apart, as the observer reads them."""
    round_trips = RoundTrips()
    server = ServerLatency()
    durations = RequestDurations(seed=7)
    for index in range(200):
        durations.record("LIST", "pods", 0.03 + index % 5 * 0.01)
        durations.record("GET", "nodes", 0.004)
    server.scraped(durations.exposition(), T0 - 30)
    durations.slow_latency = 2.6 if slow else 0.0
    for index in range(60):
        seconds = durations.next_duration()
        durations.record("LIST" if index % 3 else "GET", "pods" if index % 3 else "nodes", seconds)
        durations.record("PATCH", "applications", seconds / 2)
        round_trips.record(seconds, T0 + index / 2)
    server.scraped(durations.exposition(), T0 + 30)
    return api_latency(round_trips, server, T0 + 30)


ALERTMANAGER_SOURCE = "monitoring/monitoring-kube-prometheus-alertmanager"


def alert_json(name: str, severity: str, since: float, summary: str = "", state: str = "active", **labels: str) -> dict:
    """One alert as Alertmanager's v2 API lists it; `since`: seconds before T0 + 30."""
    started = T0 + 30 - since
    status = {"state": "active", "silencedBy": [], "inhibitedBy": [], "mutedBy": []}
    if state != "active":
        status.update(state="suppressed", **{f"{state}By": [f"{state}-{name}"]})
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started)) + ".123456789Z"
    return {
        "labels": {"alertname": name, "severity": severity, **labels},
        "annotations": {"summary": summary} if summary else {},
        "startsAt": stamp,
        "updatedAt": stamp,
        "endsAt": stamp,
        "fingerprint": f"{name}:{sorted(labels.items())}",
        "receivers": [{"name": "null"}],
        "status": status,
    }


def _alerts(faulty: bool, pressure: bool, stale: bool) -> AlertsView:
    """What kube-prometheus-stack's rules would fire for the same cluster, read from Alertmanager."""
    raw = [alert_json("Watchdog", "none", 86_400, "An alert that should always be firing")]
    if faulty:
        raw += [
            alert_json(
                "KubePodCrashLooping",
                "warning",
                840,
                "Pod is crash looping.",
                namespace="shop",
                pod="api-5d8f6-x2k9q",
                container="api",
            ),
            alert_json(
                "KubePodCrashLooping",
                "warning",
                300,
                "Pod is crash looping.",
                namespace="blog",
                pod="blog-worker-0",
                container="worker",
            ),
            alert_json("KubeNodeNotReady", "warning", 1_020, "Node is not ready.", node="worker-3"),
            alert_json(
                "KubePersistentVolumeFillingUp",
                "critical",
                4_000,
                "PersistentVolume is filling up.",
                namespace="shop",
                persistentvolumeclaim="data-db-0",
            ),
            alert_json(
                "KubeDeploymentReplicasMismatch",
                "warning",
                960,
                namespace="cert-manager",
                deployment="cert-manager-webhook",
            ),
            alert_json(
                "KubeJobFailed",
                "warning",
                7_200,
                "Job failed to complete.",
                state="silenced",
                namespace="blog",
                job_name="backup",
            ),
            alert_json(
                "CPUThrottlingHigh",
                "info",
                600,
                "Processes experience elevated CPU throttling.",
                state="inhibited",
                namespace="shop",
                pod="api-5d8f6-x2k9q",
            ),
        ]
    if pressure:
        raw += [
            alert_json(
                "NodeFilesystemAlmostOutOfSpace",
                "critical",
                2_100,
                "Filesystem has less than 3% space left.",
                instance="worker-3",
                mountpoint="/var",
            ),
            alert_json(
                "NodeMemoryHighUtilization", "warning", 1_500, "Host is running out of memory.", instance="worker-2"
            ),
            alert_json(
                "KubeNodePressure",
                "info",
                900,
                "Node has as active Condition.",
                state="inhibited",
                node="worker-2",
                condition="MemoryPressure",
            ),
            alert_json(
                "KubeNodePressure",
                "info",
                2_100,
                "Node has as active Condition.",
                state="inhibited",
                node="worker-3",
                condition="DiskPressure",
            ),
        ]
    view = summarise_alerts(raw, ALERTMANAGER_SOURCE)
    if stale:
        # Read through the API server: it stopped answering with it, the last answer is kept.
        return dataclasses.replace(view, error=STALE_ERROR)
    return view


STALE_ERROR = 'nodes: Get "https://192.168.10.10:6443/api": net/http: TLS handshake timeout'


def _stale_kubernetes(since: float) -> Freshness:
    down = SourceState(KUBERNETES_API, reachable=False, error=STALE_ERROR, down_since=since)
    alerts = SourceState(ALERTMANAGER, reachable=False, error=STALE_ERROR, down_since=since)
    return Freshness(kubernetes=down, nodes=down, apps=down, pods=down, alerts=alerts)


# --- install progress --------------------------------------------------------------------------

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "examples" / "metal-3cp-3w.yaml"


def early_cluster_snapshot() -> ClusterSnapshot:
    """What the panes see during layer 1: nodes up, a few system pods, no apps, no Hubble yet."""
    full = cluster_snapshot(faulty=False)
    kube_system = tuple(ns for ns in full.namespaces if ns.namespace == "kube-system")
    return dataclasses.replace(
        full, waves=(), blocked="", pod_problems=(), namespaces=kube_system, flows=FlowStats(available=False)
    )


def starting_pods_snapshot(seconds_since_scheduled: float = 20.0) -> ClusterSnapshot:
    """`early_cluster_snapshot` as a wave's pods come up: cert-manager's three pods scheduled
    `seconds_since_scheduled` before the snapshot, their containers still being created, and its
    Application (wave -98) Progressing on them."""
    early = early_cluster_snapshot()
    scheduled = datetime.fromtimestamp(early.taken_at - seconds_since_scheduled, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    pods = []
    for index, name in enumerate(("cert-manager-7d9f-2xq", "cert-manager-cainjector-5c8b-9kd", "webhook-6f7c-m4t")):
        pod = pod_object("cert-manager", name, "cert-manager", f"worker-{index + 1}", phase="Pending")
        pod["metadata"]["creationTimestamp"] = scheduled
        pod["status"]["conditions"] = [{"type": "PodScheduled", "status": "True", "lastTransitionTime": scheduled}]
        pod["status"]["containerStatuses"][0].update(ready=False, state={"waiting": {"reason": "ContainerCreating"}})
        pods.append(classify_pod(pod))
    problems, namespaces, _healthy = summarise_pods(pods, now=early.taken_at)
    rollout = {
        "group": "apps",
        "kind": "Deployment",
        "namespace": "cert-manager",
        "name": "cert-manager",
        "status": "Synced",
        "health": {"status": "Progressing", "message": "Waiting for rollout to finish: 0 of 1 updated replicas"},
    }
    cert_manager = application("cert-manager", -98, "Synced", "Progressing")
    cert_manager["status"]["resources"] = [rollout]
    waves, blocked = group_by_wave([app_view(application("gateway-api", -100)), app_view(cert_manager)], problems)
    return dataclasses.replace(
        early,
        pod_problems=problems,
        namespaces=tuple(sorted((*early.namespaces, *namespaces), key=lambda n: n.namespace)),
        waves=waves,
        blocked=blocked,
    )


def layer_zero_snapshot(asked: bool = True) -> ClusterSnapshot:
    """Early in layer 0, before Kubernetes runs: the control planes and worker-1 installing their
    config (the Talos API refuses meanwhile), worker-2 and worker-3 still in maintenance mode
    waiting for theirs; with `asked=False`, before the first round of Talos questions."""
    facts = {}
    for name, address, _role in NODES if asked else ():
        if name in ("worker-2", "worker-3"):
            facts[address] = TalosNodeFacts(
                address, True, maintenance=True, stage="maintenance", talos_version="v1.11.5"
            )
        else:
            facts[address] = TalosNodeFacts(
                address, False, error=f"dial tcp {address}:50000: connect: connection refused"
            )
    return build_snapshot(
        taken_at=T0 + 30,
        simulated=True,
        kube_nodes=(),
        facts=facts,
        targets=[TalosTarget(a, n, r) for n, a, r in NODES],
        history=UsageHistory(),
        pods=(),
        apps=(),
        flows=None,
    )


def layer_zero_progress(configs_applied: bool = False) -> InstallProgress:
    """The example's install in layer 0: the checks done and every node's config being applied
    (all at once, as the plan runs them); with `configs_applied`, all of layer 0 done."""
    plan = list(Plan(platform_steps(load_config(EXAMPLE_CONFIG))))
    progress = InstallProgress((s.id, s.layer, s.title) for s in plan)
    progress.apply(RunStarted(at=T0, run_id="20260101-000000", steps=tuple(s.id for s in plan), simulated=True))
    applying = False
    for index, step in enumerate(s for s in plan if s.layer == 0):
        is_apply = step.id.startswith("L0.apply-config.")
        if applying and not is_apply and not configs_applied:
            break  # the steps after them wait for the configs
        progress.apply(StepStarted(at=T0 + index, step_id=step.id, layer=0, title=step.title))
        applying = applying or is_apply
        if configs_applied or not is_apply:
            progress.apply(StepSucceeded(at=T0 + index + 1, step_id=step.id, duration=1.0))
    return progress


def install_progress(failed: bool = False, finished: bool = False) -> InstallProgress:
    """The real plan of the example config, part-way through (or failed in layer 0, or
    `finished`: every step done), with fixed times."""
    plan = Plan(platform_steps(load_config(EXAMPLE_CONFIG)))
    progress = InstallProgress((s.id, s.layer, s.title) for s in plan)
    steps = list(plan)
    at = T0
    events: list = [RunStarted(at=at, run_id="20260101-000000", steps=tuple(s.id for s in steps), simulated=True)]
    stop_at = "L0.apply-config.worker-3" if failed else "" if finished else "L1.cilium"
    for step in steps:
        events.append(StepStarted(at=at, step_id=step.id, layer=step.layer, title=step.title))
        if step.id == stop_at:
            if failed:
                events += [
                    StepOutput(
                        at=at + 1,
                        step_id=step.id,
                        line="talosctl apply-config --insecure --nodes 192.168.10.23 --file worker.yaml",
                    ),
                    StepRetrying(
                        at=at + 5,
                        step_id=step.id,
                        attempt=1,
                        delay=2.0,
                        error="rpc error: code = Unavailable desc = connection refused",
                    ),
                    StepStarted(at=at + 7, step_id=step.id, layer=step.layer, title=step.title, attempt=2),
                    StepFailed(
                        at=at + 37,
                        step_id=step.id,
                        error="worker-3 (192.168.10.23) never reached maintenance mode: the Talos API did not "
                        "answer within 30s",
                        hint="check that worker-3 booted the Talos ISO and that 192.168.10.23 is its address; then "
                        "press r to retry",
                    ),
                    RunFinished(at=at + 37, run_id="20260101-000000", outcome="failed"),
                ]
            else:
                events += [
                    StepOutput(at=at + i, step_id=step.id, line=line)
                    for i, line in enumerate(
                        (
                            "waiting for DaemonSet kube-system/cilium: 3/6 pods ready",
                            "waiting for DaemonSet kube-system/cilium: 5/6 pods ready",
                            "waiting for Deployment kube-system/hubble-relay: 0/1 ready",
                        )
                    )
                ]
                progress.now = at + 12
            break
        events.append(StepOutput(at=at + 0.5, step_id=step.id, line=f"{step.title}: done"))
        if step.id == "L1.bootstrap-secrets":
            events.append(
                StepRetrying(
                    at=at + 1, step_id=step.id, attempt=1, delay=2.0, error="the argocd namespace does not exist yet"
                )
            )
            events.append(StepStarted(at=at + 3, step_id=step.id, layer=step.layer, title=step.title, attempt=2))
            at += 3
        duration = 1.5 + (len(step.id) % 7) * 0.8
        at += duration
        events.append(StepSucceeded(at=at, step_id=step.id, duration=duration))
    if finished:
        events.append(RunFinished(at=at, run_id="20260101-000000", outcome="succeeded"))
    for event in events:
        progress.apply(event)
    return progress
