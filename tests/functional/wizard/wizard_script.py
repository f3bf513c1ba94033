"""Building blocks of wizard scripts: what a person types, section by section."""

from __future__ import annotations

from wizard_terminal import CTRL_U, ENTER, Step, expect


def typed(text: str) -> str:
    """Replace whatever default the prompt shows with `text`, then Enter."""
    return CTRL_U + text + ENTER


def cluster_defaults() -> list[Step]:
    return [
        expect("? Cluster name"),
        expect("? Platform"),
        expect("? Talos version"),
        expect("? Kubernetes version"),
        expect("? Add system extensions or kernel arguments"),  # no: the plain Talos image
    ]


def metal_node(number: int, *, address: str | None = None, control_plane: bool, another: bool) -> list[Step]:
    """A node with the suggested role, name, disk and link; `address` typed or the suggestion taken."""
    label = f"Node {number}"
    steps = [
        expect(f"? {label}: role"),
        expect(f"? {label}: name"),
        expect(f"? {label}: IP address", typed(address) if address else ENTER),
        expect(f"? {label}: install disk"),
        expect(f"? {label}: network interface (static address{', VIP' if control_plane else ''})"),
    ]
    steps.append(expect("? Add another node?", "y" if another else "n"))
    return steps


def three_control_planes_and_a_worker() -> list[Step]:
    return [
        *metal_node(1, address="10.0.0.11/24", control_plane=True, another=True),
        *metal_node(2, control_plane=True, another=True),
        *metal_node(3, control_plane=True, another=True),
        *metal_node(4, control_plane=False, another=False),
    ]


def network(vip: str = "10.0.0.10") -> list[Step]:
    return [
        expect("? Virtual IP", typed(vip)),
        expect("? Default gateway of the nodes"),  # the suggested 10.0.0.1
        expect("? Change the pod and service networks?", "n"),
        expect("? Extra names or IPs"),
        expect("? Load-balancer addresses"),  # the suggested free range
    ]


def domain_and_gitops(domain: str = "homelab.dev") -> list[Step]:
    return [
        expect("? Base domain", typed(domain)),
        expect("? E-mail for Let's Encrypt", typed(f"admin@{domain}")),
        expect("? GitOps repository URL", typed("https://git.homelab.dev/ops/platform.git")),
        expect("? Branch ArgoCD follows"),
        expect("? Folder in the repository"),
        expect("? Is the repository private", "n"),
    ]


def components_default() -> list[Step]:
    return [
        expect("? Components to install"),
        expect("? Change the pinned component versions?", "n"),
        expect("? ArgoCD admin group"),
        expect("? Storage for persistent volumes"),  # local-path
    ]


def cloudflare_secrets() -> list[Step]:
    """The Cloudflare tokens, then Grafana's and ArgoCD's optional passwords left for the install to
    generate."""
    return [
        expect("? Cloudflare API token", "cf-api-token-0123456789" + ENTER),
        expect("? Cloudflare Tunnel token", "cf-tunnel-token-0123456789" + ENTER),
        expect("? Grafana admin password"),
        expect("? ArgoCD admin password"),
    ]


def confirm_and_save() -> list[Step]:
    return [
        expect("? What next?"),  # the pointer starts on "Confirm and write the files"
        expect("? Save the config as"),
    ]


def happy_path() -> list[Step]:
    return [
        *cluster_defaults(),
        *three_control_planes_and_a_worker(),
        *network(),
        *domain_and_gitops(),
        *components_default(),
        *cloudflare_secrets(),
        *confirm_and_save(),
    ]
