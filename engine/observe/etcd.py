"""etcd health across the control planes, from what each one's Talos API says about its etcd.

A problem is: a control plane that is no member (or whose etcd does not answer), a member no
node we know is, a learner that stays one past `LEARNER_GRACE_SECONDS`, a database near its
quota, an active alarm, a member far behind the others' raft index, or no leader. The
thresholds are the dashboard's; the quota is the node's own (its etcd spec) or etcd's default.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import replace
from urllib.parse import urlparse

from talos_platform.engine.drivers.protocols import EtcdHealth, EtcdMember, EtcdMemberStatus
from talos_platform.engine.observe.snapshot import EtcdMemberView, EtcdView, NodeView

DEFAULT_QUOTA_BYTES = 2 * 1024**3
"""etcd's own default `quota-backend-bytes`, 2 GiB: Talos passes none unless the machine config
sets `cluster.etcd.extraArgs.quota-backend-bytes`, which the node's etcd spec then shows."""
NEAR_QUOTA_RATIO = 0.8
"""A database at or above this share of its quota is near it: past the quota etcd raises a
NOSPACE alarm and takes no more writes (the Kubernetes API then fails every change)."""
LEARNER_GRACE_SECONDS = 120.0
"""Talos adds a joining control plane as a learner and promotes it once it has caught up, which
takes seconds to a minute; a learner for longer than this is stuck."""
JOIN_GRACE_SECONDS = 120.0
"""After etcd first answers (the bootstrap), the other control planes' etcd waits to join for a
while; one that is neither a member nor answering for longer than this is a problem."""
RAFT_LAG_LIMIT = 1000
"""A member this many raft entries behind the highest index reported is lagging (members are
asked a moment apart, so a busy cluster shows a few entries of difference anyway)."""
NO_LEADER = "0" * 16
_ALARM_HINTS = {
    "NOSPACE": "the database is full and etcd takes no more writes: defragment it, then `talosctl etcd alarm disarm`",
    "CORRUPT": "this member's data differs from the others': replace the member or restore from a snapshot",
}
_ALARM_ERROR = re.compile(r"\balarm:[A-Z]+")


