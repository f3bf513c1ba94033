"""The Talos driver of the dashboard and `status --live`: gRPC first, talosctl for the rest.

A configured node's facts come over one mTLS gRPC channel per node (talos_api.py), kept open
between polls, with the resource API watching what changes, and a control plane's etcd health
over the same channel (talos_api_etcd.py). Everything else (the maintenance API's `--insecure`
reads, and every command an install runs, which `plan` shows as a talosctl command line) is the
talosctl driver's, inherited unchanged, so a Talos call added to that driver is served here too.
"""

from __future__ import annotations

from pathlib import Path

import grpc

from talos_platform.engine.drivers.loopback import ensure_allowed
from talos_platform.engine.drivers.process import ProcessRunner
from talos_platform.engine.drivers.protocols import EtcdHealth, TalosNodeFacts
from talos_platform.engine.drivers.talos_api import (
    CLUSTER_INFO,
    CONNECT_TIMEOUT,
    CPU_STATS,
    DISKS,
    MACHINE_STATUS,
    MEMORY_STATS,
    TALOS_API_PORT,
    TalosApiError,
    TalosconfigProblem,
    TalosNodeSession,
    cluster_name,
    cpu_times,
    credentials_from,
    disk_paths,
    machine_stage,
    memory_percent,
)
from talos_platform.engine.drivers.talos_api_etcd import etcd_health
from talos_platform.engine.drivers.talosctl import TalosctlDriver, no_talosconfig_yet, read_talosconfig
from talos_platform.engine.errors import UserError


class TalosGrpcDriver(TalosctlDriver):
    """Implements the `Talos` protocol: `node_facts` of configured nodes and `etcd_health` over
    the Talos API, the rest with talosctl."""

    def __init__(
        self,
        runner: ProcessRunner,
        talosconfig: Path,
        *,
        port: int = TALOS_API_PORT,
        connect_timeout: float = CONNECT_TIMEOUT,
        docker_network: str = "10.5.0.0/24",
    ):
        super().__init__(runner, talosconfig, docker_network=docker_network)
        self.port = port
        self.connect_timeout = connect_timeout
        self.sessions: dict[str, TalosNodeSession] = {}
        self._credentials: tuple[float, grpc.ChannelCredentials] | None = None

    async def _channel_credentials(self) -> grpc.ChannelCredentials:
        """From the talosconfig's current context; read again when the file changes."""
        changed = self.talosconfig.stat().st_mtime
        if self._credentials is None or self._credentials[0] != changed:
            data = read_talosconfig(self.talosconfig)
            context = data["contexts"][data["context"]]
            self._credentials = (changed, credentials_from(context, self.talosconfig))
            # Sessions made with the old certificates are opened again with the new ones.
            await self.close()
        return self._credentials[1]

    async def _session(self, address: str) -> TalosNodeSession | str:
        """The node's session, or why there can be none (no talosconfig, or a damaged one)."""
        if not self.talosconfig.exists():
            return no_talosconfig_yet(self.talosconfig)
        try:
            credentials = await self._channel_credentials()
        except (TalosconfigProblem, UserError) as error:
            return str(error)
        session = self.sessions.get(address)
        if session is None:
            endpoint = f"[{address}]:{self.port}" if ":" in address else f"{address}:{self.port}"
            session = TalosNodeSession(endpoint, credentials, node=address, timeout=self.connect_timeout)
            self.sessions[address] = session
        return session

    async def node_facts(self, address: str, *, insecure: bool) -> TalosNodeFacts:
        ensure_allowed(address, "Talos node")
        if insecure:
            # The maintenance API wants no client certificate and has a certificate of its own
            # that nothing vouches for: talosctl's `--insecure` reads it.
            return await super().node_facts(address, insecure=True)
        session = await self._session(address)
        if isinstance(session, str):
            return TalosNodeFacts(address=address, reachable=False, error=session)
        try:
            readings = await session.read()
        except TalosApiError as error:
            return TalosNodeFacts(address=address, reachable=error.reachable, error=error.message)
        resources = readings.resources
        return TalosNodeFacts(
            address=address,
            reachable=True,
            maintenance=False,
            stage=machine_stage(readings.spec(MACHINE_STATUS)),
            cluster_name=cluster_name(readings.spec(CLUSTER_INFO)),
            disks=disk_paths(resources.get(DISKS) or {}),
            talos_version=readings.version,
            memory_percent=memory_percent(readings.spec(MEMORY_STATS)),
            cpu_percent=self._cpu_load(address, cpu_times(readings.spec(CPU_STATS))),
        )

    async def etcd_health(self, address: str) -> EtcdHealth:
        """etcd on control plane `address` over its node's channel: no talosctl process."""
        ensure_allowed(address, "Talos node")
        session = await self._session(address)
        if isinstance(session, str):
            return EtcdHealth(address, error=session)
        return await etcd_health(session, address)

    async def close(self) -> None:
        """Close every node's channel, on the loop that opened them (`status --live` after its
        reading; the dashboard as its engine thread stops)."""
        sessions, self.sessions = self.sessions, {}
        for session in sessions.values():
            await session.close()
