"""Our rendered Talos patches against the real talosctl of every supported Talos version.

For each version and example the test does what the install does, offline: `gen secrets`,
`gen config` with the driver's own arguments and the rendered patches, then each node's own
patch on top of its role's config (as `apply-config --config-patch` would), and finally
`validate --mode metal --strict` (`container` for Docker). It then reads the resulting
documents to check that each setting landed where that Talos version reads it, the key that
encrypts Secrets at rest included. No node is
contacted: addresses only appear inside the configs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from talos_platform.engine.config.loading import parse_config
from talos_platform.engine.config.models import Platform, PlatformConfig, Role
from talos_platform.engine.config.schematic import installer_image
from talos_platform.engine.config.validation import errors_only, validate
from talos_platform.engine.config.versions import (
    TalosFeatures,
    kubernetes_supported_by,
    supported_talos_versions,
)
from talos_platform.engine.render.encryption_at_rest import DOCUMENT_KIND, LEGACY_KEYS, machine_config_problem
from talos_platform.engine.render.talos_patches import CONTROL_PLANE_TAINT
from talos_platform.rehearsal.binaries import talosctl_name, talosctl_versions
from talos_platform.rehearsal.talos_check import Talosctl, check_machine_configs

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TALOSCTL_TIMEOUT = 120


def _example(name: str, talos_version: str, edit: Callable[[dict[str, Any]], None] | None = None) -> PlatformConfig:
    """An example config for one Talos minor, with a Kubernetes version that minor supports,
    checked by every rule a user's config is checked by."""
    data = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    # The nodes run the release whose talosctl the test uses.
    data["cluster"]["talosVersion"] = talosctl_name(talos_version).removeprefix("talosctl-")
    data["cluster"]["kubernetesVersion"] = f"{kubernetes_supported_by(data['cluster']['talosVersion'])[-1]}.0"
    if edit:
        edit(data)
    config = parse_config(yaml.safe_dump(data, sort_keys=False), f"{name} for Talos {talos_version}")
    assert errors_only(validate(config)) == []
    return config


def _single_metal_node(data: dict[str, Any]) -> None:
    """One metal control plane and no VIP: workloads share the control plane."""
    data["nodes"] = [node for node in data["nodes"] if node["name"] == "cp-1"]
    del data["cluster"]["vip"]


EXAMPLE_CASES = {
    "metal-3cp-3w": lambda version: _example("metal-3cp-3w", version),
    "metal-single": lambda version: _example("metal-3cp-3w", version, _single_metal_node),
    "docker-single": lambda version: _example("docker-single", version),
}


@dataclass
class NodeConfig:
    """The documents of one machine config: the v1alpha1 one and the others by kind."""

    documents: list[dict[str, Any]]

    @property
    def v1alpha1(self) -> dict[str, Any]:
        return next(doc for doc in self.documents if "kind" not in doc)

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [doc for doc in self.documents if doc.get("kind") == kind]

    def one(self, kind: str) -> dict[str, Any]:
        found = self.kinds(kind)
        assert len(found) == 1, f"expected one {kind} document, found {len(found)}"
        return found[0]

    @classmethod
    def read(cls, path: Path) -> NodeConfig:
        return cls([doc for doc in yaml.safe_load_all(path.read_text()) if doc])


def _build_node_configs(config: PlatformConfig, tool: Talosctl) -> dict[str, NodeConfig]:
    """Every node's final config, made the way the install makes it (the rehearsal's layer-0
    check: the same code `talos-platform rehearse` runs) and validated by talosctl."""
    refused = [f"{check.node}: {check.output}" for check in check_machine_configs(config, tool) if not check.ok]
    assert not refused, "talosctl refused:\n" + "\n".join(refused)
    return {node.name: NodeConfig.read(tool.workdir / "nodes" / f"{node.name}.yaml") for node in config.nodes}


