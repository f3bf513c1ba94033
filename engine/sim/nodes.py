"""The Kubernetes Node object of a simulated machine, as the kubelet reports it."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from talos_platform.engine.config.models import PlatformConfig
    from talos_platform.engine.sim.model import Machine


# What the kubelet says, and the taint the node lifecycle controller adds, while a pressure holds.
PRESSURE_TRUE = {
    "MemoryPressure": ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
    "DiskPressure": ("KubeletHasDiskPressure", "kubelet has disk pressure"),
    "PIDPressure": ("KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
}
PRESSURE_TAINTS = {
    "MemoryPressure": "node.kubernetes.io/memory-pressure",
    "DiskPressure": "node.kubernetes.io/disk-pressure",
    "PIDPressure": "node.kubernetes.io/pid-pressure",
}


def node_object(
    machine: Machine,
    config: PlatformConfig,
    seed: int,
    now: str,
    *,
    existing: dict[str, Any] | None,
    control_plane_taint: bool,
    pressure: tuple[str, ...] = (),
) -> dict[str, Any]:
    """NotReady (with the CNI message and the not-ready taint) until the CNI runs on it; the
    `pressure` conditions True (with the kubelet's reasons and taints) when it runs hot."""
    control_plane = machine.is_control_plane
    labels = {
        "kubernetes.io/hostname": machine.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
    }
    taints = []
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
        if control_plane_taint:
            taints.append({"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"})
    if machine.lost:
        taints += [
            {"key": "node.kubernetes.io/unreachable", "effect": effect, "timeAdded": now}
            for effect in ("NoSchedule", "NoExecute")
        ]
    elif not machine.ready:
        taints.append({"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule", "timeAdded": now})
    if machine.cordoned:
        taints.append({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": now})
    taints += [
        {"key": PRESSURE_TAINTS[kind], "effect": "NoSchedule", "timeAdded": now}
        for kind in pressure
        if not machine.lost
    ]
    if machine.lost:
        ready = {
            "type": "Ready",
            "status": "Unknown",
            "reason": "NodeStatusUnknown",
            "message": "Kubelet stopped posting node status.",
        }
    elif machine.ready:
        ready = {
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": "kubelet is posting ready status",
        }
    else:
        ready = {
            "type": "Ready",
            "status": "False",
            "reason": "KubeletNotReady",
            "message": "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
            "message:Network plugin returns error: cni plugin not initialized",
        }
    ready.update({"lastHeartbeatTime": now, "lastTransitionTime": now})
    spec = machine.spec
    capacity = {
        "cpu": str(spec.cpu_cores),
        "memory": f"{spec.memory_bytes // 1024}Ki",
        "pods": "110",
        "ephemeral-storage": "488378368Ki",
    }
    allocatable = {
        "cpu": f"{spec.cpu_cores * 1000 - 150}m",
        "memory": f"{spec.memory_bytes // 1024 - 524288}Ki",
        "pods": "110",
        "ephemeral-storage": "450082584454",
    }
    conditions = [
        {
            "type": kind,
            "status": "Unknown",
            "reason": "NodeStatusUnknown",
            "message": "Kubelet stopped posting node status.",
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }
        if machine.lost
        else {
            "type": kind,
            "status": "True",
            "reason": PRESSURE_TRUE[kind][0],
            "message": PRESSURE_TRUE[kind][1],
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }
        if kind in pressure
        else {
            "type": kind,
            "status": "False",
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }
        for kind, reason, message in (
            ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        )
    ]
    # Talos publishes the extensions it runs (its ExtensionStatus resources) on the Node: a label
    # per extension, and the factory's `schematic` pseudo-extension as an annotation (its ID is
    # too long for a label value).
    version = machine.talos_version or config.cluster.talos_version
    labels.update({f"extensions.talos.dev/{name.rsplit('/', 1)[-1]}": version for name in machine.extensions})
    annotations = {"talos.dev/owned-labels": "[]"} | machine.annotations
    if machine.schematic:
        annotations["extensions.talos.dev/schematic"] = machine.schematic
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": machine.name, "labels": labels, "annotations": annotations},
        "spec": ({"taints": taints} if taints else {}) | ({"unschedulable": True} if machine.cordoned else {}),
        "status": {
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": conditions + [ready],
            "addresses": [
                {"type": "InternalIP", "address": machine.address},
                {"type": "Hostname", "address": machine.name},
            ],
            "nodeInfo": {
                "machineID": machine_id(machine.name, seed),
                "systemUUID": machine_id(machine.name + "/uuid", seed),
                "bootID": machine_id(machine.name + "/boot", seed),
                "kernelVersion": "6.12.57-talos",
                "osImage": f"Talos ({machine.talos_version or config.cluster.talos_version})",
                "containerRuntimeVersion": "containerd://2.1.5",
                "kubeletVersion": machine.kubernetes_version or config.cluster.kubernetes_version,
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }
    if existing is not None:
        obj["metadata"]["uid"] = existing["metadata"]["uid"]
        obj["metadata"]["creationTimestamp"] = existing["metadata"]["creationTimestamp"]
        # Keep condition transition times of conditions that did not change.
        old = {c["type"]: c for c in existing["status"]["conditions"]}
        for condition in obj["status"]["conditions"]:
            previous = old.get(condition["type"])
            if previous and previous["status"] == condition["status"]:
                condition["lastTransitionTime"] = previous["lastTransitionTime"]
    return obj


def machine_id(text: str, seed: int) -> str:
    """Stable 32-hex id for a machine (deterministic, not Python's salted hash)."""
    return hashlib.sha256(f"{seed}:{text}".encode()).hexdigest()[:32]
