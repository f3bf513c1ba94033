"""The wizard's questions, grouped in the sections the review menu offers to change.

Each section is a function `answers -> [Question]`, recomputed after every answer: the node
questions grow as nodes are added, the VIP is asked only on metal, versions only when wanted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from questionary import Choice
from rich.console import Console

from talos_platform.engine.config.models import (
    ArgoCD,
    CertManager,
    Cilium,
    CloudflareTunnel,
    Cluster,
    ExternalDns,
    GatewayApi,
    Monitoring,
    PlatformConfig,
    Role,
    Vault,
    VaultSecretsOperator,
)
from talos_platform.engine.config.platform_checks import suggested_pool
from talos_platform.engine.config.versions import (
    VersionError,
    kubernetes_supported_by,
    minor,
    parse_version,
    supported_talos_versions,
)
from talos_platform.wizards import checks, prompts
from talos_platform.wizards.answers import (
    Answers,
    follow_role_change,
    suggested_node_address,
    suggested_node_name,
)
from talos_platform.wizards.fields import (
    DONE,
    Question,
    choice_field,
    comma_list,
    optional,
    required,
    show_errors,
    show_warnings,
    text_field,
    yes_no_field,
)
from talos_platform.wizards.prompts import BACK
from talos_platform.wizards.secret_fields import secret_questions


@dataclass(frozen=True)
class Section:
    title: str
    questions: Callable[[Answers], list[Question]]


# --- cluster ---------------------------------------------------------------------------------

OTHER_VERSION = "other"
SUGGEST_LINK = "suggestLink"
"""Flag: the answers start from defaults, so a typical interface name is a fair suggestion."""


def _version(text: str) -> str:
    value = text.strip()
    try:
        parse_version(value)
    except VersionError as error:
        raise ValueError(str(error)) from None
    return value


def _always(value: str) -> Callable[[Answers], str]:
    return lambda _: value


def _minor_of(version: str) -> str | None:
    try:
        return "v{}.{}".format(*minor(version))
    except VersionError:
        return None


def version_field(path: str, message: str, model_default: str, minors: Callable[[Answers], list[str]]) -> Question:
    """A select of the current and recommended versions, then every other supported minor
    (`v1.12.…`: the patch is typed, checked as typed), then "another version"."""

    def ask(answers: Answers, console: Console) -> Any:
        current = answers.get(path) or model_default
        while True:
            offered = list(dict.fromkeys([current, model_default]))
            choices = [Choice(f"{v}{' (recommended)' if v == model_default else ''}", value=v) for v in offered]
            taken = {_minor_of(v) for v in offered}
            choices += [
                Choice(f"{m}.…  (type the patch release)", value=f"{m}.") for m in minors(answers) if m not in taken
            ]
            choices.append(Choice("another version…", value=OTHER_VERSION))
            supported = ", ".join(minors(answers))
            picked = prompts.ask_select(
                message, choices, default=current, instruction=f"(supported: {supported})" if supported else None
            )
            if picked is BACK:
                return BACK
            if picked == OTHER_VERSION or picked.endswith("."):
                start = picked if picked.endswith(".") else current
                typed = text_field(path, f"{message} (vMAJOR.MINOR.PATCH)", default=_always(start), parse=_version)
                if typed.ask(answers, console) is BACK:
                    continue
                return DONE
            refused = checks.errors(checks.problems_for(answers, path, picked))
            if not refused:
                answers.set(path, picked)
                show_warnings(console, answers, path)
                return DONE
            show_errors(console, refused)

    return Question(path, ask, message)


def _talos_minors(answers: Answers) -> list[str]:
    return supported_talos_versions()


def _kubernetes_minors(answers: Answers) -> list[str]:
    try:
        return kubernetes_supported_by(answers.get("cluster.talosVersion") or "")
    except VersionError:
        return []


def _platform_choices(answers: Answers) -> list[Choice]:
    return [
        Choice("metal  – real machines booted from Talos media", value="metal"),
        Choice("docker – a single-node local cluster for trying things out", value="docker"),
    ]


def _platform_chosen(answers: Answers) -> None:
    if answers.platform == "docker":
        answers.set("cluster.vip", None)  # docker cannot float a VIP; the single node is the endpoint
        answers.set("cluster.network.gateway", None)  # Docker gives the container its network


def cluster_questions(answers: Answers) -> list[Question]:
    return [*_cluster_basics(), *image_questions(answers)]


def _cluster_basics() -> list[Question]:
    return [
        text_field(
            "cluster.name",
            "Cluster name",
            default=lambda a: a.get("cluster.name") or "homelab",
            parse=required("a cluster name"),
            instruction="(lowercase letters, digits, '-')",
        ),
        choice_field("cluster.platform", "Platform", _platform_choices, then=_platform_chosen),
        version_field(
            "cluster.talosVersion", "Talos version", Cluster.model_fields["talos_version"].default, _talos_minors
        ),
        version_field(
            "cluster.kubernetesVersion",
            "Kubernetes version",
            Cluster.model_fields["kubernetes_version"].default,
            _kubernetes_minors,
        ),
    ]


def _spaced_list(text: str) -> list[str]:
    return text.split()


def image_questions(answers: Answers) -> list[Question]:
    """The installer image's schematic (metal only: a docker node installs nothing)."""
    if answers.platform != "metal":
        return []
    asked = [
        Question(
            "wizard.customImage",
            _ask_flag("customImage", "Add system extensions or kernel arguments to the Talos image?"),
        )
    ]
    if answers.flags.get("customImage"):
        asked += [
            text_field(
                "cluster.schematic.systemExtensions",
                "System extensions (Image Factory)",
                parse=comma_list,
                instruction="(comma-separated, e.g. siderolabs/iscsi-tools, siderolabs/intel-ucode)",
            ),
            text_field(
                "cluster.schematic.extraKernelArgs",
                "Extra kernel arguments",
                default=lambda a: " ".join(a.get("cluster.schematic.extraKernelArgs") or []),
                parse=_spaced_list,
                instruction="(space-separated, e.g. net.ifnames=0; may be empty)",
            ),
        ]
    return asked


