"""The wizard's working copy of the config: a camelCase document addressed by the same paths
validation uses (`nodes[1].address`, `cluster.vip`), plus the secrets typed so far.

Keeping the answers as the file's own document means a question's path, the value it sets and
the path a validation problem names are one and the same string.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from talos_platform.engine.config.models import Cluster, Domain, GitOps, PlatformConfig, Role

_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def split_path(path: str) -> list[str | int]:
    """`nodes[1].address` -> ['nodes', 1, 'address']."""
    return [int(index) if index else name for name, index in _PATH_PART.findall(path)]


def blank_document() -> dict[str, Any]:
    """Every field at its model default; the fields without one are empty strings to be asked."""
    skeleton = PlatformConfig(
        cluster=Cluster(name=""),
        nodes=[],
        domain=Domain(base="", acme_email=""),
        gitops=GitOps(repo_url=""),
    )
    return skeleton.model_dump(by_alias=True, mode="json")


def blank_node(role: Role) -> dict[str, Any]:
    return {"name": "", "address": "", "role": role.value, "installDisk": "/dev/sda", "link": None}


@dataclass
class Answers:
    """The config being built (as a camelCase document) and the secrets (never in the document)."""

    document: dict[str, Any] = field(default_factory=blank_document)
    secrets: dict[str, str] = field(default_factory=dict)
    """Secret values by their camelCase name, as in the secrets file (e.g. `gitToken`)."""

    flags: dict[str, bool] = field(default_factory=dict)
    """The wizard's own choices that are not config (e.g. "change the advanced network")."""

    @classmethod
    def from_config(cls, config: PlatformConfig, secrets: dict[str, str] | None = None) -> Answers:
        return cls(config.model_dump(by_alias=True, mode="json"), dict(secrets or {}))

    # --- reading and writing by path ------------------------------------------------------

    def get(self, path: str, default: Any = None) -> Any:
        value: Any = self.document
        for part in split_path(path):
            try:
                value = value[part]
            except (KeyError, IndexError, TypeError):
                return default
        return value

    def set(self, path: str, value: Any) -> None:
        _assign(self.document, split_path(path), value)

    def with_value(self, path: str, value: Any) -> dict[str, Any]:
        """A copy of the document with one more answer: the candidate that gets validated."""
        candidate = copy.deepcopy(self.document)
        _assign(candidate, split_path(path), value)
        return candidate

    # --- nodes ----------------------------------------------------------------------------

    @property
    def nodes(self) -> list[dict[str, Any]]:
        nodes: list[dict[str, Any]] = self.document.setdefault("nodes", [])
        return nodes

    def add_node(self) -> int:
        """Append a blank node with a sensible role; returns its index."""
        self.nodes.append(blank_node(suggested_role(self)))
        return len(self.nodes) - 1

    def remove_node(self, index: int) -> None:
        del self.nodes[index]

    @property
    def platform(self) -> str:
        platform: str = self.get("cluster.platform", "metal")
        return platform

    def to_config(self) -> PlatformConfig:
        return PlatformConfig.model_validate(self.document)


def _assign(document: dict[str, Any], parts: list[str | int], value: Any) -> None:
    target: Any = document
    for part in parts[:-1]:
        target = target[part]
    target[parts[-1]] = value


def suggested_role(answers: Answers) -> Role:
    """Control planes first (three on metal, one on docker), then workers."""
    control_planes = sum(1 for node in answers.nodes if node.get("role") == Role.control_plane.value)
    wanted = 1 if answers.platform == "docker" else 3
    return Role.control_plane if control_planes < wanted else Role.worker


def _name_prefix(role: str | None) -> str:
    return "cp" if role == Role.control_plane.value else "worker"


def suggested_node_name(answers: Answers, index: int) -> str:
    """`cp-N` / `worker-N`, the first number not already taken."""
    prefix = _name_prefix(answers.nodes[index].get("role"))
    taken = {other.get("name") for i, other in enumerate(answers.nodes) if i != index}
    number = 1
    while f"{prefix}-{number}" in taken:
        number += 1
    return f"{prefix}-{number}"


def follow_role_change(answers: Answers, index: int, before: str | None) -> None:
    """A node given another role drops the answers that were its old role's: a name suggested
    for that role (`cp-3` for what is now a worker) and, leaving the control planes, the link
    it had for the VIP. Their questions then suggest again, for the new role."""
    node = answers.nodes[index]
    if before is None or node.get("role") == before:
        return
    if re.fullmatch(rf"{_name_prefix(before)}-\d+", node.get("name") or ""):
        node["name"] = ""
    if before == Role.control_plane.value:
        node["link"] = None


def suggested_node_address(answers: Answers, index: int) -> str:
    """The address after the highest one already given, same prefix length; empty for the first."""
    interfaces = []
    for i, node in enumerate(answers.nodes):
        if i == index:
            continue
        try:
            interfaces.append(ipaddress.ip_interface(node.get("address") or ""))
        except ValueError:
            continue
    if not interfaces:
        return ""
    highest = max(interfaces, key=lambda interface: interface.ip)
    following = highest.ip + 1
    if following not in highest.network or following == highest.network.broadcast_address:
        return ""
    return f"{following}/{highest.network.prefixlen}"
