"""ArgoCD's built-in health assessment of the objects the simulator creates."""

from __future__ import annotations

from typing import Any


def workload_health(obj: dict[str, Any]) -> tuple[str, str]:
    """ArgoCD's built-in health of a workload object: (status, message)."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    name = obj["metadata"]["name"]
    if kind == "Deployment":
        for condition in status.get("conditions") or []:
            if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
                return "Degraded", f'Deployment "{name}" exceeded its progress deadline'
        wanted = int(spec.get("replicas", 1))
        available = int(status.get("availableReplicas", 0) or 0)
        if available < wanted:
            return (
                "Progressing",
                f"Waiting for rollout to finish: {available} of {wanted} updated replicas are available...",
            )
        return "Healthy", ""
    if kind == "StatefulSet":
        wanted = int(spec.get("replicas", 1))
        ready = int(status.get("readyReplicas", 0) or 0)
        if ready < wanted:
            return "Progressing", f"Waiting for {wanted - ready} pods to be ready..."
        return "Healthy", f"partitioned roll out complete: {ready} new pods have been updated..."
    if kind == "DaemonSet":
        desired = int(status.get("desiredNumberScheduled", 0) or 0)
        ready = int(status.get("numberAvailable", 0) or 0)
        if ready < desired:
            return (
                "Progressing",
                f'Waiting for daemon set "{name}" rollout to finish: {ready} of {desired} updated pods are '
                "available...",
            )
        return "Healthy", ""
    if kind == "ApplicationSet":
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        if conditions.get("ErrorOccurred", {}).get("status") == "True":
            return "Degraded", conditions["ErrorOccurred"].get("message", "")
        if conditions.get("ResourcesUpToDate", {}).get("status") == "True":
            return "Healthy", conditions["ResourcesUpToDate"].get("message", "")
        return "Progressing", "Waiting for the ApplicationSet to generate its applications"
    if kind == "Gateway":
        # ArgoCD's built-in Gateway health: Progressing until the Programmed condition is True.
        gateway_conditions: list[dict[str, Any]] = status.get("conditions") or []
        if not gateway_conditions:
            return "Progressing", "Waiting for Gateway status"
        for condition in gateway_conditions:
            if condition.get("type") == "Programmed" and condition.get("status") != "True":
                return "Progressing", condition.get("message") or "Gateway is still being programmed"
        return "Healthy", "Gateway is healthy"
    if kind == "CustomResourceDefinition":
        for condition in status.get("conditions") or []:
            if condition.get("type") == "Established" and condition.get("status") == "True":
                return "Healthy", ""
        return "Progressing", "Waiting for CRD to be established"
    return "Healthy", ""
