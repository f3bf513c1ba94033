"""The simulator's facts about what Talos does not ship, table-driven: which pod templates
PodSecurity `baseline` refuses, which volume claims can bind, when a Gateway is Programmed."""

from __future__ import annotations

import pytest

from talos_platform.engine.drivers.protocols import NAMESPACES
from talos_platform.engine.sim import admission

from .helpers import platform_for

NODE_EXPORTER = {
    "hostNetwork": True,
    "hostPID": True,
    "containers": [{"name": "node-exporter"}],
    "volumes": [{"name": "proc", "hostPath": {"path": "/proc"}}, {"name": "sys", "hostPath": {"path": "/sys"}}],
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ({"containers": [{"name": "app"}]}, []),
        (
            {
                "containers": [
                    {"name": "app", "securityContext": {"capabilities": {"add": ["CHOWN", "NET_BIND_SERVICE"]}}}
                ]
            },
            [],
        ),
        (
            {
                "containers": [{"name": "app"}],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "x"}}],
            },
            [],
        ),
        (
            NODE_EXPORTER,
            ["host namespaces (hostNetwork=true, hostPID=true)", 'hostPath volumes (volumes "proc", "sys")'],
        ),
        (
            {"containers": [{"name": "agent", "securityContext": {"privileged": True}}]},
            ["privileged (container 'agent' must not set securityContext.privileged=true)"],
        ),
        (
            {
                "initContainers": [
                    {"name": "init", "securityContext": {"capabilities": {"add": ["SYS_ADMIN", "NET_ADMIN"]}}}
                ],
                "containers": [{"name": "app"}],
            },
            ["non-default capabilities (NET_ADMIN, SYS_ADMIN)"],
        ),
    ],
)
def test_baseline_refuses_exactly_what_needs_the_host(template, expected):
    assert admission.baseline_violations(template) == expected


def test_the_namespace_label_decides_and_kube_system_is_exempt():
    platform = platform_for("default")
    model = platform.model
    model.ensure_namespace("monitoring")
    assert admission.refusal(model, "monitoring", "ne-abcde", NODE_EXPORTER).startswith(
        'pods "ne-abcde" is forbidden: violates PodSecurity "baseline:latest": host namespaces'
    )
    assert admission.refusal(model, "kube-system", "cilium-x", NODE_EXPORTER) == ""
    model.label_namespace("monitoring", {admission.ENFORCE_LABEL: "privileged"})
    assert admission.refusal(model, "monitoring", "ne-abcde", NODE_EXPORTER) == ""
    labels = model.store.get_entry(NAMESPACES, "", "monitoring")["metadata"]["labels"]
    assert labels[admission.ENFORCE_LABEL] == "privileged" and labels["kubernetes.io/metadata.name"] == "monitoring"


def _storage_class(name: str, provisioner: str, default: bool = False) -> dict:
    annotations = {admission.DEFAULT_CLASS_ANNOTATION: "true"} if default else {}
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name, "annotations": annotations},
        "provisioner": provisioner,
    }


def test_a_claim_binds_only_through_an_existing_class_whose_provisioner_runs():
    model = platform_for("default").model
    assert not admission.claim_bindable(model, None), "Talos ships no default class"
    assert not admission.claim_bindable(model, "local-path")
    model.apply_object(_storage_class("local-path", admission.LOCAL_PATH_PROVISIONER, default=True))
    assert not admission.claim_bindable(model, "local-path"), "no provisioner pod runs yet"
    model.apply_object(_storage_class("longhorn", "driver.longhorn.io"))
    assert admission.claim_bindable(model, "longhorn"), "a class of the user's own: its provisioner is theirs"
    assert not admission.claim_bindable(model, "ceph-block")


def test_a_gateway_is_programmed_once_a_pool_exists():
    model = platform_for("default").model
    gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "platform", "namespace": "platform-gateway"},
        "spec": {"gatewayClassName": "cilium"},
    }
    model.apply_object(gateway)
    stored = model.store.get_entry(admission.GATEWAYS, "platform-gateway", "platform")
    programmed = next(c for c in stored["status"]["conditions"] if c["type"] == "Programmed")
    assert programmed["status"] == "False" and programmed["message"] == "Address is not ready yet"
    model.apply_object(
        {
            "apiVersion": "cilium.io/v2alpha1",
            "kind": "CiliumLoadBalancerIPPool",
            "metadata": {"name": "platform"},
            "spec": {"blocks": [{"cidr": "192.168.10.224/28"}]},
        }
    )
    stored = model.store.get_entry(admission.GATEWAYS, "platform-gateway", "platform")
    assert stored["status"]["addresses"] == [{"type": "IPAddress", "value": "192.168.10.225"}]
    assert all(c["status"] == "True" for c in stored["status"]["conditions"])
