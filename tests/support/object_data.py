"""Objects, events and container logs behind the faulty `cluster_snapshot` rows, for the logs,
describe and YAML views (served by a FakeKube)."""

from __future__ import annotations

from support.cluster_data import NODES as NODE_ROWS
from support.cluster_data import application, node_object
from support.drivers import FakeKube
from talos_platform.engine.drivers.protocols import APPLICATIONS, EVENTS, NODES, PODS, SECRETS

API_POD = ("shop", "api-5d8f6-x2k9q")


def api_pod() -> dict:
    """The crash-looping pod, with a log-shipping sidecar beside it (two containers to choose from)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": API_POD[1],
            "namespace": API_POD[0],
            "uid": "7d0c3c2e-1f7a-4c55-9a57-3b1a2f6c9e10",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"app.kubernetes.io/instance": "shop", "app.kubernetes.io/name": "api"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "api-5d8f6"}],
            "managedFields": [{"manager": "kube-controller-manager", "operation": "Update"}],
        },
        "spec": {
            "nodeName": "worker-2",
            "containers": [
                {
                    "name": "api",
                    "image": "ghcr.io/example/shop-api:2.4.1",
                    "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
                },
                {"name": "log-shipper", "image": "fluent/fluent-bit:4.0.3"},
            ],
        },
        "status": {
            "phase": "Running",
            "hostIP": "192.168.10.22",
            "podIP": "10.244.3.17",
            "qosClass": "Burstable",
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "ContainersNotReady",
                    "message": "containers with unready status: [api]",
                },
            ],
            "containerStatuses": [
                {
                    "name": "api",
                    "ready": False,
                    "restartCount": 14,
                    "state": {
                        "waiting": {
                            "reason": "CrashLoopBackOff",
                            "message": "back-off 5m0s restarting failed container",
                        }
                    },
                    "lastState": {
                        "terminated": {
                            "reason": "OOMKilled",
                            "exitCode": 137,
                            "startedAt": "2026-01-01T00:04:10Z",
                            "finishedAt": "2026-01-01T00:04:41Z",
                        }
                    },
                },
                {
                    "name": "log-shipper",
                    "ready": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": "2026-01-01T00:00:05Z"}},
                },
            ],
        },
    }


API_LOG = [f"2026-01-01T00:04:{10 + i:02d}Z loaded catalogue page {i + 1} of 40 into the cache" for i in range(30)]
SHIPPER_LOG = [
    "[2026/01/01 00:00:05] [ info] [fluent bit] version=4.0.3",
    "[2026/01/01 00:00:05] [ info] [output:forward] started",
]
PREVIOUS_API_LOG = [
    "2026-01-01T00:03:01Z starting shop-api 2.4.1",
    "2026-01-01T00:03:02Z loading the catalogue into memory (limit 256Mi)",
    "2026-01-01T00:03:29Z loaded catalogue page 31 of 40 into the cache",
]


def api_pod_events() -> list[dict]:
    involved = {"kind": "Pod", "name": API_POD[1], "namespace": API_POD[0]}
    return [
        {
            "metadata": {"name": "api.1", "namespace": "shop"},
            "involvedObject": involved,
            "type": "Normal",
            "reason": "Pulled",
            "message": 'Container image "ghcr.io/example/shop-api:2.4.1" already present on machine',
            "count": 15,
            "lastTimestamp": "2026-01-01T00:04:09Z",
        },
        {
            "metadata": {"name": "api.2", "namespace": "shop"},
            "involvedObject": involved,
            "type": "Warning",
            "reason": "BackOff",
            "message": "Back-off restarting failed container api in pod api-5d8f6-x2k9q_shop",
            "count": 61,
            "lastTimestamp": "2026-01-01T00:04:45Z",
        },
    ]


def object_kube() -> FakeKube:
    kube = FakeKube()
    kube.put(PODS, api_pod())
    kube.put(EVENTS, *api_pod_events())
    for name, address, role in NODE_ROWS:
        node = node_object(name, address, role)
        node.update({"apiVersion": "v1", "kind": "Node"})
        kube.put(NODES, node)
    cert_manager = application("cert-manager", -98, "Synced", "Degraded", "Deployment cert-manager-webhook has 0/1")
    cert_manager.update({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application"})
    kube.put(APPLICATIONS, cert_manager)
    kube.put(
        SECRETS,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "api-credentials", "namespace": "shop"},
            "data": {"password": "c3VwZXItc2VjcmV0LXZhbHVl"},
        },
    )
    kube.logs[(*API_POD, "api", False)] = list(API_LOG)
    kube.logs[(*API_POD, "api", True)] = list(PREVIOUS_API_LOG)
    kube.logs[(*API_POD, "log-shipper", False)] = list(SHIPPER_LOG)
    return kube
