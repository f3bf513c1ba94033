"""Which namespaces Cilium admits ingress from, read from the CiliumNetworkPolicies the simulated
cluster holds, so the simulated Hubble drops what the applied policies deny (POLICY_DENIED).

Only what can be judged per namespace is judged: a policy selecting every pod of its namespace
whose ingress rules admit namespaces (`fromEndpoints: [{}]`, the namespace label) or entities
that are no pod (`ingress`, `host`, `world`, ...). A namespace whose policies say anything else
(pod labels, `ingressDeny`, L7 rules, `cluster`/`all`) is left unjudged: nothing is dropped there.
"""

from __future__ import annotations

from typing import Any

from talos_platform.engine.drivers.protocols import Resource
from talos_platform.engine.sim.store import ObjectStore, key_of, resource_of

POLICIES = resource_of({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy"})
NAMESPACE_LABEL = "k8s:io.kubernetes.pod.namespace"
_PODS_ENTITIES = {"all", "cluster"}
_RULE_KEYS = {"fromEndpoints", "fromEntities"}


class UnknownRule(Exception):
    """A policy this model cannot judge per namespace."""


def _admitted(policy: dict[str, Any], namespace: str) -> set[str]:
    spec = policy.get("spec") or {}
    if "specs" in policy or spec.get("ingressDeny") or (spec.get("endpointSelector") or {}) != {}:
        raise UnknownRule
    admitted: set[str] = set()
    for rule in spec.get("ingress") or []:
        if set(rule) - _RULE_KEYS:
            raise UnknownRule
        if _PODS_ENTITIES & set(rule.get("fromEntities") or []):
            raise UnknownRule
        for selector in rule.get("fromEndpoints") or []:
            labels = selector.get("matchLabels") or {}
            if selector == {}:
                admitted.add(namespace)
            elif set(selector) == {"matchLabels"} and set(labels) == {NAMESPACE_LABEL}:
                admitted.add(labels[NAMESPACE_LABEL])
            else:
                raise UnknownRule
    return admitted


class IngressPolicies:
    """Namespace -> namespaces its pods admit ingress from (absent: not restricted)."""

    def __init__(self, store: ObjectStore):
        self.store = store
        self._admitted: dict[str, frozenset[str]] | None = None
        store.on_change.append(self._changed)

    def _changed(self, resource: Resource, change_type: str, entry: Any) -> None:
        if key_of(resource) == key_of(POLICIES):
            self._admitted = None

    def admitted(self) -> dict[str, frozenset[str]]:
        if self._admitted is None:
            by_namespace: dict[str, list[dict[str, Any]]] = {}
            for policy in self.store.entries(POLICIES):
                namespace = (policy.get("metadata") or {}).get("namespace", "")
                by_namespace.setdefault(namespace, []).append(policy)
            admitted = {}
            for namespace, policies in by_namespace.items():
                try:
                    admitted[namespace] = frozenset().union(*(_admitted(p, namespace) for p in policies))
                except UnknownRule:
                    continue
            self._admitted = admitted
        return self._admitted

    def denies(self, source_namespace: str, destination_namespace: str) -> bool:
        allowed = self.admitted().get(destination_namespace)
        return allowed is not None and source_namespace not in allowed
