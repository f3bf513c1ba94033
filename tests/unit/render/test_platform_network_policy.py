"""Platform namespaces whose flows are known get a policy, applied with their component."""

from __future__ import annotations

import yaml
from render_helpers import documents, example_config, variant

from talos_platform.engine.render import render_tree
from talos_platform.engine.render.platform_network_policy import POLICY_NAME, policed_namespaces

POLICED = {"vault", "monitoring", "cloudflare-tunnel"}


def applications(files: dict[str, bytes]) -> dict[str, dict]:
    found = {}
    for path, text in files.items():
        if path.startswith("platform/") and path.count("/") == 1 and path != "platform/kustomization.yaml":
            [app] = documents(text)
            found[app["spec"]["destination"]["namespace"]] = app
    return found


def test_each_policed_namespace_gets_its_policy_as_the_second_source_of_its_component():
    files = render_tree(example_config("metal-3cp-3w"))
    apps = applications(files)
    for namespace in POLICED:
        sources = apps[namespace]["spec"]["sources"]
        assert "source" not in apps[namespace]["spec"] and len(sources) == 2
        folder = sources[1]["path"]
        assert folder == f"platform/network-policies/{namespace}"
        assert yaml.safe_load(files[f"{folder}/kustomization.yaml"])["resources"] == ["network-policy.yaml"]
        [policy] = documents(files[f"{folder}/network-policy.yaml"])
        assert policy["kind"] == "CiliumNetworkPolicy" and policy["metadata"]["name"] == POLICY_NAME
        assert "namespace" not in policy["metadata"], "ArgoCD puts it in the component's namespace"
        assert policy["spec"]["endpointSelector"] == {}
    unpoliced = set(apps) - POLICED
    assert unpoliced and all("source" in apps[namespace]["spec"] for namespace in unpoliced)
    assert not [
        path
        for path in files
        if path.startswith(("platform/network-policies/kube-system", "platform/network-policies/argocd"))
    ]


def test_vault_admits_its_api_from_known_callers_and_its_cluster_port_only_from_itself():
    [policy] = documents(
        render_tree(example_config("metal-3cp-3w"))["platform/network-policies/vault/network-policy.yaml"]
    )
    ingress = policy["spec"]["ingress"]
    assert {"fromEndpoints": [{}]} in ingress
    callers = [rule for rule in ingress if rule.get("fromEndpoints") != [{}]]
    for rule in callers:
        assert rule["toPorts"] == [{"ports": [{"port": "8200", "protocol": "TCP"}]}]
    namespaces = {
        s["matchLabels"]["k8s:io.kubernetes.pod.namespace"] for r in callers for s in r.get("fromEndpoints", [])
    }
    assert namespaces == {"vault-secrets-operator", "monitoring", "cloudflare-tunnel"}
    [deny] = policy["spec"]["ingressDeny"]
    assert deny["toPorts"] == [{"ports": [{"port": "8201", "protocol": "TCP"}]}]
    assert deny["fromEndpoints"][0]["matchExpressions"][0]["values"] == ["vault"]


def test_callers_that_are_not_installed_are_not_admitted():
    config = variant(
        "metal-3cp-3w",
        **{"components.vault.secretsOperator.enabled": False, "components.cloudflareTunnel.enabled": False},
    )
    policed = policed_namespaces(config)
    assert set(policed) == {"vault", "monitoring"}
    named = {namespace for rule in policed["vault"] for namespace in rule.namespaces}
    assert named == {"monitoring"}


def test_switched_off_or_without_cilium_no_platform_namespace_gets_a_policy():
    for changes in ({"components.cilium.platformNetworkPolicy": False}, {"components.cilium.enabled": False}):
        files = render_tree(variant("metal-3cp-3w", **changes))
        assert not [path for path in files if "network-policies" in path]
        assert all("source" in app["spec"] for app in applications(files).values())
