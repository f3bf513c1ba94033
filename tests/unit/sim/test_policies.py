"""The simulator judges CiliumNetworkPolicies per namespace, and only those it can judge."""

from pathlib import Path

import pytest

from talos_platform.engine.config.loading import read_config
from talos_platform.engine.render.app_network_policy import app_network_policy
from talos_platform.engine.sim.policies import POLICIES, IngressPolicies
from talos_platform.engine.sim.store import ObjectStore

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def store_with(*policies: dict) -> ObjectStore:
    store = ObjectStore()
    for policy in policies:
        store.put(POLICIES, policy["metadata"]["namespace"], policy["metadata"]["name"], policy)
    return store


def in_namespace(policy: dict, namespace: str, name: str = "p") -> dict:
    return {**policy, "metadata": {"namespace": namespace, "name": name, "resourceVersion": "1"}}


RENDERED = app_network_policy(read_config(EXAMPLES / "metal-3cp-3w.yaml"))


def test_the_rendered_policy_admits_its_namespace_and_monitoring_only():
    judged = IngressPolicies(store_with(in_namespace(RENDERED, "shop")))
    assert judged.denies("blog", "shop") and judged.denies("argocd", "shop")
    assert not judged.denies("shop", "shop") and not judged.denies("monitoring", "shop")
    assert not judged.denies("shop", "blog"), "a namespace without a policy is not restricted"


@pytest.mark.parametrize(
    "spec",
    [
        {"endpointSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"fromEndpoints": [{}]}]},
        {"endpointSelector": {}, "ingress": [{"fromEndpoints": [{"matchLabels": {"app": "web"}}]}]},
        {"endpointSelector": {}, "ingress": [{"fromEntities": ["cluster"]}]},
        {"endpointSelector": {}, "ingress": [{"fromEndpoints": [{}], "toPorts": [{"ports": [{"port": "80"}]}]}]},
        {"endpointSelector": {}, "ingressDeny": [{"fromEndpoints": [{}]}]},
    ],
)
def test_a_policy_it_cannot_judge_per_namespace_drops_nothing(spec):
    policy = {"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy", "spec": spec}
    judged = IngressPolicies(store_with(in_namespace(RENDERED, "shop"), in_namespace(policy, "shop", "own")))
    assert not judged.denies("blog", "shop")
