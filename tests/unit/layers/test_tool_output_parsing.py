"""Parsing what talosctl, kubectl and helm print (fixtures in the tools' own output formats)."""

from pathlib import Path

import pytest

from talos_platform.engine.drivers import kube_client, talosctl
from talos_platform.engine.drivers.real import parse_helm_version, parse_kubectl_client_version

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_client_version():
    assert talosctl.parse_client_version(fixture("talosctl-version-client.txt")) == "v1.11.5"


def test_disks_from_concatenated_json_objects_leave_out_cdroms_and_read_only_devices():
    assert talosctl.parse_disks(fixture("talosctl-get-disks.json")) == ("/dev/nvme0n1", "/dev/sda")


def test_disks_from_yaml_documents():
    assert talosctl.parse_disks(fixture("talosctl-get-disks.yaml")) == ("/dev/sda", "/dev/vda")


def test_machine_stage_and_cluster_name():
    assert talosctl.parse_machine_stage(fixture("talosctl-get-machinestatus.json")) == "running"
    assert talosctl.parse_cluster_name(fixture("talosctl-get-info.json")) == "demo"


def test_etcd_members_table():
    assert talosctl.parse_etcd_members(fixture("talosctl-etcd-members.txt")) == ["cp-1", "cp-2", "cp-3"]


@pytest.mark.parametrize(
    "text, members",
    [
        ("NODE        ID   HOSTNAME   PEER URLS   CLIENT URLS   LEARNER\n", []),
        (
            "ID                 HOSTNAME   PEER URLS               CLIENT URLS             LEARNER\n"
            "3a9c4e1d7b2f8a60   cp-1       https://10.0.0.11:2380  https://10.0.0.11:2379  false\n",
            ["cp-1"],
        ),
        ("", []),
    ],
    ids=["header-only", "older-without-node-column", "empty"],
)
def test_etcd_members_variants(text, members):
    assert talosctl.parse_etcd_members(text) == members


def test_service_state():
    assert talosctl.parse_service_state(fixture("talosctl-service-etcd-preparing.txt")) == "Preparing"


def test_talosconfig_endpoints(tmp_path):
    path = tmp_path / "talosconfig"
    path.write_text(
        "context: demo\ncontexts:\n  demo:\n    endpoints:\n      - 10.0.0.11\n      - 10.0.0.12\n    ca: x\n"
    )
    assert talosctl.read_talosconfig_endpoints(path) == ["10.0.0.11", "10.0.0.12"]
    assert talosctl.read_talosconfig_endpoints(tmp_path / "missing") == []


def test_kubectl_and_helm_versions():
    assert parse_kubectl_client_version(fixture("kubectl-version-client.json")) == "v1.34.1"
    assert parse_helm_version(fixture("helm-version-short.txt")) == "v3.19.0"


def test_kubectl_apply_names():
    names = kube_client.parse_applied_names(fixture("kubectl-apply-output-name.txt"))
    assert names[0] == "customresourcedefinition.apiextensions.k8s.io/gateways.gateway.networking.k8s.io"
    assert len(names) == 5


def test_kustomize_output_is_split_crds_first():
    built = (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: argocd\n---\n"
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata:\n  name: applications.argoproj.io\n---\n"
        "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata:\n  name: default\n  namespace: argocd\n"
    )
    crds, rest = kube_client.split_crds(kube_client.load_documents(built))
    assert [d["metadata"]["name"] for d in crds] == ["applications.argoproj.io"]
    assert [d["kind"] for d in rest] == ["Namespace", "AppProject"]


@pytest.mark.parametrize(
    "resource, namespace, name, path",
    [
        ("NODES", None, None, "/api/v1/nodes"),
        ("PODS", "vault", "vault-0", "/api/v1/namespaces/vault/pods/vault-0"),
        ("APPLICATIONS", "argocd", None, "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications"),
        ("CRDS", None, "x.example.com", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x.example.com"),
    ],
)
def test_resource_paths(resource, namespace, name, path):
    from talos_platform.engine.drivers import protocols

    assert kube_client.resource_path(getattr(protocols, resource), namespace, name) == path


def test_memory_and_server_version():
    assert talosctl.parse_memory_percent(fixture("talosctl-memory.txt")) == 25.0
    assert talosctl.parse_memory_percent("error") is None
    assert talosctl.parse_server_version(fixture("talosctl-version-server.txt")) == "v1.11.3"


def test_a_refused_second_bootstrap_is_recognised_by_its_grpc_code():
    assert talosctl.is_already_bootstrapped(fixture("talosctl-bootstrap-already-exists.txt"))
    assert not talosctl.is_already_bootstrapped(
        'error executing bootstrap: rpc error: code = Unavailable desc = connection error: desc = "transport: '
        "Error while "
        'dialing: dial tcp 10.0.0.11:50000: connect: connection refused"'
    )


def test_cpu_times_and_load_from_the_cpustats_resource():
    earlier = talosctl.parse_cpu_times(fixture("talosctl-get-cpustats-1.json"))
    later = talosctl.parse_cpu_times(fixture("talosctl-get-cpustats-2.json"))
    assert earlier == (1450.75, 9550.75)
    assert talosctl.cpu_percent_between(earlier, later) == 35.0
    # Same sample again, or counters that went back after a reboot: no figure, not a wrong one.
    assert talosctl.cpu_percent_between(later, later) is None
    assert talosctl.cpu_percent_between(later, earlier) is None
    assert talosctl.parse_cpu_times(fixture("talosctl-get-info.json")) is None
