"""Rules of the cluster's addresses: the VIP and the pod, service and node networks.

- **VIP.** On metal with more than one control plane the API needs one stable address that
  moves between control planes: the Talos VIP. It is announced on layer 2, so it must sit in
  the control planes' common subnet, on a `link` each control plane names, and must not be a
  node IP nor the subnet's network or broadcast address. Docker clusters have none.
- **IPv6** node addresses, VIPs and pod/service networks are refused: the rendered Talos and
  Cilium settings are IPv4 only. Extra API SANs may be IPv6 (they only go into certificates).
- **Networks.** Pods get a /24 per node out of the pod CIDR; pods, services and the nodes'
  subnets must not overlap.
"""

from __future__ import annotations

import ipaddress

from talos_platform.engine.config.models import Platform, PlatformConfig, Role
from talos_platform.engine.config.validation.formats import Interface, network_problem, plain_ip
from talos_platform.engine.config.validation.problems import Collector


def check_vip(config: PlatformConfig, interfaces: dict[int, Interface], found: Collector) -> None:
    control_planes = [index for index, node in enumerate(config.nodes) if node.role is Role.control_plane]
    if not _vip_wanted(config, len(control_planes), found):
        return
    for index in control_planes:
        if not config.nodes[index].link:
            found.error(
                f"nodes[{index}].link",
                "control planes need the network interface that carries the VIP",
                "set it to the interface with the node IP, e.g. eth0 or enp1s0 (`talosctl get links --insecure -n IP`)",
            )
    vip = _vip_address(config, found)
    if vip is None:
        return
    subnet = _control_plane_subnet(control_planes, interfaces, found)
    if subnet is not None:
        _check_vip_in_subnet(vip, subnet, found)


def _vip_wanted(config: PlatformConfig, control_planes: int, found: Collector) -> bool:
    """Whether there is a VIP to check; reports one on docker, or none where several control planes need it."""
    cluster = config.cluster
    if cluster.platform is Platform.docker:
        if cluster.vip:
            found.error("cluster.vip", "docker clusters have no VIP", "remove cluster.vip")
        return False
    if not cluster.vip and control_planes > 1:
        found.error(
            "cluster.vip",
            f"a VIP is required with {control_planes} control planes",
            "set cluster.vip to an unused IP in the control planes' subnet",
        )
    return bool(cluster.vip)


def _vip_address(config: PlatformConfig, found: Collector) -> ipaddress.IPv4Address | None:
    """The VIP as an IPv4 address that is no node's, or None after reporting why it cannot be used."""
    text = config.cluster.vip or ""
    try:
        vip = ipaddress.ip_address(text.strip())
    except ValueError:
        found.error(
            "cluster.vip",
            f"{text!r} is not an IP address",
            "write a plain IP without prefix length, e.g. 10.0.0.10",
        )
        return None
    if vip.version == 6:
        found.error("cluster.vip", "IPv6 VIPs are not supported", "use an IPv4 address")
        return None
    for index, node in enumerate(config.nodes):
        if plain_ip(node.address) == vip:
            found.error(
                "cluster.vip",
                f"{vip} is the IP of nodes[{index}] ({node.name})",
                "use an unused IP for the VIP",
            )
    return vip


def _control_plane_subnet(
    control_planes: list[int], interfaces: dict[int, Interface], found: Collector
) -> ipaddress.IPv4Network | None:
    """The first control plane's subnet (None if no address is usable); reports control planes on another."""
    subnets = [(index, interfaces[index].network) for index in control_planes if index in interfaces]
    if not subnets:
        return None
    first_index, subnet = subnets[0]
    for index, other in subnets[1:]:
        if other != subnet:
            found.error(
                f"nodes[{index}].address",
                f"control plane in {other} while nodes[{first_index}] is in {subnet}; "
                "a VIP needs all control planes on one subnet",
                "put the control planes on one subnet (and fix the prefix lengths)",
            )
    return subnet


def _check_vip_in_subnet(vip: ipaddress.IPv4Address, subnet: ipaddress.IPv4Network, found: Collector) -> None:
    if vip not in subnet:
        found.error(
            "cluster.vip",
            f"{vip} is outside the control planes' subnet {subnet}",
            f"pick an unused IP inside {subnet}",
        )
    elif subnet.prefixlen <= 30 and vip in (subnet.network_address, subnet.broadcast_address):
        which = "network" if vip == subnet.network_address else "broadcast"
        found.error(
            "cluster.vip",
            f"{vip} is the {which} address of {subnet}",
            f"pick an unused host IP inside {subnet}",
        )


def check_networks(config: PlatformConfig, interfaces: dict[int, Interface], found: Collector) -> None:
    network = config.cluster.network
    checked: list[tuple[str, ipaddress.IPv4Network]] = []
    for path, text in (
        ("cluster.network.podCidr", network.pod_cidr),
        ("cluster.network.serviceCidr", network.service_cidr),
        ("cluster.network.nodeSubnet", network.node_subnet),
    ):
        if text is None:
            continue
        parsed, message, hint = network_problem(text.strip())
        if parsed is None:
            found.error(path, message or "", hint)
        else:
            checked.append((path, parsed))
    by_path = dict(checked)
    service = by_path.get("cluster.network.serviceCidr")
    if service is not None and service.prefixlen < 12:
        found.error(
            "cluster.network.serviceCidr",
            f"{service} is larger than Kubernetes allows (/12 at most)",
            "use a /12 or smaller, e.g. 10.96.0.0/12",
        )
    pod = by_path.get("cluster.network.podCidr")
    node_count = len(config.nodes)
    if pod is not None and pod.prefixlen > 24:
        found.error(
            "cluster.network.podCidr",
            f"{pod} is smaller than one node's /24 pod range",
            "use a /16, e.g. 10.244.0.0/16",
        )
    elif pod is not None and 2 ** (24 - pod.prefixlen) < node_count:
        found.error(
            "cluster.network.podCidr",
            f"{pod} has room for {2 ** (24 - pod.prefixlen)} nodes (a /24 each), not {node_count}",
            "use a larger network, e.g. a /16",
        )
    # Node subnets, named by where they come from, compared against the cluster networks.
    node_networks: dict[ipaddress.IPv4Network, str] = {}
    if "cluster.network.nodeSubnet" in by_path:
        node_networks[by_path["cluster.network.nodeSubnet"]] = "cluster.network.nodeSubnet"
    for index, interface in sorted(interfaces.items()):
        node_networks.setdefault(interface.network, f"nodes[{index}].address")
    for path in ("cluster.network.podCidr", "cluster.network.serviceCidr"):
        if path not in by_path:
            continue
        for other_network, where in node_networks.items():
            if by_path[path].overlaps(other_network):
                found.error(
                    path,
                    f"{by_path[path]} overlaps the node network {other_network} ({where})",
                    "pick a range no node uses, e.g. 10.244.0.0/16 for pods and 10.96.0.0/12 for services",
                )
    if pod is not None and service is not None and pod.overlaps(service):
        found.error(
            "cluster.network.serviceCidr",
            f"{service} overlaps cluster.network.podCidr {pod}",
            "give pods and services separate ranges, e.g. 10.244.0.0/16 and 10.96.0.0/12",
        )
