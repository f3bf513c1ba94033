"""Nodes as Kubernetes and Talos see them, merged by address, with a short CPU/memory history."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from talos_platform.engine.drivers.protocols import TalosNodeFacts
from talos_platform.engine.observe.node_disk import DiskUse
from talos_platform.engine.observe.ordering import natural_key
from talos_platform.engine.observe.snapshot import NodeView

if TYPE_CHECKING:
    from talos_platform.engine.config.models import Node

HISTORY_LENGTH = 20

CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"


@dataclass(frozen=True)
class TalosTarget:
    """A node the Talos API is asked about: where it is, and what the config says it is."""

    address: str
    name: str = ""
    role: str = ""

    @classmethod
    def from_config(cls, node: Node) -> TalosTarget:
        """From a config node (its address may carry a prefix length: `10.0.0.5/24`)."""
        role = getattr(node.role, "value", node.role)
        return cls(str(node.address).split("/")[0], node.name, str(role))


@dataclass(frozen=True)
class KubeNode:
    name: str
    address: str
    role: str
    ready: bool
    kubelet_version: str
    conditions: tuple[tuple[str, str, str], ...]


def kube_node(node: dict[str, Any]) -> KubeNode:
    metadata = node.get("metadata") or {}
    status = node.get("status") or {}
    labels = metadata.get("labels") or {}
    addresses = {a.get("type"): a.get("address", "") for a in status.get("addresses") or []}
    conditions = tuple(
        (c.get("type", ""), c.get("status", ""), c.get("message", "") or c.get("reason", ""))
        for c in status.get("conditions") or []
    )
    ready = any(t == "Ready" and s == "True" for t, s, _ in conditions)
    return KubeNode(
        name=metadata.get("name", ""),
        address=addresses.get("InternalIP") or addresses.get("ExternalIP", ""),
        role="control-plane" if CONTROL_PLANE_LABEL in labels else "worker",
        ready=ready,
        kubelet_version=(status.get("nodeInfo") or {}).get("kubeletVersion", ""),
        conditions=conditions,
    )


class UsageHistory:
    """The last few CPU and memory samples per node address."""

    def __init__(self, length: int = HISTORY_LENGTH):
        self._length = length
        self._cpu: dict[str, deque[float]] = {}
        self._memory: dict[str, deque[float]] = {}

    def record(self, facts: TalosNodeFacts) -> None:
        if facts.cpu_percent is not None:
            self._cpu.setdefault(facts.address, deque(maxlen=self._length)).append(facts.cpu_percent)
        if facts.memory_percent is not None:
            self._memory.setdefault(facts.address, deque(maxlen=self._length)).append(facts.memory_percent)

    def cpu(self, address: str) -> tuple[float, ...]:
        return tuple(self._cpu.get(address, ()))

    def memory(self, address: str) -> tuple[float, ...]:
        return tuple(self._memory.get(address, ()))


def merge_nodes(
    kube_nodes: Iterable[KubeNode],
    facts: dict[str, TalosNodeFacts],
    targets: Iterable[TalosTarget] = (),
    history: UsageHistory | None = None,
    disks: dict[str, DiskUse] | None = None,
) -> tuple[NodeView, ...]:
    """One row per node: every Kubernetes node, plus configured nodes Kubernetes does not know yet
    (still in maintenance mode, or unreachable). Control planes first, then by name. `disks`:
    filesystem use by node name, for the nodes whose kubelet stats were read."""
    history = history or UsageHistory()
    disks = disks or {}
    views: dict[str, NodeView] = {}
    seen_addresses: set[str] = set()
    for node in kube_nodes:
        fact = facts.get(node.address)
        views[node.name] = _view(node.name, node.address, node.role, node, fact, history, disks.get(node.name))
        seen_addresses.add(node.address)
    for target in targets:
        if target.address in seen_addresses or (target.name and target.name in views):
            continue
        name = target.name or target.address
        views[name] = _view(name, target.address, target.role or "worker", None, facts.get(target.address), history)
        seen_addresses.add(target.address)
    return tuple(sorted(views.values(), key=lambda v: (v.role != "control-plane", natural_key(v.name))))


def _view(
    name: str,
    address: str,
    role: str,
    node: KubeNode | None,
    fact: TalosNodeFacts | None,
    history: UsageHistory,
    disk: DiskUse | None = None,
) -> NodeView:
    if fact is None:
        # Not asked yet (or no Talos API configured): what Kubernetes says is all there is.
        reachable = node is not None
        fact = TalosNodeFacts(address=address, reachable=reachable)
    return NodeView(
        name=name,
        address=address,
        role=role,
        reachable=fact.reachable,
        ready=node.ready if node else None,
        stage=fact.stage or ("maintenance" if fact.maintenance else ""),
        talos_version=fact.talos_version,
        kubernetes_version=(node.kubelet_version if node else "") or fact.kubernetes_version,
        cpu_percent=fact.cpu_percent if fact.reachable else None,
        memory_percent=fact.memory_percent if fact.reachable else None,
        cpu_history=history.cpu(address),
        memory_history=history.memory(address),
        error=fact.error,
        conditions=node.conditions if node else (),
        disk_used_bytes=disk[0] if disk else None,
        disk_capacity_bytes=disk[1] if disk else None,
    )
