"""Rules of the `nodes` list: each node's name, address, install disk and link, and how many
control planes there are.

- **Control-plane count.** etcd needs a majority of members to work. With 2 members the
  majority is 2, so losing either one stops the cluster: two control planes are *less*
  available than one, and are refused. 4 (or 6, ...) tolerate no more failures than 3 (or 5)
  while adding a member to every write, so even counts from 4 up are a warning, not an error.
- **Docker** clusters here are a single local node (`talosctl cluster create docker`): one
  control plane, no workers, no VIP.
- **Addresses** are IPv4 host addresses with the prefix length of their subnet (written, or
  taken from `cluster.network.nodeSubnet`); the usable ones are returned for the network rules.
"""

from __future__ import annotations

import ipaddress
import re

from talos_platform.engine.config.models import Platform, PlatformConfig, Role
from talos_platform.engine.config.validation.formats import Interface, is_dns_label, network_problem, plain_ip
from talos_platform.engine.config.validation.problems import Collector

_INTERFACE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")


def check_nodes(config: PlatformConfig, found: Collector) -> dict[int, Interface]:
    """Per-node checks; returns the usable node interfaces by node index."""
    interfaces: dict[int, Interface] = {}
    names: dict[str, int] = {}
    ips: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, int] = {}
    metal = config.cluster.platform is Platform.metal
    if not config.nodes:
        found.error("nodes", "the cluster has no nodes", "add at least one node with `role: control-plane`")
    for index, node in enumerate(config.nodes):
        prefix = f"nodes[{index}]"
        if not is_dns_label(node.name):
            found.error(
                f"{prefix}.name",
                f"{node.name!r} is not a DNS label",
                "use lowercase letters, digits and '-' (not first or last), at most 63 characters, e.g. `cp-1`",
            )
        elif node.name in names:
            first = names[node.name]
            found.error(
                f"{prefix}.name",
                f"{node.name!r} is also the name of nodes[{first}]",
                "give every node its own name",
            )
        names.setdefault(node.name, index)
        ip = plain_ip(node.address)
        if ip is not None and ip in ips:
            first = ips[ip]
            found.error(
                f"{prefix}.address",
                f"{ip} is also the address of nodes[{first}] ({config.nodes[first].name})",
                "give every node its own IP",
            )
        elif ip is not None:
            ips[ip] = index
        interface = node_interface(config, index, found)
        if interface is not None and ips.get(interface.ip) == index:
            interfaces[index] = interface
        if metal and not re.match(r"^/dev/\S+$", node.install_disk):
            found.error(
                f"{prefix}.installDisk",
                f"{node.install_disk!r} is not a disk device path",
                "e.g. /dev/sda or /dev/nvme0n1",
            )
        if node.link is not None and not _INTERFACE_NAME.match(node.link):
            found.error(
                f"{prefix}.link",
                f"{node.link!r} is not a network interface name",
                "e.g. eth0 or enp1s0 (at most 15 characters)",
            )
        if not metal and node.role is Role.worker:
            found.error(
                f"{prefix}.role",
                "docker clusters here are a single control-plane node; workers are not supported",
                "remove this node, or use `platform: metal`",
            )
    return interfaces


def node_interface(config: PlatformConfig, index: int, found: Collector) -> Interface | None:
    """The node's address with its subnet, or None after reporting why it is unusable."""
    path = f"nodes[{index}].address"
    address = config.nodes[index].address
    interface = _address(address, path, found)
    if interface is not None:
        interface = _with_node_subnet(config, address.strip(), interface, path, found)
    if interface is not None:
        interface = _host_address(config, interface, path, found)
    return interface


def _address(address: str, path: str, found: Collector) -> Interface | None:
    """The address as written (prefix length or not), or None after reporting why no node can have it."""
    try:
        interface = ipaddress.ip_interface(address.strip())
    except ValueError:
        found.error(
            path,
            f"{address!r} is not an IP address",
            "write the node IP with its prefix length, e.g. 10.0.0.11/24",
        )
        return None
    if interface.version == 6:
        found.error(path, "IPv6 node addresses are not supported", "use the node's IPv4 address")
        return None
    ip = interface.ip
    if ip.is_loopback or ip.is_multicast or ip.is_unspecified or ip.is_link_local or ip.is_reserved:
        found.error(
            path,
            f"{ip} cannot be a node address (loopback, multicast, link-local or reserved)",
            "use the IP the machine has on its LAN",
        )
        return None
    return interface


def _with_node_subnet(
    config: PlatformConfig, text: str, interface: Interface, path: str, found: Collector
) -> Interface | None:
    """`interface` (written as `text`) with cluster.network.nodeSubnet's prefix length when written
    without one, and inside that subnet; None after reporting why not."""
    subnet_text = config.cluster.network.node_subnet
    subnet = None
    if subnet_text:
        subnet, _, _ = network_problem(subnet_text.strip())
        if subnet is None:
            return None  # reported at cluster.network.nodeSubnet
    if "/" not in text:
        if subnet is None:
            found.error(
                path,
                f"{text} has no prefix length",
                f"write it as {text}/24 (your subnet's prefix length), or set cluster.network.nodeSubnet",
            )
            return None
        interface = ipaddress.ip_interface(f"{text}/{subnet.prefixlen}")  # type: ignore[assignment]
    elif subnet is not None and interface.network != subnet:
        found.error(
            path,
            f"{text} is not in cluster.network.nodeSubnet {subnet}",
            "fix the address or its prefix length, or cluster.network.nodeSubnet",
        )
        return None
    if subnet is not None and interface.ip not in subnet:
        found.error(
            path,
            f"{interface.ip} is not in cluster.network.nodeSubnet {subnet}",
            "fix the address or cluster.network.nodeSubnet",
        )
        return None
    return interface


def _host_address(config: PlatformConfig, interface: Interface, path: str, found: Collector) -> Interface | None:
    """`interface` unless it is its subnet's network or broadcast address (reported); a subnet too
    small for other nodes or a VIP is a warning on metal."""
    ip, network = interface.ip, interface.network
    if network.prefixlen <= 30 and ip in (network.network_address, network.broadcast_address):
        which = "network" if ip == network.network_address else "broadcast"
        found.error(path, f"{ip} is the {which} address of {network}", "use a host address inside the subnet")
        return None
    if network.prefixlen > 30 and config.cluster.platform is Platform.metal:
        found.warning(
            path,
            f"/{network.prefixlen} leaves no room for other nodes or a VIP",
            "use the prefix length of the node's real subnet, e.g. /24",
        )
    return interface


def check_control_planes(config: PlatformConfig, found: Collector) -> None:
    count = len(config.control_planes)
    if not config.nodes:
        return  # already reported
    if count == 0:
        found.error("nodes", "no node has `role: control-plane`", "make 1 or 3 nodes control planes")
    elif config.cluster.platform is Platform.docker:
        if count > 1:
            found.error(
                "nodes",
                f"docker clusters here have exactly one control plane, not {count}",
                "keep one node, or use `platform: metal`",
            )
    elif count == 2:
        found.error(
            "nodes",
            "2 control planes: etcd stops when either fails, which is less available than one",
            "use 1 or 3 control planes",
        )
    elif count % 2 == 0:
        found.warning(
            "nodes",
            f"{count} control planes tolerate no more failures than {count - 1} and slow every etcd write",
            f"use {count - 1} or {count + 1} control planes",
        )
