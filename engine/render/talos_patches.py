"""Talos machine-config patches (`talos/`), in the shape the nodes' Talos version expects.

Up to 1.11 everything is a key of the v1alpha1 document. 1.12 moved the VIP and the hostname
into their own documents (`Layer2VIPConfig`, `HostnameConfig`); 1.14 moved the Kubernetes
settings into documents too (`KubeNetworkConfig`, `KubeProxyConfig`, `KubeAPIServerConfig`,
`KubeNodeConfig`, and the default Flannel CNI became a `KubeFlannelCNIConfig` document that we
delete), and the install disk into `UnattendedInstallConfig`. `talosctl gen config --talos-version` emits those documents, and Talos refuses a config
that sets the same thing both as a legacy key and as a document, so each version gets exactly one
form. Patches carry no secrets: the PKI lives in the secrets bundle in the state directory.
"""

from __future__ import annotations

import json
from typing import Any

from talos_platform.engine.config.models import Node, Platform, PlatformConfig
from talos_platform.engine.config.platform_checks import installs_local_path
from talos_platform.engine.config.versions import TalosFeatures
from talos_platform.engine.errors import UserError
from talos_platform.engine.render.storage import LOCAL_PATH_DIRECTORY, LOCAL_PATH_VOLUME
from talos_platform.engine.render.yaml_output import comment_header, dump_documents

CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane"


def talos_patches(config: PlatformConfig) -> dict[str, str]:
    """Patch files by name: `all.yaml`, `controlplane.yaml`, `worker.yaml` and, on metal,
    `nodes/<name>.yaml` (hostname, install disk, the VIP on a control plane's link)."""
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
    machine = {"machine": {"certSANs": certificate_sans(config)}}
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
    if features.network_as_documents:
        documents = [
            _document("KubeAPIServerConfig", certExtraSANs=certificate_sans(config)),
            # The generated config deploys Flannel through this document; Cilium replaces it.
            _document("KubeFlannelCNIConfig", **{"$patch": "delete"}),
            _document("KubeProxyConfig", enabled=False),
        ]
        if schedule_on_control_planes:
            # Without workers, workloads must run on the control planes: soften the generated
            # NoSchedule taint (a merge patch cannot remove a map key before it exists).
            documents.append(
                _document("KubeNodeConfig", taints={CONTROL_PLANE_TAINT: ":PreferNoSchedule"})
            )
        return documents
    cluster: dict[str, Any] = {"apiServer": {"certSANs": certificate_sans(config)}}
    if schedule_on_control_planes:
        cluster["allowSchedulingOnControlPlanes"] = True
    return [{"cluster": cluster}]


def _workers() -> list[dict[str, Any]]:
    return [{"machine": {"type": "worker"}}]


def _one_node(config: PlatformConfig, features: TalosFeatures, node: Node) -> list[dict[str, Any]]:
    machine: dict[str, Any] = {}
    documents: list[dict[str, Any]] = [{"machine": machine}]
    if features.install_as_document:
        documents.append(_install_document(node.install_disk))
    else:
        machine["install"] = {"disk": node.install_disk}
    if features.hostname_as_document:
        documents.append(_document("HostnameConfig", auto="off", hostname=node.name))
    else:
        machine["network"] = {"hostname": node.name}

    vip = config.cluster.vip
    if vip and node in config.control_planes:
        if not node.link:
            raise UserError(
                f"control plane {node.name} has no network link for the VIP {vip}",
                where=f"nodes[{config.nodes.index(node)}].link",
                hint="set `link` to the interface carrying the node IP, e.g. eth0 or enp1s0",
            )
        if features.vip_as_document:
            documents.append(_document("Layer2VIPConfig", name=vip, link=node.link))
        else:
            # dhcp stays on: naming an interface in the config would otherwise stop DHCP on it.
            machine.setdefault("network", {})["interfaces"] = [
                {"interface": node.link, "dhcp": True, "vip": {"ip": vip}}
            ]
    # A node without legacy keys left gets no empty v1alpha1 document.
    return [document for document in documents if document != {"machine": {}}]


def _install_document(disk: str) -> dict[str, Any]:
    """Talos 1.14 picks the install disk by a selector expression over the disk's properties;
    `gen config` writes one for its default disk, which this patch replaces."""
    # A JSON string is a valid CEL string literal (double quotes, backslash escapes).
    return _document("UnattendedInstallConfig", provisioning={"diskSelector": {"match": f"disk.dev_path == {json.dumps(disk)}"}})
