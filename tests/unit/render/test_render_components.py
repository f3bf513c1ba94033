"""Each component appears only when enabled, with its pinned version, and waves are strings."""

from __future__ import annotations

import posixpath

import pytest
from render_helpers import documents, example_config, variant
from support.applications import chart_source

from talos_platform.engine.render import render_tree

METAL = "metal-3cp-3w"


def tree(**changes: object) -> dict[str, bytes]:
    return render_tree(variant(METAL, **changes))


def all_text(files: dict[str, bytes]) -> str:
    return b"".join(files.values()).decode()


def resources_of(files: dict[str, bytes], kustomization: str) -> list[str]:
    return documents(files[kustomization])[0]["resources"]


def test_full_example_has_every_part() -> None:
    files = tree()
    assert set(resources_of(files, "layer-0/kustomization.yaml")) == {
        "gateway-api-crds.yaml",
        "cilium.yaml",
        "cert-manager.yaml",
        "external-dns.yaml",
        "argocd.yaml",
        "platform.yaml",
        "apps.yaml",
    }
    assert set(resources_of(files, "platform/kustomization.yaml")) == {
        "vault.yaml",
        "vault-secrets-operator.yaml",
        "monitoring.yaml",
        "cloudflare-tunnel.yaml",
        "cert-manager-issuer.yaml",
        "local-path-storage.yaml",
        "load-balancer.yaml",
    }


def test_layer0_waves_are_strings_in_the_documented_order() -> None:
    files = tree()
    waves = {}
    for name in resources_of(files, "layer-0/kustomization.yaml"):
        app = documents(files[f"layer-0/{name}"])[0]
        assert app["kind"] == "Application"
        wave = app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
        assert isinstance(wave, str)
        waves[app["metadata"]["name"]] = wave
    assert waves == {
        "gateway-api-crds": "-100",
        "cilium": "-99",
        "cert-manager": "-98",
        "external-dns": "-97",
        "argocd": "-96",
        "platform": "0",
        "apps": "10",
    }


def test_layer0_sync_options() -> None:
    files = tree()
    for name in ("gateway-api-crds", "cilium", "cert-manager", "argocd"):
        policy = documents(files[f"layer-0/{name}.yaml"])[0]["spec"]["syncPolicy"]
        assert "ServerSideApply=true" in policy["syncOptions"], name
        assert "CreateNamespace=true" in policy["syncOptions"], name
        assert policy["retry"]["limit"] > 0 and policy["retry"]["backoff"]["factor"] > 1, name
    argocd = documents(files["layer-0/argocd.yaml"])[0]
    assert "finalizers" not in argocd["metadata"], "deleting the self-managing app must not uninstall ArgoCD"


# Deleting these Applications must leave what they deployed: the CNI, the Gateway API CRDs
# (and with them every Gateway and route) and ArgoCD itself.
# Volumes outlive their provisioner: local-path-storage is kept too.
KEPT_ON_DELETE = {
    "layer-0/cilium.yaml",
    "layer-0/gateway-api-crds.yaml",
    "layer-0/argocd.yaml",
    "platform/local-path-storage.yaml",
}


@pytest.mark.parametrize("name", ["metal-3cp-3w", "docker-single"])
def test_only_applications_whose_objects_may_go_cascade_delete(name: str) -> None:
    files = render_tree(example_config(name))
    applications = {
        path: document
        for path in files
        if path.endswith(".yaml")
        for document in documents(files[path])
        if isinstance(document, dict) and document.get("kind") == "Application"
    }
    assert KEPT_ON_DELETE <= set(applications)
    for path, application in applications.items():
        finalizers = application["metadata"].get("finalizers", [])
        if path in KEPT_ON_DELETE:
            assert finalizers == [], path
        else:
            assert finalizers == ["resources-finalizer.argocd.argoproj.io"], path


