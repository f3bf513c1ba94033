"""Rules for what the platform needs from a Talos cluster that Talos does not ship: storage for
persistent volumes and addresses for LoadBalancer Services. Called by `validation.validate`.

- **Storage.** Talos has no storage provisioner and no default StorageClass. Vault keeps its data
  on a PersistentVolumeClaim, and Prometheus, Alertmanager and Grafana keep theirs too, so with
  either component on, a StorageClass must exist: the local-path provisioner (the default) or the
  user's own `storage.storageClass`.
- **Load-balancer pool.** Cilium exposes a Gateway through a LoadBalancer Service, which gets an
  address only from a CiliumLoadBalancerIPPool, announced on the LAN with L2 announcements. The
  pool is a CIDR or a `start-end` range inside the nodes' subnet (the docker network on docker),
  holding no node IP, not the VIP, not the subnet's network or broadcast address (nor, on
  docker, the network's gateway, its first address). It is required when the render contains a
  Gateway (cert-manager's HTTP-01 solver), and advised whenever the Gateway API is on.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Protocol

from talos_platform.engine.config.models import Platform, PlatformConfig

LOCAL_PATH_CLASS = "local-path"
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class Collector(Protocol):
    def error(self, path: str, message: str, hint: str = "") -> None: ...

    def warning(self, path: str, message: str, hint: str = "") -> None: ...


# --- derived views the render shares ---------------------------------------------------------


def installs_local_path(config: PlatformConfig) -> bool:
    """The render installs the local-path provisioner (no class of the user's, and not switched off)."""
    return config.storage.storage_class is None and config.storage.local_path.enabled


def storage_class(config: PlatformConfig) -> str | None:
    """The StorageClass persistent volumes use, or None when the cluster has none."""
    if config.storage.storage_class is not None:
        return config.storage.storage_class
    return LOCAL_PATH_CLASS if config.storage.local_path.enabled else None


def persistence_users(config: PlatformConfig) -> list[str]:
    """Config paths of the enabled components that keep data on PersistentVolumeClaims."""
    components = config.components
    users = []
    if components.vault.enabled:
        users.append("components.vault")
    if components.monitoring.enabled:
        users.append("components.monitoring")
    return users


def renders_gateway(config: PlatformConfig) -> bool:
    """The render contains a Gateway: cert-manager solving HTTP-01 through the Gateway API
    (DNS-01 through Cloudflare is used instead whenever external-dns has the token)."""
    components = config.components
    return components.cert_manager.enabled and components.gateway_api.enabled and not components.external_dns.enabled


class PoolError(ValueError):
    pass


def parse_pool(text: str) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]:
    """First and last address of a pool written as a CIDR or as `start-end`; PoolError otherwise."""
    text = text.strip()
    try:
        if "-" in text:
            start_text, _, end_text = text.partition("-")
            first, last = ipaddress.ip_address(start_text.strip()), ipaddress.ip_address(end_text.strip())
        else:
            if "/" not in text:
                raise PoolError(f"{text!r} is neither a CIDR nor a start-end range")
            network = ipaddress.ip_network(text)
            first, last = network.network_address, network.broadcast_address
    except ValueError as error:
        if isinstance(error, PoolError):
            raise
        raise PoolError(
            f"{text!r} is not a CIDR like 192.168.10.240/28 nor a range like 192.168.10.240-192.168.10.250"
        ) from None
    if not isinstance(first, ipaddress.IPv4Address) or not isinstance(last, ipaddress.IPv4Address):
        raise PoolError("IPv6 pools are not supported")
    if last < first:
        raise PoolError(f"the range ends ({last}) before it starts ({first})")
    return first, last


def pool_block(text: str) -> dict[str, str]:
    """The pool as a CiliumLoadBalancerIPPool block: `cidr`, or `start` and `stop`."""
    text = text.strip()
    if "-" in text:
        first, last = parse_pool(text)
        return {"start": str(first), "stop": str(last)}
    return {"cidr": text}


# --- the rules -------------------------------------------------------------------------------


def check_storage(config: PlatformConfig, found: Collector) -> None:
    storage = config.storage
    if storage.storage_class is not None:
        if not _DNS_SUBDOMAIN.match(storage.storage_class):
            found.error(
                "storage.storageClass",
                f"{storage.storage_class!r} is not a StorageClass name",
                "use the name `kubectl get storageclass` shows, e.g. `longhorn`",
            )
    if not _IMAGE_TAG.match(storage.local_path.version):
        found.error(
            "storage.localPath.version",
            f"{storage.local_path.version!r} is not an image tag",
            "write the pinned release, e.g. v0.0.32",
        )
    users = persistence_users(config)
    if users and storage_class(config) is None:
        found.error(
            "storage.localPath.enabled",
            f"{' and '.join(users)} keep data on persistent volumes, but Talos has no storage provisioner "
            "and none is installed",
            "set storage.localPath.enabled: true (the default), or storage.storageClass to a class you installed",
        )


