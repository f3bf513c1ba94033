"""Pod health from pod objects (API JSON dicts): problems first, healthy counts per namespace."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from talos_platform.engine.observe.snapshot import STARTING, PodProblem

RESTART_WARNING_THRESHOLD = 3
"""A pod that is otherwise fine but restarted this often is still worth a line."""

IMAGE_PULL_REASONS = {
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "ErrImageNeverPull",
    "RegistryUnavailable",
}

POD_START_GRACE_SECONDS = 90.0
"""How long a pod may sit Pending (not scheduled yet, or ContainerCreating) and still count as
starting, not as a problem. Every install and rollout has such pods for a while: scheduling, image
pulls and the first start take tens of seconds on a healthy cluster (longer before the CNI runs).
Counted from when the pod was scheduled (the PodScheduled condition), or created while it is not;
a real reason (an image pull error, a crash loop, the scheduler's refusal) is a problem at once."""
STARTING_SEVERITY = 5
"""After every real problem."""
STARTING_REASONS = frozenset({"", "ContainerCreating", "PodInitializing"})
"""Container waiting reasons of a pod that is simply starting."""
NOT_READY_TAINT = "{node.kubernetes.io/not-ready: }"

POD_SECURITY_REFUSAL = "PodSecurity"
"""The kind of a problem row for a workload whose pods PodSecurity admission refused."""
INSTANCE_LABEL = "app.kubernetes.io/instance"
TRACKING_ID_ANNOTATION = "argocd.argoproj.io/tracking-id"
INSTANCE_ANNOTATION = "argocd.argoproj.io/instance"


@dataclass(frozen=True)
class PodHealth:
    """One pod, classified once when it changes so snapshots stay cheap at 10,000 pods."""

    namespace: str
    name: str
    node: str
    app: str
    problem: PodProblem | None
    starting_since: float | None = None
    """Seconds since the epoch from which the start grace counts, when the problem is only that
    the pod is starting; None when it is a real problem (or there is none)."""

    @property
    def healthy(self) -> bool:
        return self.problem is None

    def problem_at(self, now: float) -> PodProblem | None:
        """The problem as of `now` (the observer's clock): a starting pod within its grace is a
        `Starting` row, not a problem."""
        if self.problem is None or self.starting_since is None or now >= self.grace_ends:
            return self.problem
        return replace(self.problem, kind=STARTING, severity=STARTING_SEVERITY)

    @property
    def grace_ends(self) -> float:
        """When a starting pod becomes a problem (infinity for any other pod: nothing changes)."""
        return float("inf") if self.starting_since is None else self.starting_since + POD_START_GRACE_SECONDS


def owning_app(pod: dict[str, Any]) -> str:
    """The ArgoCD Application that deployed this pod, or ''.

    ArgoCD marks what it deploys either with the instance label or with a tracking-id
    annotation `app:group/Kind:namespace/name`; pods inherit them from their templates."""
    metadata = pod.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    tracking: str = annotations.get(TRACKING_ID_ANNOTATION, "")
    if tracking:
        return tracking.split(":", 1)[0]
    instance: str = annotations.get(INSTANCE_ANNOTATION) or (metadata.get("labels") or {}).get(INSTANCE_LABEL, "")
    return instance


def classify_pod(pod: dict[str, Any]) -> PodHealth:
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    namespace = metadata.get("namespace", "")
    name = metadata.get("name", "")
    node = spec.get("nodeName", "") or ""
    app = owning_app(pod)
    problem = _find_problem(pod, namespace, name, node, app)
    starting = _starting_since(pod) if problem is not None and problem.kind == "Pending" else None
    return PodHealth(namespace, name, node, app, problem, starting)


def next_grace_end(pods: Iterable[PodHealth], now: float) -> float:
    """The next moment a starting pod turns into a problem (infinity: none will)."""
    return min((end for end in (pod.grace_ends for pod in pods) if end > now), default=float("inf"))


def _starting_since(pod: dict[str, Any]) -> float | None:
    """When a Pending pod began starting, if it is only starting: not scheduled yet (or refused only
    because every node is still not-ready, as before the CNI runs), or scheduled with containers
    being created. None when a reason says more (or the pod has no timestamps)."""
    status = pod.get("status") or {}
    containers = list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])
    if any(((c.get("state") or {}).get("waiting") or {}).get("reason", "") not in STARTING_REASONS for c in containers):
        return None
    scheduled: dict[str, Any] = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), {})
    if scheduled.get("status") == "False" and scheduled.get("message") and not _only_not_ready(scheduled["message"]):
        return None
    if scheduled.get("status") == "True":
        return _seconds(scheduled.get("lastTransitionTime")) or _seconds(status.get("startTime"))
    return _seconds((pod.get("metadata") or {}).get("creationTimestamp"))


