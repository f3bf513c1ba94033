"""The Talos API over gRPC: one mTLS channel per node, made from the talosconfig, and on it the
resource API's watches of what the dashboard shows (machine status, cluster info, disks, CPU and
memory statistics) plus the machine service's Version, asked once per connection. Calls that
cannot be watched (etcd's health, talos_api_etcd.py) go over the same channel with `unary`.

A `TalosNodeSession` keeps its watches open between polls, so a poll of a healthy node reads
what the watches last delivered and sends nothing. A broken watch ends the session; the next poll
opens a new channel (a fresh one, so gRPC's own reconnect backoff never hides a node that came
back) and waits, bounded, for every watch's first answer. Methods are bound by their paths, so no
generated service stubs are needed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf.empty_pb2 import Empty
from google.protobuf.message import Message

from talos_platform.engine.drivers.loopback import host_of
from talos_platform.engine.drivers.proto import cosi_state_pb2 as cosi
from talos_platform.engine.drivers.proto import talos_machine_pb2 as machine
from talos_platform.engine.drivers.proto import talos_specs_pb2 as specs

TALOS_API_PORT = 50000
WATCH = "/cosi.resource.State/Watch"
GET = "/cosi.resource.State/Get"
VERSION = "/machine.MachineService/Version"
CONNECT_TIMEOUT = 10.0
"""Seconds a (re)connection may take to deliver every watch's first answer and the version."""
SILENT_AFTER = 90.0
"""The statistics resources change every 30 s: a session that hears nothing for three of those
is taken for dead (a node that lost power sends no reset) and opened again."""


@dataclass(frozen=True)
class Watched:
    """One resource (or, without `id`, every resource of a kind) the session watches."""

    namespace: str
    type: str
    id: str = ""


MACHINE_STATUS = Watched("runtime", "MachineStatuses.runtime.talos.dev", "machine")
CLUSTER_INFO = Watched("cluster", "Infos.cluster.talos.dev", "current")
DISKS = Watched("runtime", "Disks.block.talos.dev")
CPU_STATS = Watched("perf", "CPUStats.perf.talos.dev", "latest")
MEMORY_STATS = Watched("perf", "MemoryStats.perf.talos.dev", "latest")
WATCHED = (MACHINE_STATUS, CLUSTER_INFO, DISKS, CPU_STATS, MEMORY_STATS)


Reply = TypeVar("Reply", bound=Message)


class TalosApiError(Exception):
    """The node's Talos API did not answer as asked; `reachable` says whether something answered,
    `code` is the status it answered with, if any."""

    def __init__(self, message: str, *, reachable: bool, code: grpc.StatusCode | None = None):
        super().__init__(message)
        self.message = message
        self.reachable = reachable
        self.code = code


class TalosconfigProblem(Exception):
    """The talosconfig has no usable client certificate; the message names the field, never a value."""


# --- credentials -------------------------------------------------------------------------------


def _pem(context: dict[str, Any], key: str, talosconfig: Path) -> bytes:
    value = context.get(key)
    if not value or not isinstance(value, str):
        raise TalosconfigProblem(f"the current context of {talosconfig} has no `{key}`")
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise TalosconfigProblem(f"`{key}` in the current context of {talosconfig} is not base64") from None
    if b"-----BEGIN " not in decoded:
        raise TalosconfigProblem(f"`{key}` in the current context of {talosconfig} is not a PEM block")
    return decoded


def standard_key_pem(key: bytes) -> bytes:
    """Talos writes its Ed25519 keys as PKCS#8 under its own PEM label `ED25519 PRIVATE KEY`;
    TLS libraries read the same bytes under the standard label `PRIVATE KEY`."""
    return re.sub(rb"-----(BEGIN|END) ED25519 PRIVATE KEY-----", rb"-----\1 PRIVATE KEY-----", key)


def credentials_from(context: dict[str, Any], talosconfig: Path) -> grpc.ChannelCredentials:
    """mTLS credentials from a talosconfig context: its CA, client certificate and key."""
    return grpc.ssl_channel_credentials(
        root_certificates=_pem(context, "ca", talosconfig),
        private_key=standard_key_pem(_pem(context, "key", talosconfig)),
        certificate_chain=_pem(context, "crt", talosconfig),
    )


# --- errors, in the words talosctl would use ----------------------------------------------------

_TLS_WORDS = ("handshake", "certificate", "ssl", "tls", "x509")


def _last_detail(details: str) -> str:
    """gRPC's `failed to connect to all addresses; last error: UNKNOWN: ipv4:...: X` -> X, and of a
    TLS library's `...: error:1000007d:SSL routines:OPENSSL_internal:REASON: text: OK` the reason."""
    tail = details.rsplit("; last error: ", 1)[-1]
    tail = re.sub(r"^[A-Z_]+: (ipv4|ipv6|unix):\S+: ", "", tail)
    tail = tail.rsplit("OPENSSL_internal:", 1)[-1].removesuffix(": OK")
    return tail.strip()


