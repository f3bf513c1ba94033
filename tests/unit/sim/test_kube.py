"""The simulated API server: objects shaped like the real API's JSON, list/watch semantics,
NotReady nodes until the CNI runs, pending pods with the scheduler's reason, outages."""

import asyncio

import pytest

from talos_platform.engine.drivers.protocols import CRDS, DAEMONSETS, DEPLOYMENTS, NODES, PODS, WatchExpired
from talos_platform.engine.errors import PermanentError, TransientError
from talos_platform.engine.render import render_repository
from talos_platform.engine.sim.kube import matches_selector

from .helpers import bring_up_kubernetes, platform_for, wait_until


def ready(node) -> str:
    return next(c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready")


async def test_the_api_refuses_connections_before_bootstrap():
    platform = platform_for()
    with pytest.raises(ConnectionError):
        await platform.drivers.kube.list(NODES)
    with pytest.raises(TransientError):  # also retryable for the runner
        await platform.drivers.kube.get(PODS, "x", "default")


async def test_nodes_register_not_ready_until_cilium_runs_then_pods_schedule(tmp_path):
    platform = platform_for()
    kube = platform.drivers.kube
    await bring_up_kubernetes(platform, tmp_path)
    await wait_until(platform, lambda: platform.model.store.count(NODES) == 6)
    nodes = (await kube.list(NODES)).items
    assert {ready(n) for n in nodes} == {"False"}
    cp = next(n for n in nodes if n["metadata"]["name"] == "cp-1")
    assert "cni plugin not initialized" in next(
        c["message"] for c in cp["status"]["conditions"] if c["type"] == "Ready"
    )
    assert cp["status"]["nodeInfo"]["kubeletVersion"] == platform.config.cluster.kubernetes_version
    assert {t["key"] for t in cp["spec"]["taints"]} == {
        "node-role.kubernetes.io/control-plane",
        "node.kubernetes.io/not-ready",
    }

    render_repository(platform.config, tmp_path / "rendered")
    applied = await kube.apply_kustomization(tmp_path / "rendered" / "bootstrap")
    assert any("applications.argoproj.io" in name for name in applied)
    await platform.clock.sleep(3)
    # Before the CNI is up, ArgoCD's pods cannot be scheduled: the scheduler says why.
    pending = [p for p in (await kube.list(PODS, "argocd")).items if p["status"]["phase"] == "Pending"]
    scheduled = next(c for c in pending[0]["status"]["conditions"] if c["type"] == "PodScheduled")
    assert scheduled["status"] == "False" and scheduled["reason"] == "Unschedulable"
    assert "untolerated taint {node.kubernetes.io/not-ready: }" in scheduled["message"]

    await wait_until(platform, lambda: all(m.ready for m in platform.model.machines.values()))
    cilium = await kube.get(DAEMONSETS, "cilium", "kube-system")
    assert cilium["status"]["numberReady"] == cilium["status"]["desiredNumberScheduled"] == 6
    assert cilium["status"]["observedGeneration"] == cilium["metadata"]["generation"]
    await wait_until(
        platform,
        lambda: (
            platform.model.store.get_entry(DEPLOYMENTS, "argocd", "argocd-server")["status"].get("availableReplicas")
            == 1
        ),
    )
    server = await kube.get(DEPLOYMENTS, "argocd-server", "argocd")
    assert {c["type"]: c["status"] for c in server["status"]["conditions"]} == {
        "Available": "True",
        "Progressing": "True",
    }
    crd = await kube.get(CRDS, "applications.argoproj.io")
    assert any(c["type"] == "Established" and c["status"] == "True" for c in crd["status"]["conditions"])
    pod = next(p for p in (await kube.list(PODS, "argocd")).items if p["metadata"]["name"].startswith("argocd-server-"))
    assert pod["status"]["phase"] == "Running" and pod["spec"]["nodeName"].startswith("worker-")
    assert pod["status"]["containerStatuses"][0]["ready"] is True
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"


async def test_watch_streams_changes_after_a_version_and_410_for_a_too_old_one(tmp_path):
    platform = platform_for()
    kube = platform.drivers.kube
    await bring_up_kubernetes(platform, tmp_path)
    listed = await kube.list(NODES)
    seen = []

    bookmarks = []

    async def follow():
        async for event in kube.watch(NODES, listed.resource_version, timeout_seconds=600):
            if event.type == "BOOKMARK":
                bookmarks.append(int(event.object["metadata"]["resourceVersion"]))
                continue
            seen.append((event.type, event.object["metadata"]["name"], event.object["metadata"]["resourceVersion"]))

    await follow()  # ends after its timeout, like the server closes a watch
    assert seen and {t for t, _, _ in seen} <= {"ADDED", "MODIFIED"}
    assert len(bookmarks) >= 5 and bookmarks == sorted(bookmarks)  # a quiet watch still hears the version
    assert ("ADDED", "cp-1") in {(t, n) for t, n, _ in seen}
    versions = [int(v) for _, _, v in seen]
    assert versions == sorted(versions) and versions[0] > int(listed.resource_version)

    # Replaying from an old version repeats the same changes; past the history it is 410.
    replay = [e async for e in kube.watch(NODES, listed.resource_version, timeout_seconds=1) if e.type != "BOOKMARK"]
    assert [(e.type, e.object["metadata"]["resourceVersion"]) for e in replay] == [(t, v) for t, _, v in seen]
    platform.model.store.forget_history()
    with pytest.raises(WatchExpired):
        async for _ in kube.watch(NODES, listed.resource_version, timeout_seconds=1):
            pass
    initial = [e async for e in kube.watch(NODES, "0", timeout_seconds=1)]
    assert {e.type for e in initial} == {"ADDED"} and len(initial) == 6


async def test_deleted_objects_are_streamed_as_deleted(tmp_path):
    platform = platform_for()
    await bring_up_kubernetes(platform, tmp_path)
    kube = platform.drivers.kube
    await kube.apply_objects(
        [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "c", "namespace": "default"},
                "data": {"a": "1"},
            }
        ]
    )
    start = (await kube.list(NODES)).resource_version
    from talos_platform.engine.drivers.protocols import Resource

    config_maps = Resource("", "v1", "configmaps", "ConfigMap")
    platform.model.store.delete(config_maps, "default", "c")
    events = [e async for e in kube.watch(config_maps, start, timeout_seconds=1)]
    assert [e.type for e in events] == ["DELETED"]