def check_load_balancer_pool(config: PlatformConfig, found: Collector) -> None:
    path = "cluster.network.loadBalancerPool"
    text = config.cluster.network.load_balancer_pool
    if text is None:
        if renders_gateway(config):
            found.error(
                path,
                "cert-manager's HTTP-01 solver uses a Gateway, which gets an address only from a load-balancer pool",
                "set a few unused addresses of the node subnet, e.g. the top of it: 10.0.0.240/28",
            )
        elif config.components.gateway_api.enabled:
            found.warning(
                path,
                "no load-balancer pool: Gateways and LoadBalancer Services you add will never get an address",
                "set a few unused addresses of the node subnet, e.g. 10.0.0.240/28",
            )
        return
    try:
        first, last = parse_pool(text)
    except PoolError as error:
        found.error(path, str(error), "e.g. 192.168.10.240/28 or 192.168.10.240-192.168.10.250")
        return
    subnets = _node_subnets(config)
    if not subnets:
        return  # the node addresses are reported on their own
    subnet = subnets[0]
    if first not in subnet or last not in subnet:
        where = "the docker network" if config.cluster.platform is Platform.docker else "the node subnet"
        found.error(path, f"{text} is not inside {where} {subnet}", f"pick unused addresses inside {subnet}")
        return
    reserved = {subnet.network_address: "its network address", subnet.broadcast_address: "its broadcast address"}
    if config.cluster.platform is Platform.docker:
        reserved[subnet.network_address + 1] = "the docker network's gateway"
    for address, what in reserved.items():
        if first <= address <= last and subnet.prefixlen <= 30:
            found.error(
                path, f"{text} holds {address}, {what}", "start the pool after it and end it before the last address"
            )
    gateway = _gateway(config)
    if gateway is not None and gateway.version == 4 and first <= gateway <= last:
        found.error(
            path,
            f"{text} holds {gateway}, the nodes' default gateway (cluster.network.gateway)",
            "leave the gateway out of the pool",
        )
    for index, node in enumerate(config.nodes):
        try:
            ip = ipaddress.ip_interface(node.address.strip()).ip
        except ValueError:
            continue
        if ip.version == 4 and first <= ip <= last:
            found.error(
                path,
                f"{text} holds {ip}, the address of nodes[{index}] ({node.name})",
                "leave every node IP out of the pool",
            )
    if config.cluster.vip:
        try:
            vip = ipaddress.ip_address(config.cluster.vip.strip())
        except ValueError:
            return
        if vip.version == 4 and first <= vip <= last:
            found.error(path, f"{text} holds the VIP {vip}", "leave the VIP out of the pool")


def _gateway(config: PlatformConfig) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The nodes' default gateway when it parses (its own problems are reported elsewhere)."""
    text = config.cluster.network.gateway
    if not text:
        return None
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _node_subnets(config: PlatformConfig) -> list[ipaddress.IPv4Network]:
    """The subnets of the node addresses that parse, first node first."""
    subnets = []
    for node in config.nodes:
        try:
            interface = config.node_interface(node)
        except ValueError:
            continue
        if isinstance(interface, ipaddress.IPv4Interface) and interface.network not in subnets:
            subnets.append(interface.network)
    return subnets


def suggested_pool(config: PlatformConfig, size: int = 16) -> str | None:
    """A free range at the top of the node subnet (below the broadcast address), clear of node IPs
    and the VIP; None when the subnet is too small or crowded. The wizard offers it."""
    subnets = _node_subnets(config)
    if not subnets:
        return None
    subnet = subnets[0]
    taken = set()
    for node in config.nodes:
        try:
            taken.add(ipaddress.ip_interface(node.address.strip()).ip)
        except ValueError:
            pass
    if config.cluster.vip:
        try:
            taken.add(ipaddress.ip_address(config.cluster.vip.strip()))
        except ValueError:
            pass
    gateway = _gateway(config)
    if gateway is not None:
        taken.add(gateway)
    taken_v4 = {ip for ip in taken if isinstance(ip, ipaddress.IPv4Address)}
    hosts = subnet.num_addresses - 2
    size = min(size, hosts // 4)
    if size < 1:
        return None
    last = subnet.broadcast_address - 1
    while last - (size - 1) > subnet.network_address + 1:
        first = last - (size - 1)
        clash = [ip for ip in taken_v4 if first <= ip <= last]
        if not clash:
            return f"{first}-{last}"
        last = min(clash) - 1
    return None
