"""The simulated Alertmanager: the alerts kube-prometheus-stack's default rules would fire over
the simulated cluster, answered as Alertmanager's v2 API does (`gettableAlerts` JSON).

It reads the cluster through the simulated API server (so an API outage makes it unreachable,
as the service proxy is), is missing until the monitoring component's Alertmanager StatefulSet
exists and answers 503 while none of its pods is ready. What fires:

- nothing at all while Prometheus has no ready pod (nothing evaluates the rules: even `Watchdog`
  stops, which is what it is for);
- `Watchdog` always (severity none), and `InfoInhibitor` whenever an info alert fires; the
  chart's inhibition rules then suppress info-level alerts, and InfoInhibitor itself;
- `KubePodCrashLooping` (warning) per crash-looping container;
- `KubeNodeNotReady` (warning) per node that is not Ready, `KubeNodeUnreachable` (warning) when
  its node controller marked it unreachable;
- per pressure condition: `KubeNodePressure` (info), and `NodeMemoryHighUtilization` (warning)
  for MemoryPressure, `NodeFilesystemAlmostOutOfSpace` (critical) for DiskPressure;
- the scenario's alert storms (`alertStorm`): many alerts about pods (outside kube-*, monitoring
  and argocd), some under a silence.

Unlike the real rules, no alert waits for its `for:` duration (10 to 30 minutes upstream): it
fires from the first read that sees the condition, and `startsAt` is that moment.
"""

from __future__ import annotations

import builtins
import hashlib
import random
from typing import Any

from talos_platform.engine.drivers.protocols import NODES, PODS, STATEFULSETS, AlertmanagerMissing
from talos_platform.engine.sim.kube import SimulatedKube
from talos_platform.engine.sim.model import PlatformModel, iso

NAMESPACE = "monitoring"
STATEFULSET = "alertmanager-kube-prometheus-stack-alertmanager"
PROMETHEUS = "prometheus-kube-prometheus-stack-prometheus"
SERVICE = "monitoring-kube-prometheus-alertmanager"
STORM_SILENCE = "5e0b2c1e-7d3a-4c55-9a61-3f1d2b7c0a11"
"""The ID of the silence covering a storm's silenced alerts."""
INFO_INHIBITOR_RULE = "InfoInhibitor"

# Alerts of the storm, as kubernetes-mixin names them: (alertname, summary, the label naming
# what it is about: the pod itself, or its workload's Deployment, Service or volume claim).
STORM_ALERTS = (
    ("KubePodNotReady", "Pod has been in a non-ready state for more than 15 minutes.", "pod"),
    ("KubeContainerWaiting", "Pod container waiting longer than 1 hour", "pod"),
    ("KubeDeploymentReplicasMismatch", "Deployment has not matched the expected number of replicas.", "deployment"),
    ("TargetDown", "Some targets were not reachable from the monitoring server for an extended period.", "service"),
    ("KubePodCrashLooping", "Pod is crash looping.", "pod"),
)
STORM_CRITICAL = ("KubePersistentVolumeFillingUp", "PersistentVolume is filling up.", "persistentvolumeclaim")


def workload_of(pod: str) -> str:
    """`web-7f9c-x2k9q` (a Deployment's pod) -> `web`; `db-0` (a StatefulSet's) -> `db`."""
    head, _, last = pod.rpartition("-")
    if last.isdigit() or "-" not in head:
        return head or pod
    return head.rpartition("-")[0]


def target_labels(label: str, namespace: str, pod: str) -> dict[str, str]:
    workload = workload_of(pod)
    value = {"pod": pod, "deployment": workload, "service": workload, "persistentvolumeclaim": f"data-{workload}"}[
        label
    ]
    return {"namespace": namespace, label: value}


Firing = tuple[dict[str, str], str, str]
"""(labels, summary, state: `active`, `silenced` or `inhibited`)."""


