"""Table of invalid configs: each mistake must be reported at exactly the field it is about.

Every case starts from a valid example, makes one mistake, and asserts the exact set of
field paths reported (so a rule that fires at the wrong place, or fires too, fails).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.config.validation import errors_only

from .helpers import DOCKER_EXAMPLE, METAL_EXAMPLE, example, problems_for

Mutation = Callable[[dict[str, Any]], None]


@dataclass
class Case:
    name: str
    mutate: Mutation
    paths: set[str]
    """Exact set of error paths expected."""
    base: str = "metal"
    secrets: Secrets | None = None
    says: str = ""
    """A word the first error's message must contain."""


def setter(*keys: Any, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        target = data
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return mutate


def deleter(*keys: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        target = data
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(data)

    return mutate


def roles(*values: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        for node, role in zip(data["nodes"], values, strict=True):
            node["role"] = role
            node.setdefault("link", "eth0")

    return mutate


def add_docker_node(role: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        number = len(data["nodes"]) + 1
        data["nodes"].append({"name": f"extra-{number}", "address": f"10.5.0.{number + 1}/24", "role": role})

    return mutate


CP, W = "control-plane", "worker"
ALL_SECRETS = Secrets(
    git_username="me", git_token="t" * 20, cloudflare_api_token="a" * 20, cloudflare_tunnel_token="b" * 20
)

CASES = [
    # names
    Case(
        "cluster name with capitals and underscore",
        setter("cluster", "name", value="Home_Lab"),
        {"cluster.name"},
        says="DNS label",
    ),
    Case("cluster name starting with a dash", setter("cluster", "name", value="-lab"), {"cluster.name"}),
    Case("node name with a space", setter("nodes", 1, "name", value="CP 2"), {"nodes[1].name"}),
    Case("node name too long", setter("nodes", 4, "name", value="w" * 64), {"nodes[4].name"}),
    Case("duplicate node name", setter("nodes", 2, "name", value="cp-1"), {"nodes[2].name"}, says="nodes[0]"),
    # node addresses
    Case("malformed node IP", setter("nodes", 3, "address", value="192.168.10.300/24"), {"nodes[3].address"}),
    Case("node IP that is a word", setter("nodes", 5, "address", value="worker-three"), {"nodes[5].address"}),
    Case(
        "duplicate node IP",
        setter("nodes", 3, "address", value="192.168.10.11/24"),
        {"nodes[3].address"},
        says="nodes[0]",
    ),
    Case(
        "duplicate node IP written without prefix",
        setter("nodes", 3, "address", value="192.168.10.12"),
        {"nodes[3].address"},
        says="nodes[1]",
    ),
    Case(
        "node IP without prefix and no nodeSubnet",
        setter("nodes", 4, "address", value="192.168.10.22"),
        {"nodes[4].address"},
        says="prefix",
    ),
    Case(
        "node IP is the network address",
        setter("nodes", 3, "address", value="192.168.10.0/24"),
        {"nodes[3].address"},
        says="network",
    ),
    Case(
        "node IP is the broadcast address",
        setter("nodes", 5, "address", value="192.168.10.255/24"),
        {"nodes[5].address"},
        says="broadcast",
    ),
    Case(
        "IPv6 node address is refused",
        setter("nodes", 4, "address", value="fd00::22/64"),
        {"nodes[4].address"},
        says="IPv6",
    ),
    Case("loopback node address", setter("nodes", 3, "address", value="127.0.0.5/8"), {"nodes[3].address"}),
    Case(
        "node outside nodeSubnet",
        both(
            setter("cluster", "network", "nodeSubnet", value="192.168.10.0/24"),
            setter("nodes", 3, "address", value="192.168.20.21"),
        ),
        {"nodes[3].address"},
    ),
    Case(
        "node prefix differs from nodeSubnet",
        both(
            setter("cluster", "network", "nodeSubnet", value="192.168.10.0/24"),
            setter("nodes", 4, "address", value="192.168.10.22/16"),
        ),
        {"nodes[4].address"},
    ),
    Case("install disk not a device path", setter("nodes", 3, "installDisk", value="sda"), {"nodes[3].installDisk"}),
    Case("link name too long", setter("nodes", 0, "link", value="this-name-is-far-too-long"), {"nodes[0].link"}),
    # control planes
    Case("no control plane", roles(W, W, W, W, W, W), {"nodes"}, says="control-plane"),
    Case("two control planes are refused", roles(CP, CP, W, W, W, W), {"nodes"}, says="2 control planes"),
    # VIP
    Case("VIP missing with 3 control planes", deleter("cluster", "vip"), {"cluster.vip"}, says="required"),
    Case("VIP equal to a node IP", setter("cluster", "vip", value="192.168.10.22"), {"cluster.vip"}, says="nodes[4]"),
    Case(
        "VIP equal to a node IP written without prefix",
        both(
            setter("cluster", "network", "nodeSubnet", value="192.168.10.0/24"),
            setter("nodes", 4, "address", value="192.168.10.10"),
        ),
        {"cluster.vip"},
        says="nodes[4]",
    ),
    Case(
        "VIP outside the control planes' subnet",
        setter("cluster", "vip", value="10.0.0.10"),
        {"cluster.vip"},
        says="outside",
    ),
    Case(
        "VIP is the subnet's network address",
        setter("cluster", "vip", value="192.168.10.0"),
        {"cluster.vip"},
        says="network",
    ),
    Case(
        "VIP is the subnet's broadcast address",
        setter("cluster", "vip", value="192.168.10.255"),
        {"cluster.vip"},
        says="broadcast",
    ),
    Case("VIP is not an IP", setter("cluster", "vip", value="vip.example.com"), {"cluster.vip"}),
    Case("VIP with a prefix length", setter("cluster", "vip", value="192.168.10.10/24"), {"cluster.vip"}),
    Case("IPv6 VIP", setter("cluster", "vip", value="fd00::10"), {"cluster.vip"}, says="IPv6"),
    Case(
        "control planes in different subnets",
        setter("nodes", 2, "address", value="192.168.11.13/24"),
        {"nodes[2].address", "cluster.network.gateway"},
        says="one subnet",
    ),
    Case("control plane without link when a VIP is used", deleter("nodes", 1, "link"), {"nodes[1].link"}),
    # static addresses and their gateway
    Case(
        "static addresses without a gateway",
        deleter("cluster", "network", "gateway"),
        {"cluster.network.gateway"},
        says="gateway",
    ),
    Case(
        "gateway is not an IP", setter("cluster", "network", "gateway", value="router.lan"), {"cluster.network.gateway"}
    ),
    Case(
        "IPv6 gateway",
        setter("cluster", "network", "gateway", value="fd00::1"),
        {"cluster.network.gateway"},
        says="IPv6",
    ),
    Case(
        "gateway outside the node subnet",
        setter("cluster", "network", "gateway", value="10.0.0.1"),
        {"cluster.network.gateway"},
        says="outside",
    ),
    Case(
        "gateway is a node IP",
        setter("cluster", "network", "gateway", value="192.168.10.23"),
        {"cluster.network.gateway"},
        says="nodes[5]",
    ),
    Case(
        "gateway is the VIP",
        setter("cluster", "network", "gateway", value="192.168.10.10"),
        {"cluster.network.gateway"},
        says="VIP",
    ),
    Case(
        "gateway on docker",
        setter("cluster", "network", "gateway", value="10.5.0.1"),
        {"cluster.network.gateway"},
        base="docker",
    ),
    # the installer image's schematic
    Case(
        "system extension without its owner",
        setter("cluster", "schematic", "systemExtensions", value=["iscsi-tools"]),
        {"cluster.schematic.systemExtensions[0]"},
        says="siderolabs/iscsi-tools",
    ),
    Case(
        "two kernel arguments in one item",
        setter("cluster", "schematic", "extraKernelArgs", value=["console=ttyS0 quiet"]),
        {"cluster.schematic.extraKernelArgs[0]"},
        says="one kernel argument",
    ),
    Case(
        "kernel argument that YAML reads as a number",
        setter("cluster", "schematic", "extraKernelArgs", value=["1"]),
        {"cluster.schematic.extraKernelArgs[0]"},
    ),
    # networks
    Case(
        "pod network overlaps the nodes",
        setter("cluster", "network", "podCidr", value="192.168.0.0/16"),
        {"cluster.network.podCidr"},
        says="overlaps",
    ),
    Case(
        "service network overlaps the nodes",
        setter("cluster", "network", "serviceCidr", value="192.168.0.0/16"),
        {"cluster.network.serviceCidr"},
    ),
    Case(
        "service network overlaps the pod network",
        setter("cluster", "network", "serviceCidr", value="10.244.128.0/17"),
        {"cluster.network.serviceCidr"},
        says="podCidr",
    ),
    Case(
        "pod CIDR with an impossible prefix",
        setter("cluster", "network", "podCidr", value="10.244.0.0/33"),
        {"cluster.network.podCidr"},
    ),
    Case(
        "pod CIDR with host bits set",
        setter("cluster", "network", "podCidr", value="10.244.1.0/16"),
        {"cluster.network.podCidr"},
        says="host bits",
    ),
    Case(
        "pod CIDR without prefix",
        setter("cluster", "network", "podCidr", value="10.244.0.0"),
        {"cluster.network.podCidr"},
    ),
    Case(
        "pod CIDR too small for one node",
        setter("cluster", "network", "podCidr", value="10.244.0.0/26"),
        {"cluster.network.podCidr"},
    ),
    Case(
        "pod CIDR too small for six nodes",
        setter("cluster", "network", "podCidr", value="10.244.0.0/23"),
        {"cluster.network.podCidr"},
    ),
    Case(
        "IPv6 service CIDR",
        setter("cluster", "network", "serviceCidr", value="fd00:96::/108"),
        {"cluster.network.serviceCidr"},
        says="IPv6",
    ),
    Case(
        "service CIDR larger than /12",
        setter("cluster", "network", "serviceCidr", value="172.16.0.0/11"),
        {"cluster.network.serviceCidr"},
    ),
    Case(
        "node subnet is garbage",
        setter("cluster", "network", "nodeSubnet", value="lan"),
        {"cluster.network.nodeSubnet"},
    ),
    # versions
    Case("unparsable Talos version", setter("cluster", "talosVersion", value="1.11"), {"cluster.talosVersion"}),
    Case(
        "unsupported Talos version",
        setter("cluster", "talosVersion", value="v1.5.0"),
        {"cluster.talosVersion"},
        says="not supported",
    ),
    Case(
        "Kubernetes too old for the Talos version",
        setter("cluster", "kubernetesVersion", value="v1.29.3"),
        {"cluster.kubernetesVersion"},
        says="Talos",
    ),
    Case(
        "Kubernetes too new for the Talos version",
        setter("cluster", "kubernetesVersion", value="v1.38.0"),
        {"cluster.kubernetesVersion"},
    ),
    Case(
        "unparsable Kubernetes version",
        setter("cluster", "kubernetesVersion", value="latest"),
        {"cluster.kubernetesVersion"},
    ),
    Case(
        "extra API SAN that is neither IP nor name",
        setter("cluster", "extraApiSans", value=["k8s.example.com", "not a name!"]),
        {"cluster.extraApiSans[1]"},
    ),
    # domain
    Case("base domain with one label", setter("domain", "base", value="lab"), {"domain.base"}),
    Case("base domain with a space", setter("domain", "base", value="my lab.com"), {"domain.base"}),
    Case("base domain with a trailing dot", setter("domain", "base", value="lab.example.com."), {"domain.base"}),
    Case("e-mail without @", setter("domain", "acmeEmail", value="admin"), {"domain.acmeEmail"}),
    Case("e-mail at a single-label host", setter("domain", "acmeEmail", value="admin@localhost"), {"domain.acmeEmail"}),
    # gitops
    Case(
        "repo URL with an unknown scheme",
        setter("gitops", "repoUrl", value="ftp://example.com/repo.git"),
        {"gitops.repoUrl"},
    ),
    Case(
        "repo URL over plain http",
        setter("gitops", "repoUrl", value="http://github.com/a/b.git"),
        {"gitops.repoUrl"},
        says="http",
    ),
    Case(
        "chart mirror that is not a URL",
        lambda d: d.update(mirrors={"charts": "charts.internal"}),
        {"mirrors.charts"},
        says="http",
    ),
    Case(
        "chart mirror with credentials",
        lambda d: d.update(mirrors={"charts": "https://u:p@charts.internal/"}),
        {"mirrors.charts"},
        says="credentials",
    ),
    Case(
        "Gateway API mirror over ftp",
        lambda d: d.update(mirrors={"gatewayApi": "ftp://files.internal/gw"}),
        {"mirrors.gatewayApi"},
        says="http",
    ),
    Case(
        "repo URL with credentials",
        setter("gitops", "repoUrl", value="https://me:hunter2hunter2@github.com/a/b.git"),
        {"gitops.repoUrl"},
        says="credentials",
    ),
    Case("repo URL without a path", setter("gitops", "repoUrl", value="https://github.com/"), {"gitops.repoUrl"}),
    Case(
        "private repo over ssh",
        setter("gitops", "repoUrl", value="git@github.com:a/b.git"),
        {"gitops.repoUrl"},
        says="https",
    ),
    Case("branch with a space", setter("gitops", "branch", value="my branch"), {"gitops.branch"}),
    Case("absolute gitops path", setter("gitops", "path", value="/clusters/lab"), {"gitops.path"}),
    Case("gitops path escaping the repo", setter("gitops", "path", value="../other"), {"gitops.path"}),
    # components
    Case(
        "cilium disabled",
        setter("components", "cilium", "enabled", value=False),
        {"components.cilium.enabled"},
        says="CNI",
    ),
    Case(
        "argocd disabled",
        setter("components", "argocd", "enabled", value=False),
        {"components.argocd.enabled"},
        says="ArgoCD",
    ),
    Case(
        "operator without Vault",
        setter("components", "vault", "enabled", value=False),
        {"components.vault.secretsOperator.enabled"},
    ),
    Case(
        "component version that is not a version",
        setter("components", "monitoring", "version", value="latest"),
        {"components.monitoring.version"},
    ),
    Case(
        "nested component version",
        setter("components", "vault", "secretsOperator", "version", value=""),
        {"components.vault.secretsOperator.version"},
    ),
    # docker
    Case(
        "docker with a VIP", setter("cluster", "vip", value="10.5.0.10"), {"cluster.vip"}, base="docker", says="docker"
    ),
    Case(
        "docker with three control planes",
        both(add_docker_node(CP), add_docker_node(CP)),
        {"nodes"},
        base="docker",
        says="exactly one",
    ),
    Case("docker with a worker", add_docker_node(W), {"nodes[1].role"}, base="docker", says="single"),
    # secrets, checked only when given
    Case(
        "external-dns without its token",
        lambda d: None,
        {"secrets.cloudflareApiToken"},
        secrets=Secrets(git_username="me", git_token="t" * 20, cloudflare_tunnel_token="b" * 20),
        says="externalDns",
    ),
    Case(
        "short Grafana admin password",
        lambda d: None,
        {"secrets.grafanaAdminPassword"},
        secrets=Secrets(
            git_username="me",
            git_token="t" * 20,
            cloudflare_api_token="a" * 20,
            cloudflare_tunnel_token="b" * 20,
            grafana_admin_password="admin",
        ),
        says="Grafana",
    ),
    Case(
        "short ArgoCD admin password",
        lambda d: None,
        {"secrets.argocdAdminPassword"},
        secrets=Secrets(
            git_username="me",
            git_token="t" * 20,
            cloudflare_api_token="a" * 20,
            cloudflare_tunnel_token="b" * 20,
            argocd_admin_password="password",
        ),
        says="ArgoCD",
    ),
    Case(
        "tunnel without its token",
        lambda d: None,
        {"secrets.cloudflareTunnelToken"},
        secrets=Secrets(git_username="me", git_token="t" * 20, cloudflare_api_token="a" * 20),
    ),
    Case(
        "private repo without a token",
        lambda d: None,
        {"secrets.gitToken"},
        secrets=Secrets(git_username="me", cloudflare_api_token="a" * 20, cloudflare_tunnel_token="b" * 20),
    ),
    # shape: caught while loading
    Case(
        "unknown apiVersion",
        setter("apiVersion", value="talos-platform.dev/v2"),
        {"apiVersion"},
        says="talos-platform.dev/v1alpha1",
    ),
    Case("unknown kind", setter("kind", value="Cluster"), {"kind"}, says="Platform"),
    Case("missing apiVersion", deleter("apiVersion"), {"apiVersion"}),
    Case("install disk is a number", setter("nodes", 2, "installDisk", value=5), {"nodes[2].installDisk"}),
    Case("unknown role", setter("nodes", 1, "role", value="master"), {"nodes[1].role"}),
    Case("misspelt key", setter("cluster", "platfrom", value="metal"), {"cluster.platfrom"}, says="unknown key"),
    Case("unknown platform", setter("cluster", "platform", value="vmware"), {"cluster.platform"}),
    Case("missing domain section", deleter("domain"), {"domain"}),
    Case("missing node address", deleter("nodes", 4, "address"), {"nodes[4].address"}),
    Case("nodes is not a list", setter("nodes", value="cp-1"), {"nodes"}),
    Case(
        "hubble is not a boolean",
        setter("components", "cilium", "hubble", value="yes please"),
        {"components.cilium.hubble"},
    ),
    Case("token in the config file", setter("gitops", "token", value="ghp_x"), {"gitops.token"}, says="secret"),
    Case(
        "password in the config file",
        setter("domain", "acmePassword", value="x"),
        {"domain.acmePassword"},
        says="secret",
    ),
    Case("secrets section in the config file", setter("secrets", value={"gitToken": "x"}), {"secrets"}, says="secret"),
    # storage: Vault and monitoring keep data on volumes; Talos has no provisioner
    Case(
        "persistence without storage",
        setter("storage", "localPath", "enabled", value=False),
        {"storage.localPath.enabled"},
        says="persistent volumes",
    ),
    Case("storage class is not a name", setter("storage", "storageClass", value="Fast SSD"), {"storage.storageClass"}),
    Case(
        "local-path version is not a tag",
        setter("storage", "localPath", "version", value="v0.0.32 latest"),
        {"storage.localPath.version"},
    ),
    # load-balancer pool: inside the node subnet, no node, no VIP
    Case(
        "pool is not a range",
        setter("cluster", "network", "loadBalancerPool", value="192.168.10.240"),
        {"cluster.network.loadBalancerPool"},
    ),
    Case(
        "pool range ends before it starts",
        setter("cluster", "network", "loadBalancerPool", value="192.168.10.250-192.168.10.240"),
        {"cluster.network.loadBalancerPool"},
        says="before",
    ),
    Case(
        "pool outside the node subnet",
        setter("cluster", "network", "loadBalancerPool", value="192.168.20.240/28"),
        {"cluster.network.loadBalancerPool"},
        says="node subnet",
    ),
    Case(
        "pool holds a node",
        setter("cluster", "network", "loadBalancerPool", value="192.168.10.20-192.168.10.30"),
        {"cluster.network.loadBalancerPool"},
        says="worker-1",
    ),
    Case(
        "pool holds the VIP",
        setter("cluster", "network", "loadBalancerPool", value="192.168.10.8-192.168.10.10"),
        {"cluster.network.loadBalancerPool"},
        says="VIP",
    ),
    Case(
        "pool holds the nodes' gateway",
        setter("cluster", "network", "gateway", value="192.168.10.250"),
        {"cluster.network.loadBalancerPool"},
        says="cluster.network.gateway",
    ),
    Case(
        "pool holds the broadcast address",
        setter("cluster", "network", "loadBalancerPool", value="192.168.10.240/28"),
        {"cluster.network.loadBalancerPool"},
        says="broadcast",
    ),
    Case(
        "IPv6 pool",
        setter("cluster", "network", "loadBalancerPool", value="fd00::/120"),
        {"cluster.network.loadBalancerPool"},
        says="IPv6",
    ),
    Case(
        "docker pool outside the docker network",
        setter("cluster", "network", "loadBalancerPool", value="10.6.0.240/28"),
        {"cluster.network.loadBalancerPool"},
        base="docker",
        says="docker network",
    ),
    Case(
        "docker pool holds the gateway",
        setter("cluster", "network", "loadBalancerPool", value="10.5.0.1-10.5.0.9"),
        {"cluster.network.loadBalancerPool"},
        base="docker",
        says="gateway",
    ),
    Case(
        "docker pool holds the node",
        setter("cluster", "network", "loadBalancerPool", value="10.5.0.2/31"),
        {"cluster.network.loadBalancerPool"},
        base="docker",
        says="local-cp-1",
    ),
    Case(
        "a rendered Gateway needs a pool",
        deleter("cluster", "network", "loadBalancerPool"),
        {"cluster.network.loadBalancerPool"},
        base="docker",
        says="Gateway",
    ),
    # ArgoCD's admin group becomes a line of its RBAC policy
    Case(
        "ArgoCD admin group that would add a policy rule",
        setter("components", "argocd", "adminGroup", value="ops, role:admin\np, role:readonly, *, *, */*, allow"),
        {"components.argocd.adminGroup"},
        says="RBAC policy",
    ),
    Case(
        "ArgoCD admin group left blank",
        setter("components", "argocd", "adminGroup", value="  "),
        {"components.argocd.adminGroup"},
    ),
]


def test_there_are_at_least_forty_cases():
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_invalid_config_names_the_field(case: Case):
    data = example(METAL_EXAMPLE if case.base == "metal" else DOCKER_EXAMPLE)
    case.mutate(data)
    problems = problems_for(data, case.secrets)
    errors = errors_only(problems)
    assert {problem.path for problem in errors} == case.paths, [p.format() for p in problems]
    for problem in errors:
        assert problem.message and problem.hint, problem
        assert problem.format().startswith(f"error: {problem.path}: ")
    if case.says:
        assert case.says in errors[0].message, errors[0].format()


def test_a_config_with_five_mistakes_reports_all_five():
    data = example(METAL_EXAMPLE)
    data["cluster"]["name"] = "Bad Name"
    data["nodes"][1]["address"] = "192.168.10.999/24"
    data["domain"]["base"] = "nodots"
    data["domain"]["acmeEmail"] = "nobody"
    data["components"]["argocd"]["enabled"] = False
    paths = [problem.path for problem in errors_only(problems_for(data))]
    assert sorted(paths) == sorted(
        ["cluster.name", "nodes[1].address", "domain.base", "domain.acmeEmail", "components.argocd.enabled"]
    )


def test_shape_mistakes_are_all_reported_at_once_too():
    data = example(METAL_EXAMPLE)
    data["kind"] = "Cluster"
    data["nodes"][0]["role"] = "master"
    data["nodes"][2]["installDisk"] = 3
    data["gitops"]["token"] = "x"
    data["cluster"]["bogus"] = 1
    paths = [problem.path for problem in problems_for(data)]
    assert sorted(paths) == sorted(["kind", "nodes[0].role", "nodes[2].installDisk", "gitops.token", "cluster.bogus"])


def test_secrets_are_not_checked_when_not_given():
    assert errors_only(problems_for(example(METAL_EXAMPLE))) == []
    assert errors_only(problems_for(example(METAL_EXAMPLE), ALL_SECRETS)) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://me:s3cr3t-Pass@git.example.com/a.git",
        "https://me:s3cr3t-Pass@git.example.com/",
        "ftp://me:s3cr3t-Pass@host/x",
    ],
)
def test_repo_url_problems_never_echo_credentials(url):
    data = example(METAL_EXAMPLE)
    data["gitops"]["repoUrl"] = url
    problems = problems_for(data)
    assert [problem.path for problem in problems] == ["gitops.repoUrl"]
    assert "s3cr3t-Pass" not in problems[0].format()
    assert "credentials" in problems[0].message


def test_missing_pool_is_only_a_warning_when_no_gateway_is_rendered():
    data = example(METAL_EXAMPLE)
    del data["cluster"]["network"]["loadBalancerPool"]
    problems = problems_for(data)
    assert errors_only(problems) == []
    assert [p.path for p in problems if p.severity == "warning"] == ["cluster.network.loadBalancerPool"]


def test_a_storage_class_of_your_own_satisfies_persistence():
    data = example(METAL_EXAMPLE)
    data["storage"] = {"storageClass": "longhorn", "localPath": {"enabled": False}}
    assert problems_for(data) == []


def test_suggested_pool_is_free_of_nodes_and_vip_and_valid():
    from talos_platform.engine.config.models import PlatformConfig
    from talos_platform.engine.config.platform_checks import suggested_pool

    for path, expected in ((METAL_EXAMPLE, "192.168.10.239-192.168.10.254"), (DOCKER_EXAMPLE, "10.5.0.239-10.5.0.254")):
        data = example(path)
        del data["cluster"]["network"]["loadBalancerPool"]
        suggestion = suggested_pool(PlatformConfig.model_validate(data))
        assert suggestion == expected
        data["cluster"]["network"]["loadBalancerPool"] = suggestion
        assert errors_only(problems_for(data)) == []
    crowded = example(DOCKER_EXAMPLE)
    crowded["nodes"][0]["address"] = "10.5.0.250/24"
    assert suggested_pool(PlatformConfig.model_validate(crowded)) == "10.5.0.234-10.5.0.249"
    routed = example(METAL_EXAMPLE)
    del routed["cluster"]["network"]["loadBalancerPool"]
    routed["cluster"]["network"]["gateway"] = "192.168.10.254"  # a router at the top of the subnet
    assert suggested_pool(PlatformConfig.model_validate(routed)) == "192.168.10.238-192.168.10.253"
