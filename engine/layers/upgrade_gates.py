"""The gates a rolling upgrade passes after each node, before the next: etcd healthy with every
member, the ArgoCD Applications that were in line before the upgrade in line again, and the
user's Kubernetes object conditions (`--gate-condition`).

ArgoCD is gated against a baseline taken before the first node: an Application already
OutOfSync or Degraded would otherwise block every node for a reason the upgrade did not cause.
The baseline is a file in the state directory, per target version, so a resumed upgrade keeps
the one its first run took (re-taken, it would excuse an app the upgrade itself broke).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.drivers.protocols import (
    APPLICATIONS,
    DAEMONSETS,
    DEPLOYMENTS,
    NODES,
    PODS,
    STATEFULSETS,
    Drivers,
    Kube,
    Resource,
)
from talos_platform.engine.errors import PermanentError, TransientError, UserError
from talos_platform.engine.layers.argo import health_status, name_of, sync_status
from talos_platform.engine.layers.base import BaseStep, done, todo
from talos_platform.engine.observe.etcd import RAFT_LAG_LIMIT, etcd_view
from talos_platform.engine.observe.snapshot import NodeView
from talos_platform.engine.observe.talos_facts import etcd_health_for
from talos_platform.engine.plan.context import StepContext
from talos_platform.engine.plan.step import Action, CheckResult
from talos_platform.engine.state import StateDirectory

ARGOCD_NAMESPACE = "argocd"

# --- ArgoCD: a baseline, then "in line again" ---------------------------------------------------


@dataclass(frozen=True)
class AppsBaseline:
    """The Applications as they were before the first node: those Synced and Healthy are gated;
    the others (name -> `sync/health`) are named and not gated."""

    gated: tuple[str, ...]
    not_gated: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> str:
        return json.dumps({"gated": list(self.gated), "notGated": dict(self.not_gated)}, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AppsBaseline:
        data = json.loads(text)
        return cls(
            gated=tuple(sorted(str(name) for name in data.get("gated") or ())),
            not_gated=tuple(sorted((str(k), str(v)) for k, v in (data.get("notGated") or {}).items())),
        )

    def describe_not_gated(self) -> str:
        """`not gated: a (was OutOfSync/Healthy before the upgrade), ...`; empty when every app is gated."""
        if not self.not_gated:
            return ""
        return "not gated: " + ", ".join(f"{name} (was {state} before the upgrade)" for name, state in self.not_gated)


APPS_HINT = (
    "`argocd app diff NAME` shows what differs from Git: sync the app, or undo the change made outside Git; "
    "an app already out of line before the upgrade is not gated"
)


def take_baseline(apps: list[dict[str, Any]]) -> AppsBaseline:
    gated = sorted(name_of(app) for app in apps if _in_line(app))
    not_gated = sorted((name_of(app), _state(app)) for app in apps if not _in_line(app))
    return AppsBaseline(tuple(gated), tuple(not_gated))


def baseline_path(state: StateDirectory, to: str) -> Path:
    return state.root / "upgrades" / f"talos-{to}-argocd-baseline.json"


def read_baseline(state: StateDirectory, to: str) -> AppsBaseline | None:
    """The baseline of the upgrade to `to`, or None when none was taken. One that cannot be read
    is an error, never silently replaced: a new one taken mid-upgrade would excuse what it broke."""
    path = baseline_path(state, to)
    try:
        return AppsBaseline.from_json(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, AttributeError) as error:
        raise PermanentError(
            f"the ArgoCD baseline of this upgrade, {path}, cannot be read: {error}",
            hint="delete it and run the upgrade again: a new baseline is taken, and the Applications out of line "
            "at that moment are not gated",
        ) from None


def write_baseline(state: StateDirectory, to: str, baseline: AppsBaseline) -> Path:
    return state.write_file(baseline_path(state, to), baseline.to_json() + "\n")


def _gates_passed_path(state: StateDirectory, to: str, node: str) -> Path:
    return state.root / "upgrades" / f"talos-{to}-gates-passed" / node


def record_gates_passed(state: StateDirectory, to: str, node: str) -> None:
    """`node`, upgraded to `to`, passed every gate: a resumed run may go on past it."""
    state.write_file(_gates_passed_path(state, to, node), f"{node}\n")


def gates_passed(state: StateDirectory, to: str, node: str) -> bool:
    """Whether `node` passed its gates after its upgrade to `to`. A node found on the target
    without it (a run stopped, or failed, while it waited) waits for its gates again: re-running
    the upgrade must not step over a gate that held."""
    return _gates_passed_path(state, to, node).is_file()


async def list_applications(kube: Kube) -> list[dict[str, Any]]:
    return list((await kube.list(APPLICATIONS, ARGOCD_NAMESPACE)).items)


def apps_not_back(apps: list[dict[str, Any]], baseline: AppsBaseline | None) -> str | None:
    """Which gated Applications are not Synced and Healthy again, each with its sync and health
    status; None when all are. Without a baseline every Application is gated."""
    by_name = {name_of(app): app for app in apps}
    gated = baseline.gated if baseline is not None else tuple(sorted(by_name))
    waiting = []
    for name in gated:
        app = by_name.get(name)
        if app is None:
            waiting.append(f"{name} (gone)")
        elif not _in_line(app):
            waiting.append(f"{name} ({_state(app)})")
    if not waiting:
        return None
    return "ArgoCD Applications not Synced and Healthy again: " + ", ".join(waiting)


def _baseline_summary(baseline: AppsBaseline) -> str:
    gated = f"ArgoCD baseline: {len(baseline.gated)} Applications Synced and Healthy, gated"
    return f"{gated}; {baseline.describe_not_gated()}" if baseline.not_gated else gated


class ArgoBaseline(BaseStep):
    """Before the first node: which ArgoCD Applications are Synced and Healthy (they gate every
    node) and which are not (named, not gated). Recorded once per upgrade: a resumed run finds
    the first run's and keeps it."""

    layer = 0
    timeout = 120.0

    def __init__(self, config: PlatformConfig, to: str, *, needs: tuple[str, ...]):
        super().__init__(config, step_id="T.baseline", title="Record the ArgoCD Applications in line now", needs=needs)
        self.to = to

    def inputs(self) -> Any:
        return {"to": self.to}

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        return (
            Action(
                "record which ArgoCD Applications are Synced and Healthy now: those gate every node; the others "
                "(OutOfSync or Degraded before the upgrade) are named and not gated",
                api_call=f"LIST {APPLICATIONS.api_version} {APPLICATIONS.kind} in {ARGOCD_NAMESPACE}",
            ),
        )

    async def _check(self, ctx: StepContext) -> CheckResult:
        kept = read_baseline(ctx.state, self.to)
        if kept is not None:
            # A resumed upgrade: its first run's baseline, never one taken mid-upgrade.
            return done(f"{_baseline_summary(kept)} (recorded when this upgrade started)")
        baseline = take_baseline(await list_applications(ctx.drivers.kube))
        return todo(_baseline_summary(baseline), *self.planned_actions(ctx), baseline=baseline)

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        baseline: AppsBaseline = check.facts["baseline"]
        path = write_baseline(ctx.state, self.to, baseline)
        ctx.output(f"{_baseline_summary(baseline)}; recorded in {path}")


