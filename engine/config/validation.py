"""Every rule a config must follow beyond its shape, reported all at once.

`validate(config)` never stops at the first mistake: it returns every problem, each with the
camelCase field path it is about and what to do. The wizard runs the same function on each
answer and keeps the problems under the field it is asking about (`problems_at`).

Rules worth explaining:

- **Control-plane count.** etcd needs a majority of members to work. With 2 members the
  majority is 2, so losing either one stops the cluster: two control planes are *less*
  available than one, and are refused. 4 (or 6, ...) tolerate no more failures than 3 (or 5)
  while adding a member to every write, so even counts from 4 up are a warning, not an error.
- **VIP.** On metal with more than one control plane the API needs one stable address that
  moves between control planes: the Talos VIP. It is announced on layer 2, so it must sit in
  the control planes' common subnet, on a `link` each control plane names, and must not be a
  node IP nor the subnet's network or broadcast address.
- **Docker** clusters here are a single local node (`talosctl cluster create docker`): one
  control plane, no workers, no VIP.
- **Cilium and ArgoCD** cannot be switched off: Cilium is the CNI (Talos is installed without
  one, so nothing runs without it) and ArgoCD installs everything after the bootstrap.
- **IPv6** node addresses, VIPs and pod/service networks are refused: the rendered Talos and
  Cilium settings are IPv4 only. Extra API SANs may be IPv6 (they only go into certificates).
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from talos_platform.engine.config import platform_checks, versions
from talos_platform.engine.config.machine_rules import check_machines
from talos_platform.engine.config.models import Component, Platform, PlatformConfig, Role

if TYPE_CHECKING:
    from talos_platform.engine.config.secrets import Secrets

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    path: str
    """Field path in YAML terms, e.g. `nodes[1].address`, `cluster.vip`; `""` for the whole file."""
    message: str
    hint: str = ""
    """What to do about it."""
    severity: Severity = "error"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def format(self) -> str:
        """`error: nodes[1].address: ...` and, when there is one, an indented `hint:` line."""
        where = f"{self.path}: " if self.path else ""
        text = f"{self.severity}: {where}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


def errors_only(problems: Iterable[Problem]) -> list[Problem]:
    return [problem for problem in problems if problem.is_error]


def problems_at(problems: Iterable[Problem], path: str) -> list[Problem]:
    """Problems at `path` or inside it: `nodes[1]` matches `nodes[1].address`, not `nodes[10]`."""
    return [
        problem for problem in problems if problem.path == path or problem.path.startswith((path + ".", path + "["))
    ]


# --- single-value formats (public: the wizard checks answers with them too) ---------------

DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_DNS_NAME_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)
_EMAIL_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_INTERFACE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")
_SCP_LIKE_GIT_URL = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!/)[^\s]+$")
_COMPONENT_VERSION = re.compile(r"^v?\d+(\.\d+){1,2}([-+][0-9A-Za-z.-]+)?$")
_BAD_REF = re.compile(r"[\s~^:?*\[\\]|\.\.|@\{|//")
_RESERVED_MAIL_DOMAINS = ("example.com", "example.org", "example.net")


def is_dns_label(text: str) -> bool:
    """A hostname label: lowercase letters, digits and '-', not at either end, at most 63."""
    return bool(DNS_LABEL.match(text))


def is_dns_name(text: str, *, min_labels: int = 1, allow_wildcard: bool = False) -> bool:
    """A DNS name like `k8s.example.com` (no trailing dot), optionally `*.`-prefixed."""
    if allow_wildcard and text.startswith("*."):
        text = text[2:]
    labels = text.split(".")
    if not text or len(text) > 253 or len(labels) < min_labels:
        return False
    if not all(_DNS_NAME_LABEL.match(label) for label in labels):
        return False
    return not labels[-1].isdigit()  # `10.0.0.1` is an IP, never a name


def is_email(text: str) -> bool:
    local, at, domain = text.rpartition("@")
    return bool(at and local and len(local) <= 64 and _EMAIL_LOCAL.match(local)) and is_dns_name(domain, min_labels=2)


GIT_CREDENTIALS_PROBLEM = "contains credentials"


def git_url_problem(url: str) -> str | None:
    """Why `url` is not a usable Git URL (https://, ssh:// or git@host:path), or None.

    The reason never quotes the URL: it may hold credentials.
    """
    if not url.strip():
        return "is empty"
    if _SCP_LIKE_GIT_URL.match(url):
        return None
    try:
        parsed = urllib.parse.urlsplit(url)
        hostname = parsed.hostname
    except ValueError:  # e.g. an unclosed `[` of an IPv6 host
        return "is not a valid URL"
    if parsed.password is not None or (parsed.scheme in ("http", "https") and parsed.username):
        return GIT_CREDENTIALS_PROBLEM
    if parsed.scheme == "http" and not _is_loopback(hostname or ""):
        # On this machine's loopback nothing crosses a network (a local Git server, the rehearsal).
        return "uses plain http, which sends credentials and content unprotected"
    if parsed.scheme not in ("http", "https", "ssh") or not hostname:
        return "is not an https://, ssh:// or git@host:path URL"
    if parsed.path.strip("/") == "":
        return "names no repository path"
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def mirror_url_problem(url: str) -> str | None:
    """Why `url` is not usable as a mirror's base URL (http or https, a host, no credentials)."""
    try:
        parsed = urllib.parse.urlsplit(url)
        hostname = parsed.hostname
    except ValueError:
        return "is not a valid URL"
    if parsed.scheme not in ("http", "https") or not hostname:
        return "is not an http:// or https:// URL"
    if parsed.username or parsed.password:
        return "contains credentials, which must never be in the config"
    if parsed.query or parsed.fragment:
        return "has a query or fragment; give the repository's base URL"
    return None


def _network_problem(text: str) -> tuple[ipaddress.IPv4Network | None, str | None, str]:
    """(network, message, hint) for a CIDR field; network is None when it is unusable."""
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None, f"{text!r} is not a CIDR like 10.244.0.0/16", "write a network address and prefix length"
    if "/" not in text:
        return None, f"{text!r} has no prefix length", f"write it as {loose.network_address}/NN, e.g. 10.244.0.0/16"
    if not isinstance(loose, ipaddress.IPv4Network):
        hint = "use an IPv4 CIDR; the rendered Talos and Cilium settings are IPv4 only"
        return None, "IPv6 networks are not supported", hint
    if str(loose.network_address) != text.split("/")[0]:
        return None, f"{text} has host bits set", f"use the network address: {loose}"
    return loose, None, ""


# --- the validator ---------------------------------------------------------------------------


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(self, path: str, message: str, hint: str = "") -> None:
        self.problems.append(Problem(path, message, hint, "error"))

    def warning(self, path: str, message: str, hint: str = "") -> None:
        self.problems.append(Problem(path, message, hint, "warning"))


def validate(config: PlatformConfig, secrets: Secrets | None = None) -> list[Problem]:
    """Every problem in `config` (and, when given, in `secrets` for it), errors and warnings.

    Secrets are checked only when passed: a config alone can be validated before the secrets
    are at hand (the wizard asks for them last).
    """
    found = _Collector()
    _check_cluster(config, found)
    interfaces = _check_nodes(config, found)
    _check_control_planes(config, found)
    _check_vip(config, interfaces, found)
    _check_networks(config, interfaces, found)
    check_machines(config, interfaces, found)
    _check_domain(config, found)
    _check_gitops(config, found)
    _check_mirrors(config, found)
    _check_components(config, found)
    platform_checks.check_storage(config, found)
    platform_checks.check_load_balancer_pool(config, found)
    if secrets is not None:
        _check_secrets(config, secrets, found)
    return found.problems


def _check_cluster(config: PlatformConfig, found: _Collector) -> None:
    cluster = config.cluster
    if not is_dns_label(cluster.name):
        found.error(
            "cluster.name",
            f"{cluster.name!r} is not a DNS label",
            "use lowercase letters, digits and '-' (not first or last), at most 63 characters, e.g. `homelab`",
        )
    _check_versions(config, found)
    seen: dict[str, int] = {}
    for index, san in enumerate(cluster.extra_api_sans):
        path = f"cluster.extraApiSans[{index}]"
        if not (_is_ip(san) or is_dns_name(san, allow_wildcard=True)):
            found.error(
                path,
                f"{san!r} is neither an IP address nor a DNS name",
                "e.g. `k8s.example.com` or `203.0.113.10`",
            )
        elif san in seen:
            found.warning(
                path,
                f"{san!r} is listed twice (also cluster.extraApiSans[{seen[san]}])",
                "remove the duplicate",
            )
        seen.setdefault(san, index)


def _check_versions(config: PlatformConfig, found: _Collector) -> None:
    cluster = config.cluster
    talos_ok = False
    try:
        talos_minor = versions.minor(cluster.talos_version)
    except versions.VersionError:
        found.error(
            "cluster.talosVersion",
            f"{cluster.talos_version!r} is not a version like v1.11.5",
            "write `vMAJOR.MINOR.PATCH`",
        )
    else:
        if talos_minor not in versions.SUPPORTED_TALOS:
            found.error(
                "cluster.talosVersion",
                f"Talos {cluster.talos_version} is not supported",
                f"use one of: {', '.join(versions.supported_talos_versions())} (any patch release)",
            )
        else:
            talos_ok = True
    try:
        kubernetes_minor = versions.minor(cluster.kubernetes_version)
    except versions.VersionError:
        found.error(
            "cluster.kubernetesVersion",
            f"{cluster.kubernetes_version!r} is not a version like v1.34.1",
            "write `vMAJOR.MINOR.PATCH`",
        )
        return
    if talos_ok and kubernetes_minor not in versions.SUPPORTED_TALOS[talos_minor]:
        supported = versions.kubernetes_supported_by(cluster.talos_version)
        found.error(
            "cluster.kubernetesVersion",
            f"Kubernetes {cluster.kubernetes_version} is not supported by Talos {cluster.talos_version}",
            f"use Kubernetes {', '.join(supported)} (any patch release), or another Talos version",
        )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


Interface = ipaddress.IPv4Interface


def _plain_ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP of a node address, with or without prefix length; None if it is not one."""
    try:
        return ipaddress.ip_interface(address.strip()).ip
    except ValueError:
        return None


def _node_interface(config: PlatformConfig, index: int, found: _Collector) -> Interface | None:
    """The node's address with its subnet, or None after reporting why it is unusable."""
    node = config.nodes[index]
    path = f"nodes[{index}].address"
    text = node.address.strip()
    subnet_text = config.cluster.network.node_subnet
    try:
        interface = ipaddress.ip_interface(text)
    except ValueError:
        found.error(
            path,
            f"{node.address!r} is not an IP address",
            "write the node IP with its prefix length, e.g. 10.0.0.11/24",
        )
        return None
    if not isinstance(interface, ipaddress.IPv4Interface):
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
    subnet = None
    if subnet_text:
        subnet, _, _ = _network_problem(subnet_text.strip())
        if subnet is None:
            return None  # reported at cluster.network.nodeSubnet
    if "/" not in text:
        if subnet is None:
            if not subnet_text:
                found.error(
                    path,
                    f"{text} has no prefix length",
                    f"write it as {text}/24 (your subnet's prefix length), or set cluster.network.nodeSubnet",
                )
            return None
        interface = ipaddress.IPv4Interface(f"{text}/{subnet.prefixlen}")
    elif subnet is not None and interface.network != subnet:
        found.error(
            path,
            f"{text} is not in cluster.network.nodeSubnet {subnet}",
            "fix the address or its prefix length, or cluster.network.nodeSubnet",
        )
        return None
    if subnet is not None and ip not in subnet:
        found.error(
            path,
            f"{ip} is not in cluster.network.nodeSubnet {subnet}",
            "fix the address or cluster.network.nodeSubnet",
        )
        return None
    network = interface.network
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


def _check_nodes(config: PlatformConfig, found: _Collector) -> dict[int, Interface]:
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
        ip = _plain_ip(node.address)
        if ip is not None and ip in ips:
            first = ips[ip]
            found.error(
                f"{prefix}.address",
                f"{ip} is also the address of nodes[{first}] ({config.nodes[first].name})",
                "give every node its own IP",
            )
        elif ip is not None:
            ips[ip] = index
        interface = _node_interface(config, index, found)
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


def _check_control_planes(config: PlatformConfig, found: _Collector) -> None:
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


def _check_vip(config: PlatformConfig, interfaces: dict[int, Interface], found: _Collector) -> None:
    cluster = config.cluster
    control_planes = [index for index, node in enumerate(config.nodes) if node.role is Role.control_plane]
    if cluster.platform is Platform.docker:
        if cluster.vip:
            found.error("cluster.vip", "docker clusters have no VIP", "remove cluster.vip")
        return
    if not cluster.vip:
        if len(control_planes) > 1:
            found.error(
                "cluster.vip",
                f"a VIP is required with {len(control_planes)} control planes",
                "set cluster.vip to an unused IP in the control planes' subnet",
            )
        return
    for index in control_planes:
        if not config.nodes[index].link:
            found.error(
                f"nodes[{index}].link",
                "control planes need the network interface that carries the VIP",
                "set it to the interface with the node IP, e.g. eth0 or enp1s0 (`talosctl get links --insecure -n IP`)",
            )
    try:
        vip = ipaddress.ip_address(cluster.vip.strip())
    except ValueError:
        found.error(
            "cluster.vip",
            f"{cluster.vip!r} is not an IP address",
            "write a plain IP without prefix length, e.g. 10.0.0.10",
        )
        return
    if vip.version == 6:
        found.error("cluster.vip", "IPv6 VIPs are not supported", "use an IPv4 address")
        return
    for index, node in enumerate(config.nodes):
        if _plain_ip(node.address) == vip:
            found.error(
                "cluster.vip",
                f"{vip} is the IP of nodes[{index}] ({node.name})",
                "use an unused IP for the VIP",
            )
    subnets = [(index, interfaces[index].network) for index in control_planes if index in interfaces]
    if not subnets:
        return
    first_index, subnet = subnets[0]
    for index, other in subnets[1:]:
        if other != subnet:
            found.error(
                f"nodes[{index}].address",
                f"control plane in {other} while nodes[{first_index}] is in {subnet}; "
                "a VIP needs all control planes on one subnet",
                "put the control planes on one subnet (and fix the prefix lengths)",
            )
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


def _check_networks(config: PlatformConfig, interfaces: dict[int, Interface], found: _Collector) -> None:
    network = config.cluster.network
    checked: list[tuple[str, ipaddress.IPv4Network]] = []
    for path, text in (
        ("cluster.network.podCidr", network.pod_cidr),
        ("cluster.network.serviceCidr", network.service_cidr),
        ("cluster.network.nodeSubnet", network.node_subnet),
    ):
        if text is None:
            continue
        parsed, message, hint = _network_problem(text.strip())
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


def _check_domain(config: PlatformConfig, found: _Collector) -> None:
    domain = config.domain
    if not is_dns_name(domain.base, min_labels=2) or not domain.base[-1:].isalpha():
        found.error(
            "domain.base",
            f"{domain.base!r} is not a domain name",
            "e.g. `example.com` or `lab.example.com`, without a trailing dot",
        )
    if not is_email(domain.acme_email):
        found.error("domain.acmeEmail", f"{domain.acme_email!r} is not an e-mail address", "e.g. `admin@example.com`")
    elif domain.acme_email.rpartition("@")[2].lower() in _RESERVED_MAIL_DOMAINS:
        found.warning(
            "domain.acmeEmail",
            f"Let's Encrypt refuses contact addresses at {domain.acme_email.rpartition('@')[2]}",
            "use an address you read",
        )


def _check_gitops(config: PlatformConfig, found: _Collector) -> None:
    gitops = config.gitops
    problem = git_url_problem(gitops.repo_url)
    if problem == GIT_CREDENTIALS_PROBLEM:
        found.error(
            "gitops.repoUrl",
            "the URL contains credentials, which must never be in the config",
            "remove them; give `gitUsername`/`gitToken` as secrets and set gitops.private: true",
        )
    elif problem:
        found.error(
            "gitops.repoUrl",
            f"the URL {problem}",
            "use https://host/owner/repo.git, ssh://git@host/owner/repo.git or git@host:owner/repo.git",
        )
    elif gitops.private and not gitops.repo_url.startswith("https://"):
        found.error(
            "gitops.repoUrl",
            "private repositories are reached over https with a token; SSH keys are not supported",
            "use the repository's https:// URL",
        )
    branch = gitops.branch
    bad_ends = branch.startswith(("-", "/", ".")) or branch.endswith(("/", ".", ".lock"))
    if not branch or _BAD_REF.search(branch) or bad_ends:
        found.error("gitops.branch", f"{branch!r} is not a valid branch name", "e.g. `main`")
    path = gitops.path
    if path.startswith("/") or "\\" in path or ".." in path.split("/") or not path.strip():
        found.error(
            "gitops.path",
            f"{path!r} is not a relative folder inside the repository",
            "e.g. `.` or `clusters/homelab`",
        )


def _component_paths(config: PlatformConfig) -> list[tuple[str, Component]]:
    components = config.components
    found: list[tuple[str, Component]] = []
    for name, field in type(components).model_fields.items():
        alias = field.alias or name
        component = getattr(components, name)
        found.append((f"components.{alias}", component))
        if name == "vault":
            found.append((f"components.{alias}.secretsOperator", component.secrets_operator))
    return found


def _check_mirrors(config: PlatformConfig, found: _Collector) -> None:
    mirrors = config.mirrors
    for path, url, example in (
        ("mirrors.charts", mirrors.charts, "https://charts.example.com/platform/"),
        ("mirrors.gatewayApi", mirrors.gateway_api, "https://mirror.example.com/gateway-api"),
    ):
        if url is None:
            continue
        problem = mirror_url_problem(url)
        if problem:
            found.error(path, f"the mirror URL {problem}", f"give its base URL, e.g. {example}, or leave it out")
    if mirrors.gateway_api and not config.components.gateway_api.enabled:
        found.warning("mirrors.gatewayApi", "the Gateway API is switched off, so this mirror is not used", "remove it")


def _check_components(config: PlatformConfig, found: _Collector) -> None:
    components = config.components
    for path, component in _component_paths(config):
        version = component.version
        if not _COMPONENT_VERSION.match(version):
            found.error(
                f"{path}.version",
                f"{version!r} is not a version",
                "write the pinned release, e.g. 1.18.3 or v1.19.1",
            )
    if not components.cilium.enabled:
        found.error(
            "components.cilium.enabled",
            "Cilium cannot be disabled: it is the cluster's network (Talos is installed without a CNI)",
            "set it to true",
        )
    if not components.argocd.enabled:
        found.error(
            "components.argocd.enabled",
            "ArgoCD cannot be disabled: it installs and manages every component after the bootstrap",
            "set it to true",
        )
    if components.vault.secrets_operator.enabled and not components.vault.enabled:
        found.error(
            "components.vault.secretsOperator.enabled",
            "the Vault Secrets Operator needs Vault",
            "enable components.vault, or disable the operator",
        )
    elif components.monitoring.enabled and not components.vault.secrets_operator.enabled:
        found.warning(
            "components.monitoring",
            "without Vault and its Secrets Operator, Grafana's admin password is the chart's random one, "
            "made anew on every render",
            "enable components.vault and components.vault.secretsOperator to keep it in Vault",
        )


def _check_secrets(config: PlatformConfig, secrets: Secrets, found: _Collector) -> None:
    from talos_platform.engine.config.secrets import ENV_NAMES, required_secrets, secret_value

    for name in required_secrets(config):
        value = secret_value(secrets, name)
        if not value:
            found.error(
                f"secrets.{name}",
                f"{name} is required by {_required_by(config, name)} but was not given",
                f"add `{name}: ...` to the secrets file, set {ENV_NAMES[name]}, or enter it in the wizard",
            )
        elif name != "gitUsername" and len(value) < 8:
            found.warning(
                f"secrets.{name}",
                f"{name} is only {len(value)} characters long; is it the real token?",
                "check the token you copied",
            )
    password = secrets.grafana_admin_password
    if password and len(password) < 12:
        # Grafana is published under the domain; a short admin password is guessed quickly.
        found.error(
            "secrets.grafanaAdminPassword",
            f"the Grafana admin password is only {len(password)} characters long",
            "use at least 12 characters, or leave it out and let the install generate one",
        )


def _required_by(config: PlatformConfig, name: str) -> str:
    return {
        "cloudflareApiToken": "components.externalDns",
        "cloudflareTunnelToken": "components.cloudflareTunnel",
        "gitUsername": "gitops.private",
        "gitToken": "gitops.private",
    }.get(name, "the config")


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The closest of `choices` to a misspelt `word`, if any is close."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None
