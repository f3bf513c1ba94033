"""Compact records of pods and their owners, rendered to the API's JSON only when read or
changed, so 10,000 pods stay cheap; and the owners' status as the controllers write it."""

from __future__ import annotations

import hashlib
from typing import Any

from talos_platform.engine.drivers.protocols import DAEMONSETS, DEPLOYMENTS, STATEFULSETS, Resource
from talos_platform.engine.sim.scenarios import CrashLoop, PodsPending

KINDS = {"Deployment": DEPLOYMENTS, "DaemonSet": DAEMONSETS, "StatefulSet": STATEFULSETS}


def short_hash(text: str, length: int = 10) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


class PodRecord:
    """One pod, compactly; `render()` gives the API JSON."""

    __slots__ = (
        "namespace",
        "name",
        "uid",
        "owner",
        "node",
        "phase",
        "ready",
        "waiting_reason",
        "waiting_message",
        "restart_count",
        "last_terminated",
        "running_since",
        "created_at",
        "scheduled_at",
        "unschedulable",
        "resource_version",
        "ip",
        "cache",
        "deleted",
        "container",
        "static",
        "node_ip",
    )

    def __init__(
        self, namespace: str, name: str, uid: str, owner: WorkloadRecord | None, created_at: str, container: str
    ):
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.owner = owner
        self.node = ""
        self.phase = "Pending"
        self.ready = False
        self.waiting_reason = ""
        self.waiting_message = ""
        self.restart_count = 0
        self.last_terminated: dict[str, Any] | None = None
        self.running_since = ""
        self.created_at = created_at
        self.scheduled_at = ""
        self.unschedulable = ""
        self.resource_version = 0
        self.ip = ""
        self.cache: dict[str, Any] | None = None
        self.deleted = False
        self.container = container
        self.static = False
        self.node_ip = ""

    @property
    def app(self) -> str:
        return self.owner.app if self.owner else ""

    @property
    def labels(self) -> dict[str, str]:
        """The template's labels plus what the controllers add, like on a real pod."""
        owner = self.owner
        if owner is None:
            return (
                {"component": self.container, "tier": "control-plane"}
                if self.static
                else {"app.kubernetes.io/name": self.container}
            )
        labels = dict(owner.template_labels) or {"app.kubernetes.io/name": owner.name}
        if owner.app:
            labels.setdefault("app.kubernetes.io/instance", owner.app)
        if owner.kind == "Deployment":
            labels["pod-template-hash"] = owner.template_hash
        else:
            labels["controller-revision-hash"] = f"{owner.name}-{owner.template_hash}"
        if owner.kind == "StatefulSet":
            labels["statefulset.kubernetes.io/pod-name"] = self.name
        return labels

    def render(self) -> dict[str, Any]:
        if self.cache is not None:
            return self.cache
        owner = self.owner
        metadata: dict[str, Any] = {
            "name": self.name,
            "namespace": self.namespace,
            "uid": self.uid,
            "resourceVersion": str(self.resource_version),
            "creationTimestamp": self.created_at,
            "labels": self.labels,
        }
        if owner is not None:
            owner_kind = "ReplicaSet" if owner.kind == "Deployment" else owner.kind
            owner_name = f"{owner.name}-{owner.template_hash}" if owner.kind == "Deployment" else owner.name
            metadata["ownerReferences"] = [
                {
                    "apiVersion": "apps/v1",
                    "kind": owner_kind,
                    "name": owner_name,
                    "uid": owner.uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ]
        elif self.static:
            metadata["annotations"] = {"kubernetes.io/config.source": "file"}
        spec: dict[str, Any] = {
            "containers": [
                {
                    "name": self.container,
                    "image": owner.image if owner else f"registry.k8s.io/{self.container}",
                    "resources": {"limits": {"memory": owner.memory_limit}} if owner else {},
                }
            ],
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
        }
        if self.node:
            spec["nodeName"] = self.node
        if owner is not None and owner.tolerations:
            spec["tolerations"] = [dict(t) for t in owner.tolerations]
        status: dict[str, Any] = {"phase": self.phase, "qosClass": "Burstable"}
        conditions: list[dict[str, Any]] = []
        if self.unschedulable:
            conditions.append(
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": self.unschedulable,
                    "lastTransitionTime": self.created_at,
                }
            )
        elif self.node:
            conditions.append({"type": "PodScheduled", "status": "True", "lastTransitionTime": self.scheduled_at})
            started = self.phase == "Running"
            flag = "True" if self.ready else "False"
            conditions += [
                {"type": "Initialized", "status": "True", "lastTransitionTime": self.scheduled_at},
                {
                    "type": "ContainersReady",
                    "status": flag,
                    "lastTransitionTime": self.running_since or self.scheduled_at,
                },
                {"type": "Ready", "status": flag, "lastTransitionTime": self.running_since or self.scheduled_at},
            ]
            if started or self.waiting_reason:
                state: dict[str, Any]
                if self.waiting_reason:
                    state = {"waiting": {"reason": self.waiting_reason, "message": self.waiting_message}}
                else:
                    state = {"running": {"startedAt": self.running_since}}
                container_status: dict[str, Any] = {
                    "name": self.container,
                    "image": spec["containers"][0]["image"],
                    "imageID": "",
                    "ready": self.ready,
                    "started": started and not self.waiting_reason,
                    "restartCount": self.restart_count,
                    "state": state,
                    "lastState": {"terminated": dict(self.last_terminated)} if self.last_terminated else {},
                }
                status["containerStatuses"] = [container_status]
            status["hostIP"] = self.node_ip
            if self.ip:
                status["podIP"] = self.ip
                status["podIPs"] = [{"ip": self.ip}]
            status["startTime"] = self.scheduled_at
        status["conditions"] = conditions
        self.cache = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}
        return self.cache


