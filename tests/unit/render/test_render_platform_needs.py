"""What Talos does not ship, rendered: PodSecurity levels per namespace, the local-path storage
(with its Talos pieces per version) and the load-balancer pool with Cilium's L2 announcements."""

from __future__ import annotations

import pytest
from render_helpers import documents, variant
from support.applications import chart_source

from talos_platform.engine.render import render_tree, talos_patches
from talos_platform.engine.render.pod_security import ENFORCE_LABEL

METAL = "metal-3cp-3w"
DOCKER = "docker-single"


def tree(example: str = METAL, **changes: object) -> dict[str, bytes]:
    return render_tree(variant(example, **changes))


def doc(files: dict[str, bytes], path: str) -> dict:
    return documents(files[path])[0]


def enforce(app: dict) -> str | None:
    metadata = app["spec"]["syncPolicy"].get("managedNamespaceMetadata") or {}
    return (metadata.get("labels") or {}).get(ENFORCE_LABEL)


@pytest.mark.parametrize(
    ("path", "level"),
    [
        ("platform/monitoring.yaml", "privileged"),  # node-exporter: hostNetwork, hostPID, hostPath
        ("platform/local-path-storage.yaml", "privileged"),  # helper pods mount hostPath
        ("platform/vault.yaml", "baseline"),
        ("platform/vault-secrets-operator.yaml", "baseline"),
        ("layer-0/cert-manager.yaml", "restricted"),
        ("layer-0/external-dns.yaml", "restricted"),
        ("layer-0/argocd.yaml", "restricted"),
        ("platform/cloudflare-tunnel.yaml", "restricted"),
        ("layer-0/cilium.yaml", None),  # kube-system is exempt and never labelled
    ],
)
def test_each_namespace_gets_the_level_its_pods_need(path: str, level: str | None) -> None:
    app = doc(tree(), path)
    assert enforce(app) == level
    if level is not None:
        assert "CreateNamespace=true" in app["spec"]["syncPolicy"]["syncOptions"]


def test_only_namespaces_with_host_access_are_privileged() -> None:
    files = tree()
    privileged = sorted(
        doc(files, path)["spec"]["destination"]["namespace"]
        for path in files
        if path.endswith(".yaml")
        and b"kind: Application\n" in files[path]
        and enforce(doc(files, path)) == "privileged"
    )
    assert privileged == ["local-path-storage", "monitoring"]


def test_namespaces_written_as_manifests_carry_their_level() -> None:
    files = tree()
    assert doc(files, "bootstrap/namespace-argocd.yaml")["metadata"]["labels"] == {ENFORCE_LABEL: "restricted"}
    assert doc(files, "platform/cloudflare-tunnel/namespace.yaml")["metadata"]["labels"] == {
        ENFORCE_LABEL: "restricted"
    }
    gateway = doc(tree(DOCKER), "platform/cert-manager-issuer/namespace.yaml")
    assert gateway["metadata"]["labels"] == {ENFORCE_LABEL: "restricted"}


