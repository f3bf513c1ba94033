"""The rehearsal's pod and service networks, kept inside a network namespace of its own.

kwok gives pods addresses from the pod CIDR, and with the real charts the API server dials some
of them: admission webhooks (cert-manager's, the Prometheus operator's) and the pod proxy (the
install's Vault calls). Those addresses must never be looked for on a real network. So the pod
and service CIDRs are routed into a network namespace this harness creates (a veth pair), where
every address of both ranges is local (`ip route add local`): a connection to a pod either
reaches a stand-in listening in that namespace or is refused there. Nothing leaves the machine.

Creating it needs root (CAP_NET_ADMIN); without it the cluster does not start (fail closed).
"""

from __future__ import annotations

import subprocess
import zlib
from dataclasses import dataclass


def _ip(*args: str, namespace: str | None = None) -> None:
    argv = ["ip", *(("netns", "exec", namespace, "ip") if namespace else ()), *args]
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if completed.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv)}` failed: {completed.stderr.strip()}")


@dataclass
class PodNetwork:
    """A namespace that owns `cidrs`; `exec_prefix` runs a command inside it."""

    name: str
    cidrs: tuple[str, ...]
    created: bool = False

    @classmethod
    def for_workdir(cls, workdir: str, cidrs: tuple[str, ...]) -> PodNetwork:
        # Interface names are at most 15 characters: a short stable tag of the workdir.
        return cls(name=f"rh{zlib.crc32(workdir.encode()) & 0xFFFFFF:06x}", cidrs=cidrs)

    @property
    def host_link(self) -> str:
        return f"{self.name}h"

    @property
    def exec_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def _link_addresses(self) -> tuple[str, str]:
        # A link-local /30 per namespace, picked from the same tag so two clusters differ.
        third = (zlib.crc32(self.name.encode()) % 250) + 1
        return f"169.254.{third}.1", f"169.254.{third}.2"

    def create(self) -> None:
        self.destroy()  # a namespace left over from a killed run
        host, inside = self._link_addresses()
        peer = f"{self.name}n"
        _ip("netns", "add", self.name)
        self.created = True
        _ip("link", "add", self.host_link, "type", "veth", "peer", "name", peer)
        _ip("link", "set", peer, "netns", self.name)
        _ip("addr", "add", f"{host}/30", "dev", self.host_link)
        _ip("link", "set", self.host_link, "up")
        _ip("link", "set", "lo", "up", namespace=self.name)
        _ip("addr", "add", f"{inside}/30", "dev", peer, namespace=self.name)
        _ip("link", "set", peer, "up", namespace=self.name)
        _ip("route", "add", "default", "via", host, namespace=self.name)
        for cidr in self.cidrs:
            _ip("route", "add", "local", cidr, "dev", "lo", namespace=self.name)
            _ip("route", "add", cidr, "via", inside, "dev", self.host_link)

    def destroy(self) -> None:
        """Remove the namespace and its link (the host routes go with the link)."""
        for argv in (["ip", "link", "del", self.host_link], ["ip", "netns", "del", self.name]):
            subprocess.run(argv, capture_output=True, timeout=30)
        self.created = False