async def test_an_api_outage_breaks_watches_and_lists_then_recovers(tmp_path):
    platform = platform_for()
    kube = platform.drivers.kube
    await bring_up_kubernetes(platform, tmp_path)
    version = (await kube.list(NODES)).resource_version

    async def watch_all():
        async for _ in kube.watch(NODES, version, timeout_seconds=3600):
            pass

    watching = asyncio.ensure_future(watch_all())
    await platform.clock.sleep(1)
    platform.model.start_outage(60)
    with pytest.raises(ConnectionError):
        await watching
    with pytest.raises(ConnectionError):
        await kube.list(NODES)
    await platform.clock.sleep(61)
    assert (await kube.list(NODES)).items


async def test_a_missing_kustomization_is_a_permanent_error(tmp_path):
    platform = platform_for()
    with pytest.raises(PermanentError) as raised:
        await platform.drivers.kube.apply_kustomization(tmp_path / "nowhere")
    assert "kustomization.yaml" in str(raised.value)


@pytest.mark.parametrize(
    "selector, expected",
    [
        ("app=web", True),
        ("app=db", False),
        ("app!=db", True),
        ("tier", False),
        ("!tier", True),
        ("app=web,env=prod", True),
        ("", True),
    ],
)
def test_label_selectors(selector, expected):
    assert matches_selector({"app": "web", "env": "prod"}, selector) is expected


async def test_scaling_a_deployment_down_deletes_pods_with_deleted_events(tmp_path):
    platform = platform_for()
    await bring_up_kubernetes(platform, tmp_path)
    kube = platform.drivers.kube
    from talos_platform.engine.sim.kube import workload_object

    await kube.apply_objects([workload_object("Deployment", "web", "default", 3, "nginx:1", tolerate_all=True)])
    await platform.clock.sleep(30)
    start = (await kube.list(PODS, "default")).resource_version
    await kube.apply_objects([workload_object("Deployment", "web", "default", 1, "nginx:1", tolerate_all=True)])
    events = [e async for e in kube.watch(PODS, start, namespace="default", timeout_seconds=1)]
    assert [e.type for e in events] == ["DELETED", "DELETED"]
    assert len((await kube.list(PODS, "default")).items) == 1
    deployment = await kube.get(DEPLOYMENTS, "web", "default")
    assert deployment["metadata"]["generation"] == 2 and deployment["status"]["replicas"] == 1


