"""The rehearsal control plane answers like a real cluster: API, auth, RBAC, nodes, rollouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from talos_platform.rehearsal.cluster import RehearsalCluster, node_is_ready, wait_for

VERSIONS_FILE = Path(__file__).parent / "versions.env"
# Images are never pulled: kwok nodes only pretend to run containers.
IMAGE = "rehearsal.invalid/web:1.0"


def pinned(name: str) -> str:
    for line in VERSIONS_FILE.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == name:
            return value.strip()
    raise KeyError(name)


def test_api_answers_with_the_pinned_version_through_the_kubeconfig(rehearsal_cluster):
    api_client = config.new_client_from_config(config_file=str(rehearsal_cluster.kubeconfig))
    version = client.VersionApi(api_client).get_code()
    assert version.git_version == pinned("KUBERNETES_VERSION")
    names = {ns.metadata.name for ns in client.CoreV1Api(api_client).list_namespace().items}
    assert {"default", "kube-system", "kube-node-lease"} <= names
    assert rehearsal_cluster.server.startswith("https://127.0.0.1:")


def test_rbac_limits_a_component_identity(rehearsal_cluster: RehearsalCluster):
    # The scheduler's kubeconfig carries the built-in system:kube-scheduler identity: it may
    # read pods but RBAC forbids it to create namespaces.
    scheduler = config.new_client_from_config(config_file=str(rehearsal_cluster.workdir / "kube-scheduler.kubeconfig"))
    core = client.CoreV1Api(scheduler)
    core.list_pod_for_all_namespaces(limit=1)
    with pytest.raises(ApiException) as forbidden:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="nope")))
    assert forbidden.value.status == 403


def test_unknown_token_is_rejected(rehearsal_cluster: RehearsalCluster):
    configuration = client.Configuration()
    configuration.host = rehearsal_cluster.server
    configuration.ssl_ca_cert = str(rehearsal_cluster.pki.ca_cert)
    configuration.api_key = {"authorization": "Bearer not-a-known-token"}
    with pytest.raises(ApiException) as unauthorized:
        client.CoreV1Api(client.ApiClient(configuration)).list_namespace()
    assert unauthorized.value.status == 401


def test_kwok_nodes_are_ready_and_keep_their_lease(kwok_nodes, kube_api_client):
    core = client.CoreV1Api(kube_api_client)
    for name in kwok_nodes:
        node = core.read_node(name)
        assert node_is_ready(node)
        addresses = {a.type: a.address for a in node.status.addresses}
        assert addresses["InternalIP"] == "127.0.0.1"
        assert not [t for t in node.spec.taints or [] if t.key.startswith("node.kubernetes.io/")]
    leases = client.CoordinationV1Api(kube_api_client).list_namespaced_lease("kube-node-lease")
    assert set(kwok_nodes) <= {lease.metadata.name for lease in leases.items}


def _pods_running_and_ready(core, namespace: str, selector: str, expected: int):
    pods = core.list_namespaced_pod(namespace, label_selector=selector).items
    ready = [
        pod
        for pod in pods
        if pod.status.phase == "Running"
        and any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
    ]
    return ready if len(ready) == expected and len(pods) == expected else None


def test_deployment_rolls_out_on_kwok_nodes(rehearsal_cluster, kwok_nodes, kube_namespace, kube_api_client):
    apps = client.AppsV1Api(kube_api_client)
    labels = {"app": "web"}
    apps.create_namespaced_deployment(
        kube_namespace,
        client.V1Deployment(
            metadata=client.V1ObjectMeta(name="web"),
            spec=client.V1DeploymentSpec(
                replicas=3,
                selector=client.V1LabelSelector(match_labels=labels),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels=labels),
                    spec=client.V1PodSpec(containers=[client.V1Container(name="web", image=IMAGE)]),
                ),
            ),
        ),
    )
    rehearsal_cluster.kubectl("rollout", "status", "deployment/web", "-n", kube_namespace, "--timeout=90s")
    deployment = apps.read_namespaced_deployment("web", kube_namespace)
    assert deployment.status.ready_replicas == 3
    assert deployment.status.observed_generation >= deployment.metadata.generation
    ready = _pods_running_and_ready(client.CoreV1Api(kube_api_client), kube_namespace, "app=web", 3)
    assert ready and {pod.spec.node_name for pod in ready} <= set(kwok_nodes)
    assert all(pod.status.pod_ip for pod in ready)


def test_pod_security_baseline_is_enforced_as_on_talos(rehearsal_cluster, kube_namespace, kube_api_client):
    """Talos' API server enforces PodSecurity `baseline` everywhere but kube-system."""
    core = client.CoreV1Api(kube_api_client)
    host_network = client.V1Pod(
        metadata=client.V1ObjectMeta(name="agent"),
        spec=client.V1PodSpec(host_network=True, containers=[client.V1Container(name="agent", image=IMAGE)]),
    )
    with pytest.raises(client.ApiException) as refused:
        core.create_namespaced_pod(kube_namespace, host_network)
    assert refused.value.status == 403
    assert 'violates PodSecurity "baseline:latest"' in json.loads(refused.value.body)["message"]
    assert core.create_namespaced_pod("kube-system", host_network).metadata.name == "agent"
    core.delete_namespaced_pod("agent", "kube-system", grace_period_seconds=0)