def _assert_vip(config: PlatformConfig, features: TalosFeatures, node, result: NodeConfig) -> None:
    vip = config.cluster.vip
    interfaces = result.v1alpha1["machine"].get("network", {}).get("interfaces", [])
    vip_documents = result.kinds("Layer2VIPConfig")
    if not vip or node.role is not Role.control_plane:
        assert not vip_documents and not [i for i in interfaces if "vip" in i]
        return
    if features.vip_as_document:
        assert [(doc["name"], doc["link"]) for doc in vip_documents] == [(vip, node.link)]
        assert not [i for i in interfaces if "vip" in i], "the VIP must not also be a legacy key"
    else:
        assert not vip_documents
        assert [(i["interface"], i["vip"]["ip"]) for i in interfaces] == [(node.link, vip)]


def _assert_static_address(config: PlatformConfig, features: TalosFeatures, node, result: NodeConfig) -> None:
    """A node with a link gets its planned address statically, the gateway as default route,
    and no DHCP; a node without one is left to Talos' default DHCP."""
    interfaces = result.v1alpha1["machine"].get("network", {}).get("interfaces", [])
    links = result.kinds("LinkConfig")
    if config.cluster.platform is Platform.docker or not node.link:
        assert not interfaces and not links
        return
    address = str(config.node_interface(node))
    gateway = config.cluster.network.gateway
    if features.vip_as_document:
        assert not interfaces, "no legacy interfaces next to the LinkConfig document"
        [link] = links
        assert (link["name"], link["addresses"], link["routes"]) == (
            node.link,
            [{"address": address}],
            [{"gateway": gateway}],
        )
    else:
        assert not links
        [interface] = interfaces
        assert interface["interface"] == node.link and interface["addresses"] == [address]
        assert interface["routes"] == [{"network": "0.0.0.0/0", "gateway": gateway}]
        assert not interface.get("dhcp")


def _assert_install_disk(config: PlatformConfig, features: TalosFeatures, node, result: NodeConfig) -> None:
    install = result.v1alpha1["machine"].get("install")
    image = installer_image(config)
    if features.install_as_document:
        assert not install, "the install disk must not also be a legacy key"
        unattended = result.one("UnattendedInstallConfig")
        assert unattended["provisioning"]["diskSelector"] == {"match": f'disk.dev_path == "{node.install_disk}"'}
        assert unattended["installer"]["image"] == image
    else:
        assert not result.kinds("UnattendedInstallConfig")
        assert install["disk"] == node.install_disk
        assert install["image"] == image


def _assert_hostname(features: TalosFeatures, node, result: NodeConfig) -> None:
    machine_network = result.v1alpha1["machine"].get("network", {})
    if features.hostname_as_document:
        hostname = result.one("HostnameConfig")
        assert hostname["hostname"] == node.name
        assert hostname.get("auto") in (None, "off")
        assert "hostname" not in machine_network
    else:
        assert not result.kinds("HostnameConfig")
        assert machine_network["hostname"] == node.name


def _assert_kubernetes(config: PlatformConfig, features: TalosFeatures, node, result: NodeConfig) -> None:
    """CNI none, kube-proxy off, the API server's SANs and the pod/service subnets."""
    cluster = result.v1alpha1.get("cluster", {})
    sans = [config.cluster.vip] if config.cluster.vip else []
    sans += ["127.0.0.1", *config.cluster.extra_api_sans]
    assert set(sans) <= set(result.v1alpha1["machine"]["certSANs"])
    network = config.cluster.network
    control_plane = node.role is Role.control_plane
    if features.network_as_documents:
        assert not result.kinds("KubeFlannelCNIConfig"), "the default Flannel must be gone"
        assert "network" not in cluster and "proxy" not in cluster
        kube_network = result.one("KubeNetworkConfig")
        assert kube_network["podSubnets"] == [network.pod_cidr]
        assert kube_network["serviceSubnets"] == [network.service_cidr]
        if control_plane:
            assert result.one("KubeProxyConfig")["enabled"] is False
            assert set(sans) <= set(result.one("KubeAPIServerConfig")["certExtraSANs"])
    else:
        assert cluster["network"]["cni"] == {"name": "none"}
        assert cluster["network"]["podSubnets"] == [network.pod_cidr]
        assert cluster["network"]["serviceSubnets"] == [network.service_cidr]
        if control_plane:
            assert cluster["proxy"]["disabled"] is True
            assert set(sans) <= set(cluster["apiServer"]["certSANs"])


