"""Which pods Cilium admits ingress from, read from the CiliumNetworkPolicies the simulated
cluster holds, so the simulated Hubble drops what the applied policies deny.

Only what can be judged by source namespace and destination port is judged: policies selecting
every pod of their namespace whose ingress rules name namespaces (`fromEndpoints: [{}]`, the
namespace label in `matchLabels`) or entities that are no pod (`ingress`, `host`,
`kube-apiserver`, `world`, ...), optionally restricted to numeric ports (`toPorts` without L7
rules); and `ingressDeny` rules naming namespaces the same way or by a single `In`/`NotIn`
expression on the namespace label. A namespace whose policies say anything else (pod labels,
L7 rules, named ports, `cluster`/`all`) is left unjudged: nothing is dropped there.

As Cilium does: a matching deny rule wins and the drop names its policy (Hubble's
`ingress_denied_by`, reason POLICY_DENY); otherwise a flow no rule admits is dropped by the
default deny, which names no policy (reason POLICY_DENIED).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from talos_platform.engine.drivers.protocols import Resource
from talos_platform.engine.sim.store import ObjectStore, key_of, resource_of

POLICIES = resource_of({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy"})
NAMESPACE_LABEL = "k8s:io.kubernetes.pod.namespace"
POLICY_DENIED = "POLICY_DENIED"
"""Hubble's reason for a flow no rule admits (the default deny)."""
POLICY_DENY = "POLICY_DENY"
"""Hubble's reason for a flow a deny rule drops; the flow names that policy."""
_PODS_ENTITIES = {"all", "cluster"}
_ALLOW_KEYS = {"fromEndpoints", "fromEntities", "toPorts"}
_DENY_KEYS = {"fromEndpoints", "toPorts"}
_PROTOCOLS = {"TCP", "UDP", "ANY"}


class UnknownRule(Exception):
    """A policy this model cannot judge by namespace and port."""


@dataclass(frozen=True)
class Rule:
    namespaces: frozenset[str]
    """Source namespaces the rule matches (`negated`: every namespace but these)."""
    ports: frozenset[int]
    """Destination ports it covers; empty: every port."""
    policy: str
    """`namespace/name` of the policy it belongs to."""
    negated: bool = False

    def matches(self, source_namespace: str, port: int | None) -> bool:
        if (source_namespace in self.namespaces) == self.negated:
            return False
        # A port of None asks about every port: only a rule without ports covers them all.
        return not self.ports or (port is not None and port in self.ports)


@dataclass(frozen=True)
class Drop:
    reason: str
    policy: str = ""
    """The deny policy Hubble names (`namespace/name`); empty for the default deny."""


@dataclass
class Judged:
    allow: list[Rule]
    deny: list[Rule]


def _ports(rule: dict[str, Any]) -> frozenset[int]:
    ports: set[int] = set()
    for entry in rule.get("toPorts") or []:
        if set(entry) - {"ports"}:
            raise UnknownRule  # L7 rules, TLS, listeners
        for port in entry.get("ports") or []:
            if set(port) - {"port", "protocol"} or not str(port.get("port", "")).isdigit():
                raise UnknownRule  # endPort ranges, named ports
            if port.get("protocol", "ANY") not in _PROTOCOLS:
                raise UnknownRule
            ports.add(int(port["port"]))
    if rule.get("toPorts") is not None and not ports:
        raise UnknownRule
    return frozenset(ports)


def _selector_namespaces(selector: dict[str, Any], namespace: str, *, expressions: bool) -> tuple[set[str], bool]:
    """The namespaces one endpoint selector names, and whether it names every namespace but those."""
    labels = selector.get("matchLabels") or {}
    if selector == {}:
        return {namespace}, False
    if set(selector) == {"matchLabels"} and set(labels) == {NAMESPACE_LABEL}:
        return {labels[NAMESPACE_LABEL]}, False
    if expressions and set(selector) == {"matchExpressions"} and len(selector["matchExpressions"]) == 1:
        [requirement] = selector["matchExpressions"]
        if requirement.get("key") == NAMESPACE_LABEL and requirement.get("operator") in ("In", "NotIn"):
            return set(requirement.get("values") or []), requirement["operator"] == "NotIn"
    raise UnknownRule


def _judge(policy: dict[str, Any], namespace: str) -> Judged:
    spec = policy.get("spec") or {}
    if "specs" in policy or (spec.get("endpointSelector") or {}) != {}:
        raise UnknownRule
    name = f"{namespace}/{(policy.get('metadata') or {}).get('name', '')}"
    judged = Judged(allow=[], deny=[])
    for rule in spec.get("ingress") or []:
        if set(rule) - _ALLOW_KEYS or not set(rule) & {"fromEndpoints", "fromEntities"}:
            raise UnknownRule
        if _PODS_ENTITIES & set(rule.get("fromEntities") or []):
            raise UnknownRule
        ports = _ports(rule)
        namespaces: set[str] = set()
        for selector in rule.get("fromEndpoints") or []:
            named, negated = _selector_namespaces(selector, namespace, expressions=False)
            namespaces |= named
        # Entities are no pods: a rule naming only entities admits no simulated pod.
        judged.allow.append(Rule(frozenset(namespaces), ports, name))
    for rule in spec.get("ingressDeny") or []:
        if set(rule) - _DENY_KEYS or "fromEndpoints" not in rule:
            raise UnknownRule
        ports = _ports(rule)
        for selector in rule["fromEndpoints"]:
            named, negated = _selector_namespaces(selector, namespace, expressions=True)
            judged.deny.append(Rule(frozenset(named), ports, name, negated))
    return judged


class IngressPolicies:
    """Namespace -> the ingress rules its policies hold (absent: not restricted)."""

    def __init__(self, store: ObjectStore):
        self.store = store
        self._judged: dict[str, Judged] | None = None
        store.on_change.append(self._changed)

    def _changed(self, resource: Resource, change_type: str, entry: Any) -> None:
        if key_of(resource) == key_of(POLICIES):
            self._judged = None

    def judged(self) -> dict[str, Judged]:
        if self._judged is None:
            by_namespace: dict[str, list[dict[str, Any]]] = {}
            for policy in self.store.entries(POLICIES):
                namespace = (policy.get("metadata") or {}).get("namespace", "")
                by_namespace.setdefault(namespace, []).append(policy)
            judged = {}
            for namespace, policies in by_namespace.items():
                try:
                    parts = [_judge(policy, namespace) for policy in policies]
                except UnknownRule:
                    continue
                judged[namespace] = Judged(
                    allow=[rule for part in parts for rule in part.allow],
                    deny=[rule for part in parts for rule in part.deny],
                )
            self._judged = judged
        return self._judged

    def drop(self, source_namespace: str, destination_namespace: str, port: int | None = None) -> Drop | None:
        """How Cilium drops a flow from a pod of the source namespace to the port (None: to every
        port) of a pod of the destination namespace; None when it is admitted."""
        judged = self.judged().get(destination_namespace)
        if judged is None:
            return None
        for rule in judged.deny:
            if rule.matches(source_namespace, port):
                return Drop(POLICY_DENY, rule.policy)
        if any(rule.matches(source_namespace, port) for rule in judged.allow):
            return None
        return Drop(POLICY_DENIED)

    def denies(self, source_namespace: str, destination_namespace: str, port: int | None = None) -> bool:
        return self.drop(source_namespace, destination_namespace, port) is not None

    def restricted(self, namespace: str) -> bool:
        return namespace in self.judged()
