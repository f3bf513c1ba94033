"""The simulator judges CiliumNetworkPolicies per namespace, and only those it can judge."""

from pathlib import Path

import pytest

from talos_platform.engine.config.loading import read_config
from talos_platform.engine.render.app_network_policy import app_network_policy
from talos_platform.engine.render.platform_network_policy import platform_network_policy
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


CONFIG = read_config(EXAMPLES / "metal-3cp-3w.yaml")
RENDERED = app_network_policy(CONFIG)


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
        {
            "endpointSelector": {},
            "ingress": [{"fromEndpoints": [{}], "toPorts": [{"ports": [{"port": "80"}], "rules": {"http": [{}]}}]}],
        },
        {"endpointSelector": {}, "ingress": [{"fromEndpoints": [{}], "toPorts": [{"ports": [{"port": "http"}]}]}]},
        {"endpointSelector": {}, "ingress": [{"toPorts": [{"ports": [{"port": "80"}]}]}]},
        {"endpointSelector": {}, "ingressDeny": [{"fromEndpoints": [{"matchLabels": {"app": "web"}}]}]},
        {"endpointSelector": {}, "ingressDeny": [{"fromEntities": ["world"]}]},
    ],
)
def test_a_policy_it_cannot_judge_per_namespace_drops_nothing(spec):
    policy = {"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy", "spec": spec}
    judged = IngressPolicies(store_with(in_namespace(RENDERED, "shop"), in_namespace(policy, "shop", "own")))
    assert not judged.denies("blog", "shop")


def platform_policies() -> IngressPolicies:
    return IngressPolicies(
        store_with(
            *(
                in_namespace(platform_network_policy(CONFIG, namespace), namespace, "platform-namespace-default")
                for namespace in ("vault", "monitoring", "cloudflare-tunnel")
            )
        )
    )


def test_vaults_policy_is_judged_by_port_and_its_deny_rule_names_the_policy():
    judged = platform_policies()
    assert judged.drop("vault-secrets-operator", "vault", 8200) is None
    assert judged.drop("vault", "vault", 8201) is None, "Vault's own pods use the cluster port"
    denied = judged.drop("vault-secrets-operator", "vault", 8201)
    assert denied and (denied.reason, denied.policy) == ("POLICY_DENY", "vault/platform-namespace-default")
    default = judged.drop("shop", "vault", 8200)
    assert default and (default.reason, default.policy) == ("POLICY_DENIED", ""), "no rule admits: default deny"
    assert judged.denies("vault-secrets-operator", "vault", 5432)


def test_monitoring_and_the_tunnel_admit_only_their_known_callers():
    judged = platform_policies()
    assert not judged.denies("monitoring", "monitoring", 9090)
    assert not judged.denies("cloudflare-tunnel", "monitoring", 3000)
    assert judged.denies("cloudflare-tunnel", "monitoring", 9090)
    assert judged.denies("shop", "monitoring", 9090), "an app reaching Prometheus' API"
    assert not judged.denies("monitoring", "cloudflare-tunnel", 2000)
    assert judged.denies("cloudflare-tunnel", "cloudflare-tunnel", 2000), "cloudflared pods do not call each other"
    assert judged.denies("monitoring", "cloudflare-tunnel", None), "a port-bound rule does not admit every port"
    assert not judged.denies("shop", "kube-system", 53), "a namespace without a policy is not restricted"
