"""Talos patches per version: legacy keys up to 1.11/1.13, documents from 1.12 (VIP, hostname)
and 1.14 (Kubernetes network, kube-proxy, API server SANs, Flannel removal, install disk)."""

from __future__ import annotations

import pytest
from render_helpers import documents, variant

from talos_platform.engine.render import talos_patches

METAL = "metal-3cp-3w"
DOCKER = "docker-single"
VIP = "192.168.10.10"
SANS = [VIP, "127.0.0.1", "k8s.lab.example.com"]


def patch(version: str, name: str, example: str = METAL) -> list[dict]:
    return documents(talos_patches(variant(example, **{"cluster.talosVersion": version}))[name])


def v1alpha1(docs: list[dict]) -> dict:
    """The legacy document of a patch (the one without a `kind`)."""
    legacy = [document for document in docs if "kind" not in document]
    assert len(legacy) == 1
    return legacy[0]


def by_kind(docs: list[dict], kind: str) -> dict:
    found = [document for document in docs if document.get("kind") == kind]
    assert len(found) == 1, f"expected one {kind} document, got {found}"
    assert found[0]["apiVersion"] == "v1alpha1"
    return found[0]


def kinds(docs: list[dict]) -> set[str]:
    return {document["kind"] for document in docs if "kind" in document}


def test_v1_11_uses_legacy_keys_only() -> None:
    all_nodes = v1alpha1(patch("v1.11.5", "all.yaml"))
    assert all_nodes["cluster"]["network"]["cni"] == {"name": "none"}
    assert all_nodes["cluster"]["proxy"] == {"disabled": True}
    assert all_nodes["cluster"]["network"]["podSubnets"] == ["10.244.0.0/16"]
    assert all_nodes["cluster"]["network"]["serviceSubnets"] == ["10.96.0.0/12"]
    assert all_nodes["machine"]["certSANs"] == SANS
    control_plane = v1alpha1(patch("v1.11.5", "controlplane.yaml"))
    assert control_plane["cluster"]["apiServer"]["certSANs"] == SANS
    assert "allowSchedulingOnControlPlanes" not in control_plane["cluster"], "there are workers"

    cp1 = patch("v1.11.5", "nodes/cp-1.yaml")
    assert kinds(cp1) == set()
    machine = v1alpha1(cp1)["machine"]
    assert machine["install"] == {"disk": "/dev/sda"}
    assert machine["network"]["hostname"] == "cp-1"
    assert machine["network"]["interfaces"] == [{"interface": "enp1s0", "dhcp": True, "vip": {"ip": VIP}}]


def test_v1_12_moves_vip_and_hostname_into_documents() -> None:
    cp1 = patch("v1.12.0", "nodes/cp-1.yaml")
    assert by_kind(cp1, "Layer2VIPConfig") == {
        "apiVersion": "v1alpha1", "kind": "Layer2VIPConfig", "name": VIP, "link": "enp1s0",
    }
    assert by_kind(cp1, "HostnameConfig") == {
        "apiVersion": "v1alpha1", "kind": "HostnameConfig", "hostname": "cp-1", "auto": "off",
    }
    machine = v1alpha1(cp1)["machine"]
    assert "network" not in machine, "no legacy hostname or interfaces next to the documents"
    assert machine["install"] == {"disk": "/dev/sda"}
    # CNI and kube-proxy stay legacy keys until 1.14.
    all_nodes = v1alpha1(patch("v1.12.0", "all.yaml"))
    assert all_nodes["cluster"]["network"]["cni"] == {"name": "none"}
    assert all_nodes["cluster"]["proxy"] == {"disabled": True}
    assert kinds(patch("v1.13.0", "all.yaml")) == {"UserVolumeConfig"}, "only the local-path volume"


def test_v1_14_moves_kubernetes_settings_into_documents() -> None:
    all_nodes = patch("v1.14.0", "all.yaml")
    assert "cluster" not in v1alpha1(all_nodes), "legacy cluster keys conflict with the documents"
    assert v1alpha1(all_nodes)["machine"]["certSANs"] == SANS
    network = by_kind(all_nodes, "KubeNetworkConfig")
    assert network["podSubnets"] == ["10.244.0.0/16"] and network["serviceSubnets"] == ["10.96.0.0/12"]

    control_plane = patch("v1.14.0", "controlplane.yaml")
    assert kinds(control_plane) == {"KubeAPIServerConfig", "KubeFlannelCNIConfig", "KubeProxyConfig"}
    assert by_kind(control_plane, "KubeAPIServerConfig")["certExtraSANs"] == SANS
    assert by_kind(control_plane, "KubeFlannelCNIConfig")["$patch"] == "delete"
    assert by_kind(control_plane, "KubeProxyConfig")["enabled"] is False
    assert all("cluster" not in document for document in control_plane)

    worker = patch("v1.14.0", "nodes/worker-1.yaml")
    assert kinds(worker) == {"HostnameConfig", "UnattendedInstallConfig"}, "workers never carry the VIP"
    assert all("kind" in document for document in worker), "no legacy install disk next to the document"
    assert by_kind(worker, "UnattendedInstallConfig")["provisioning"] == {
        "diskSelector": {"match": 'disk.dev_path == "/dev/nvme0n1"'},
    }
    cp1 = patch("v1.14.0", "nodes/cp-1.yaml")
    assert kinds(cp1) == {"HostnameConfig", "Layer2VIPConfig", "UnattendedInstallConfig"}


def test_install_disk_stays_a_legacy_key_before_v1_14() -> None:
    for version in ("v1.11.5", "v1.12.0", "v1.13.0"):
        worker = patch(version, "nodes/worker-1.yaml")
        assert "UnattendedInstallConfig" not in kinds(worker), version
        assert v1alpha1(worker)["machine"]["install"] == {"disk": "/dev/nvme0n1"}, version


@pytest.mark.parametrize("version", ["v1.11.5", "v1.12.0", "v1.14.0"])
def test_workers_get_no_vip(version: str) -> None:
    text = talos_patches(variant(METAL, **{"cluster.talosVersion": version}))["nodes/worker-2.yaml"]
    assert VIP not in text


def test_single_node_schedules_workloads_on_its_control_plane() -> None:
    legacy = v1alpha1(patch("v1.11.5", "controlplane.yaml", DOCKER))
    assert legacy["cluster"]["allowSchedulingOnControlPlanes"] is True
    assert legacy["cluster"]["apiServer"]["certSANs"] == ["127.0.0.1"]
    documents_form = patch("v1.14.0", "controlplane.yaml", DOCKER)
    taints = by_kind(documents_form, "KubeNodeConfig")["taints"]
    assert taints == {"node-role.kubernetes.io/control-plane": ":PreferNoSchedule"}


def test_docker_has_no_per_node_patches_and_no_vip() -> None:
    names = set(talos_patches(variant(DOCKER)))
    assert names == {"all.yaml", "controlplane.yaml", "worker.yaml"}


def test_extra_sans_are_deduplicated_in_order() -> None:
    config = variant(METAL, **{"cluster.extraApiSans": ["127.0.0.1", "k8s.lab.example.com", VIP]})
    assert v1alpha1(documents(talos_patches(config)["all.yaml"]))["machine"]["certSANs"] == SANS


def test_patches_say_which_talos_version_they_are_for() -> None:
    for name, text in talos_patches(variant(METAL, **{"cluster.talosVersion": "v1.12.3"})).items():
        assert text.startswith("# Talos config patch rendered by talos-platform for Talos v1.12\n"), name