def _in_line(app: dict[str, Any]) -> bool:
    return sync_status(app) == "Synced" and health_status(app) == "Healthy"


def _state(app: dict[str, Any]) -> str:
    return f"{sync_status(app)}/{health_status(app)}"


# --- etcd: every member started, answering, no alarm ---------------------------------------------


ETCD_HINT = (
    "look at `talosctl -n {address} etcd status` and `talosctl -n {address} etcd members`: a learner Talos does not "
    "promote needs its member removed (`talosctl etcd remove-member ID`) and the node to rejoin; NOSPACE: "
    "defragment (`talosctl etcd defrag`), then `talosctl etcd alarm disarm`; CORRUPT: replace the member, or restore "
    "from the snapshot taken before the upgrade (talos-platform etcd restore)"
)


async def etcd_not_healthy(drivers: Drivers, config: PlatformConfig) -> str | None:
    """What keeps etcd from being healthy, asked of every control plane's Talos API; None when
    every control plane is a started (voting) member that answers, with a leader and no alarm."""
    planes = [
        NodeView(name=node.name, address=config.node_ip(node), role="control-plane", reachable=True, ready=None)
        for node in config.control_planes
    ]
    healths = {plane.address: await etcd_health_for(drivers, plane.address) for plane in planes}
    view = etcd_view(planes, healths)
    problems: list[str] = []
    for member in view.members:
        where = member.node or f"a member no control plane is ({member.hostname or 'unnamed'})"
        if member.node and member.raft_index is None:
            problems.append(f"etcd on {member.node} does not answer: {member.error or 'no status'}")
            continue
        if "not an etcd member" in member.problems:
            problems.append(f"{member.node} is not an etcd member")
            continue
        if member.learner:
            problems.append(f"etcd member {member.member_id} on {where} is still a learner (not promoted to voting)")
        problems += [f"etcd alarm {alarm} on {where} (member {member.member_id})" for alarm in member.alarms]
        if member.raft_lag is not None and member.raft_lag > RAFT_LAG_LIMIT and not member.learner:
            problems.append(f"etcd on {where} is {member.raft_lag:,} raft entries behind")
    problems += [problem for problem in view.problems if problem.startswith("etcd has no leader")]
    return "; ".join(problems) or None


