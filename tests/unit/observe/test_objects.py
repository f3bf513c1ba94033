"""What the YAML and describe views show of an object: never a Secret's values, no managedFields,
the describe fields by kind with the events; a pod's containers for the log chooser."""

from __future__ import annotations

import yaml
from support.object_data import api_pod, api_pod_events

from talos_platform.engine.observe.objects import (
    REDACTED,
    containers_of,
    describe_lines,
    object_yaml,
    shown_object,
)

SECRET_VALUE = "c3VwZXItc2VjcmV0LXZhbHVl"
LAST_APPLIED = '{"apiVersion":"v1","data":{"password":"' + SECRET_VALUE + '"},"kind":"Secret"}'


def secret() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": "api-credentials",
            "namespace": "shop",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": LAST_APPLIED, "team": "shop"},
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:data": {"f:password": {}}}}],
        },
        "data": {"password": SECRET_VALUE, "username": "YWRtaW4="},
        "stringData": {"token": "plain-token-value"},
    }


def test_a_secret_keeps_its_keys_and_never_its_values():
    text = object_yaml(secret())
    assert SECRET_VALUE not in text and "YWRtaW4=" not in text and "plain-token-value" not in text
    shown = yaml.safe_load(text)
    assert shown["data"] == {"password": REDACTED, "username": REDACTED}
    assert shown["stringData"] == {"token": REDACTED}
    assert shown["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/last-applied-configuration": REDACTED,
        "team": "shop",
    }
    assert "managedFields" not in shown["metadata"]
    described = "\n".join(describe_lines(secret()))
    assert SECRET_VALUE not in described and "plain-token-value" not in described
    assert "  password" in described and "  token" in described and "  username" in described


def test_the_object_read_is_left_as_it_was():
    original = secret()
    shown_object(original)
    assert original == secret()


def test_other_objects_lose_only_their_managed_fields():
    pod = api_pod()
    shown = yaml.safe_load(object_yaml(pod))
    del pod["metadata"]["managedFields"]
    assert shown == pod


def test_a_pod_is_described_with_its_containers_conditions_and_events():
    lines = describe_lines(api_pod(), api_pod_events())
    text = "\n".join(lines)
    assert "Node:          worker-2/192.168.10.22" in lines
    assert "Controlled By: ReplicaSet/api-5d8f6" in lines
    assert "    State:          waiting: CrashLoopBackOff" in lines
    assert "    Last State:     terminated: OOMKilled (exit 137), 2026-01-01T00:04:10Z → 2026-01-01T00:04:41Z" in lines
    assert "    Restart Count:  14" in lines
    assert "    Limits:         memory=256Mi" in lines
    assert "ContainersNotReady" in text
    events = lines[lines.index("Events:") + 1 :]
    assert [line.split()[:2] for line in events] == [["Normal", "Pulled"], ["Warning", "BackOff"]]
    assert "(x61)" in events[1]


def test_an_object_without_events_says_none():
    assert describe_lines({"kind": "Namespace", "metadata": {"name": "shop"}, "status": {"phase": "Active"}})[-2:] == [
        "Events:",
        "  <none>",
    ]


def test_containers_for_the_log_chooser():
    pod = api_pod()
    pod["spec"]["initContainers"] = [{"name": "migrate", "image": "shop-api:2.4.1"}]
    pod["status"]["initContainerStatuses"] = [
        {"name": "migrate", "restartCount": 0, "state": {"terminated": {"reason": "Completed"}}}
    ]
    found = [(c.name, c.init, c.restarts, c.state, c.has_previous) for c in containers_of(pod)]
    assert found == [
        ("migrate", True, 0, "terminated: Completed", False),
        ("api", False, 14, "waiting: CrashLoopBackOff", True),
        ("log-shipper", False, 0, "running", False),
    ]


def test_an_application_is_described_by_source_destination_and_state():
    app = {
        "kind": "Application",
        "metadata": {"name": "cert-manager", "namespace": "argocd"},
        "spec": {
            "project": "platform",
            "source": {"repoURL": "https://charts.jetstack.io", "chart": "cert-manager", "targetRevision": "v1.19.1"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "cert-manager"},
        },
        "status": {
            "sync": {"status": "Synced", "revision": "v1.19.1"},
            "health": {"status": "Degraded"},
            "operationState": {"phase": "Running", "message": "waiting for healthy state of apps/Deployment/x"},
            "resources": [
                {
                    "kind": "Deployment",
                    "namespace": "cert-manager",
                    "name": "cert-manager-webhook",
                    "status": "Synced",
                    "health": {"status": "Degraded", "message": "0/1 ready"},
                },
                {"kind": "Service", "name": "fine", "status": "Synced", "health": {"status": "Healthy"}},
            ],
        },
    }
    lines = describe_lines(app)
    assert "Source:        https://charts.jetstack.io cert-manager @ v1.19.1" in lines
    assert "Destination:   https://kubernetes.default.svc namespace cert-manager" in lines
    assert "Health:        Degraded" in lines
    assert "  Deployment/cert-manager/cert-manager-webhook: Synced, Degraded: 0/1 ready" in lines
    assert not any("fine" in line for line in lines)