@pytest.mark.parametrize(
    ("switch", "gone_files", "gone_text"),
    [
        ("components.vault.enabled", ["platform/vault.yaml", "platform/vault-secrets-operator.yaml"], "vault"),
        ("components.monitoring.enabled", ["platform/monitoring.yaml"], "kube-prometheus-stack"),
        (
            "components.cloudflareTunnel.enabled",
            ["platform/cloudflare-tunnel.yaml", "platform/cloudflare-tunnel/deployment.yaml"],
            "cloudflared",
        ),
        ("components.externalDns.enabled", ["layer-0/external-dns.yaml"], "external-dns"),
        (
            "components.certManager.enabled",
            ["layer-0/cert-manager.yaml", "platform/cert-manager-issuer/cluster-issuer.yaml"],
            "letsencrypt",
        ),
        ("components.gatewayApi.enabled", ["layer-0/gateway-api-crds.yaml"], "gateway-api"),
    ],
)
def test_disabled_components_vanish(switch: str, gone_files: list[str], gone_text: str) -> None:
    before = tree()
    for path in gone_files:
        assert path in before
    assert gone_text in all_text(before)
    after = tree(**{switch: False})
    for path in gone_files:
        assert path not in after
    for kustomization in [path for path in after if path.endswith("kustomization.yaml")]:
        folder = posixpath.dirname(kustomization)
        for resource in resources_of(after, kustomization):
            assert posixpath.join(folder, resource) not in gone_files, (kustomization, resource)
    text = all_text({path: content for path, content in after.items() if path != "README.md"})
    assert gone_text not in text


def test_vault_secrets_operator_can_be_switched_off_alone() -> None:
    files = tree(**{"components.vault.secretsOperator.enabled": False})
    assert "platform/vault.yaml" in files and "platform/vault-secrets-operator.yaml" not in files


def test_no_platform_service_means_no_platform_folder() -> None:
    files = tree(
        **{
            "components.vault.enabled": False,
            "components.monitoring.enabled": False,
            "components.cloudflareTunnel.enabled": False,
            "components.certManager.enabled": False,
            "storage.localPath.enabled": False,
            "cluster.network.loadBalancerPool": None,
        }
    )
    assert not [path for path in files if path.startswith("platform/")]
    assert "platform.yaml" not in resources_of(files, "layer-0/kustomization.yaml")


def test_gateway_api_off_turns_off_cilium_gateway_support() -> None:
    values = documents(tree(**{"components.gatewayApi.enabled": False})["bootstrap/cilium-values.yaml"])[0]
    assert values["gatewayAPI"] == {"enabled": False}


def test_versions_are_pinned_from_the_config() -> None:
    files = tree(
        **{
            "components.cilium.version": "1.18.9",
            "components.argocd.version": "9.1.0",
            "components.gatewayApi.version": "v1.4.0",
        }
    )
    bootstrap = documents(files["bootstrap/kustomization.yaml"])[0]
    assert {chart["name"]: chart["version"] for chart in bootstrap["helmCharts"]} == {
        "cilium": "1.18.9",
        "argo-cd": "9.1.0",
    }
    assert bootstrap["resources"][0].endswith("/releases/download/v1.4.0/standard-install.yaml")
    assert {chart["kubeVersion"] for chart in bootstrap["helmCharts"]} == {"1.37.2"}
    # ArgoCD reads the very file the bootstrap applied, through a kustomization in the repository.
    crds = documents(files["layer-0/gateway-api-crds.yaml"])[0]["spec"]["source"]
    assert crds["path"] == "layer-0/gateway-api-crds"
    assert documents(files["layer-0/gateway-api-crds/kustomization.yaml"])[0]["resources"] == bootstrap["resources"][:1]


def test_mirrors_replace_every_upstream_location() -> None:
    files = tree(
        **{"mirrors": {"charts": "http://127.0.0.1:8879/", "gatewayApi": "http://127.0.0.1:8879/gateway-api/"}}
    )
    bootstrap = documents(files["bootstrap/kustomization.yaml"])[0]
    assert {chart["repo"] for chart in bootstrap["helmCharts"]} == {"http://127.0.0.1:8879/"}
    bundle = "http://127.0.0.1:8879/gateway-api/v1.6.1/standard-install.yaml"
    assert bootstrap["resources"][0] == bundle
    assert documents(files["layer-0/gateway-api-crds/kustomization.yaml"])[0]["resources"] == [bundle]
    helm_sources = [
        source
        for path, text in files.items()
        if path.endswith(".yaml") and path.count("/") == 1
        for document in documents(text)
        if document.get("kind") == "Application"
        for source in document["spec"].get("sources") or [document["spec"]["source"]]
        if "chart" in source
    ]
    assert len(helm_sources) >= 6
    assert {source["repoURL"] for source in helm_sources} == {"http://127.0.0.1:8879/"}
    assert not [
        path for path, text in files.items() if b"github.com/kubernetes-sigs" in text or b"helm.cilium.io" in text
    ]


