"""`platform/local-path-storage/`: the default storage of the platform, and the storage values
of the charts that keep data.

Talos ships no storage provisioner and no StorageClass. By default the render deploys
rancher/local-path-provisioner itself (pinned image, like cloudflared): it makes a directory per
volume under `/var/mnt/local-path-provisioner` on the node that runs the pod, through a short-lived
helper pod with a hostPath mount (so its namespace is `privileged`). The Talos patches make that
folder available to the kubelet (see talos_patches.py). Its class `local-path` binds a volume
only once a pod uses it (WaitForFirstConsumer: the volume lives on that pod's node) and is the
cluster default. With `storage.storageClass` set the user's class is used and nothing is installed.
"""

from __future__ import annotations

import json
from typing import Any

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.platform_checks import LOCAL_PATH_CLASS, storage_class
from talos_platform.engine.render.applications import kustomization
from talos_platform.engine.render.yaml_output import dump_document

LOCAL_PATH_NAMESPACE = "local-path-storage"
LOCAL_PATH_PROVISIONER = "rancher.io/local-path"
LOCAL_PATH_IMAGE = "docker.io/rancher/local-path-provisioner"
LOCAL_PATH_HELPER_IMAGE = "docker.io/library/busybox:1.37.0"
LOCAL_PATH_DIRECTORY = "/var/mnt/local-path-provisioner"
LOCAL_PATH_VOLUME = "local-path-provisioner"
"""The Talos user volume (1.12+) whose mount is `LOCAL_PATH_DIRECTORY`."""

_NAME = "local-path-provisioner"
_SERVICE_ACCOUNT = "local-path-provisioner-service-account"
_CONFIG_MAP = "local-path-config"

PROMETHEUS_VOLUME_SIZE = "20Gi"
ALERTMANAGER_VOLUME_SIZE = "2Gi"
GRAFANA_VOLUME_SIZE = "2Gi"


def local_path_manifests(config: PlatformConfig) -> dict[str, Any]:
    """Files of `platform/local-path-storage/` by name."""
    files: dict[str, Any] = {
        "serviceaccount.yaml": {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": _SERVICE_ACCOUNT, "namespace": LOCAL_PATH_NAMESPACE},
        },
        **_rbac(),
        "configmap.yaml": _config_map(),
        "deployment.yaml": _deployment(config.storage.local_path.version),
        "storageclass.yaml": _storage_class(),
    }
    files["kustomization.yaml"] = kustomization(list(files))
    return files


def _rbac() -> dict[str, Any]:
    """The provisioner watches claims and writes volumes cluster-wide, and runs its helper pods
    in its own namespace only."""
    read = ["get", "list", "watch"]
    write = ["create", "patch", "update", "delete"]
    subject = [{"kind": "ServiceAccount", "name": _SERVICE_ACCOUNT, "namespace": LOCAL_PATH_NAMESPACE}]
    items = {
        "clusterrole.yaml": {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": _NAME},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["nodes", "persistentvolumeclaims", "configmaps", "pods", "pods/log"],
                    "verbs": read,
                },
                {"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": read + write},
                {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
                {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": read},
            ],
        },
        "clusterrolebinding.yaml": {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": _NAME},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": _NAME},
            "subjects": subject,
        },
        "role.yaml": {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": _NAME, "namespace": LOCAL_PATH_NAMESPACE},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": read + write}],
        },
        "rolebinding.yaml": {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": _NAME, "namespace": LOCAL_PATH_NAMESPACE},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": _NAME},
            "subjects": subject,
        },
    }
    return items


def _config_map() -> dict[str, Any]:
    # Every node keeps its volumes in the folder the Talos patch provides (Talos' root is read-only).
    paths = {"nodePathMap": [{"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": [LOCAL_PATH_DIRECTORY]}]}
    helper_pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "helper-pod"},
        "spec": {
            "priorityClassName": "system-node-critical",
            "tolerations": [{"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"}],
            "containers": [{"name": "helper-pod", "image": LOCAL_PATH_HELPER_IMAGE, "imagePullPolicy": "IfNotPresent"}],
        },
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": _CONFIG_MAP, "namespace": LOCAL_PATH_NAMESPACE},
        "data": {
            "config.json": json.dumps(paths, indent=2, sort_keys=True) + "\n",
            # The helper pod runs these with VOL_DIR set to the volume's folder.
            "setup": '#!/bin/sh\nset -eu\nmkdir -m 0777 -p "$VOL_DIR"\n',
            "teardown": '#!/bin/sh\nset -eu\nrm -rf "$VOL_DIR"\n',
            "helperPod.yaml": dump_document(helper_pod),
        },
    }


def _deployment(version: str) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": _NAME}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": _NAME, "namespace": LOCAL_PATH_NAMESPACE, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": _SERVICE_ACCOUNT,
                    "containers": [
                        {
                            "name": _NAME,
                            "image": f"{LOCAL_PATH_IMAGE}:{version}",
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["local-path-provisioner", "start", "--config", "/etc/config/config.json"],
                            "env": [
                                {
                                    "name": "POD_NAMESPACE",
                                    "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
                                },
                                {"name": "CONFIG_MOUNT_PATH", "value": "/etc/config/"},
                            ],
                            "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/config/"}],
                            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]},
                                "seccompProfile": {"type": "RuntimeDefault"},
                            },
                        }
                    ],
                    "volumes": [{"name": "config-volume", "configMap": {"name": _CONFIG_MAP}}],
                },
            },
        },
    }


def _storage_class() -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": LOCAL_PATH_CLASS,
            # The default class: claims that name no class (your own apps) bind here too.
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": LOCAL_PATH_PROVISIONER,
        # The volume is made on the node the pod is scheduled to, so binding waits for the pod.
        "volumeBindingMode": "WaitForFirstConsumer",
        "reclaimPolicy": "Delete",
    }


# --- the charts' volumes ---------------------------------------------------------------------


def vault_storage_values(config: PlatformConfig) -> dict[str, Any]:
    """Vault's file storage on a volume of the platform's class (set explicitly: a cluster's
    default class may be another one, or none)."""
    data_storage: dict[str, Any] = {"enabled": True}
    if storage_class(config):
        data_storage["storageClass"] = storage_class(config)
    return {"server": {"dataStorage": data_storage}}


def monitoring_storage_values(config: PlatformConfig) -> dict[str, Any]:
    """Prometheus, Alertmanager and Grafana keep their data on volumes of the platform's class."""
    name = storage_class(config)

    def claim(size: str) -> dict[str, Any]:
        spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
        if name:
            spec["storageClassName"] = name
        return {"spec": spec}

    return {
        "prometheus": {"prometheusSpec": {"storageSpec": {"volumeClaimTemplate": claim(PROMETHEUS_VOLUME_SIZE)}}},
        "alertmanager": {"alertmanagerSpec": {"storage": {"volumeClaimTemplate": claim(ALERTMANAGER_VOLUME_SIZE)}}},
        "grafana": {
            "persistence": {
                "enabled": True,
                "accessModes": ["ReadWriteOnce"],
                "size": GRAFANA_VOLUME_SIZE,
                **({"storageClassName": name} if name else {}),
            }
        },
    }


def merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`base` with `extra` merged in, dictionaries key by key (neither is changed)."""
    result = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result