# --- nodes -----------------------------------------------------------------------------------


def _role_choices(answers: Answers) -> list[Choice]:
    return [
        Choice("control-plane – runs etcd and the Kubernetes API", value=Role.control_plane.value),
        Choice("worker        – runs workloads", value=Role.worker.value),
    ]


def _suggested_link(answers: Answers, index: int) -> str:
    """The node's link, else the one the other nodes of its role use (control planes and
    workers are often different machines), else any other node's, else `eth0` when starting
    fresh (an edited config without links keeps none: its nodes may use DHCP)."""
    node = answers.nodes[index]
    if node.get("link"):
        link: str = node["link"]
        return link
    others = [other for i, other in enumerate(answers.nodes) if i != index and other.get("link")]
    same_role = [other for other in others if other.get("role") == node.get("role")]
    for other in same_role or others:
        other_link: str = other["link"]
        return other_link
    return "eth0" if answers.flags.get(SUGGEST_LINK) else ""


def _role_question(index: int, label: str) -> Question:
    """The node's role; a changed role drops what belonged to the old one (follow_role_change)."""
    chosen = choice_field(f"nodes[{index}].role", f"{label}: role", _role_choices)

    def ask(answers: Answers, console: Console) -> Any:
        before = answers.nodes[index].get("role")
        outcome = chosen.ask(answers, console)
        if outcome is not BACK:
            follow_role_change(answers, index, before)
        return outcome

    return Question(chosen.key, ask, chosen.label)


def _link_question(index: int, label: str, control_plane: bool) -> Question:
    if control_plane:
        message, instruction = f"{label}: network interface (static address, VIP)", "(e.g. eth0, enp1s0)"
    else:
        message, instruction = f"{label}: network interface (static address)", "(e.g. eth0; empty keeps DHCP)"
    return text_field(
        f"nodes[{index}].link",
        message,
        default=lambda a: _suggested_link(a, index),
        parse=optional,
        instruction=instruction,
    )


def node_questions(index: int, *, offer_another: bool) -> Callable[[Answers], list[Question]]:
    """Questions about one node; with `offer_another`, the last node ends with "add another?"."""

    def questions(answers: Answers) -> list[Question]:
        if index >= len(answers.nodes):
            return []
        prefix = f"nodes[{index}]"
        label = f"Node {index + 1}"
        node = answers.nodes[index]
        docker = answers.platform == "docker"  # one control-plane node: no role to choose
        asked = [] if docker else [_role_question(index, label)]
        asked += [
            text_field(
                f"{prefix}.name",
                f"{label}: name",
                default=lambda a: a.nodes[index].get("name") or suggested_node_name(a, index),
                parse=required("a node name"),
            ),
            text_field(
                f"{prefix}.address",
                f"{label}: IP address with prefix length",
                default=lambda a: a.nodes[index].get("address") or suggested_node_address(a, index),
                parse=required("an address like 192.168.1.11/24"),
                instruction="(e.g. 192.168.1.11/24)",
            ),
        ]
        if not docker:  # a docker node is a container: nothing is installed on a disk
            asked.append(
                text_field(
                    f"{prefix}.installDisk",
                    f"{label}: install disk (erased!)",
                    parse=required("a disk such as /dev/sda or /dev/nvme0n1"),
                )
            )
        if answers.platform == "metal":
            asked.append(_link_question(index, label, node.get("role") == Role.control_plane.value))
        if offer_another and not docker and _offers_another(answers, index):
            asked.append(Question(f"{prefix}.another", _ask_another(index)))
        return asked

    return questions