def test_daemonset_rolls_out_and_updates_on_every_kwok_node(
    rehearsal_cluster, kwok_nodes, kube_namespace, kube_api_client
):
    apps = client.AppsV1Api(kube_api_client)
    labels = {"app": "agent"}
    # A host-network agent needs the namespace PodSecurity level Talos does not give by default.
    client.CoreV1Api(kube_api_client).patch_namespace(
        kube_namespace, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "privileged"}}}
    )
    apps.create_namespaced_daemon_set(
        kube_namespace,
        client.V1DaemonSet(
            metadata=client.V1ObjectMeta(name="agent"),
            spec=client.V1DaemonSetSpec(
                selector=client.V1LabelSelector(match_labels=labels),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels=labels),
                    spec=client.V1PodSpec(
                        host_network=True,
                        containers=[client.V1Container(name="agent", image=IMAGE)],
                    ),
                ),
            ),
        ),
    )
    rehearsal_cluster.kubectl("rollout", "status", "daemonset/agent", "-n", kube_namespace, "--timeout=90s")
    core = client.CoreV1Api(kube_api_client)
    ready = _pods_running_and_ready(core, kube_namespace, "app=agent", len(kwok_nodes))
    assert ready and sorted(pod.spec.node_name for pod in ready) == sorted(kwok_nodes)
    assert {pod.status.pod_ip for pod in ready} == {"127.0.0.1"}  # host network: the node's IP

    # A rolling update replaces every pod: old pods must really go away for it to finish.
    apps.patch_namespaced_daemon_set(
        "agent",
        kube_namespace,
        {"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "rehearsal.invalid/web:2.0"}]}}}},
    )
    rehearsal_cluster.kubectl("rollout", "status", "daemonset/agent", "-n", kube_namespace, "--timeout=120s")
    updated = wait_for(
        lambda: _pods_running_and_ready(core, kube_namespace, "app=agent", len(kwok_nodes)),
        "the updated DaemonSet pods",
        timeout=60,
    )
    assert {pod.spec.containers[0].image for pod in updated} == {"rehearsal.invalid/web:2.0"}


def test_job_pods_complete(rehearsal_cluster, kwok_nodes, kube_namespace, kube_api_client):
    batch = client.BatchV1Api(kube_api_client)
    batch.create_namespaced_job(
        kube_namespace,
        client.V1Job(
            metadata=client.V1ObjectMeta(name="once"),
            spec=client.V1JobSpec(
                backoff_limit=0,
                template=client.V1PodTemplateSpec(
                    spec=client.V1PodSpec(
                        restart_policy="Never", containers=[client.V1Container(name="once", image=IMAGE)]
                    )
                ),
            ),
        ),
    )
    rehearsal_cluster.kubectl("wait", "--for=condition=Complete", "job/once", "-n", kube_namespace, "--timeout=90s")
    assert batch.read_namespaced_job("once", kube_namespace).status.succeeded == 1