def test_local_path_storage_is_rendered_before_the_services_and_never_pruned() -> None:
    files = tree()
    app = doc(files, "platform/local-path-storage.yaml")
    assert app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "-1"
    assert app["spec"]["syncPolicy"]["automated"]["prune"] is False
    assert "finalizers" not in app["metadata"], "deleting the Application must not remove live volumes' provisioner"
    assert int(doc(files, "platform/vault.yaml")["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) > -1
    storage_class = doc(files, "platform/local-path-storage/storageclass.yaml")
    assert storage_class["provisioner"] == "rancher.io/local-path"
    assert storage_class["volumeBindingMode"] == "WaitForFirstConsumer"
    assert storage_class["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    deployment = doc(files, "platform/local-path-storage/deployment.yaml")
    assert (
        deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        == "docker.io/rancher/local-path-provisioner:v0.0.32"
    )
    config = doc(files, "platform/local-path-storage/configmap.yaml")["data"]
    assert "/var/mnt/local-path-provisioner" in config["config.json"]
    kinds = {
        doc(files, f"platform/local-path-storage/{name}")["kind"]
        for name in documents(files["platform/local-path-storage/kustomization.yaml"])[0]["resources"]
    }
    assert kinds == {
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Deployment",
        "StorageClass",
    }


def test_persistent_volumes_name_the_storage_class_explicitly() -> None:
    files = tree()
    vault = chart_source(doc(files, "platform/vault.yaml"))["helm"]["valuesObject"]
    assert vault["server"]["dataStorage"] == {"enabled": True, "storageClass": "local-path"}
    monitoring = chart_source(doc(files, "platform/monitoring.yaml"))["helm"]["valuesObject"]
    prometheus = monitoring["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]
    alertmanager = monitoring["alertmanager"]["alertmanagerSpec"]["storage"]["volumeClaimTemplate"]["spec"]
    assert prometheus["storageClassName"] == alertmanager["storageClassName"] == "local-path"
    assert monitoring["grafana"]["persistence"]["storageClassName"] == "local-path"
    # The values merged in keep the chart values that were there before.
    assert monitoring["prometheus"]["prometheusSpec"]["serviceMonitorSelectorNilUsesHelmValues"] is False


def test_a_storage_class_of_your_own_installs_nothing() -> None:
    files = tree(**{"storage.storageClass": "longhorn"})
    assert not [path for path in files if "local-path" in path]
    vault = chart_source(doc(files, "platform/vault.yaml"))["helm"]["valuesObject"]
    assert vault["server"]["dataStorage"]["storageClass"] == "longhorn"
    for name in ("all.yaml", "controlplane.yaml", "worker.yaml"):
        assert b"local-path" not in files[f"talos/{name}"]


@pytest.mark.parametrize("version", ["v1.10.6", "v1.11.5"])
def test_before_talos_1_12_the_kubelet_gets_the_folder_as_an_extra_mount(version: str) -> None:
    docs = documents(talos_patches(variant(METAL, **{"cluster.talosVersion": version}))["all.yaml"])
    assert [d for d in docs if d.get("kind") == "UserVolumeConfig"] == []
    mounts = docs[0]["machine"]["kubelet"]["extraMounts"]
    assert mounts == [
        {
            "destination": "/var/mnt/local-path-provisioner",
            "type": "bind",
            "source": "/var/mnt/local-path-provisioner",
            "options": ["bind", "rshared", "rw"],
        }
    ]


@pytest.mark.parametrize("version", ["v1.12.0", "v1.13.0", "v1.14.0"])
def test_from_talos_1_12_a_directory_user_volume_holds_the_folder(version: str) -> None:
    docs = documents(talos_patches(variant(METAL, **{"cluster.talosVersion": version}))["all.yaml"])
    volumes = [d for d in docs if d.get("kind") == "UserVolumeConfig"]
    # Mounted at /var/mnt/<name>: the provisioner's folder, the same path as before 1.12.
    assert volumes == [
        {
            "apiVersion": "v1alpha1",
            "kind": "UserVolumeConfig",
            "name": "local-path-provisioner",
            "volumeType": "directory",
        }
    ]
    assert "kubelet" not in docs[0].get("machine", {})


def test_load_balancer_pool_renders_pool_policy_and_cilium_values() -> None:
    files = tree()
    app = doc(files, "platform/load-balancer.yaml")
    assert app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "-1"
    assert "SkipDryRunOnMissingResource=true" in app["spec"]["syncPolicy"]["syncOptions"]
    assert app["spec"]["syncPolicy"]["retry"]["limit"] >= 5, "the CRDs appear once the cilium-operator runs"
    pool = doc(files, "platform/load-balancer/pool.yaml")
    assert pool["apiVersion"] == "cilium.io/v2alpha1" and pool["kind"] == "CiliumLoadBalancerIPPool"
    assert pool["spec"]["blocks"] == [{"start": "192.168.10.240", "stop": "192.168.10.254"}]
    policy = doc(files, "platform/load-balancer/l2-announcement-policy.yaml")
    assert policy["kind"] == "CiliumL2AnnouncementPolicy" and policy["apiVersion"] == "cilium.io/v2alpha1"
    assert policy["spec"]["loadBalancerIPs"] is True and policy["spec"]["externalIPs"] is False
    values = doc(files, "bootstrap/cilium-values.yaml")
    assert values["l2announcements"] == {"enabled": True}
    assert "externalIPs" not in values, "not a value of the 1.18 and 1.20 charts"
    assert values["k8sClientRateLimit"]["qps"] > 10
    layer0 = doc(files, "layer-0/cilium.yaml")["spec"]["source"]["helm"]["valuesObject"]
    assert layer0 == values, "ArgoCD adopts the bootstrap release without a diff"


def test_announcement_interfaces_follow_the_node_links_only_when_every_node_names_one() -> None:
    metal = doc(tree(), "platform/load-balancer/l2-announcement-policy.yaml")
    assert metal["spec"]["interfaces"] == ["^enp1s0$", "^enp2s0$"], "every node of the example names its link"
    one_without = render_tree(_with_links({"nodes.5.link": None}))
    policy = doc(one_without, "platform/load-balancer/l2-announcement-policy.yaml")
    assert "interfaces" not in policy["spec"], "a node without a link may carry its address on any interface"
    docker = doc(tree(DOCKER), "platform/load-balancer/pool.yaml")
    assert docker["spec"]["blocks"] == [{"start": "10.5.0.240", "stop": "10.5.0.254"}]


def test_when_every_node_names_its_link_only_those_links_announce() -> None:
    changes = {f"nodes.{index}.link": "enp1s0" for index in range(3, 6)}
    files = render_tree(_with_links(changes))
    policy = doc(files, "platform/load-balancer/l2-announcement-policy.yaml")
    assert policy["spec"]["interfaces"] == ["^enp1s0$"]


def _with_links(changes: dict[str, str]):
    from render_helpers import config_from, example_data

    data = example_data(METAL)
    for dotted, value in changes.items():
        _, index, key = dotted.split(".")
        data["nodes"][int(index)][key] = value
    return config_from(data)


def test_a_cidr_pool_is_one_cidr_block() -> None:
    files = tree(DOCKER, **{"cluster.network.loadBalancerPool": "10.5.0.224/28"})
    assert doc(files, "platform/load-balancer/pool.yaml")["spec"]["blocks"] == [{"cidr": "10.5.0.224/28"}]


def test_no_pool_means_no_l2_announcements() -> None:
    files = tree(**{"cluster.network.loadBalancerPool": None})
    assert "platform/load-balancer.yaml" not in files
    assert "l2announcements" not in doc(files, "bootstrap/cilium-values.yaml")
