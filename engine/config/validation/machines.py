"""Rules about what each Talos machine is given beyond Kubernetes: its static address and
default gateway, and the installer image's schematic. Part of `validation.validate`.

- **Static addresses.** A metal node that names its `link` gets its address configured
  statically on that interface (no DHCP), so it needs a default route: `cluster.network.gateway`,
  inside the subnet of every such node, and not a node IP or the VIP. A node without a `link`
  keeps the address DHCP gives it, which only works with a DHCP reservation: a warning says so.
- **Schematic.** Extension names and kernel arguments must be ones the Image Factory takes and
  that we can hash exactly as it does (see `schematic.py`).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Protocol

from talos_platform.engine.config.models import Platform, PlatformConfig
from talos_platform.engine.config.schematic import extension_problem, kernel_argument_problem

if TYPE_CHECKING:
    Interface = ipaddress.IPv4Interface


class Found(Protocol):
    def error(self, path: str, message: str, hint: str = "") -> None: ...

    def warning(self, path: str, message: str, hint: str = "") -> None: ...


GATEWAY = "cluster.network.gateway"


def check_machines(config: PlatformConfig, interfaces: dict[int, Interface], found: Found) -> None:
    _check_gateway(config, interfaces, found)
    _check_schematic(config, found)


def _check_gateway(config: PlatformConfig, interfaces: dict[int, Interface], found: Found) -> None:
    gateway_text = config.cluster.network.gateway
    if config.cluster.platform is Platform.docker:
        if gateway_text:
            found.error(GATEWAY, "docker clusters take their network from Docker", f"remove {GATEWAY}")
        return
    static = [index for index, node in enumerate(config.nodes) if node.link]
    for index, node in enumerate(config.nodes):
        if not node.link and index in interfaces:
            found.warning(
                f"nodes[{index}].link",
                f"no link: {node.name} keeps the address DHCP gives it",
                f"reserve {interfaces[index].ip} for it in your DHCP server, or name its interface "
                "(e.g. eth0) to configure the address statically",
            )
    if not gateway_text:
        if static:
            found.error(
                GATEWAY,
                "nodes with a `link` get a static address and need a default gateway",
                "set it to your router's IP in the node subnet, e.g. 192.168.1.1",
            )
        return
    try:
        gateway = ipaddress.ip_address(gateway_text.strip())
    except ValueError:
        found.error(GATEWAY, f"{gateway_text!r} is not an IP address", "write a plain IPv4 address, e.g. 192.168.1.1")
        return
    if gateway.version == 6:
        found.error(GATEWAY, "IPv6 gateways are not supported", "use the router's IPv4 address")
        return
    if config.cluster.vip and gateway_text.strip() == config.cluster.vip.strip():
        found.error(GATEWAY, f"{gateway} is the VIP", "use your router's IP")
    for index, node in enumerate(config.nodes):
        interface = interfaces.get(index)
        if interface is None:
            continue
        if interface.ip == gateway:
            found.error(GATEWAY, f"{gateway} is the IP of nodes[{index}] ({node.name})", "use your router's IP")
        elif node.link and gateway not in interface.network:
            found.error(
                GATEWAY,
                f"{gateway} is outside {interface.network}, the subnet of nodes[{index}] ({node.name})",
                f"use the router's IP inside {interface.network}",
            )


def _check_schematic(config: PlatformConfig, found: Found) -> None:
    schematic = config.cluster.schematic
    for index, name in enumerate(schematic.system_extensions):
        problem = extension_problem(name)
        if problem:
            found.error(
                f"cluster.schematic.systemExtensions[{index}]",
                problem,
                "use a name from https://github.com/siderolabs/extensions, e.g. siderolabs/iscsi-tools",
            )
    for index, argument in enumerate(schematic.extra_kernel_args):
        problem = kernel_argument_problem(argument)
        if problem:
            found.error(
                f"cluster.schematic.extraKernelArgs[{index}]",
                problem,
                "give each argument as its own list item, e.g. net.ifnames=0",
            )
