"""kwok plays the ArgoCD application controller: Application status moves as in a sync."""

from __future__ import annotations

from kubernetes import client, watch

from talos_platform.rehearsal.cluster import APPLICATION_DELAY_ANNOTATION, wait_for

GROUP, VERSION, PLURAL = "argoproj.io", "v1alpha1", "applications"


def _application(name: str, namespace: str, wave: str, annotations: dict | None = None) -> dict:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": {"argocd.argoproj.io/sync-wave": wave, **(annotations or {})},
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": {
            "project": "default",
            "source": {
                "repoURL": "https://git.rehearsal.invalid/platform.git",
                "path": "apps/demo",
                "targetRevision": "main",
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "demo"},
        },
    }


def _status(custom, namespace: str, name: str) -> tuple[str | None, str | None, str | None]:
    status = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name).get("status", {})
    health, sync = status.get("health", {}), status.get("sync", {})
    return health.get("status"), sync.get("status"), health.get("message")


def test_new_application_goes_progressing_then_healthy(rehearsal_cluster, kube_api_client, kube_namespace):
    custom = client.CustomObjectsApi(kube_api_client)
    seen: list[tuple[str | None, str | None]] = []
    stream = watch.Watch()
    custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        kube_namespace,
        PLURAL,
        _application("cilium", kube_namespace, "-99", {APPLICATION_DELAY_ANNOTATION: "2s"}),
    )
    for event in stream.stream(
        custom.list_namespaced_custom_object, GROUP, VERSION, kube_namespace, PLURAL, timeout_seconds=30
    ):
        status = event["object"].get("status", {})
        pair = (status.get("health", {}).get("status"), status.get("sync", {}).get("status"))
        if not seen or seen[-1] != pair:
            seen.append(pair)
        if pair == ("Healthy", "Synced"):
            stream.stop()
    assert ("Progressing", "OutOfSync") in seen
    assert seen[-1] == ("Healthy", "Synced")
    assert seen.index(("Progressing", "OutOfSync")) < seen.index(("Healthy", "Synced"))


def test_status_follows_what_the_test_asks_for(rehearsal_cluster, kube_api_client, kube_namespace):
    custom = client.CustomObjectsApi(kube_api_client)
    custom.create_namespaced_custom_object(
        GROUP, VERSION, kube_namespace, PLURAL, _application("vault", kube_namespace, "0")
    )
    wait_for(
        lambda: _status(custom, kube_namespace, "vault")[:2] == ("Healthy", "Synced"),
        "vault to become Healthy",
        timeout=30,
    )

    rehearsal_cluster.set_application_status(
        kube_namespace, "vault", "Degraded", "OutOfSync", message="StatefulSet vault has 0 ready replicas"
    )
    wait_for(
        lambda: (
            _status(custom, kube_namespace, "vault")
            == ("Degraded", "OutOfSync", "StatefulSet vault has 0 ready replicas")
        ),
        "vault to become Degraded",
        timeout=30,
    )

    rehearsal_cluster.set_application_status(kube_namespace, "vault", "Healthy")
    wait_for(
        lambda: _status(custom, kube_namespace, "vault") == ("Healthy", "Synced", None), "vault to recover", timeout=30
    )

    # Deleting: like ArgoCD, kwok drops the resources finalizer and the object goes away.
    custom.delete_namespaced_custom_object(GROUP, VERSION, kube_namespace, PLURAL, "vault")
    wait_for(
        lambda: not custom.list_namespaced_custom_object(GROUP, VERSION, kube_namespace, PLURAL)["items"],
        "vault to be deleted",
        timeout=30,
    )


def test_kubectl_shows_application_columns(rehearsal_cluster, kube_api_client, kube_namespace):
    custom = client.CustomObjectsApi(kube_api_client)
    custom.create_namespaced_custom_object(
        GROUP, VERSION, kube_namespace, PLURAL, _application("gateway-api", kube_namespace, "-100")
    )
    rehearsal_cluster.kubectl(
        "wait",
        "--for=jsonpath={.status.health.status}=Healthy",
        "application/gateway-api",
        "-n",
        kube_namespace,
        "--timeout=30s",
    )
    table = rehearsal_cluster.kubectl("get", "applications", "-n", kube_namespace).stdout
    header, row = table.splitlines()[:2]
    assert "SYNC STATUS" in header and "HEALTH STATUS" in header
    assert row.split()[:3] == ["gateway-api", "Synced", "Healthy"]