def format_bytes(size: int) -> str:
    """`1.9 GiB`, `83.0 MiB`: binary units, as the quota is set."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


class LearnerClock:
    """When each member was first seen as a learner (the observer's clock), so a learner that
    stays one can be told from one being promoted."""

    def __init__(self) -> None:
        self._since: dict[str, float] = {}

    def record(self, healths: Iterable[EtcdHealth], now: float) -> None:
        learners: set[str] = set()
        seen: set[str] = set()
        for health in healths:
            for member in health.members:
                seen.add(member.member_id)
                if member.learner:
                    learners.add(member.member_id)
            if health.status is not None:
                seen.add(health.status.member_id)
                if health.status.learner:
                    learners.add(health.status.member_id)
        for member_id in learners:
            self._since.setdefault(member_id, now)
        for member_id in seen - learners:
            self._since.pop(member_id, None)

    def seen_for(self, member_id: str, now: float) -> float | None:
        since = self._since.get(member_id)
        return None if since is None else now - since


def _host(url: str) -> str:
    return urlparse(url).hostname or ""


def _match(node: NodeView, members: dict[str, EtcdMember], status: EtcdMemberStatus | None) -> EtcdMember | None:
    if status is not None and status.member_id in members:
        return members[status.member_id]
    by_address = [m for m in members.values() if node.address and node.address in map(_host, m.peer_urls)]
    if by_address:
        return by_address[0]
    return next((m for m in members.values() if m.hostname and m.hostname == node.name), None)


def etcd_view(
    control_planes: Iterable[NodeView],
    healths: dict[str, EtcdHealth],
    learners: LearnerClock | None = None,
    now: float = 0.0,
    *,
    answered_for: float | None = math.inf,
) -> EtcdView:
    """The etcd view of the control planes from what they said (`healths`, by address); empty
    when none was asked yet. `answered_for`: seconds since etcd first answered on some control
    plane (None: never, an install before its bootstrap, when its silence is no problem yet;
    a control plane still joining is none for `JOIN_GRACE_SECONDS` after)."""
    planes = list(control_planes)
    if not any(node.address in healths for node in planes):
        return EtcdView()
    if answered_for is None and not answered(healths.values()):
        return EtcdView(
            members=tuple(
                EtcdMemberView(node.name, node.address, error=healths[node.address].error)
                for node in planes
                if node.address in healths
            )
        )
    members: dict[str, EtcdMember] = {}
    for health in healths.values():
        for member in health.members:
            members.setdefault(member.member_id, member)
    statuses = [h.status for h in healths.values() if h.status is not None]
    highest = max((s.raft_index for s in statuses), default=None)
    leaders = [s.leader for s in statuses if s.leader and s.leader != NO_LEADER]
    leader_id = max(set(leaders), key=leaders.count) if leaders else ""
    alarms: dict[str, list[str]] = {}
    for health in healths.values():
        for alarm in health.alarms:
            if alarm.alarm not in alarms.setdefault(alarm.member_id, []):
                alarms[alarm.member_id].append(alarm.alarm)

    views: list[EtcdMemberView] = []
    matched: set[str] = set()
    for node in planes:
        # A control plane not asked yet is still matched, so its member is no stranger.
        health = healths.get(node.address) or EtcdHealth(node.address)
        found = _match(node, members, health.status)
        member_id = health.status.member_id if health.status else found.member_id if found is not None else ""
        matched.add(member_id)
        view = _member_view(node, health, found, member_id, leader_id, highest, alarms, learners, now, members)
        if found is None and health.status is None and (answered_for or 0.0) < JOIN_GRACE_SECONDS:
            view = replace(view, joining=True, problems=())
        views.append(view)
    for member_id, other in members.items():
        if member_id not in matched:
            views.append(_stranger(other, leader_id, alarms, learners, now))
    leader = next((v.node or v.hostname or v.member_id for v in views if v.leader), leader_id)
    problems = [f"{v.node or 'member ' + (v.hostname or v.member_id)}: {p}" for v in views for p in v.problems]
    if statuses and not leader_id:
        problems.insert(0, "etcd has no leader: the Kubernetes API cannot change anything")
    return EtcdView(members=tuple(views), leader=leader, problems=tuple(problems))


def _member_view(
    node: NodeView,
    health: EtcdHealth,
    member: EtcdMember | None,
    member_id: str,
    leader_id: str,
    highest: int | None,
    alarms: dict[str, list[str]],
    learners: LearnerClock | None,
    now: float,
    members: dict[str, EtcdMember],
) -> EtcdMemberView:
    status = health.status
    quota = health.quota_bytes or DEFAULT_QUOTA_BYTES
    source = "the node's etcd spec" if health.quota_bytes else "etcd's default"
    learner = (member is not None and member.learner) or (status is not None and status.learner)
    learner_for = learners.seen_for(member_id, now) if learners is not None and learner and member_id else None
    lag = highest - status.raft_index if status is not None and highest is not None else None
    own_alarms = tuple(alarms.get(member_id, ())) if member_id else ()
    problems: list[str] = []
    if status is None and health.error:
        problems.append(f"etcd does not answer: {health.error}")
    elif members and member is None:
        problems.append("not an etcd member")
    problems += [_alarm_problem(alarm) for alarm in own_alarms]
    if status is not None and status.db_size >= NEAR_QUOTA_RATIO * quota:
        problems.append(
            f"etcd database {format_bytes(status.db_size)} of its {format_bytes(quota)} quota ({source}): "
            f"defragment it (`talosctl -n {node.address} etcd defrag`) or raise the quota"
        )
    if learner_for is not None and learner_for >= LEARNER_GRACE_SECONDS:
        problems.append(f"still an etcd learner after {learner_for:.0f} s (never promoted)")
    if lag is not None and lag > RAFT_LAG_LIMIT and not learner:
        # A learner catches up before its promotion: only staying one counts.
        problems.append(f"etcd {lag:,} raft entries behind")
    if status is not None:
        # etcd repeats every active alarm among each member's errors: those are counted above.
        problems += [f"etcd reports: {error}" for error in status.errors if not _ALARM_ERROR.search(error)]
    return EtcdMemberView(
        node=node.name,
        address=node.address,
        member_id=member_id,
        hostname=member.hostname if member else "",
        leader=bool(member_id) and member_id == leader_id,
        learner=learner,
        learner_for=learner_for,
        db_size=status.db_size if status else None,
        db_size_in_use=status.db_size_in_use if status else None,
        quota_bytes=quota,
        quota_source=source,
        raft_index=status.raft_index if status else None,
        raft_lag=lag,
        alarms=own_alarms,
        error=health.error,
        problems=tuple(problems),
    )


def _stranger(
    member: EtcdMember, leader_id: str, alarms: dict[str, list[str]], learners: LearnerClock | None, now: float
) -> EtcdMemberView:
    """A member that is no control plane we know: left behind by a node that was removed or
    reset, it still counts towards the quorum."""
    own_alarms = tuple(alarms.get(member.member_id, ()))
    return EtcdMemberView(
        node="",
        member_id=member.member_id,
        hostname=member.hostname,
        leader=member.member_id == leader_id,
        learner=member.learner,
        learner_for=learners.seen_for(member.member_id, now) if learners is not None and member.learner else None,
        alarms=own_alarms,
        problems=("no control plane we know is this member (remove it if its node is gone)",)
        + tuple(_alarm_problem(alarm) for alarm in own_alarms),
    )


def _alarm_problem(alarm: str) -> str:
    hint = _ALARM_HINTS.get(alarm)
    return f"etcd alarm {alarm}" + (f": {hint}" if hint else "")


def answered(healths: Iterable[EtcdHealth]) -> bool:
    """True when etcd answered on some control plane."""
    return any(h.status is not None or h.members for h in healths)