def _untouched(node: dict[str, Any]) -> bool:
    """A node added by "add another?" and not answered yet."""
    return not node.get("name") and not node.get("address")


def _offers_another(answers: Answers, index: int) -> bool:
    """ "Add another node?" follows the last node, and stays (for Esc) while the node it added
    is still untouched."""
    last = len(answers.nodes) - 1
    return index == last or (index == last - 1 and _untouched(answers.nodes[last]))


def _ask_another(index: int) -> Callable[[Answers, Console], Any]:
    def ask(answers: Answers, console: Console) -> Any:
        added = index + 1 < len(answers.nodes) and _untouched(answers.nodes[index + 1])
        while True:
            more = prompts.ask_confirm("Add another node?", default=added)
            if more is BACK:
                return BACK
            if more:
                if not added:
                    answers.add_node()
                return DONE
            if added:  # came back from the new node and changed their mind
                answers.remove_node(index + 1)
                added = False
            # Rules about the node list as a whole (no control plane, two control planes...).
            refused = checks.errors(
                [p for p in checks.problems_for(answers, "nodes", answers.nodes) if p.path == "nodes"]
            )
            if not refused:
                show_warnings(console, answers, "nodes", exact=True)
                return DONE
            show_errors(console, refused)

    return ask


def nodes_questions(answers: Answers) -> list[Question]:
    if not answers.nodes:
        answers.add_node()
    asked: list[Question] = []
    for index in range(len(answers.nodes)):
        asked.extend(node_questions(index, offer_another=True)(answers))
    return asked


# --- network ---------------------------------------------------------------------------------


def _vip_instruction(answers: Answers) -> str:
    control_planes = sum(1 for n in answers.nodes if n.get("role") == Role.control_plane.value)
    if control_planes > 1:
        return "(required: an unused IP in the control planes' subnet)"
    return "(optional with one control plane; leave empty for none)"


def _suggested_gateway(answers: Answers) -> str:
    """The current answer, else (when a node has a static address) the first host of the first
    node's subnet, where home and office routers usually sit; else nothing."""
    if answers.get("cluster.network.gateway"):
        gateway: str = answers.get("cluster.network.gateway")
        return gateway
    if not any(node.get("link") for node in answers.nodes):
        return ""
    for node in answers.nodes:
        try:
            network = ipaddress.ip_interface(node.get("address") or "").network
        except ValueError:
            continue
        if network.num_addresses > 2:
            return str(network.network_address + 1)
    return ""


def _advanced_flag(answers: Answers) -> bool:
    return bool(answers.flags.get("advancedNetwork"))


VIP_LABEL = "Virtual IP (VIP) of the control planes"


def network_questions(answers: Answers) -> list[Question]:
    asked: list[Question] = []
    if answers.platform == "metal":
        asked.append(
            Question(
                "cluster.vip",
                label=VIP_LABEL,
                ask=lambda a, c: text_field(
                    "cluster.vip",
                    VIP_LABEL,
                    parse=optional,
                    instruction=_vip_instruction(a),
                ).ask(a, c),
            )
        )
        asked.append(
            text_field(
                "cluster.network.gateway",
                "Default gateway of the nodes (your router)",
                default=_suggested_gateway,
                parse=optional,
                instruction="(the static addresses' default route; empty only if every node uses DHCP)",
            )
        )
    asked.append(
        Question("wizard.advancedNetwork", _ask_flag("advancedNetwork", "Change the pod and service networks?"))
    )
    if _advanced_flag(answers):
        asked.append(text_field("cluster.network.podCidr", "Pod network (CIDR)", parse=required("a CIDR")))
        asked.append(text_field("cluster.network.serviceCidr", "Service network (CIDR)", parse=required("a CIDR")))
    asked.append(
        text_field(
            "cluster.extraApiSans",
            "Extra names or IPs for the API certificate",
            parse=comma_list,
            instruction="(comma-separated, may be empty)",
        )
    )
    asked.append(
        text_field(
            "cluster.network.loadBalancerPool",
            "Load-balancer addresses for Gateways",
            default=_pool_default,
            parse=optional,
            instruction=_pool_instruction(answers),
        )
    )
    return asked