async def test_pods_have_kubelet_and_scheduler_events_aggregated_like_the_recorder():
    from talos_platform.engine.drivers.protocols import EVENTS

    platform = platform_for("crash-loop", installed=True)
    await platform.clock.sleep(120)
    kube = platform.drivers.kube
    pod = next(
        p for p in (await kube.list(PODS, "monitoring")).items if p["metadata"]["name"].startswith("prometheus-")
    )
    events = [
        e
        for e in (await kube.list(EVENTS, "monitoring")).items
        if e["involvedObject"]["name"] == pod["metadata"]["name"]
    ]
    reasons = {e["reason"]: e for e in events}
    assert {"Scheduled", "Pulled", "Started", "BackOff"} <= set(reasons)
    back_off = reasons["BackOff"]
    assert back_off["type"] == "Warning" and back_off["count"] >= 2 and back_off["source"]["component"] == "kubelet"
    assert back_off["lastTimestamp"] > back_off["firstTimestamp"]
    assert reasons["Scheduled"]["message"].endswith(f"to {pod['spec']['nodeName']}")


async def test_secret_string_data_is_stored_as_base64_data(tmp_path):
    import base64

    from talos_platform.engine.drivers.protocols import SECRETS

    platform = platform_for()
    await bring_up_kubernetes(platform, tmp_path)
    await platform.drivers.kube.apply_objects(
        [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "s", "namespace": "default"},
                "stringData": {"token": "abc"},
            }
        ]
    )
    secret = await platform.drivers.kube.get(SECRETS, "s", "default")
    assert "stringData" not in secret and base64.b64decode(secret["data"]["token"]) == b"abc"


async def test_pods_that_do_not_fit_stay_pending_with_insufficient_memory(tmp_path):
    from talos_platform.engine.sim.kube import workload_object

    scenario = tmp_path / "tight.yaml"
    scenario.write_text(
        "cluster: {name: tight, controlPlanes: 1, workers: 2}\n"
        "faults: [{type: podsPending, namespace: default, workload: big, reason: insufficientMemory}]\n"
    )
    platform = platform_for(str(scenario))
    await bring_up_kubernetes(platform, tmp_path)
    await wait_until(platform, lambda: platform.model.store.count(NODES) == 3)
    await platform.drivers.kube.apply_objects(
        [workload_object("Deployment", "big", "default", 1, "big:1", tolerate_all=False)]
    )
    render_repository(platform.config, tmp_path / "rendered")
    await platform.drivers.kube.apply_kustomization(tmp_path / "rendered" / "bootstrap")
    await wait_until(platform, lambda: all(m.ready for m in platform.model.machines.values()))
    await platform.clock.sleep(10)
    pod = (await platform.drivers.kube.list(PODS, "default", label_selector="app.kubernetes.io/name=big")).items[0]
    assert pod["status"]["phase"] == "Pending" and "nodeName" not in pod["spec"]
    message = next(c["message"] for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert message.startswith("0/3 nodes are available: 2 Insufficient memory, 1 node(s) had untolerated taint")


async def test_coredns_waits_for_the_cni_and_tolerates_control_planes(tmp_path):
    platform = platform_for()
    kube = platform.drivers.kube
    await bring_up_kubernetes(platform, tmp_path)
    await wait_until(platform, lambda: platform.model.store.count(NODES) == 6)
    await platform.clock.sleep(2)
    pods = (await kube.list(PODS, "kube-system", label_selector="k8s-app=kube-dns")).items
    assert len(pods) == 2 and {p["status"]["phase"] for p in pods} == {"Pending"}
    message = next(c["message"] for c in pods[0]["status"]["conditions"] if c["type"] == "PodScheduled")
    assert message.startswith(
        "0/6 nodes are available: 6 node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
    )
    assert "control-plane" not in message  # CoreDNS tolerates the control-plane taint
    assert {"key": "CriticalAddonsOnly", "operator": "Exists"} in pods[0]["spec"]["tolerations"]
