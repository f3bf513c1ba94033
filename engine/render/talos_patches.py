"""Talos machine-config patches (`talos/`), in the shape the nodes' Talos version expects.

Up to 1.11 everything is a key of the v1alpha1 document. 1.12 moved the VIP and the hostname
into their own documents (`Layer2VIPConfig`, `HostnameConfig`); 1.14 moved the Kubernetes
settings into documents too (`KubeNetworkConfig`, `KubeProxyConfig`, `KubeAPIServerConfig`,
`KubeNodeConfig`, and the default Flannel CNI became a `KubeFlannelCNIConfig` document that we
delete), and the install disk into `UnattendedInstallConfig`. `talosctl gen config
--talos-version` emits those documents, and Talos refuses a config that sets the same thing
both as a legacy key and as a document, so each version gets exactly one form. Patches carry no
secrets: the PKI lives in the secrets bundle in the state directory.
"""

from __future__ import annotations

import json
from typing import Any

from talos_platform.engine.config.models import Node, Platform, PlatformConfig
from talos_platform.engine.config.platform_checks import installs_local_path
from talos_platform.engine.config.schematic import installer_image, schematic_yaml
from talos_platform.engine.config.versions import TalosFeatures
from talos_platform.engine.errors import UserError
from talos_platform.engine.render.storage import LOCAL_PATH_DIRECTORY, LOCAL_PATH_VOLUME
from talos_platform.engine.render.yaml_output import comment_header, dump_documents

CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane"
SCHEMATIC_FILE = "schematic.yaml"
# Talos binds kube-controller-manager's and kube-scheduler's secure ports to 127.0.0.1 and etcd's
# metrics to nothing; with monitoring on, they listen on the node IP so Prometheus can scrape them
# (the secure ports still need an authorised token; etcd's metrics are read-only).
METRICS_BIND_ADDRESS = "0.0.0.0"
ETCD_METRICS_PORT = 2381


def talos_patches(config: PlatformConfig) -> dict[str, str]:
    """Patch files by name: `all.yaml`, `controlplane.yaml`, `worker.yaml` and, on metal,
    `nodes/<name>.yaml` (hostname, install disk and image, the static address on the node's
    link and the VIP on a control plane's)."""
    features = TalosFeatures.for_version(config.cluster.talos_version)
    header = comment_header(
        f"Talos config patch rendered by talos-platform for Talos {features.contract}",
        f"(use with talosctl gen config --talos-version {features.contract}). Contains no secrets.",
    )
    patches = {
        "all.yaml": _all_nodes(config, features),
        "controlplane.yaml": _control_planes(config, features),
        "worker.yaml": _workers(),
    }
    if config.cluster.platform is Platform.metal:
        for node in config.nodes:
            patches[f"nodes/{node.name}.yaml"] = _one_node(config, features, node)
    return {name: dump_documents(documents, header) for name, documents in patches.items()}


def image_schematic(config: PlatformConfig) -> dict[str, str]:
    """`schematic.yaml` on metal: the Image Factory schematic the installer image is built from,
    byte for byte what its ID hashes. POSTing it to the factory (or building boot media from it)
    gives the very image the nodes install."""
    if config.cluster.platform is not Platform.metal:
        return {}
    return {SCHEMATIC_FILE: schematic_yaml(config.cluster.schematic)}


def certificate_sans(config: PlatformConfig) -> list[str]:
    """VIP, loopback (KubePrism and local talosctl) and the user's extra names, without repeats."""
    names = [config.cluster.vip] if config.cluster.vip else []
    names += ["127.0.0.1", *config.cluster.extra_api_sans]
    return list(dict.fromkeys(names))