def _pool_default(answers: Answers) -> str:
    """The current answer, else free addresses at the top of the node subnet (checked: no node,
    not the VIP), which the user may take with Enter."""
    current = answers.get("cluster.network.loadBalancerPool")
    if current:
        return str(current)
    try:
        config = PlatformConfig.model_validate(answers.document)
    except ValidationError:
        return ""
    return suggested_pool(config) or ""


def _pool_instruction(answers: Answers) -> str:
    where = "the docker network" if answers.platform == "docker" else "the node subnet, outside your DHCP range"
    return f"(a CIDR or start-end inside {where}; empty for none)"


def _ask_flag(flag: str, message: str) -> Callable[[Answers, Console], Any]:
    def ask(answers: Answers, console: Console) -> Any:
        value = prompts.ask_confirm(message, default=bool(answers.flags.get(flag)))
        if value is BACK:
            return BACK
        answers.flags[flag] = value
        return DONE

    return ask


# --- domain and GitOps -----------------------------------------------------------------------


def domain_questions(answers: Answers) -> list[Question]:
    return [
        text_field(
            "domain.base",
            "Base domain of the platform's services",
            parse=required("a domain"),
            instruction="(e.g. example.com)",
        ),
        text_field(
            "domain.acmeEmail",
            "E-mail for Let's Encrypt notices",
            default=lambda a: (
                a.get("domain.acmeEmail") or (f"admin@{a.get('domain.base')}" if a.get("domain.base") else "")
            ),
            parse=required("an e-mail address"),
        ),
    ]


def gitops_questions(answers: Answers) -> list[Question]:
    return [
        text_field(
            "gitops.repoUrl", "GitOps repository URL", parse=required("a Git URL"), instruction="(https or ssh)"
        ),
        text_field("gitops.branch", "Branch ArgoCD follows", parse=required("a branch")),
        text_field("gitops.path", "Folder in the repository", parse=required("a folder ('.' for the top)")),
        yes_no_field("gitops.private", "Is the repository private (needs credentials)?"),
    ]


# --- components ------------------------------------------------------------------------------

# (switch path, label, version path, model default version)
COMPONENTS: list[tuple[str, str, str | None, str | None]] = [
    (
        "components.gatewayApi.enabled",
        "Gateway API CRDs",
        "components.gatewayApi.version",
        GatewayApi.model_fields["version"].default,
    ),
    (
        "components.cilium.enabled",
        "Cilium (CNI, kube-proxy replacement)",
        "components.cilium.version",
        Cilium.model_fields["version"].default,
    ),
    ("components.cilium.hubble", "Hubble (Cilium network flows)", None, None),
    ("components.cilium.bpfMasquerade", "Cilium eBPF masquerading (advanced)", None, None),
    ("components.argocd.enabled", "ArgoCD", "components.argocd.version", ArgoCD.model_fields["version"].default),
    (
        "components.certManager.enabled",
        "cert-manager (Let's Encrypt)",
        "components.certManager.version",
        CertManager.model_fields["version"].default,
    ),
    (
        "components.externalDns.enabled",
        "external-dns (Cloudflare)",
        "components.externalDns.version",
        ExternalDns.model_fields["version"].default,
    ),
    ("components.vault.enabled", "Vault", "components.vault.version", Vault.model_fields["version"].default),
    (
        "components.vault.secretsOperator.enabled",
        "Vault Secrets Operator",
        "components.vault.secretsOperator.version",
        VaultSecretsOperator.model_fields["version"].default,
    ),
    (
        "components.monitoring.enabled",
        "Monitoring (Prometheus, Grafana, Alertmanager)",
        "components.monitoring.version",
        Monitoring.model_fields["version"].default,
    ),
    (
        "components.cloudflareTunnel.enabled",
        "Cloudflare Tunnel",
        "components.cloudflareTunnel.version",
        CloudflareTunnel.model_fields["version"].default,
    ),
]