_TAINTED = re.compile(r"^\d+ node\(s\) had untolerated taint \{[^}]*\}$")


def _only_not_ready(message: str) -> bool:
    """The scheduler refused only for taints, one of them node.kubernetes.io/not-ready: the nodes
    wait for their network (the CNI), which an install is about to start."""
    reasons = message.partition("nodes are available: ")[2].split(". ", 1)[0].rstrip(".").split(", ")
    return NOT_READY_TAINT in message and all(_TAINTED.match(reason.strip()) for reason in reasons)


def _seconds(stamp: object) -> float | None:
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _find_problem(pod: dict[str, Any], namespace: str, name: str, node: str, app: str) -> PodProblem | None:
    status = pod.get("status") or {}
    phase = status.get("phase", "")
    containers = list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])
    restarts = sum(int(c.get("restartCount", 0) or 0) for c in containers)

    def problem(kind: str, detail: str, severity: int) -> PodProblem:
        return PodProblem(namespace, name, kind, detail, severity, restarts, node, app)

    if phase == "Succeeded":
        return None
    for container in containers:
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason", "")
        if reason == "CrashLoopBackOff":
            last = (container.get("lastState") or {}).get("terminated") or {}
            behind = last.get("reason", "")
            if behind == "OOMKilled":
                detail = (
                    f"{container.get('name', '')}: OOMKilled (exit {last.get('exitCode', 137)}), back-off restarting"
                )
                return problem("OOMKilled", detail, 0)
            exit_part = f", last exit {behind or 'code'} {last.get('exitCode', '')}".rstrip() if last else ""
            return problem("CrashLoopBackOff", f"{container.get('name', '')}: back-off restarting{exit_part}", 0)
        if reason in IMAGE_PULL_REASONS:
            message = waiting.get("message", "") or reason
            return problem("ImagePull", f"{container.get('name', '')}: {reason}: {message}", 1)
    if phase == "Failed":
        return problem("Failed", status.get("message", "") or status.get("reason", "") or "pod failed", 1)
    if phase == "Pending" or not phase:
        return problem("Pending", _pending_reason(status, containers), 2)
    if phase == "Running":
        not_ready = [
            c.get("name", "")
            for c in containers
            if not c.get("ready", False) and "state" in c and "running" in (c.get("state") or {})
        ]
        if not_ready:
            return problem("NotReady", "not ready: " + ", ".join(not_ready), 3)
    if restarts >= RESTART_WARNING_THRESHOLD:
        return problem("Restarts", f"{restarts} restarts", 4)
    return None


def _pending_reason(status: dict[str, Any], containers: list[dict[str, Any]]) -> str:
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            reason = condition.get("reason", "Unschedulable")
            message = condition.get("message", "")
            return f"{reason}: {message}" if message else reason
    for container in containers:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            return f"{container.get('name', '')}: {waiting['reason']}"
    return "waiting to be scheduled"


def sort_problems(problems: list[PodProblem]) -> list[PodProblem]:
    return sorted(problems, key=lambda p: (p.severity, -p.restarts, p.namespace, p.name))


_POD_SECURITY = re.compile(r'violates PodSecurity "(?P<level>[a-z]+):[^"]*": (?P<why>.*)$')


def refusal_problem(event: dict[str, Any]) -> PodProblem | None:
    """A controller's FailedCreate event saying PodSecurity refused its pods, as a problem row
    (the pods never exist, so no pod row could show it); None for any other event."""
    found = _POD_SECURITY.search(event.get("message", "") or "") if event.get("reason") == "FailedCreate" else None
    if found is None:
        return None
    involved = event.get("involvedObject") or {}
    namespace = involved.get("namespace", "") or (event.get("metadata") or {}).get("namespace", "")
    detail = (
        f'{involved.get("kind", "controller")} cannot create pods: PodSecurity level "{found["level"]}" of namespace '
        f"{namespace} refuses {found['why']}; pods that need the host need the namespace label "
        "pod-security.kubernetes.io/enforce: privileged"
    )
    return PodProblem(namespace, involved.get("name", ""), POD_SECURITY_REFUSAL, detail, 1)