# --- Kubernetes object conditions (`--gate-condition`) --------------------------------------------

GATE_CONDITION_FLAG = "--gate-condition"
GATE_CONDITION_SYNTAX = "KIND/NAME[:NAMESPACE]=CONDITION[=STATUS]"

_CERTIFICATES = Resource("cert-manager.io", "v1", "certificates", "Certificate")
_JOBS = Resource("batch", "v1", "jobs", "Job")
_CLAIMS = Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
KNOWN_KINDS: dict[str, Resource] = {
    alias: resource
    for resource, aliases in (
        (DEPLOYMENTS, ("deployment", "deployments", "deploy")),
        (STATEFULSETS, ("statefulset", "statefulsets", "sts")),
        (DAEMONSETS, ("daemonset", "daemonsets", "ds")),
        (PODS, ("pod", "pods", "po")),
        (NODES, ("node", "nodes", "no")),
        (_JOBS, ("job", "jobs")),
        (_CLAIMS, ("persistentvolumeclaim", "persistentvolumeclaims", "pvc")),
        (APPLICATIONS, ("application", "applications", "app")),
        (_CERTIFICATES, ("certificate", "certificates", "cert")),
    )
    for alias in aliases
}
"""Kinds known by name, as kubectl's short names; any other is given as `PLURAL.VERSION.GROUP`
(kubectl's fully qualified form, e.g. `cephclusters.v1.ceph.rook.io`)."""
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_CONDITION = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class GateCondition:
    """A Kubernetes object whose condition must have a status (True unless told) after each node."""

    text: str
    """As the user gave it (kept in the journal's inputs, shown in the plan)."""
    resource: Resource
    name: str
    namespace: str | None
    condition: str
    status: str = "True"

    @property
    def object(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        return f"{self.resource.kind} {self.name}{where}"

    def describe(self) -> str:
        return f"{self.object} has condition {self.condition}={self.status}"

    def hint(self) -> str:
        known = self.resource in KNOWN_KINDS.values()
        kind = self.resource.kind.lower() if known else f"{self.resource.plural}.{self.resource.group}"
        namespace = f" -n {self.namespace}" if self.namespace else ""
        return f"look at `kubectl describe {kind} {self.name}{namespace}`; the gate is yours ({GATE_CONDITION_FLAG})"


def parse_gate_condition(text: str) -> GateCondition:
    """`deployment/web:shop=Available`, `node/worker-1=Ready`, `cephclusters.v1.ceph.rook.io/rook-ceph:rook-ceph=Ready`,
    `job/migrate:shop=Complete`, `deployment/web:shop=Progressing=True`. Raises UserError naming the flag."""

    def refuse(why: str) -> UserError:
        return UserError(
            f"{text!r}: {why}",
            where=GATE_CONDITION_FLAG,
            hint=f"give {GATE_CONDITION_SYNTAX}, e.g. {GATE_CONDITION_FLAG} deployment/web:shop=Available",
        )

    target, equals, wanted = text.strip().partition("=")
    if not equals or not wanted:
        raise refuse("no condition: add =CONDITION (the condition type, as in kubectl wait --for=condition=...)")
    condition, _, status = wanted.partition("=")
    status = status or "True"
    if not _CONDITION.match(condition):
        raise refuse(f"{condition!r} is no condition type (e.g. Available, Ready, Complete)")
    if status.lower() not in ("true", "false", "unknown"):
        raise refuse(f"the status {status!r} must be True, False or Unknown")
    kind, slash, rest = target.partition("/")
    if not slash or not kind or not rest:
        raise refuse("no KIND/NAME before the condition")
    name, colon, namespace = rest.partition(":")
    if not _NAME.match(name):
        raise refuse(f"{name!r} is no Kubernetes object name")
    if colon and not _NAME.match(namespace):
        raise refuse(f"{namespace!r} is no namespace name")
    resource = _resource(kind.lower(), refuse)
    if kind.lower() not in KNOWN_KINDS:
        # Scope is not known without the API's discovery: the namespace given (or not) tells it.
        resource = Resource(resource.group, resource.version, resource.plural, resource.kind, namespaced=bool(colon))
    if resource.namespaced and not colon:
        raise refuse(f"a {resource.kind} lives in a namespace: add :NAMESPACE after its name")
    if not resource.namespaced and colon:
        raise refuse(f"a {resource.kind} has no namespace: drop :{namespace}")
    return GateCondition(
        text=text.strip(),
        resource=resource,
        name=name,
        namespace=namespace if colon else None,
        condition=condition,
        status=status.capitalize(),
    )


def _resource(kind: str, refuse: Any) -> Resource:
    if kind in KNOWN_KINDS:
        return KNOWN_KINDS[kind]
    plural, _, rest = kind.partition(".")
    version, _, group = rest.partition(".")
    if not plural or not re.match(r"^v\d+((alpha|beta)\d+)?$", version) or "." not in group:
        raise refuse(
            f"unknown kind {kind!r}: use one of {', '.join(sorted({r.kind.lower() for r in KNOWN_KINDS.values()}))}, "
            "or PLURAL.VERSION.GROUP for any other (e.g. cephclusters.v1.ceph.rook.io)"
        )
    return Resource(group, version, plural, plural, namespaced=True)


def parse_gate_conditions(texts: tuple[str, ...] | list[str]) -> tuple[GateCondition, ...]:
    return tuple(parse_gate_condition(text) for text in texts)


async def condition_not_met(kube: Kube, gate: GateCondition) -> str | None:
    """Why the gate's object does not show its condition yet (missing, no such condition, or the
    condition's status, reason and message); None when it does."""
    try:
        found = await kube.get(gate.resource, gate.name, gate.namespace)
    except TransientError as error:
        return f"{gate.object}: cannot be read ({error.message})"
    if found is None:
        return f"{gate.object} does not exist"
    what = (
        gate.object
        if gate.resource.kind[:1].isupper()
        else f"{found.get('kind') or gate.resource.kind} {gate.object.split(' ', 1)[1]}"
    )
    conditions = ((found.get("status") or {}).get("conditions")) or []
    current = next((c for c in conditions if c.get("type") == gate.condition), None)
    if current is None:
        return f"{what} has no condition {gate.condition} yet"
    if str(current.get("status")) == gate.status:
        return None
    why = ": ".join(part for part in (current.get("reason"), current.get("message")) if part)
    return f"{what}: {gate.condition} is {current.get('status')}, not {gate.status}" + (f" ({why})" if why else "")