def describe_rpc_error(error: grpc.aio.AioRpcError, address: str, timeout: float, target: str = "") -> TalosApiError:
    details = error.details() or ""
    lowered = details.lower()
    code = error.code()
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return deadline_error(address, timeout)
    if code is grpc.StatusCode.UNAVAILABLE and any(word in lowered for word in _TLS_WORDS):
        # Something answered on the Talos API port, but not with a certificate our talosconfig
        # trusts (another cluster's PKI, or maintenance mode), or it refused our certificate.
        return TalosApiError(
            f"certificate error: the Talos API at {address} and our talosconfig do not trust each other "
            f"({_last_detail(details)})",
            reachable=True,
        )
    if code is grpc.StatusCode.UNAVAILABLE and "connection refused" in lowered:
        return TalosApiError(f"connection refused: nothing answers on {target or api_target(address)}", reachable=False)
    if code is grpc.StatusCode.UNAVAILABLE:
        return TalosApiError(f"unavailable: {_last_detail(details) or 'the connection failed'}", reachable=False)
    # Any other status is an answer: the API runs but declined (a role without os:reader, ...).
    return TalosApiError(f"{code.name.lower().replace('_', ' ')}: {details}", reachable=True, code=code)


def deadline_error(address: str, timeout: float) -> TalosApiError:
    return TalosApiError(
        f"deadline exceeded: the Talos API at {address} did not answer within {timeout:g} s", reachable=False
    )


def api_target(address: str, port: int = TALOS_API_PORT) -> str:
    """`host:port` of a node's Talos API: `address` may carry its own port (`[v6]:port`, `host:port`)."""
    if address.startswith("["):
        return address if "]:" in address else f"{address}:{port}"
    if address.count(":") == 1:
        return address
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


# --- one node ----------------------------------------------------------------------------------


@dataclass
class NodeReadings:
    """What the watches and Version said last, as raw messages."""

    version: str = ""
    resources: dict[Watched, dict[str, bytes]] = field(default_factory=dict)
    """Per watched kind, id -> the spec's protobuf bytes."""

    def spec(self, watched: Watched) -> bytes | None:
        items = self.resources.get(watched) or {}
        return items.get(watched.id) if watched.id else None


