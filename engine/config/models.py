"""The platform config file, as pydantic models.

The YAML uses camelCase keys (Kubernetes style); Python uses snake_case. Every field carries a
docstring: it becomes the JSON Schema description and the wizard's help text.

Secrets never live here: see `secrets.py`.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

API_VERSION: Final = "talos-platform.dev/v1alpha1"
KIND: Final = "Platform"


class ConfigModel(BaseModel):
    """Base: camelCase in files, unknown keys refused, docstrings become descriptions."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=True,
        validate_assignment=True,
    )


class Platform(StrEnum):
    metal = "metal"
    docker = "docker"


class Role(StrEnum):
    control_plane = "control-plane"
    worker = "worker"


class Node(ConfigModel):
    name: str
    """Node hostname, a DNS label (lowercase letters, digits, '-'), unique in the cluster."""

    address: str
    """Node IPv4 address with its prefix length, e.g. `10.0.0.11/24`. The prefix may be left out
    when `cluster.network.nodeSubnet` is set."""

    role: Role = Role.worker
    """`control-plane` (runs etcd and the API server) or `worker`."""

    install_disk: str = "/dev/sda"
    """Disk Talos installs itself onto, e.g. `/dev/sda` or `/dev/nvme0n1`. Everything on it is erased."""

    link: str | None = None
    """Network interface that carries the node IP and, on control planes, the VIP (e.g. `eth0`,
    `enp1s0`). On metal the node's address is then configured statically on it, with
    `cluster.network.gateway` as its default route; without it the node keeps the address DHCP
    gives it. Required on metal control planes when a VIP is used."""


class ClusterNetwork(ConfigModel):
    node_subnet: str | None = None
    """Subnet of the node addresses (e.g. `10.0.0.0/24`) for nodes given without a prefix length."""

    pod_cidr: str = "10.244.0.0/16"
    """Pod network (IPv4), holding a /24 for every node. Must not overlap the service network or
    the node subnet."""

    service_cidr: str = "10.96.0.0/12"
    """Service network (IPv4, /12 at most). Must not overlap the pod network or the node subnet."""

    gateway: str | None = None
    """Default gateway (router) of the node subnet, e.g. `10.0.0.1`: the default route of every
    metal node with a static address (a node that names its `link`). Required then."""

    load_balancer_pool: str | None = None
    """Addresses Cilium hands out to LoadBalancer Services (a Gateway gets one), as a CIDR
    (`192.168.10.240/28`) or a range (`192.168.10.240-192.168.10.250`), announced on the LAN
    with L2 announcements. Must lie inside the node subnet (on docker: the docker network, e.g.
    `10.5.0.0/24`) and hold no node IP, not the VIP and not the gateway; keep it out of your
    DHCP range. Required when the render contains a Gateway (cert-manager's HTTP-01 solver)."""


class Schematic(ConfigModel):
    system_extensions: list[str] = Field(default_factory=list)
    """Official Talos system extensions baked into the installer image, e.g.
    `siderolabs/iscsi-tools` or `siderolabs/intel-ucode`. Sorted, as the Image Factory does."""

    extra_kernel_args: list[str] = Field(default_factory=list)
    """Extra kernel arguments of the installed system, e.g. `net.ifnames=0` (a leading `-` removes
    a default one). They live in the image because `talosctl upgrade` no longer applies
    `machine.install.extraKernelArgs` from Talos 1.13."""


class Cluster(ConfigModel):
    name: str
    """Cluster name, a DNS label; used for Talos, kubeconfig contexts and the state directory."""

    platform: Platform = Platform.metal
    """`metal` for real machines booted from Talos media, `docker` for a local test cluster."""

    talos_version: str = "v1.14.1"
    """Talos version the nodes run, `vMAJOR.MINOR.PATCH`. Decides which config keys are used."""

    kubernetes_version: str = "v1.37.2"
    """Kubernetes version to install, `vMAJOR.MINOR.PATCH`; must be supported by the Talos version."""

    vip: str | None = None
    """Shared virtual IP of the control planes (Talos VIP), the stable API endpoint. Required on
    metal with more than one control plane; must be unused, in the control planes' subnet and not
    a node IP. Not available on docker."""

    network: ClusterNetwork = Field(default_factory=ClusterNetwork)
    """Pod, service and node networks."""

    extra_api_sans: list[str] = Field(default_factory=list)
    """Extra names or IPs for the API server certificate, e.g. `k8s.example.com`."""

    schematic: Schematic = Field(default_factory=Schematic)
    """Image Factory schematic of the Talos installer image (system extensions, kernel
    arguments); the nodes install `factory.talos.dev/metal-installer/<its ID>:<talosVersion>`."""


