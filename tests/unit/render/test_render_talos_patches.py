"""Talos patches per version: legacy keys up to 1.11/1.13, documents from 1.12 (VIP, hostname,
static link) and 1.14 (Kubernetes network, kube-proxy, API server SANs, Flannel removal, install
disk and image)."""

from __future__ import annotations

import pytest
from render_helpers import config_from, documents, example_data, variant

from talos_platform.engine.render import talos_patches

METAL = "metal-3cp-3w"
DOCKER = "docker-single"
VIP = "192.168.10.10"
GATEWAY = "192.168.10.1"
SANS = [VIP, "127.0.0.1", "k8s.lab.example.com"]
# The example's schematic (siderolabs/intel-ucode) as the Image Factory names it.
EXAMPLE_SCHEMATIC = "2d61dd07b20062062ea671b4d01873506103b67c0f7a4c3fb6cf4ee85585dcb8"


def image(version: str) -> str:
    return f"factory.talos.dev/metal-installer/{EXAMPLE_SCHEMATIC}:{version}"


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
    assert machine["install"] == {"disk": "/dev/sda", "image": image("v1.11.5")}
    assert machine["network"]["hostname"] == "cp-1"
    # The planned address, set statically: no DHCP on the VIP's link.
    assert machine["network"]["interfaces"] == [
        {
            "interface": "enp1s0",
            "addresses": ["192.168.10.11/24"],
            "routes": [{"network": "0.0.0.0/0", "gateway": GATEWAY}],
            "vip": {"ip": VIP},
        }
    ]
    worker = v1alpha1(patch("v1.11.5", "nodes/worker-1.yaml"))["machine"]["network"]
    assert worker["interfaces"] == [
        {
            "interface": "enp2s0",
            "addresses": ["192.168.10.21/24"],
            "routes": [{"network": "0.0.0.0/0", "gateway": GATEWAY}],
        }
    ]


def test_v1_12_moves_vip_and_hostname_into_documents() -> None:
    cp1 = patch("v1.12.0", "nodes/cp-1.yaml")
    assert by_kind(cp1, "Layer2VIPConfig") == {
        "apiVersion": "v1alpha1",
        "kind": "Layer2VIPConfig",
        "name": VIP,
        "link": "enp1s0",
    }
    assert by_kind(cp1, "HostnameConfig") == {
        "apiVersion": "v1alpha1",
        "kind": "HostnameConfig",
        "hostname": "cp-1",
        "auto": "off",
    }
    assert by_kind(cp1, "LinkConfig") == {
        "apiVersion": "v1alpha1",
        "kind": "LinkConfig",
        "name": "enp1s0",
        "addresses": [{"address": "192.168.10.11/24"}],
        "routes": [{"gateway": GATEWAY}],
    }
    machine = v1alpha1(cp1)["machine"]
    assert "network" not in machine, "no legacy hostname or interfaces next to the documents"
    assert machine["install"] == {"disk": "/dev/sda", "image": image("v1.12.0")}
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
    assert kinds(control_plane) == {
        "KubeAPIServerConfig",
        "KubeFlannelCNIConfig",
        "KubeProxyConfig",
        "KubeControllerManagerConfig",
        "KubeSchedulerConfig",
    }
    assert by_kind(control_plane, "KubeAPIServerConfig")["certExtraSANs"] == SANS
    assert by_kind(control_plane, "KubeFlannelCNIConfig")["$patch"] == "delete"
    assert by_kind(control_plane, "KubeProxyConfig")["enabled"] is False
    # Only etcd, which has no document, is left in the v1alpha1 one.
    assert v1alpha1(control_plane) == {
        "cluster": {"etcd": {"extraArgs": {"listen-metrics-urls": "http://0.0.0.0:2381"}}}
    }

    worker = patch("v1.14.0", "nodes/worker-1.yaml")
    assert kinds(worker) == {"HostnameConfig", "LinkConfig", "UnattendedInstallConfig"}, "workers never carry the VIP"
    assert all("kind" in document for document in worker), "no legacy install disk next to the document"
    install = by_kind(worker, "UnattendedInstallConfig")
    assert install["provisioning"] == {"diskSelector": {"match": 'disk.dev_path == "/dev/nvme0n1"'}}
    assert install["installer"] == {"image": image("v1.14.0")}
    cp1 = patch("v1.14.0", "nodes/cp-1.yaml")
    assert kinds(cp1) == {"HostnameConfig", "LinkConfig", "Layer2VIPConfig", "UnattendedInstallConfig"}