def test_cilium_values_are_identical_in_bootstrap_and_layer0() -> None:
    files = tree(**{"components.cilium.bpfMasquerade": True})
    bootstrap = documents(files["bootstrap/cilium-values.yaml"])[0]
    layer0 = documents(files["layer-0/cilium.yaml"])[0]["spec"]["source"]["helm"]["valuesObject"]
    assert bootstrap == layer0
    assert bootstrap["bpf"] == {"masquerade": True, "hostLegacyRouting": True}


def test_cilium_talos_values() -> None:
    values = documents(tree()["bootstrap/cilium-values.yaml"])[0]
    assert values["ipam"] == {"mode": "kubernetes"}
    assert values["kubeProxyReplacement"] is True
    assert (values["k8sServiceHost"], values["k8sServicePort"]) == ("localhost", 7445)
    assert values["cgroup"] == {"autoMount": {"enabled": False}, "hostRoot": "/sys/fs/cgroup"}
    capabilities = values["securityContext"]["capabilities"]
    assert set(capabilities["ciliumAgent"]) == {
        "CHOWN",
        "KILL",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "SYS_ADMIN",
        "SYS_RESOURCE",
        "DAC_OVERRIDE",
        "FOWNER",
        "SETGID",
        "SETUID",
    }
    assert set(capabilities["cleanCiliumState"]) == {"NET_ADMIN", "SYS_ADMIN", "SYS_RESOURCE"}
    # The Talos Cilium guide's Gateway API values.
    assert values["gatewayAPI"] == {"enabled": True, "enableAlpn": True, "enableAppProtocol": True}
    assert values["hubble"]["relay"] == {"enabled": True}
    assert "bpf" not in values, "no eBPF masquerade unless asked for"


def test_argocd_cm_assesses_application_health_in_bootstrap_and_self_manage() -> None:
    files = tree()
    bootstrap = documents(files["bootstrap/argocd-values.yaml"])[0]
    self_managed = documents(files["layer-0/argocd.yaml"])[0]["spec"]["source"]["helm"]["valuesObject"]
    assert bootstrap == self_managed
    lua = bootstrap["configs"]["cm"]["resource.customizations.health.argoproj.io_Application"]
    assert "obj.status.health.status" in lua and "return" in lua


def test_argocd_rbac_reads_only_by_default_and_makes_the_named_group_admin() -> None:
    files = tree()
    rbac = documents(files["bootstrap/argocd-values.yaml"])[0]["configs"]["rbac"]
    assert rbac == {"policy.default": "role:readonly"}, "no group is admin unless one is named"
    files = tree(**{"components.argocd.adminGroup": "platform-admins"})
    bootstrap = documents(files["bootstrap/argocd-values.yaml"])[0]
    self_managed = documents(files["layer-0/argocd.yaml"])[0]["spec"]["source"]["helm"]["valuesObject"]
    assert bootstrap == self_managed
    assert bootstrap["configs"]["rbac"] == {
        "policy.default": "role:readonly",
        "policy.csv": "g, platform-admins, role:admin\n",
    }


def test_root_app_and_application_set_follow_the_gitops_settings() -> None:
    files = tree(**{"gitops.path": "clusters/homelab/", "gitops.branch": "prod"})
    root = documents(files["bootstrap-app.yaml"])[0]["spec"]["source"]
    assert root == {
        "repoURL": "https://github.com/example/homelab-platform.git",
        "targetRevision": "prod",
        "path": "clusters/homelab/layer-0",
    }
    generator = documents(files["apps/applicationset.yaml"])[0]["spec"]["generators"][0]["git"]
    assert generator["revision"] == "prod"
    assert generator["directories"] == [{"path": "clusters/homelab/apps/*"}]
    platform = documents(files["layer-0/platform.yaml"])[0]["spec"]["source"]
    assert platform["path"] == "clusters/homelab/platform"