class Domain(ConfigModel):
    base: str
    """Base DNS domain of the platform's services, e.g. `example.com` (Grafana becomes `grafana.example.com`)."""

    acme_email: str
    """E-mail for Let's Encrypt (ACME) certificate notices."""


class GitOps(ConfigModel):
    repo_url: str
    """Git repository ArgoCD syncs from: `https://host/owner/repo.git`, `ssh://git@host/owner/repo.git`
    or `git@host:owner/repo.git` (private repositories: https only, with a token). The rendered
    tree is pushed here. Never put credentials in the URL."""

    branch: str = "main"
    """Branch ArgoCD follows."""

    path: str = "."
    """Folder inside the repository holding the rendered tree."""

    private: bool = False
    """The repository needs credentials (then `gitUsername`/`gitToken` secrets are required)."""

    degraded_grace: int = Field(default=120, ge=0, le=3600)
    """Seconds an ArgoCD Application the install waits for may stay `Degraded` (the outcome is
    known: a rollout exceeded its progress deadline, a Job failed) before its step fails with the
    app's message and the pods behind it, instead of waiting out the step's whole timeout."""


class Component(ConfigModel):
    enabled: bool = True
    """Install this component."""

    version: str
    """Pinned upstream version (Helm chart or release manifest)."""


class Cilium(Component):
    version: str = "1.20.0"
    """Cilium Helm chart version."""

    hubble: bool = True
    """Enable Hubble and Hubble Relay (network flow visibility)."""

    bpf_masquerade: bool = False
    """Masquerade pod traffic in eBPF instead of iptables. On Talos this also needs
    `bpf.hostLegacyRouting` (rendered automatically), or DNS forwarding to the host breaks."""

    app_network_policy: bool = True
    """Give each application namespace (a folder under `apps/`) a default CiliumNetworkPolicy:
    ingress only from its own namespace, the Gateway and the monitoring namespace, so other
    applications cannot reach it."""

    platform_network_policy: bool = True
    """Give the platform namespaces whose flows are all known from their charts (`vault`,
    `monitoring`, `cloudflare-tunnel`) a CiliumNetworkPolicy admitting only those flows; the
    others (`kube-system`, `argocd`, ...) get none."""


class GatewayApi(Component):
    version: str = "v1.6.1"
    """Gateway API CRDs release (standard channel)."""


class ArgoCD(Component):
    version: str = "10.1.1"
    """argo-cd Helm chart version."""

    admin_group: str | None = None
    """Group given ArgoCD's `role:admin`, as your single sign-on names it in its `groups` claim.
    Everyone else who logs in may only read (`role:readonly`); the local `admin` account stays an
    administrator. Unset: no group is."""


class CertManager(Component):
    version: str = "v1.21.1"
    """cert-manager Helm chart version."""


class ExternalDns(Component):
    version: str = "1.21.1"
    """external-dns Helm chart version (Cloudflare provider; needs the `cloudflareApiToken` secret)."""


class VaultSecretsOperator(Component):
    version: str = "1.4.1"
    """vault-secrets-operator Helm chart version (uses Vault's Kubernetes auth)."""


class Vault(Component):
    version: str = "0.34.1"
    """vault Helm chart version."""

    secrets_operator: VaultSecretsOperator = Field(default_factory=VaultSecretsOperator)
    """Vault Secrets Operator, syncing Vault secrets into Kubernetes Secrets."""


class Monitoring(Component):
    version: str = "88.5.3"
    """kube-prometheus-stack Helm chart version (Prometheus, Grafana, Alertmanager)."""


class CloudflareTunnel(Component):
    version: str = "2026.9.1"
    """cloudflared image tag (needs the `cloudflareTunnelToken` secret)."""