def _assert_control_plane_metrics(config: PlatformConfig, features: TalosFeatures, node, result: NodeConfig) -> None:
    """With monitoring on, the controller manager, the scheduler and etcd's metrics listen where
    Prometheus reaches them, in the form that Talos version reads."""
    if node.role is not Role.control_plane or not config.components.monitoring.enabled:
        return
    cluster = result.v1alpha1["cluster"]
    assert cluster["etcd"]["extraArgs"]["listen-metrics-urls"] == "http://0.0.0.0:2381"
    if features.network_as_documents:
        for kind in ("KubeControllerManagerConfig", "KubeSchedulerConfig"):
            assert result.one(kind)["extraArgs"]["bind-address"] == "0.0.0.0", kind
    else:
        assert cluster["controllerManager"]["extraArgs"]["bind-address"] == "0.0.0.0"
        assert cluster["scheduler"]["extraArgs"]["bind-address"] == "0.0.0.0"


def _assert_scheduling(config: PlatformConfig, features: TalosFeatures, node, result: NodeConfig) -> None:
    """Without workers the control planes must take workloads; with workers they must not."""
    if node.role is not Role.control_plane:
        return
    shared = not config.workers
    if features.network_as_documents:
        taint = result.one("KubeNodeConfig").get("taints", {}).get(CONTROL_PLANE_TAINT, "")
        assert ("NoSchedule" in taint and "PreferNoSchedule" not in taint) is not shared
    else:
        assert result.v1alpha1["cluster"].get("allowSchedulingOnControlPlanes", False) is shared


def _assert_secrets_encrypted_at_rest(features: TalosFeatures, node, result: NodeConfig) -> None:
    """A control plane carries the bundle's key that makes the API server encrypt Secrets, where
    that version's `gen config` writes it; a worker carries none."""
    cluster = result.v1alpha1.get("cluster", {})
    documents = result.kinds(DOCUMENT_KIND)
    if node.role is not Role.control_plane:
        assert not documents and not [key for key in LEGACY_KEYS if key in cluster]
        return
    text = yaml.safe_dump_all(result.documents)
    assert machine_config_problem(text, features) == ""
    if features.encryption_as_document:
        [document] = documents
        [entry] = document["config"]["resources"]
        assert entry["resources"] == ["secrets"] and next(iter(entry["providers"][0])) == "secretbox"
    else:
        assert not documents and cluster["secretboxEncryptionSecret"]
    # What the check would say of the same config without its key.
    stripped = [
        {**doc, "cluster": {k: v for k, v in doc.get("cluster", {}).items() if k not in LEGACY_KEYS}}
        if "kind" not in doc
        else doc
        for doc in result.documents
        if doc.get("kind") != DOCUMENT_KIND
    ]
    assert "no key" in machine_config_problem(yaml.safe_dump_all(stripped), features)


def test_a_talosctl_is_pinned_for_each_supported_talos_minor():
    pinned = [TalosFeatures.for_version(version).contract for version in talosctl_versions()]
    assert pinned == supported_talos_versions(), "TALOSCTL_VERSIONS in versions.env must follow SUPPORTED_TALOS"


@pytest.mark.parametrize("talos_version", supported_talos_versions())
@pytest.mark.parametrize("example", sorted(EXAMPLE_CASES))
def test_rendered_patches_make_valid_configs(example: str, talos_version: str, harness_bin, tmp_path: Path):
    config = EXAMPLE_CASES[example](talos_version)
    features = TalosFeatures.for_version(config.cluster.talos_version)
    tool = Talosctl(harness_bin("talosctl", version=talos_version), tmp_path)
    assert talos_version in tool.run("version", "--client").stdout

    results = _build_node_configs(config, tool)

    assert sorted(results) == sorted(node.name for node in config.nodes)
    for node in config.nodes:
        result = results[node.name]
        assert result.v1alpha1["machine"]["type"] == ("controlplane" if node.role is Role.control_plane else "worker")
        if config.cluster.platform is Platform.metal:
            _assert_install_disk(config, features, node, result)
            _assert_hostname(features, node, result)
            _assert_vip(config, features, node, result)
        _assert_static_address(config, features, node, result)
        _assert_kubernetes(config, features, node, result)
        _assert_scheduling(config, features, node, result)
        _assert_control_plane_metrics(config, features, node, result)
        _assert_secrets_encrypted_at_rest(features, node, result)