def _document(kind: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1alpha1", "kind": kind, **fields}


def _all_nodes(config: PlatformConfig, features: TalosFeatures) -> list[dict[str, Any]]:
    documents = _cluster_network(config, features)
    if installs_local_path(config):
        documents += _local_path_storage(features, documents[0]["machine"])
    return documents


def _local_path_storage(features: TalosFeatures, machine: dict[str, Any]) -> list[dict[str, Any]]:
    """The folder the local-path provisioner keeps volumes in (Talos' root is read-only): a
    directory user volume from 1.12, before that a folder on /var the kubelet gets bind-mounted
    (Talos creates the source). Same path in both, so an upgrade to 1.12 keeps the volumes."""
    if features.directory_user_volumes:
        return [_document("UserVolumeConfig", name=LOCAL_PATH_VOLUME, volumeType="directory")]
    machine["kubelet"] = {
        "extraMounts": [
            {
                "destination": LOCAL_PATH_DIRECTORY,
                "type": "bind",
                "source": LOCAL_PATH_DIRECTORY,
                "options": ["bind", "rshared", "rw"],
            }
        ]
    }
    return []


def _cluster_network(config: PlatformConfig, features: TalosFeatures) -> list[dict[str, Any]]:
    network = config.cluster.network
    machine: dict[str, Any] = {"machine": {"certSANs": certificate_sans(config)}}
    if features.network_as_documents:
        return [
            machine,
            _document(
                "KubeNetworkConfig",
                podSubnets=[network.pod_cidr],
                serviceSubnets=[network.service_cidr],
            ),
        ]
    machine["cluster"] = {
        # Cilium is the CNI and replaces kube-proxy; it is installed in Layer 1.
        "network": {
            "cni": {"name": "none"},
            "podSubnets": [network.pod_cidr],
            "serviceSubnets": [network.service_cidr],
        },
        "proxy": {"disabled": True},
    }
    return [machine]


def _control_planes(config: PlatformConfig, features: TalosFeatures) -> list[dict[str, Any]]:
    schedule_on_control_planes = not config.workers
    scraped = config.components.monitoring.enabled
    if features.network_as_documents:
        documents = [
            _document("KubeAPIServerConfig", certExtraSANs=certificate_sans(config)),
            # The generated config deploys Flannel through this document; Cilium replaces it.
            _document("KubeFlannelCNIConfig", **{"$patch": "delete"}),
            _document("KubeProxyConfig", enabled=False),
        ]
        if scraped:
            documents += [
                _document("KubeControllerManagerConfig", extraArgs={"bind-address": METRICS_BIND_ADDRESS}),
                _document("KubeSchedulerConfig", extraArgs={"bind-address": METRICS_BIND_ADDRESS}),
                # etcd has no document of its own in 1.14: it stays a v1alpha1 key.
                {"cluster": {"etcd": _etcd_metrics()}},
            ]
        if schedule_on_control_planes:
            # Without workers, workloads must run on the control planes: soften the generated
            # NoSchedule taint (a merge patch cannot remove a map key before it exists).
            documents.append(_document("KubeNodeConfig", taints={CONTROL_PLANE_TAINT: ":PreferNoSchedule"}))
        return documents
    cluster: dict[str, Any] = {"apiServer": {"certSANs": certificate_sans(config)}}
    if scraped:
        cluster["controllerManager"] = {"extraArgs": {"bind-address": METRICS_BIND_ADDRESS}}
        cluster["scheduler"] = {"extraArgs": {"bind-address": METRICS_BIND_ADDRESS}}
        cluster["etcd"] = _etcd_metrics()
    if schedule_on_control_planes:
        cluster["allowSchedulingOnControlPlanes"] = True
    return [{"cluster": cluster}]


def _etcd_metrics() -> dict[str, Any]:
    """etcd is a Talos host service, not a pod: its plain-HTTP metrics listener (read-only, no
    data) goes on every address so Prometheus reaches it at the node IP."""
    return {"extraArgs": {"listen-metrics-urls": f"http://{METRICS_BIND_ADDRESS}:{ETCD_METRICS_PORT}"}}


def _workers() -> list[dict[str, Any]]:
    return [{"machine": {"type": "worker"}}]


def _one_node(config: PlatformConfig, features: TalosFeatures, node: Node) -> list[dict[str, Any]]:
    machine: dict[str, Any] = {}
    documents: list[dict[str, Any]] = [{"machine": machine}]
    image = installer_image(config)
    if features.install_as_document:
        documents.append(_install_document(node.install_disk, image))
    else:
        machine["install"] = {"disk": node.install_disk, "image": image}
    if features.hostname_as_document:
        documents.append(_document("HostnameConfig", auto="off", hostname=node.name))
    else:
        machine["network"] = {"hostname": node.name}

    vip = config.cluster.vip if node in config.control_planes else None
    if vip and not node.link:
        raise UserError(
            f"control plane {node.name} has no network link for the VIP {vip}",
            where=f"nodes[{config.nodes.index(node)}].link",
            hint="set `link` to the interface carrying the node IP, e.g. eth0 or enp1s0",
        )
    if node.link:
        documents += _static_link(config, features, node, machine, vip)
    # A node without legacy keys left gets no empty v1alpha1 document.
    return [document for document in documents if document != {"machine": {}}]


def _static_link(
    config: PlatformConfig, features: TalosFeatures, node: Node, machine: dict[str, Any], vip: str | None
) -> list[dict[str, Any]]:
    """The node's address set statically on its link, with the default route and, on a control
    plane, the VIP. No DHCP: a lease could hand the node another address than the one the
    cluster (and the VIP's subnet) was planned with."""
    address = str(config.node_interface(node))
    gateway = config.cluster.network.gateway
    if not gateway:
        raise UserError(
            f"node {node.name} gets a static address on {node.link} but no default gateway is set",
            where="cluster.network.gateway",
            hint="set it to your router's IP in the node subnet",
        )
    if features.vip_as_document:
        documents = [
            _document("LinkConfig", name=node.link, addresses=[{"address": address}], routes=[{"gateway": gateway}])
        ]
        if vip:
            documents.append(_document("Layer2VIPConfig", name=vip, link=node.link))
        return documents
    interface: dict[str, Any] = {
        "interface": node.link,
        "addresses": [address],
        "routes": [{"network": "0.0.0.0/0", "gateway": gateway}],
    }
    if vip:
        interface["vip"] = {"ip": vip}
    machine.setdefault("network", {})["interfaces"] = [interface]
    return []


def _install_document(disk: str, image: str) -> dict[str, Any]:
    """Talos 1.14 picks the install disk by a selector expression over the disk's properties;
    `gen config` writes one for its default disk, which this patch replaces."""
    # A JSON string is a valid CEL string literal (double quotes, backslash escapes).
    return _document(
        "UnattendedInstallConfig",
        installer={"image": image},
        provisioning={"diskSelector": {"match": f"disk.dev_path == {json.dumps(disk)}"}},
    )