class Components(ConfigModel):
    gateway_api: GatewayApi = Field(default_factory=GatewayApi)
    """Layer 1-2: Gateway API CRDs."""

    cilium: Cilium = Field(default_factory=Cilium)
    """Layer 1-2: Cilium CNI with kube-proxy replacement."""

    argocd: ArgoCD = Field(default_factory=ArgoCD)
    """Layer 1-2: ArgoCD, which then manages everything from Git."""

    cert_manager: CertManager = Field(default_factory=CertManager)
    """Layer 2: cert-manager with a Let's Encrypt ClusterIssuer for the domain."""

    external_dns: ExternalDns = Field(default_factory=ExternalDns)
    """Layer 2: external-dns publishing records to Cloudflare."""

    vault: Vault = Field(default_factory=Vault)
    """Layer 3: HashiCorp Vault and the Vault Secrets Operator."""

    monitoring: Monitoring = Field(default_factory=Monitoring)
    """Layer 3: Prometheus, Grafana and Alertmanager."""

    cloudflare_tunnel: CloudflareTunnel = Field(default_factory=CloudflareTunnel)
    """Layer 3: Cloudflare Tunnel (cloudflared) exposing services without open ports."""


class Mirrors(ConfigModel):
    charts: str | None = None
    """A Helm chart repository (`http(s)://` URL) serving every chart the platform uses under the
    upstream names and versions: the bootstrap and ArgoCD pull each chart from it instead of its
    upstream repository. For air-gapped clusters (Harbor, ChartMuseum, a plain web server with an
    `index.yaml`) and the dress rehearsal."""

    gateway_api: str | None = None
    """Base URL of a mirror of the Gateway API release files: `<url>/<version>/standard-install.yaml`
    replaces the download from the Gateway API releases, for the bootstrap and for ArgoCD."""


class LocalPathProvisioner(ConfigModel):
    enabled: bool = True
    """Install the local-path provisioner (rancher/local-path-provisioner) with its StorageClass
    `local-path`, the cluster default, when `storage.storageClass` is not set."""

    version: str = "v0.0.32"
    """local-path-provisioner image tag."""


class Storage(ConfigModel):
    storage_class: str | None = None
    """StorageClass the platform's volumes use (Vault, Prometheus, Alertmanager, Grafana). Unset:
    the local-path provisioner (`storage.localPath`) is installed and its class `local-path` is
    used. Set: a class you installed yourself (e.g. Longhorn or Rook-Ceph); nothing is installed."""

    local_path: LocalPathProvisioner = Field(default_factory=LocalPathProvisioner)
    """The default provisioner: a directory per volume under `/var/mnt/local-path-provisioner` on
    the node that runs the pod (not replicated; a node's loss loses its volumes)."""


class PlatformConfig(ConfigModel):
    """A talos-platform config file."""

    api_version: Literal["talos-platform.dev/v1alpha1"] = API_VERSION
    """Config format version."""

    kind: Literal["Platform"] = KIND
    """Always `Platform`."""

    cluster: Cluster
    """The Talos cluster."""

    nodes: list[Node]
    """Every Talos node, control planes and workers."""

    domain: Domain
    """DNS domain and certificate contact."""

    gitops: GitOps
    """The Git repository ArgoCD syncs from."""

    components: Components = Field(default_factory=Components)
    """Platform components of layers 1-4, each with an on/off switch and a pinned version."""

    mirrors: Mirrors = Field(default_factory=Mirrors)
    """Where charts and the Gateway API CRDs come from when not from upstream (air-gapped installs)."""

    storage: Storage = Field(default_factory=Storage)
    """Where persistent volumes come from (Talos ships no storage provisioner)."""

    # Derived views used everywhere; kept here so every module computes them the same way.

    def node_interface(self, node: Node) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
        """The node's address with its network (prefix from the node or `network.nodeSubnet`)."""
        if "/" in node.address or not self.cluster.network.node_subnet:
            return ipaddress.ip_interface(node.address)
        prefix = ipaddress.ip_network(self.cluster.network.node_subnet).prefixlen
        return ipaddress.ip_interface(f"{node.address}/{prefix}")

    def node_ip(self, node: Node) -> str:
        return str(self.node_interface(node).ip)

    @property
    def control_planes(self) -> list[Node]:
        return [n for n in self.nodes if n.role is Role.control_plane]

    @property
    def workers(self) -> list[Node]:
        return [n for n in self.nodes if n.role is Role.worker]

    @property
    def api_endpoint_host(self) -> str:
        """Host of the Kubernetes API endpoint: the VIP, else the first control plane."""
        return self.cluster.vip or self.node_ip(self.control_planes[0])

    @property
    def docker_network(self) -> str:
        """The Docker network of a docker cluster: the first control plane's address's network."""
        return str(self.node_interface(self.control_planes[0]).network)

    def node_named(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)