def test_cluster_issuer_uses_the_acme_email_and_domain() -> None:
    issuer = documents(tree()["platform/cert-manager-issuer/cluster-issuer.yaml"])[0]
    acme = issuer["spec"]["acme"]
    assert acme["email"] == "admin@lab.example.com"
    assert acme["solvers"][0]["selector"] == {"dnsZones": ["lab.example.com"]}


def test_issuer_without_cloudflare_solves_http01_through_a_gateway() -> None:
    files = tree(**{"components.externalDns.enabled": False})
    issuer = documents(files["platform/cert-manager-issuer/cluster-issuer.yaml"])[0]
    solver = issuer["spec"]["acme"]["solvers"][0]
    parent = solver["http01"]["gatewayHTTPRoute"]["parentRefs"][0]
    gateway = documents(files["platform/cert-manager-issuer/gateway.yaml"])[0]
    assert (parent["name"], parent["namespace"]) == (gateway["metadata"]["name"], gateway["metadata"]["namespace"])
    assert gateway["spec"]["gatewayClassName"] == "cilium"
    assert "dns01" not in all_text(files) and "cloudflare-api-token" not in all_text(files)


def test_no_issuer_when_no_challenge_can_be_solved() -> None:
    files = tree(**{"components.externalDns.enabled": False, "components.gatewayApi.enabled": False})
    assert not [path for path in files if "cert-manager-issuer" in path]
    assert "layer-0/cert-manager.yaml" in files


def test_monitoring_scrapes_the_control_plane_the_way_talos_runs_it() -> None:
    values = chart_source(documents(tree()["platform/monitoring.yaml"])[0])["helm"]["valuesObject"]
    # No kube-proxy on Talos with Cilium: its scrape and KubeProxyDown are off (the chart gates
    # both on kubeProxy.enabled).
    assert values["kubeProxy"] == {"enabled": False}
    # Talos' static pods carry `k8s-app`; etcd is reached on the controller manager's nodes.
    assert values["kubeControllerManager"]["service"]["selector"] == {"k8s-app": "kube-controller-manager"}
    assert values["kubeScheduler"]["service"]["selector"] == {"k8s-app": "kube-scheduler"}
    assert values["kubeEtcd"]["service"] == {
        "selector": {"k8s-app": "kube-controller-manager"},
        "port": 2381,
        "targetPort": 2381,
    }


def test_grafana_admin_password_comes_from_vault_through_the_operator() -> None:
    files = tree()
    monitoring = documents(files["platform/monitoring.yaml"])[0]
    assert monitoring["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "2", "after the operator (wave 1)"
    values = chart_source(monitoring)["helm"]["valuesObject"]
    assert values["grafana"]["admin"] == {
        "existingSecret": "grafana-admin",
        "userKey": "admin-user",
        "passwordKey": "admin-password",
    }
    [synced] = values["extraManifests"]
    assert synced["kind"] == "VaultStaticSecret" and synced["apiVersion"] == "secrets.hashicorp.com/v1beta1"
    assert synced["metadata"] == {"name": "grafana-admin", "namespace": "monitoring"}
    spec = synced["spec"]
    assert (spec["type"], spec["mount"], spec["path"]) == ("kv-v2", "secret", "platform/grafana")
    assert spec["destination"] == {"name": "grafana-admin", "create": True}
    assert "vaultAuthRef" not in spec, (
        "the operator's default VaultAuth, configured by the vault-secrets-operator values"
    )
    operator = chart_source(documents(files["platform/vault-secrets-operator.yaml"])[0])["helm"]["valuesObject"]
    assert operator["defaultAuthMethod"]["enabled"] and operator["defaultVaultConnection"]["enabled"]


def test_without_the_operator_grafana_keeps_the_chart_password() -> None:
    files = tree(**{"components.vault.secretsOperator.enabled": False})
    monitoring = documents(files["platform/monitoring.yaml"])[0]
    values = chart_source(monitoring)["helm"]["valuesObject"]
    assert "admin" not in values["grafana"] and "extraManifests" not in values
    assert monitoring["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "0"