class WorkloadRecord:
    """A Deployment, DaemonSet or StatefulSet and its pods."""

    def __init__(
        self,
        kind: str,
        namespace: str,
        name: str,
        uid: str,
        replicas: int,
        app: str,
        image: str,
        tolerate_all: bool,
        memory_limit: str,
        generation: int,
    ):
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.replicas = replicas
        self.app = app
        self.image = image
        self.tolerate_all = tolerate_all
        self.template_labels: dict[str, str] = {}
        self.tolerate_control_plane = tolerate_all
        self.tolerations: list[dict[str, Any]] = [{"operator": "Exists"}] if tolerate_all else []
        self.memory_limit = memory_limit
        self.generation = generation
        self.pods: dict[str, PodRecord] = {}
        self.template_hash = short_hash(f"{namespace}/{name}/{image}")
        self.crash: CrashLoop | None = None
        self.image_pull_fails = False
        self.requires_unseal = False
        self.deadline_exceeded = False
        self.pending: PodsPending | None = None
        self.ordinal = 0
        self.template_spec: dict[str, Any] = {}
        self.claims: list[str | None] = []
        """StorageClass of each volume claim template (None: the default class)."""
        self.refused = ""
        """Why the API server refuses this workload's pods (PodSecurity), or ''."""
        self.desired = 0
        """A DaemonSet's wanted pod count while its pods are refused."""

    @property
    def resource(self) -> Resource:
        return KINDS[self.kind]


def workload_status(workload: WorkloadRecord) -> dict[str, Any]:
    """The owner's `status` from its pods (condition times are filled in by the caller)."""
    pods = list(workload.pods.values())
    ready = sum(1 for pod in pods if pod.ready)
    total = len(pods)
    status: dict[str, Any]
    if workload.kind == "DaemonSet":
        status = {
            "currentNumberScheduled": total,
            "desiredNumberScheduled": workload.desired if workload.refused else total,
            "numberMisscheduled": 0,
            "numberReady": ready,
            "numberAvailable": ready,
            "updatedNumberScheduled": total,
            "observedGeneration": workload.generation,
        }
        if status["desiredNumberScheduled"] - ready:
            status["numberUnavailable"] = status["desiredNumberScheduled"] - ready
    elif workload.kind == "StatefulSet":
        status = {
            "replicas": total,
            "readyReplicas": ready,
            "currentReplicas": total,
            "updatedReplicas": total,
            "availableReplicas": ready,
            "observedGeneration": workload.generation,
            "currentRevision": f"{workload.name}-{workload.template_hash}",
            "updateRevision": f"{workload.name}-{workload.template_hash}",
            "collisionCount": 0,
        }
    else:
        available = ready >= workload.replicas
        replica_set = f"{workload.name}-{workload.template_hash}"
        if available:
            progressing = {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable",
                "message": f'ReplicaSet "{replica_set}" has successfully progressed.',
            }
        elif workload.deadline_exceeded:
            progressing = {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": f'ReplicaSet "{replica_set}" has timed out progressing.',
            }
        else:
            progressing = {
                "type": "Progressing",
                "status": "True",
                "reason": "ReplicaSetUpdated",
                "message": f'ReplicaSet "{replica_set}" is progressing.',
            }
        status = {
            "observedGeneration": workload.generation,
            "replicas": total,
            "updatedReplicas": total,
            "conditions": [
                {
                    "type": "Available",
                    "status": "True" if available else "False",
                    "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                    "message": "Deployment has minimum availability."
                    if available
                    else "Deployment does not have minimum availability.",
                },
                progressing,
            ],
        }
        if ready:
            status["readyReplicas"] = ready
            status["availableReplicas"] = ready
        if total - ready:
            status["unavailableReplicas"] = total - ready
    return status