class TalosNodeSession:
    """One node's channel and watches. `endpoint` is where the channel goes; `node` the machine
    asked: when they differ, the `node` metadata header has the endpoint's apid proxy the calls,
    as talosctl's `-e ENDPOINT -n NODE` does. The dashboard talks to each node directly."""

    def __init__(
        self,
        endpoint: str,
        credentials: grpc.ChannelCredentials,
        *,
        node: str = "",
        timeout: float = CONNECT_TIMEOUT,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.endpoint = endpoint
        self.node = node or host_of(endpoint)
        self.credentials = credentials
        self.timeout = timeout
        self.monotonic = monotonic
        self.readings = NodeReadings()
        self.connections = 0
        """Channels opened so far (one per (re)connection)."""
        self._channel: grpc.aio.Channel | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: set[str] = set()
        self._failure: TalosApiError | None = None
        self._settled = asyncio.Event()
        self._heard_at = 0.0
        self._opening = asyncio.Lock()
        """One (re)connection at a time: the facts and etcd of one node may be asked together."""

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("node", self.node),) if self.node != host_of(self.endpoint) else ()

    def _alive(self) -> bool:
        return (
            bool(self._tasks)
            and self._failure is None
            and not self._pending
            and self.monotonic() - self._heard_at <= SILENT_AFTER
        )

    async def read(self) -> NodeReadings:
        """The node's readings: those the open watches keep current, or, when the session is not
        open (first poll, a broken watch, silence), those of a new connection. Raises
        TalosApiError when the node does not answer as asked."""
        async with self._opening:
            if not self._alive():
                await self._connect()
            if self._failure is not None:
                failure = self._failure
                await self.close()
                raise failure
            return self.readings

    async def unary(self, method: str, request: Message, reply: type[Reply]) -> Reply:
        """One call on the node's channel, opened (with its watches) when it is not, bounded by
        the session's timeout. Raises TalosApiError, in the words of the other calls."""
        await self.read()
        closed = TalosApiError(f"the connection to the Talos API at {self.node} closed", reachable=False)
        if self._channel is None:  # closed by another task meanwhile (a reconnection, the end)
            raise closed
        call = self._channel.unary_unary(
            method, request_serializer=type(request).SerializeToString, response_deserializer=reply.FromString
        )
        try:
            answer: Reply = await call(request, timeout=self.timeout, metadata=self.metadata)
        except grpc.aio.AioRpcError as error:
            raise describe_rpc_error(error, self.node, self.timeout, api_target(self.endpoint)) from None
        except grpc.aio.UsageError:
            raise closed from None
        return answer

    async def _connect(self) -> None:
        await self.close()
        self.connections += 1
        self.readings = NodeReadings()
        self._failure = None
        self._settled = asyncio.Event()
        self._heard_at = self.monotonic()
        self._channel = grpc.aio.secure_channel(api_target(self.endpoint), self.credentials)
        self._pending = {"version", *(w.type for w in WATCHED)}
        self._tasks = [asyncio.create_task(self._version(), name=f"talos-version-{self.node}")]
        self._tasks += [asyncio.create_task(self._watch(w), name=f"talos-watch-{self.node}") for w in WATCHED]
        try:
            await asyncio.wait_for(self._settled.wait(), self.timeout)
        except TimeoutError:
            self._failure = deadline_error(self.node, self.timeout)

    def _answered(self, what: str) -> None:
        self._heard_at = self.monotonic()
        self._pending.discard(what)
        if not self._pending:
            self._settled.set()

    def _failed(self, error: TalosApiError) -> None:
        if self._failure is None:
            self._failure = error
        self._settled.set()

    async def _version(self) -> None:
        assert self._channel is not None
        call = self._channel.unary_unary(
            VERSION,
            request_serializer=Empty.SerializeToString,
            response_deserializer=machine.VersionResponse.FromString,
        )
        try:
            response = await call(Empty(), timeout=self.timeout, metadata=self.metadata)
        except grpc.aio.AioRpcError as error:
            self._failed(describe_rpc_error(error, self.node, self.timeout, api_target(self.endpoint)))
            return
        self.readings.version = next((m.version.tag for m in response.messages if m.version.tag), "")
        self._answered("version")

    async def _watch(self, watched: Watched) -> None:
        assert self._channel is not None
        request = cosi.WatchRequest(namespace=watched.namespace, type=watched.type, api_version=1)
        if watched.id:
            request.id = watched.id
        else:
            request.options.bootstrap_contents = True
        call = self._channel.unary_stream(
            WATCH,
            request_serializer=cosi.WatchRequest.SerializeToString,
            response_deserializer=cosi.WatchResponse.FromString,
        )
        items: dict[str, bytes] = {}
        self.readings.resources[watched] = items  # kept current in place
        try:
            async for response in call(request, metadata=self.metadata):
                self._heard_at = self.monotonic()
                for event in response.event:
                    if event.event_type == cosi.ERRORED:
                        raise TalosApiError(f"the watch of {watched.type} failed: {event.error}", reachable=True)
                    if event.event_type == cosi.DESTROYED:
                        items.pop(event.resource.metadata.id, None)
                    elif event.event_type in (cosi.CREATED, cosi.UPDATED):
                        items[event.resource.metadata.id] = event.resource.spec.proto_spec
                    # One resource's first event is its current state; a kind says BOOTSTRAPPED.
                    if watched.id or event.event_type == cosi.BOOTSTRAPPED:
                        self._answered(watched.type)
        except grpc.aio.AioRpcError as error:
            self._failed(describe_rpc_error(error, self.node, self.timeout, api_target(self.endpoint)))
            return
        except TalosApiError as error:
            self._failed(error)
            return
        self._failed(TalosApiError(f"the Talos API at {self.node} ended the watch of {watched.type}", reachable=False))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._channel is not None:
            channel, self._channel = self._channel, None
            await channel.close()


# --- what the readings say ---------------------------------------------------------------------


def machine_stage(spec: bytes | None) -> str:
    """`running`, `booting`, `shutting down`, ... as talosctl prints the stage; '' when unknown."""
    if spec is None:
        return ""
    stage = specs.MachineStatusSpec.FromString(spec).stage
    if stage == specs.MACHINE_STAGE_UNKNOWN or stage not in specs.RuntimeMachineStage.values():
        return ""
    return specs.RuntimeMachineStage.Name(stage).removeprefix("MACHINE_STAGE_").lower().replace("_", " ")


def cluster_name(spec: bytes | None) -> str:
    return specs.InfoSpec.FromString(spec).cluster_name if spec is not None else ""


def disk_paths(items: dict[str, bytes]) -> tuple[str, ...]:
    """Device paths of the writable disks (as `talosctl get disks` lists them, without CD-ROMs)."""
    paths = set()
    for disk_id, spec in items.items():
        disk = specs.DiskSpec.FromString(spec)
        if disk.cdrom or disk.readonly:
            continue
        path = disk.dev_path or (f"/dev/{disk_id}" if disk_id else "")
        if path:
            paths.add(path)
    return tuple(sorted(paths))


def cpu_times(spec: bytes | None) -> tuple[float, float] | None:
    """(busy, total) CPU seconds of all cores, with the fields `parse_cpu_times` adds up."""
    if spec is None:
        return None
    parsed = specs.CPUSpec.FromString(spec)
    if not parsed.HasField("cpu_total"):
        return None
    total = parsed.cpu_total
    busy = total.user + total.nice + total.system + total.irq + total.soft_irq + total.steal
    return busy, busy + total.idle + total.iowait


def memory_percent(spec: bytes | None) -> float | None:
    """Used memory in percent, used as `talosctl memory` counts it: total - free - buffers - cached."""
    if spec is None:
        return None
    memory = specs.MemorySpec.FromString(spec)
    if not memory.mem_total:
        return None
    used = max(0, memory.mem_used - memory.buffers - memory.cached)
    return round(100.0 * used / memory.mem_total, 1)
