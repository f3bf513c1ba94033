"""etcd's health on one control plane over its Talos API session (talos_api.py): the machine
service's EtcdStatus, EtcdMemberList and EtcdAlarmList, and the etcd spec's quota from the
resource API, on the channel the node's facts already use.

The answer is the one the talosctl path (talosctl_etcd.py) gives for `etcd status`, `etcd
members`, `etcd alarm list` and `get etcdspecs`: member IDs as talosctl prints them (16 hex
digits), the members as this node's etcd lists them (`query_local`, as talosctl asks), each
active alarm once. Sizes are exact bytes here, where talosctl's table rounds them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import grpc
from google.protobuf.empty_pb2 import Empty

from talos_platform.engine.drivers.proto import cosi_state_pb2 as cosi
from talos_platform.engine.drivers.proto import talos_machine_pb2 as machine
from talos_platform.engine.drivers.proto import talos_specs_pb2 as specs
from talos_platform.engine.drivers.protocols import EtcdAlarm, EtcdHealth, EtcdMember, EtcdMemberStatus
from talos_platform.engine.drivers.talos_api import GET, TalosApiError, TalosNodeSession, Watched
from talos_platform.engine.drivers.talosctl_etcd import QUOTA_ARGUMENT

ETCD_STATUS = "/machine.MachineService/EtcdStatus"
ETCD_MEMBER_LIST = "/machine.MachineService/EtcdMemberList"
ETCD_ALARM_LIST = "/machine.MachineService/EtcdAlarmList"
ETCD_SPEC = Watched("etcd", "EtcdSpecs.etcd.talos.dev", "etcd")

T = TypeVar("T")


def member_id(value: int) -> str:
    """A member ID as talosctl prints it (`%016x`)."""
    return f"{value:016x}"


def member_status(status: machine.EtcdMemberStatus) -> EtcdMemberStatus:
    return EtcdMemberStatus(
        member_id=member_id(status.member_id),
        db_size=status.db_size,
        db_size_in_use=status.db_size_in_use,
        leader=member_id(status.leader),
        raft_index=status.raft_index,
        raft_term=status.raft_term,
        raft_applied_index=status.raft_applied_index,
        learner=status.is_learner,
        errors=tuple(error for error in status.errors if error),
    )


def members_of(reply: machine.EtcdMemberListResponse) -> tuple[EtcdMember, ...]:
    return tuple(
        EtcdMember(
            member_id=member_id(member.id),
            hostname=member.hostname,
            peer_urls=tuple(member.peer_urls),
            client_urls=tuple(member.client_urls),
            learner=member.is_learner,
        )
        for message in reply.messages
        for member in message.members
    )


def alarms_of(reply: machine.EtcdAlarmListResponse) -> tuple[EtcdAlarm, ...]:
    """Active alarms, each once (NONE is no alarm)."""
    alarms = (
        EtcdAlarm(member_id(alarm.member_id), machine.EtcdMemberAlarm.AlarmType.Name(alarm.alarm))
        for message in reply.messages
        for alarm in message.member_alarms
        if alarm.alarm != machine.EtcdMemberAlarm.NONE
    )
    return tuple(dict.fromkeys(alarms))


def quota_of(spec: bytes) -> int | None:
    """`quota-backend-bytes` of the etcd spec's extra arguments; None when it sets none or
    something that is not a byte count (as `etcd_quota` reads talosctl's JSON)."""
    value = specs.EtcdSpecSpec.FromString(spec).extra_args.get(QUOTA_ARGUMENT, "").strip()
    return int(value) if value.isdigit() else None


async def _spec(session: TalosNodeSession) -> bytes | None:
    """The etcd spec's bytes; None when the node has none (talosctl lists nothing then)."""
    request = cosi.GetRequest(namespace=ETCD_SPEC.namespace, type=ETCD_SPEC.type, id=ETCD_SPEC.id)
    try:
        reply = await session.unary(GET, request, cosi.GetResponse)
    except TalosApiError as error:
        if error.code is grpc.StatusCode.NOT_FOUND:
            return None
        raise
    return reply.resource.spec.proto_spec


async def etcd_health(session: TalosNodeSession, address: str) -> EtcdHealth:
    """etcd as control plane `address` reports it. Never raises for a node or an etcd that does
    not answer: its status's error says why (the other calls would say the same); the other
    parts' errors are kept beside what they read."""
    try:
        status = await session.unary(ETCD_STATUS, Empty(), machine.EtcdStatusResponse)
    except TalosApiError as error:
        return EtcdHealth(address, error=f"status: {error.message}")

    async def part(what: str, call: Awaitable[T]) -> tuple[T | None, str]:
        try:
            return await call, ""
        except TalosApiError as error:
            return None, f"{what}: {error.message}"

    # Asked together: one round trip's wait, not three.
    (members, members_error), (alarms, alarms_error), (spec, spec_error) = await asyncio.gather(
        part(
            "members",
            session.unary(
                ETCD_MEMBER_LIST, machine.EtcdMemberListRequest(query_local=True), machine.EtcdMemberListResponse
            ),
        ),
        part("alarms", session.unary(ETCD_ALARM_LIST, Empty(), machine.EtcdAlarmListResponse)),
        part("etcd spec", _spec(session)),
    )
    statuses = [m.member_status for m in status.messages if m.HasField("member_status")]
    return EtcdHealth(
        address,
        status=member_status(statuses[0]) if statuses else None,
        members=members_of(members) if members is not None else (),
        alarms=alarms_of(alarms) if alarms is not None else (),
        quota_bytes=quota_of(spec) if spec else None,
        error="; ".join(e for e in (members_error, alarms_error, spec_error) if e),
    )