def test_install_disk_stays_a_legacy_key_before_v1_14() -> None:
    for version in ("v1.11.5", "v1.12.0", "v1.13.0"):
        worker = patch(version, "nodes/worker-1.yaml")
        assert "UnattendedInstallConfig" not in kinds(worker), version
        assert v1alpha1(worker)["machine"]["install"] == {"disk": "/dev/nvme0n1", "image": image(version)}, version


@pytest.mark.parametrize("version", ["v1.10.6", "v1.11.5", "v1.12.1", "v1.13.0", "v1.14.1"])
def test_no_node_asks_for_dhcp(version: str) -> None:
    for name, text in talos_patches(variant(METAL, **{"cluster.talosVersion": version})).items():
        assert "dhcp" not in text.lower(), name


def _edited(edit, **changes) -> dict[str, str]:
    data = example_data(METAL)
    data["cluster"]["talosVersion"] = "v1.11.5"  # legacy interfaces unless a change says otherwise
    edit(data)
    for dotted, value in changes.items():
        section, key = dotted.split(".", 1)
        data["cluster"][key] = value
    return talos_patches(config_from(data))


def test_a_node_without_link_keeps_dhcp_and_gets_no_interface() -> None:
    def unlink(data):
        del data["nodes"][3]["link"]

    legacy = v1alpha1(documents(_edited(unlink)["nodes/worker-1.yaml"]))["machine"]["network"]
    assert legacy == {"hostname": "worker-1"}
    modern = documents(_edited(unlink, **{"cluster.talosVersion": "v1.12.1"})["nodes/worker-1.yaml"])
    assert "LinkConfig" not in kinds(modern)


def test_an_address_without_prefix_takes_the_node_subnet() -> None:
    def no_prefix(data):
        data["cluster"]["network"]["nodeSubnet"] = "192.168.10.0/24"
        data["nodes"][0]["address"] = "192.168.10.11"

    cp1 = documents(_edited(no_prefix)["nodes/cp-1.yaml"])
    assert v1alpha1(cp1)["machine"]["network"]["interfaces"][0]["addresses"] == ["192.168.10.11/24"]


def test_every_version_installs_the_schematic_image() -> None:
    config = variant(
        METAL,
        **{
            "cluster.talosVersion": "v1.13.0",
            "cluster.schematic.systemExtensions": [],
            "cluster.schematic.extraKernelArgs": [],
        },
    )
    machine = v1alpha1(documents(talos_patches(config)["nodes/cp-2.yaml"]))["machine"]
    assert machine["install"]["image"] == (
        "factory.talos.dev/metal-installer/376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba:v1.13.0"
    )


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


BIND_ALL = {"bind-address": "0.0.0.0"}
ETCD_METRICS = {"listen-metrics-urls": "http://0.0.0.0:2381"}


@pytest.mark.parametrize("version", ["v1.10.6", "v1.11.5", "v1.12.1", "v1.13.0"])
def test_monitoring_reaches_the_control_plane_through_legacy_keys(version: str) -> None:
    cluster = v1alpha1(patch(version, "controlplane.yaml"))["cluster"]
    assert cluster["controllerManager"]["extraArgs"] == BIND_ALL
    assert cluster["scheduler"]["extraArgs"] == BIND_ALL
    assert cluster["etcd"]["extraArgs"] == ETCD_METRICS
    assert "etcd" not in str(talos_patches(variant(METAL, **{"cluster.talosVersion": version}))["worker.yaml"])


def test_monitoring_reaches_the_control_plane_through_v1_14_documents() -> None:
    control_plane = patch("v1.14.1", "controlplane.yaml")
    assert by_kind(control_plane, "KubeControllerManagerConfig")["extraArgs"] == BIND_ALL
    assert by_kind(control_plane, "KubeSchedulerConfig")["extraArgs"] == BIND_ALL
    assert v1alpha1(control_plane)["cluster"]["etcd"]["extraArgs"] == ETCD_METRICS


@pytest.mark.parametrize("version", ["v1.11.5", "v1.14.1"])
def test_without_monitoring_the_control_plane_keeps_talos_defaults(version: str) -> None:
    config = variant(METAL, **{"cluster.talosVersion": version, "components.monitoring.enabled": False})
    text = talos_patches(config)["controlplane.yaml"]
    assert "bind-address" not in text and "listen-metrics-urls" not in text