def fingerprint(labels: dict[str, str]) -> str:
    text = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class SimulatedAlertmanager:
    """Implements the `Alertmanager` protocol."""

    source = f"{NAMESPACE}/{SERVICE}"

    def __init__(self, model: PlatformModel):
        self.model = model
        self.kube = SimulatedKube(model)
        self._first_seen: dict[str, float] = {}

    async def alerts(self) -> builtins.list[dict[str, Any]]:
        statefulset = await self.kube.get(STATEFULSETS, STATEFULSET, NAMESPACE)
        if statefulset is None:
            raise AlertmanagerMissing(
                f"no Service {self.source}: Alertmanager is not installed (components.monitoring installs it)"
            )
        if not (statefulset.get("status") or {}).get("readyReplicas"):
            raise ConnectionError(f"Alertmanager {self.source} has no ready pod (503): no endpoints available")
        prometheus = await self.kube.get(STATEFULSETS, PROMETHEUS, NAMESPACE)
        if prometheus is None or not (prometheus.get("status") or {}).get("readyReplicas"):
            # Nothing evaluates the rules: Alertmanager holds no alert, Watchdog included.
            self._first_seen = {}
            return []
        nodes = (await self.kube.list(NODES)).items
        pods = (await self.kube.list(PODS)).items
        firing = [*self._node_alerts(nodes), *self._pod_alerts(pods), *self._storm_alerts(pods)]
        alerts = [self._alert({"alertname": "Watchdog", "severity": "none"}, "An alert that should always be firing")]
        for labels, summary, state in firing:
            alerts.append(self._alert(labels, summary, state))
        if any(labels.get("severity") == "info" for labels, _, _ in firing):
            alerts.append(
                self._alert(
                    {"alertname": INFO_INHIBITOR_RULE, "severity": "none"}, "Info-level alert inhibition.", "inhibited"
                )
            )
        seen = {alert["fingerprint"] for alert in alerts}
        self._first_seen = {key: value for key, value in self._first_seen.items() if key in seen}
        return alerts

    # --- rules ---

    def _node_alerts(self, nodes: builtins.list[dict[str, Any]]) -> builtins.list[Firing]:
        found: builtins.list[Firing] = []
        for node in nodes:
            name = node["metadata"]["name"]
            conditions = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
            if conditions.get("Ready") != "True":
                found.append(
                    (
                        {"alertname": "KubeNodeNotReady", "severity": "warning", "node": name},
                        "Node is not ready.",
                        "active",
                    )
                )
            taints = {t.get("key") for t in (node.get("spec") or {}).get("taints") or []}
            if "node.kubernetes.io/unreachable" in taints:
                found.append(
                    (
                        {"alertname": "KubeNodeUnreachable", "severity": "warning", "node": name},
                        "Node is unreachable.",
                        "active",
                    )
                )
            for condition in ("MemoryPressure", "DiskPressure", "PIDPressure"):
                if conditions.get(condition) != "True":
                    continue
                labels = {"alertname": "KubeNodePressure", "severity": "info", "node": name, "condition": condition}
                found.append((labels, "Node has as active Condition.", "inhibited"))
            if conditions.get("MemoryPressure") == "True":
                labels = {"alertname": "NodeMemoryHighUtilization", "severity": "warning", "instance": name}
                found.append((labels, "Host is running out of memory.", "active"))
            if conditions.get("DiskPressure") == "True":
                labels = {
                    "alertname": "NodeFilesystemAlmostOutOfSpace",
                    "severity": "critical",
                    "instance": name,
                    "mountpoint": "/var",
                }
                found.append((labels, "Filesystem has less than 3% space left.", "active"))
        return found

    def _pod_alerts(self, pods: builtins.list[dict[str, Any]]) -> builtins.list[Firing]:
        found: builtins.list[Firing] = []
        for pod in pods:
            metadata = pod["metadata"]
            for status in (pod.get("status") or {}).get("containerStatuses") or []:
                waiting = (status.get("state") or {}).get("waiting") or {}
                if waiting.get("reason") == "CrashLoopBackOff":
                    labels = {
                        "alertname": "KubePodCrashLooping",
                        "severity": "warning",
                        "namespace": metadata.get("namespace", ""),
                        "pod": metadata["name"],
                        "container": status.get("name", ""),
                    }
                    found.append((labels, "Pod is crash looping.", "active"))
        return found

    def _storm_alerts(self, pods: builtins.list[dict[str, Any]]) -> builtins.list[Firing]:
        found: builtins.list[Firing] = []
        targets = sorted(
            (p["metadata"].get("namespace", ""), p["metadata"]["name"])
            for p in pods
            if not p["metadata"].get("namespace", "").startswith(("kube-", "monitoring", "argocd"))
        )
        if not targets:
            return found
        for number, (storm, _began) in enumerate(self.model.alert_storms):
            rng = random.Random(f"{self.model.seed}-{number}")
            used: set[tuple[tuple[str, str], ...]] = set()
            for index in range(storm.alerts):
                critical = index < storm.critical
                name, summary, label = STORM_CRITICAL if critical else STORM_ALERTS[index % len(STORM_ALERTS)]
                start = rng.randrange(len(targets))
                # One alert per rule and target, as Alertmanager keeps them (same labels, one alert).
                for step in range(len(targets)):
                    namespace, pod = targets[(start + step) % len(targets)]
                    labels = {"alertname": name, "severity": "critical" if critical else "warning"}
                    labels.update(target_labels(label, namespace, pod))
                    if tuple(sorted(labels.items())) not in used:
                        break
                else:
                    continue
                used.add(tuple(sorted(labels.items())))
                found.append((labels, summary, "silenced" if index >= storm.alerts - storm.silenced else "active"))
        return found

    # --- the API's shape ---

    def _alert(self, labels: dict[str, str], summary: str, state: str = "active") -> dict[str, Any]:
        key = fingerprint(labels)
        started = self._first_seen.setdefault(key, self.model.clock.now())
        return {
            "labels": labels,
            "annotations": {"summary": summary},
            "startsAt": iso(started),
            "updatedAt": iso(self.model.clock.now()),
            "endsAt": iso(self.model.clock.now() + 240),
            "fingerprint": key,
            "receivers": [{"name": "null"}],
            "status": {
                "state": "active" if state == "active" else "suppressed",
                "silencedBy": [STORM_SILENCE] if state == "silenced" else [],
                "inhibitedBy": [fingerprint({"alertname": INFO_INHIBITOR_RULE})] if state == "inhibited" else [],
                "mutedBy": [],
            },
            "generatorURL": "",
        }
