"""A Talos API on loopback for the gRPC driver's tests and benchmark: throwaway certificate
authorities and a talosconfig made the way Talos makes them (Ed25519 keys under Talos' own PEM
label), and a server speaking the trimmed protos (resource API Watch and Get, machine service
Version, EtcdStatus, EtcdMemberList and EtcdAlarmList) with mutual TLS.

`TalosApiServer(pki, address)` serves one node; `behaviour` makes it `healthy`, `hang` (accepts
calls and never answers) or `maintenance` (a certificate of its own, no client certificate asked,
as a node waiting for its config). Changes pushed with `set_resource` reach open watches. A
control plane's etcd is `server.etcd` (`etcd_cluster` makes one per node); without one, the etcd
calls answer as a worker's Talos API does (Unimplemented).
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import socket
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from google.protobuf.empty_pb2 import Empty

from talos_platform.engine.drivers import talos_api, talos_api_etcd
from talos_platform.engine.drivers.proto import cosi_state_pb2 as cosi
from talos_platform.engine.drivers.proto import talos_machine_pb2 as machine
from talos_platform.engine.drivers.proto import talos_specs_pb2 as specs

_DAY = datetime.timedelta(days=1)


def free_port() -> int:
    """A TCP port free on loopback now, for servers on several loopback addresses at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, public_key, issuer, issuer_key, *, ca=False, server_ips=(), client=False):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY)
        .not_valid_after(now + _DAY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server_ips:
        addresses = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in server_ips]
        builder = builder.add_extension(x509.SubjectAlternativeName(addresses), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    if client:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    algorithm = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(issuer_key, algorithm).public_bytes(serialization.Encoding.PEM)


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass
class Pki:
    """A cluster's certificate authority, a server certificate for the given loopback addresses
    and an admin client certificate."""

    ca: bytes
    server_cert: bytes
    server_key: bytes
    client_cert: bytes
    client_key: bytes
    """An Ed25519 key is written under Talos' PEM label `ED25519 PRIVATE KEY`, as a talosconfig
    holds it."""

    @classmethod
    def make(cls, server_ips: tuple[str, ...], name: str = "talos", *, ed25519_client: bool = False) -> Pki:
        """Talos' CA is Ed25519, apid's certificate ECDSA, the admin's Ed25519. gRPC's TLS library
        signs with an Ed25519 client key (a Go server, as Talos is, accepts it) but, as a server,
        does not verify such signatures: the loopback server's tests use an ECDSA client key."""
        ca_key = ed25519.Ed25519PrivateKey.generate()
        ca = _certificate(name, ca_key.public_key(), name, ca_key, ca=True)
        server_key = ec.generate_private_key(ec.SECP256R1())
        server = _certificate("apid", server_key.public_key(), name, ca_key, server_ips=server_ips)
        client_key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey = (
            ed25519.Ed25519PrivateKey.generate() if ed25519_client else ec.generate_private_key(ec.SECP256R1())
        )
        client = _certificate("admin", client_key.public_key(), name, ca_key, client=True)
        key = _key_pem(client_key)
        if ed25519_client:
            key = key.replace(b" PRIVATE KEY-----", b" ED25519 PRIVATE KEY-----")
        return cls(ca, server, _key_pem(server_key), client, key)

    def talosconfig(self, path: Path, context: str = "test") -> Path:
        encoded = {
            "ca": base64.b64encode(self.ca).decode(),
            "crt": base64.b64encode(self.client_cert).decode(),
            "key": base64.b64encode(self.client_key).decode(),
        }
        data = {"context": context, "contexts": {context: {"endpoints": ["127.0.0.1"], **encoded}}}
        path.write_text(yaml.safe_dump(data))
        path.chmod(0o600)
        return path


def machine_status(stage: int = specs.MACHINE_STAGE_RUNNING) -> bytes:
    return specs.MachineStatusSpec(stage=stage, status=specs.MachineStatusStatus(ready=True)).SerializeToString()


def cpu_stats(busy: float, idle: float) -> bytes:
    return specs.CPUSpec(cpu_total=specs.CPUStat(user=busy, idle=idle)).SerializeToString()


def memory_stats(total: int, used: int, buffers: int = 0, cached: int = 0) -> bytes:
    return specs.MemorySpec(mem_total=total, mem_used=used, buffers=buffers, cached=cached).SerializeToString()


def healthy_resources(cluster: str = "prod") -> dict[talos_api.Watched, dict[str, bytes]]:
    return {
        talos_api.MACHINE_STATUS: {"machine": machine_status()},
        talos_api.CLUSTER_INFO: {"current": specs.InfoSpec(cluster_name=cluster).SerializeToString()},
        talos_api.DISKS: {
            "sda": specs.DiskSpec(dev_path="/dev/sda", size=1 << 34).SerializeToString(),
            "sr0": specs.DiskSpec(dev_path="/dev/sr0", cdrom=True).SerializeToString(),
        },
        talos_api.CPU_STATS: {"latest": cpu_stats(100.0, 300.0)},
        talos_api.MEMORY_STATS: {"latest": memory_stats(8_000_000, 5_000_000, buffers=500_000, cached=1_500_000)},
    }


@dataclass
class EtcdNode:
    """What one control plane's etcd answers: its own status, the members it knows, the cluster's
    alarms. `failure` (a status code and message) answers every etcd call instead; `hang` never
    answers them."""

    status: machine.EtcdMemberStatus
    members: list[machine.EtcdMember]
    alarms: list[machine.EtcdMemberAlarm] = field(default_factory=list)
    failure: tuple[grpc.StatusCode, str] | None = None
    hang: bool = False


def etcd_spec(quota: int | None = None) -> bytes:
    extra = {"listen-metrics-urls": "http://0.0.0.0:2381"}
    if quota is not None:
        extra["quota-backend-bytes"] = str(quota)
    return specs.EtcdSpecSpec(extra_args=extra).SerializeToString()


def etcd_cluster(
    addresses: tuple[str, ...], *, learner: str = "", nospace: str = "", db_size: int = 41_000_000
) -> dict[str, EtcdNode]:
    """One etcd node per control plane address, member IDs 0x1a3c..01, ..02, ...; the first is the
    leader. `learner` is a control plane whose member is a learner (behind, as one catching up),
    `nospace` one whose member raised NOSPACE (every member reports the cluster's alarms)."""
    ids = {address: 0x1A3C5E7F9B2D4E00 + index + 1 for index, address in enumerate(addresses)}
    members = [
        machine.EtcdMember(
            id=ids[a],
            hostname=f"cp-{index + 1}",
            peer_urls=[f"https://{a}:2380"],
            client_urls=[f"https://{a}:2379"],
            is_learner=a == learner,
        )
        for index, a in enumerate(addresses)
    ]
    alarms = [machine.EtcdMemberAlarm(member_id=ids[nospace], alarm=machine.EtcdMemberAlarm.NOSPACE)] if nospace else []
    nodes = {}
    for position, address in enumerate(addresses):
        behind = 90_000 if address == learner else 184_220 - position
        size = 2_040_000_000 if address == nospace else db_size + position * 250_000
        status = machine.EtcdMemberStatus(
            member_id=ids[address],
            db_size=size,
            db_size_in_use=size * 2 // 3,
            leader=ids[addresses[0]],
            raft_index=behind,
            raft_term=4,
            raft_applied_index=behind,
            is_learner=address == learner,
            errors=[f"memberID:{ids[nospace]} alarm:NOSPACE"] if nospace else [],
        )
        nodes[address] = EtcdNode(status, members, list(alarms))
    return nodes


@dataclass
class Calls:
    watches: int = 0
    versions: int = 0
    gets: int = 0
    etcd: int = 0
    """Calls of EtcdStatus, EtcdMemberList and EtcdAlarmList."""
    events: int = 0
    """Changes sent to open watches after their first answer."""
    node_headers: list[str] = field(default_factory=list)


class TalosApiServer:
    def __init__(self, pki: Pki, address: str, port: int, *, behaviour: str = "healthy", version: str = "v1.11.5"):
        self.pki = pki
        self.address = address
        self.port = port
        self.behaviour = behaviour
        self.version = version
        self.resources = healthy_resources()
        self.etcd: EtcdNode | None = None
        self.calls = Calls()
        self._watchers: list[tuple[talos_api.Watched, asyncio.Queue[cosi.Event]]] = []
        self.server: grpc.aio.Server | None = None

    def _record(self, context: grpc.aio.ServicerContext) -> None:
        for key, value in context.invocation_metadata() or ():
            if key == "node":
                self.calls.node_headers.append(str(value))

    async def _hang(self) -> None:
        await asyncio.Event().wait()

    async def _version(self, request: Empty, context: grpc.aio.ServicerContext) -> machine.VersionResponse:
        self.calls.versions += 1
        self._record(context)
        if self.behaviour == "hang":
            await self._hang()
        info = machine.VersionInfo(tag=self.version, os="linux", arch="amd64")
        return machine.VersionResponse(messages=[machine.Version(version=info)])

    async def _etcd(self, context: grpc.aio.ServicerContext, what: str) -> EtcdNode:
        """This node's etcd, or the error the call answers with (as machined's)."""
        self.calls.etcd += 1
        self._record(context)
        if self.behaviour == "hang" or (self.etcd is not None and self.etcd.hang):
            await self._hang()
        if self.etcd is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{what} is only available on control plane nodes")
        assert self.etcd is not None
        if self.etcd.failure is not None:
            await context.abort(*self.etcd.failure)
        return self.etcd

    async def _etcd_status(self, request: Empty, context: grpc.aio.ServicerContext) -> machine.EtcdStatusResponse:
        etcd = await self._etcd(context, "etcd status")
        return machine.EtcdStatusResponse(messages=[machine.EtcdStatus(member_status=etcd.status)])

    async def _etcd_members(
        self, request: machine.EtcdMemberListRequest, context: grpc.aio.ServicerContext
    ) -> machine.EtcdMemberListResponse:
        etcd = await self._etcd(context, "member list")
        assert request.query_local  # this node's etcd answers, as talosctl asks
        return machine.EtcdMemberListResponse(messages=[machine.EtcdMembers(members=etcd.members)])

    async def _etcd_alarms(self, request: Empty, context: grpc.aio.ServicerContext) -> machine.EtcdAlarmListResponse:
        etcd = await self._etcd(context, "etcd alarm list")
        return machine.EtcdAlarmListResponse(messages=[machine.EtcdAlarm(member_alarms=etcd.alarms)])

    async def _get(self, request: cosi.GetRequest, context: grpc.aio.ServicerContext) -> cosi.GetResponse:
        self.calls.gets += 1
        self._record(context)
        if self.behaviour == "hang":
            await self._hang()
        # A singleton is kept under its own id, one of a kind under the kind (as `DISKS`).
        for ident in (request.id, ""):
            watched = talos_api.Watched(request.namespace, request.type, ident)
            if request.id in self.resources.get(watched, {}):
                return cosi.GetResponse(resource=self._event(watched, request.id, cosi.CREATED).resource)
        await context.abort(
            grpc.StatusCode.NOT_FOUND,
            f"resource {request.type}({request.namespace}/{request.id}@undefined) doesn't exist",
        )
        raise AssertionError("aborted")

    def _kind(self, request: cosi.WatchRequest) -> talos_api.Watched:
        return talos_api.Watched(request.namespace, request.type, request.id if request.HasField("id") else "")

    async def _watch(self, request: cosi.WatchRequest, context: grpc.aio.ServicerContext):
        self.calls.watches += 1
        self._record(context)
        if self.behaviour == "hang":
            await self._hang()
        watched = self._kind(request)
        queue: asyncio.Queue[cosi.Event] = asyncio.Queue()
        self._watchers.append((watched, queue))
        try:
            yield cosi.WatchResponse()  # ready
            items = self.resources.get(watched, {})
            if watched.id:
                if watched.id in items:
                    yield cosi.WatchResponse(event=[self._event(watched, watched.id, cosi.CREATED)])
                else:
                    yield cosi.WatchResponse(event=[self._event(watched, watched.id, cosi.DESTROYED, spec=b"")])
            else:
                for ident in items:
                    yield cosi.WatchResponse(event=[self._event(watched, ident, cosi.CREATED)])
                yield cosi.WatchResponse(event=[cosi.Event(event_type=cosi.BOOTSTRAPPED)])
            while True:
                yield cosi.WatchResponse(event=[await queue.get()])
        finally:
            self._watchers.remove((watched, queue))

    def _event(self, watched: talos_api.Watched, ident: str, kind: int, spec: bytes | None = None) -> cosi.Event:
        body = self.resources.get(watched, {}).get(ident, b"") if spec is None else spec
        metadata = cosi.Metadata(namespace=watched.namespace, type=watched.type, id=ident, version="1")
        return cosi.Event(event_type=kind, resource=cosi.Resource(metadata=metadata, spec=cosi.Spec(proto_spec=body)))

    def set_resource(self, watched: talos_api.Watched, ident: str, spec: bytes) -> None:
        """Change a resource; open watches of it (or of its kind) hear UPDATED."""
        self.resources.setdefault(watched, {})[ident] = spec
        for seen, queue in self._watchers:
            if seen.type == watched.type and seen.id in ("", ident):
                queue.put_nowait(self._event(watched, ident, cosi.UPDATED))
                self.calls.events += 1

    def control_plane(self, etcd: EtcdNode, *, quota: int | None = None) -> TalosApiServer:
        """This node as a control plane: `etcd` answers, and its etcd spec sets `quota` (or none)."""
        self.etcd = etcd
        self.resources[talos_api_etcd.ETCD_SPEC] = {talos_api_etcd.ETCD_SPEC.id: etcd_spec(quota)}
        return self

    @property
    def open_watches(self) -> int:
        return len(self._watchers)

    async def start(self) -> None:
        self.server = grpc.aio.server()
        handlers = {
            "Watch": grpc.unary_stream_rpc_method_handler(
                self._watch,
                request_deserializer=cosi.WatchRequest.FromString,
                response_serializer=cosi.WatchResponse.SerializeToString,
            )
        }
        handlers["Get"] = grpc.unary_unary_rpc_method_handler(
            self._get,
            request_deserializer=cosi.GetRequest.FromString,
            response_serializer=cosi.GetResponse.SerializeToString,
        )
        version = {
            "Version": grpc.unary_unary_rpc_method_handler(
                self._version,
                request_deserializer=Empty.FromString,
                response_serializer=machine.VersionResponse.SerializeToString,
            ),
            "EtcdStatus": grpc.unary_unary_rpc_method_handler(
                self._etcd_status,
                request_deserializer=Empty.FromString,
                response_serializer=machine.EtcdStatusResponse.SerializeToString,
            ),
            "EtcdMemberList": grpc.unary_unary_rpc_method_handler(
                self._etcd_members,
                request_deserializer=machine.EtcdMemberListRequest.FromString,
                response_serializer=machine.EtcdMemberListResponse.SerializeToString,
            ),
            "EtcdAlarmList": grpc.unary_unary_rpc_method_handler(
                self._etcd_alarms,
                request_deserializer=Empty.FromString,
                response_serializer=machine.EtcdAlarmListResponse.SerializeToString,
            ),
        }
        self.server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler("cosi.resource.State", handlers),
                grpc.method_handlers_generic_handler("machine.MachineService", version),
            )
        )
        if self.behaviour == "maintenance":
            # A node waiting for its config: a certificate of its own, and no client certificate asked.
            own = Pki.make((self.address,), name="maintenance")
            credentials = grpc.ssl_server_credentials([(own.server_key, own.server_cert)])
        else:
            credentials = grpc.ssl_server_credentials(
                [(self.pki.server_key, self.pki.server_cert)],
                root_certificates=self.pki.ca,
                require_client_auth=True,
            )
        bound = self.server.add_secure_port(f"{self.address}:{self.port}", credentials)
        assert bound == self.port, f"could not bind {self.address}:{self.port}"
        await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(grace=None)