def _ask_components(answers: Answers, console: Console) -> Any:
    def switched(selected: list[str]) -> dict[str, Any]:
        candidate = Answers(answers.with_value("components", answers.get("components")), answers.secrets)
        for switch, *_ in COMPONENTS:
            candidate.set(switch, switch in selected)
        return candidate.document

    def check(selected: list[str]) -> str | None:
        problems = checks.all_problems(switched(selected), checks.secrets_of(answers))
        return checks.first_error([p for p in problems if checks.concerns(p.path, "components")])

    choices = [Choice(label, value=switch, checked=bool(answers.get(switch))) for switch, label, *_ in COMPONENTS]
    selected = prompts.ask_checkbox("Components to install", choices, validate=check)
    if selected is BACK:
        return BACK
    answers.document = switched(selected)
    show_warnings(console, answers, "components")
    return DONE


def components_questions(answers: Answers) -> list[Question]:
    asked = [
        Question("components", _ask_components),
        Question("wizard.changeVersions", _ask_flag("changeVersions", "Change the pinned component versions?")),
    ]
    if answers.flags.get("changeVersions"):
        for switch, label, version_path, model_default in COMPONENTS:
            if version_path and answers.get(switch):
                asked.append(
                    text_field(
                        version_path,
                        f"{label}: version",
                        parse=required("a version"),
                        instruction=f"(default {model_default})",
                    )
                )
    if answers.get("components.argocd.enabled"):
        asked.append(
            text_field(
                "components.argocd.adminGroup",
                "ArgoCD admin group (everyone else may only read)",
                parse=optional,
                instruction="(your single sign-on's group name; empty: none)",
            )
        )
    asked.append(Question("storage", _ask_storage))
    if _storage_kind(answers) == STORAGE_OWN:
        asked.append(
            text_field(
                "storage.storageClass",
                "StorageClass name",
                parse=required("a StorageClass name"),
                instruction="(as `kubectl get storageclass` shows it)",
            )
        )
    return asked


# --- storage ---------------------------------------------------------------------------------

STORAGE_LOCAL_PATH, STORAGE_OWN, STORAGE_NONE = "local-path", "own", "none"
STORAGE_CHOICES = [
    (STORAGE_LOCAL_PATH, "local-path provisioner: a folder per volume on the pod's node (installed)"),
    (STORAGE_OWN, "a StorageClass of my own (Longhorn, Rook-Ceph, ...)"),
    (STORAGE_NONE, "none (Vault and monitoring need volumes)"),
]


def _storage_kind(answers: Answers) -> str:
    kind = answers.flags.get("storageKind")
    if kind:
        return str(kind)
    if answers.get("storage.storageClass"):
        return STORAGE_OWN
    return STORAGE_LOCAL_PATH if answers.get("storage.localPath.enabled") is not False else STORAGE_NONE


def _ask_storage(answers: Answers, console: Console) -> Any:
    choices = [Choice(label, value=value) for value, label in STORAGE_CHOICES]
    while True:
        kind = prompts.ask_select(
            "Storage for persistent volumes",
            choices,
            default=_storage_kind(answers),
            instruction="(Talos ships no storage provisioner)",
        )
        if kind is BACK:
            return BACK
        candidate = Answers(answers.with_value("storage", _storage_for(kind, answers)), answers.secrets)
        # "own" is complete only with the class name, asked next.
        refused = (
            []
            if kind == STORAGE_OWN
            else checks.errors(
                [
                    p
                    for p in checks.all_problems(candidate.document, checks.secrets_of(answers))
                    if checks.concerns(p.path, "storage")
                ]
            )
        )
        if not refused:
            answers.document = candidate.document
            answers.flags["storageKind"] = kind
            return DONE
        show_errors(console, refused)


def _storage_for(kind: str, answers: Answers) -> dict[str, Any]:
    storage = dict(answers.get("storage") or {})
    local_path = dict(storage.get("localPath") or {})
    local_path["enabled"] = kind == STORAGE_LOCAL_PATH
    storage["localPath"] = local_path
    storage["storageClass"] = (answers.get("storage.storageClass") or "") if kind == STORAGE_OWN else None
    if kind == STORAGE_OWN and not storage["storageClass"]:
        storage.pop("storageClass")  # asked next
    return storage


SECTIONS: list[Section] = [
    Section("Cluster", cluster_questions),
    Section("Nodes", nodes_questions),
    Section("Network", network_questions),
    Section("Domain", domain_questions),
    Section("GitOps repository", gitops_questions),
    Section("Components", components_questions),
    Section("Secrets", secret_questions),
]


def all_questions(answers: Answers) -> list[Question]:
    asked: list[Question] = []
    for section in SECTIONS:
        asked.extend(section.questions(answers))
    return asked
