"""The observe layer over the real Kube driver, against the rehearsal control plane.

The drivers are built as the dashboard builds them from a kubeconfig (`cluster_source`). There
is no Talos API here: the talosctl driver gets a talosconfig that does not exist, so every node
is reported unreachable and nothing is contacted (kwok nodes' addresses are 127.0.0.1 anyway).
Waits poll the observer's published snapshots against a deadline; no fixed sleeps.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from talos_platform.engine.drivers.backoff import Backoff
from talos_platform.engine.drivers.clock import RealClock
from talos_platform.engine.drivers.protocols import PODS
from talos_platform.engine.observe import ClusterSnapshot, Observer
from talos_platform.engine.observe.apps import app_view
from talos_platform.engine.observe.pods import classify_pod
from talos_platform.engine.observe.store import ObjectStore
from talos_platform.engine.observe.watcher import ResourceWatcher
from talos_platform.rehearsal.cluster import APPLICATION_DELAY_ANNOTATION, node_is_ready
from talos_platform.rehearsal.processes import free_loopback_port

# kwok plays the kubelet and ArgoCD's controller; on a busy machine it can lag a while.
PATIENCE = 90.0
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
NOWHERE_LABEL = "rehearsal.talos-platform.test/nowhere"
GROUP, VERSION, PLURAL = "argoproj.io", "v1alpha1", "applications"


# --- the observer under test -----------------------------------------------------------------


class Watching:
    """A running Observer and the latest snapshot it published."""

    def __init__(self, observer: Observer):
        self.observer = observer
        self.latest: ClusterSnapshot | None = None
        self.published: list[ClusterSnapshot] = []
        observer.subscribe(self._take)

    def _take(self, snapshot: ClusterSnapshot) -> None:
        self.latest = snapshot
        self.published.append(snapshot)

    async def until(
        self, predicate: Callable[[ClusterSnapshot], Any], what: str, timeout: float = PATIENCE
    ) -> ClusterSnapshot:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            snapshot = self.latest
            if snapshot is not None and predicate(snapshot):
                return snapshot
            if loop.time() > deadline:
                raise AssertionError(
                    f"timed out after {timeout:.0f}s waiting for {what}; last snapshot:\n{describe(snapshot)}"
                )
            await asyncio.sleep(0.05)


def describe(snapshot: ClusterSnapshot | None) -> str:
    if snapshot is None:
        return "  (none published)"
    lines = [f"  kube_error={snapshot.kube_error!r} blocked={snapshot.blocked!r}"]
    lines += [f"  node {n.name} ready={n.ready} role={n.role} version={n.kubernetes_version}" for n in snapshot.nodes]
    lines += [
        f"  wave {w.wave} {w.state}: {[(a.namespace, a.name, a.sync, a.health, a.message) for a in w.apps]}"
        for w in snapshot.waves
    ]
    lines += [f"  ns {h.namespace} {h.healthy}/{h.total}" for h in snapshot.namespaces]
    lines += [f"  problem {p.namespace}/{p.name} {p.kind}: {p.detail}" for p in snapshot.pod_problems]
    return "\n".join(lines)


@pytest.fixture
async def watching(dashboard_source):
    source = dashboard_source
    observer = Observer(
        source.drivers, source.clock, talos_targets=source.targets, min_interval=0.05, talos_interval=5.0
    )
    watching = Watching(observer)
    task = asyncio.create_task(observer.run())
    try:
        await watching.until(lambda s: all(w.synced for w in observer.watchers), "the first lists", 60)
        yield watching
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        source.close()


def in_namespace(snapshot: ClusterSnapshot, namespace: str):
    problems = [p for p in snapshot.pod_problems if p.namespace == namespace]
    health = next(((h.healthy, h.total) for h in snapshot.namespaces if h.namespace == namespace), (0, 0))
    return problems, health


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def pod(name: str, namespace: str, node_selector: dict[str, str] | None = None) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace),
        spec=client.V1PodSpec(
            containers=[client.V1Container(name="main", image="registry.rehearsal.invalid/app:1")],
            node_selector=node_selector or {"type": "kwok"},
        ),
    )


def application(name: str, namespace: str, wave: int, sync_time: str = "1s") -> dict:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": {"argocd.argoproj.io/sync-wave": str(wave), APPLICATION_DELAY_ANNOTATION: sync_time},
        },
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.rehearsal.invalid/p.git", "path": name, "targetRevision": "main"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
        },
    }


def my_apps(snapshot: ClusterSnapshot, namespace: str) -> dict[str, Any]:
    return {a.name: a for a in snapshot.apps if a.namespace == namespace}


# --- nodes -----------------------------------------------------------------------------------


async def test_nodes_show_ready_role_and_version_as_the_api_reports_and_follow_adds_and_deletes(
    rehearsal_cluster, kube_api_client, kwok_nodes, watching
):
    core = client.CoreV1Api(kube_api_client)
    snapshot = await watching.until(lambda s: set(kwok_nodes) <= {n.name for n in s.nodes}, "the kwok nodes")

    control_plane, worker, late = unique("obs-cp"), unique("obs-worker"), unique("obs-late")
    await asyncio.to_thread(rehearsal_cluster.create_nodes, [control_plane], {CONTROL_PLANE_LABEL: ""})
    await asyncio.to_thread(rehearsal_cluster.create_nodes, [worker])
    # Talos is asked about every node Kubernetes knows on the observer's next Talos round.
    snapshot = await watching.until(
        lambda s: (
            {n.name: n.ready and bool(n.error) for n in s.nodes}.get(control_plane)
            and {n.name: n.ready and bool(n.error) for n in s.nodes}.get(worker)
        ),
        "the new nodes, Ready, and asked about on the Talos API",
        PATIENCE,
    )

    for view in snapshot.nodes:
        if view.name not in {*kwok_nodes, control_plane, worker}:
            continue  # another test's node
        api_node = core.read_node(view.name)
        assert view.ready == node_is_ready(api_node), view
        assert view.kubernetes_version == api_node.status.node_info.kubelet_version != "", view
        internal = [a.address for a in api_node.status.addresses if a.type == "InternalIP"]
        assert view.address == internal[0] == "127.0.0.1", view
        assert view.role == ("control-plane" if CONTROL_PLANE_LABEL in (api_node.metadata.labels or {}) else "worker")
        assert ("Ready", "True") in [(t, s) for t, s, _ in view.conditions]
        # No Talos API in the rehearsal cluster: an honest "unreachable" with the reason.
        assert view.reachable is False and view.error, view
    names = [n.name for n in snapshot.nodes]
    assert {n.name: n.role for n in snapshot.nodes}[control_plane] == "control-plane"
    assert names.index(control_plane) < names.index(worker), "control planes are listed first"

    await asyncio.to_thread(rehearsal_cluster.create_nodes, [late])
    await watching.until(lambda s: late in {n.name for n in s.nodes if n.ready}, "a node added while watching")

    core.delete_node(worker)
    snapshot = await watching.until(lambda s: worker not in {n.name for n in s.nodes}, "the deleted node to go")
    assert {control_plane, late} <= {n.name for n in snapshot.nodes}
    for name in (control_plane, late):
        core.delete_node(name)
    await watching.until(lambda s: not {control_plane, late} & {n.name for n in s.nodes}, "the other test nodes to go")


# --- pods ------------------------------------------------------------------------------------


async def test_pod_health_counts_a_crash_looping_oom_pod_first_and_says_why_a_pod_is_unschedulable(
    kube_api_client, kwok_nodes, kube_namespace, watching
):
    core, apps = client.CoreV1Api(kube_api_client), client.AppsV1Api(kube_api_client)
    labels = {"app": "web"}
    apps.create_namespaced_deployment(
        kube_namespace,
        client.V1Deployment(
            metadata=client.V1ObjectMeta(name="web"),
            spec=client.V1DeploymentSpec(
                replicas=3,
                selector=client.V1LabelSelector(match_labels=labels),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels=labels), spec=pod("x", kube_namespace).spec
                ),
            ),
        ),
    )
    await watching.until(lambda s: in_namespace(s, kube_namespace) == ([], (3, 3)), "3 of 3 web pods healthy")

    core.create_namespaced_pod(kube_namespace, pod("worker", kube_namespace))
    await watching.until(lambda s: in_namespace(s, kube_namespace) == ([], (4, 4)), "the worker pod running")

    # What a kubelet reports for a container killed for memory and now backing off.
    core.patch_namespaced_pod_status(
        "worker",
        kube_namespace,
        {
            "status": {
                "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
                "containerStatuses": [
                    {
                        "name": "main",
                        "image": "registry.rehearsal.invalid/app:1",
                        "imageID": "",
                        "ready": False,
                        "started": False,
                        "restartCount": 5,
                        "state": {
                            "waiting": {
                                "reason": "CrashLoopBackOff",
                                "message": "back-off 2m40s restarting failed container",
                            }
                        },
                        "lastState": {
                            "terminated": {
                                "reason": "OOMKilled",
                                "exitCode": 137,
                                "startedAt": "2026-01-01T00:00:00Z",
                                "finishedAt": "2026-01-01T00:00:05Z",
                            }
                        },
                    }
                ],
            }
        },
    )
    core.create_namespaced_pod(kube_namespace, pod("stranded", kube_namespace, {NOWHERE_LABEL: "true"}))

    def both_problems(s: ClusterSnapshot) -> bool:
        problems, _ = in_namespace(s, kube_namespace)
        return {p.name for p in problems} == {"worker", "stranded"} and any(
            p.name == "stranded" and p.detail.startswith("Unschedulable") for p in problems
        )

    snapshot = await watching.until(both_problems, "the OOMKilled and the unschedulable pod")
    problems, health = in_namespace(snapshot, kube_namespace)
    assert health == (3, 5)
    first, second = problems
    assert (first.name, first.kind, first.restarts) == ("worker", "OOMKilled", 5)
    assert first.detail == "main: OOMKilled (exit 137), back-off restarting"
    assert first.node in kwok_nodes or first.node.startswith("obs-")
    # Worst first across the whole cluster, too: nothing more severe is listed before it.
    assert all(p.severity <= first.severity for p in snapshot.pod_problems[: snapshot.pod_problems.index(first)])
    assert (second.name, second.kind) == ("stranded", "Pending")
    scheduler_said = next(
        c for c in core.read_namespaced_pod("stranded", kube_namespace).status.conditions if c.type == "PodScheduled"
    )
    assert scheduler_said.reason == "Unschedulable"
    assert second.detail == f"Unschedulable: {scheduler_said.message}"
    assert "node affinity/selector" in second.detail

    core.delete_namespaced_pod("worker", kube_namespace)
    await watching.until(
        lambda s: (
            in_namespace(s, kube_namespace)[1] == (3, 4)
            and [p.name for p in in_namespace(s, kube_namespace)[0]] == ["stranded"]
        ),
        "the deleted pod to go",
    )
    apps.patch_namespaced_deployment_scale("web", kube_namespace, {"spec": {"replicas": 1}})
    await watching.until(lambda s: in_namespace(s, kube_namespace)[1] == (1, 2), "web scaled down to one pod")


# --- Applications ----------------------------------------------------------------------------


async def test_applications_are_grouped_by_wave_and_a_degraded_one_blocks_its_wave_until_it_recovers(
    rehearsal_cluster, kube_api_client, kube_namespace, watching
):
    custom = client.CustomObjectsApi(kube_api_client)
    # Waves far below any the platform uses, so this test's waves come first cluster-wide.
    first, second, third = -7100, -7099, -7098
    plan = {"gateway-api": first, "cilium": second, "cert-manager": second, "vault": third}
    for name, wave in plan.items():
        # kwok syncs vault last, so the earlier waves are seen done while it is still in progress.
        sync_time = "5s" if name == "vault" else "1s"
        custom.create_namespaced_custom_object(
            GROUP, VERSION, kube_namespace, PLURAL, application(name, kube_namespace, wave, sync_time)
        )

    def all_settled(s: ClusterSnapshot) -> bool:
        mine = my_apps(s, kube_namespace)
        return set(mine) == set(plan) and all(a.settled for a in mine.values())

    snapshot = await watching.until(all_settled, "the four Applications Synced and Healthy")
    mine = [
        (w.wave, w.state, [a.name for a in w.apps if a.namespace == kube_namespace])
        for w in snapshot.waves
        if any(a.namespace == kube_namespace for a in w.apps)
    ]
    assert mine == [
        (first, "done", ["gateway-api"]),
        (second, "done", ["cert-manager", "cilium"]),
        (third, "done", ["vault"]),
    ]
    assert all(a.wave == plan[a.name] for a in my_apps(snapshot, kube_namespace).values())
    # Followed as kwok moved the status: vault's wave was blocked while it synced.
    assert f"wave {third} is blocked by vault: OutOfSync/Progressing" in {s.blocked for s in watching.published}

    rehearsal_cluster.set_application_status(
        kube_namespace, "cert-manager", "Degraded", "Synced", message="webhook has no endpoints"
    )
    blocked = f"wave {second} is blocked by cert-manager: webhook has no endpoints"
    snapshot = await watching.until(lambda s: s.blocked == blocked, "the blocked line")
    states = {w.wave: w.state for w in snapshot.waves}
    assert (states[first], states[second], states[third]) == ("done", "blocked", "waiting")
    culprit = my_apps(snapshot, kube_namespace)["cert-manager"]
    assert (culprit.health, culprit.sync, culprit.message) == ("Degraded", "Synced", "webhook has no endpoints")
    blocked_wave = next(w for w in snapshot.waves if w.wave == second)
    assert blocked_wave.apps[0].name == "cert-manager", "the unsettled app is listed first in its wave"

    rehearsal_cluster.set_application_status(kube_namespace, "cert-manager", "Healthy")

    def recovered(s: ClusterSnapshot) -> bool:
        return all_settled(s) and not s.blocked.startswith(f"wave {second} ")

    snapshot = await watching.until(recovered, "cert-manager to recover")
    if all(a.namespace == kube_namespace for a in snapshot.apps):
        assert snapshot.blocked == ""
    assert my_apps(snapshot, kube_namespace)["cert-manager"].message == ""

    # Deleted (kwok drops the resources finalizer, as ArgoCD does): its wave goes with it.
    custom.delete_namespaced_custom_object(GROUP, VERSION, kube_namespace, PLURAL, "vault")
    snapshot = await watching.until(
        lambda s: set(my_apps(s, kube_namespace)) == set(plan) - {"vault"}, "the deleted Application to go"
    )
    assert third not in {w.wave for w in snapshot.waves if any(a.namespace == kube_namespace for a in w.apps)}


# --- watches the server ends, and a kube-apiserver restart -----------------------------------


class CountingKube:
    """The real driver, counting the watches opened through it."""

    def __init__(self, kube):
        self.kube, self.watches = kube, 0

    async def list(self, *args, **kwargs):
        return await self.kube.list(*args, **kwargs)

    def watch(self, *args, **kwargs):
        self.watches += 1
        return self.kube.watch(*args, **kwargs)


async def test_a_watch_the_server_ends_is_resumed_without_relisting_or_losing_changes(
    rehearsal_cluster, kube_api_client, kwok_nodes, kube_namespace, watching
):
    core = client.CoreV1Api(kube_api_client)
    kube = CountingKube(watching.observer.drivers.kube)
    store = ObjectStore(classify_pod)
    # The server ends each watch after a second, as it does after timeoutSeconds.
    watcher = ResourceWatcher(kube, PODS, store, RealClock(), namespace=kube_namespace, watch_timeout_seconds=1)
    task = asyncio.create_task(watcher.run())
    try:
        loop = asyncio.get_running_loop()
        created: list[str] = []
        deadline = loop.time() + PATIENCE
        while kube.watches < 4 or len(created) < 3:
            assert loop.time() < deadline, f"only {kube.watches} watches, {created} created"
            if kube.watches > len(created):
                name = f"pod-{len(created)}"
                core.create_namespaced_pod(kube_namespace, pod(name, kube_namespace))
                created.append(name)
            await asyncio.sleep(0.1)

        def current() -> bool:
            api = core.api_client.sanitize_for_serialization(core.list_namespaced_pod(kube_namespace).items)
            return {(p["metadata"]["namespace"], p["metadata"]["name"]): classify_pod(p) for p in api} == {
                key: store.get(key) for key in ((kube_namespace, n) for n in created)
            }

        while not current():
            assert loop.time() < deadline, f"the store lags the API: {sorted(p.name for p in store.values())}"
            await asyncio.sleep(0.2)
        assert len(store) == len(created)
        assert watcher.lists == 1 and watcher.reconnects == 0 and watcher.relists_after_expiry == 0
        assert watcher.error == ""
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def watched_truth(core, custom, namespace: str) -> tuple[dict, dict, set[str]]:
    """What the API holds now, transformed as the observer does."""
    listed = core.api_client.sanitize_for_serialization(core.list_namespaced_pod(namespace).items)
    pods = {(p["metadata"]["namespace"], p["metadata"]["name"]): classify_pod(p) for p in listed}
    applications = {
        a["metadata"]["name"]: app_view(a)
        for a in custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]
    }
    nodes = {n.metadata.name for n in core.list_node().items}
    return pods, applications, nodes


async def test_changes_after_an_apiserver_restart_reach_the_snapshot_without_losses_or_duplicates(
    rehearsal_cluster, kube_api_client, kwok_nodes, kube_namespace, watching
):
    core, custom = client.CoreV1Api(kube_api_client), client.CustomObjectsApi(kube_api_client)
    observer = watching.observer
    for name in ("before-1", "before-2"):
        core.create_namespaced_pod(kube_namespace, pod(name, kube_namespace))
    custom.create_namespaced_custom_object(
        GROUP, VERSION, kube_namespace, PLURAL, application("app-before", kube_namespace, -7200)
    )
    await watching.until(
        lambda s: in_namespace(s, kube_namespace)[1] == (2, 2) and "app-before" in my_apps(s, kube_namespace),
        "the objects made before the restart",
    )
    breaks_before = [(w.reconnects, w.relists_after_expiry, w.lists) for w in observer.watchers]
    # Watchers wait a while after a failure, so the changes below are made while they are down.
    for watcher in observer.watchers:
        watcher.backoff = Backoff(initial=6.0, maximum=6.0)

    await asyncio.to_thread(rehearsal_cluster.restart_apiserver)
    # Made before the watches came back: a resumed watch must deliver them, or a relist find them.
    node = unique("obs-after")
    core.create_namespaced_pod(kube_namespace, pod("after-1", kube_namespace))
    core.delete_namespaced_pod("before-1", kube_namespace)
    custom.create_namespaced_custom_object(
        GROUP, VERSION, kube_namespace, PLURAL, application("app-after", kube_namespace, -7199)
    )
    rehearsal_cluster.set_application_status(
        kube_namespace, "app-before", "Degraded", "OutOfSync", message="after the restart"
    )
    down_during_changes = [w.resource.plural for w in observer.watchers if w.error]
    assert down_during_changes, "every watch was back before the changes: this test would prove nothing"
    await asyncio.to_thread(rehearsal_cluster.create_nodes, [node])
    try:

        def caught_up(s: ClusterSnapshot) -> bool:
            problems, health = in_namespace(s, kube_namespace)
            apps = my_apps(s, kube_namespace)
            return (
                health == (2, 2)
                and set(apps) == {"app-before", "app-after"}
                and apps["app-before"].health == "Degraded"
                and apps["app-after"].settled
                and node in {n.name for n in s.nodes if n.ready}
            )

        snapshot = await watching.until(caught_up, "the changes made after the restart")
        assert any(
            before != (w.reconnects, w.relists_after_expiry, w.lists)
            for before, w in zip(breaks_before, observer.watchers, strict=True)
        ), "the restart should have broken the watches"
        assert my_apps(snapshot, kube_namespace)["app-before"].message == "after the restart"

        # Nothing lost, nothing duplicated, nothing stale: the stores match what the API holds.
        pods, applications, nodes = watched_truth(core, custom, kube_namespace)
        assert {k: v for k, v in ((k, observer.pods.get(k)) for k in pods)} == pods
        assert sorted(p.name for p in observer.pods.values() if p.namespace == kube_namespace) == [
            "after-1",
            "before-2",
        ]
        assert {a.name: a for a in observer.apps.values() if a.namespace == kube_namespace} == applications
        assert {n.name for n in observer.nodes.values()} == nodes
        names = [(a.namespace, a.name) for a in snapshot.apps]
        assert len(names) == len(set(names))
        assert [n.name for n in snapshot.nodes].count(node) == 1
    finally:
        core.delete_node(node)


async def test_the_api_error_clears_once_the_server_is_back_even_when_nothing_changes(
    rehearsal_cluster, kwok_nodes, watching
):
    await watching.until(lambda s: not s.kube_error, "a clean start")
    await asyncio.to_thread(rehearsal_cluster.restart_apiserver)
    # The server is back; the nodes may not change for a long time (kwok writes their status
    # once), yet the dashboard must stop saying the API cannot be reached.
    snapshot = await watching.until(lambda s: not s.kube_error and s.generation > 0, "the API error to clear", 30)
    assert set(kwok_nodes) <= {n.name for n in snapshot.nodes}
    assert any(s.kube_error for s in watching.published), "the outage should have been shown meanwhile"


# --- `status --live` -------------------------------------------------------------------------


def live_status(rehearsal_cluster, kubeconfig: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**rehearsal_cluster.env, "HOME": str(home), "TALOS_PLATFORM_LOOPBACK_ONLY": "1"}
    env.pop("TALOSCONFIG", None)
    env.pop("KUBECONFIG", None)
    executable = Path(sys.executable).with_name("talos-platform")
    return subprocess.run(
        [str(executable), "status", "--live", "--output", "json", "--kubeconfig", str(kubeconfig)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


async def test_status_live_prints_the_snapshot_as_json_and_fails_while_nodes_are_unreachable(
    rehearsal_cluster, kube_api_client, kwok_nodes, kube_namespace, tmp_path
):
    core, custom = client.CoreV1Api(kube_api_client), client.CustomObjectsApi(kube_api_client)
    core.create_namespaced_pod(kube_namespace, pod("fine", kube_namespace))
    core.create_namespaced_pod(kube_namespace, pod("stranded", kube_namespace, {NOWHERE_LABEL: "true"}))
    custom.create_namespaced_custom_object(
        GROUP, VERSION, kube_namespace, PLURAL, application("monitoring", kube_namespace, -7300)
    )

    def ready() -> bool:
        phases = {p.metadata.name: p.status.phase for p in core.list_namespaced_pod(kube_namespace).items}
        stranded = core.read_namespaced_pod("stranded", kube_namespace).status.conditions or []
        status = custom.get_namespaced_custom_object(GROUP, VERSION, kube_namespace, PLURAL, "monitoring").get(
            "status", {}
        )
        return (
            phases.get("fine") == "Running"
            and any(c.reason == "Unschedulable" for c in stranded)
            and status.get("health", {}).get("status") == "Healthy"
        )

    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    while not ready():
        assert loop.time() < deadline, "the pods and the Application did not settle"
        await asyncio.sleep(0.2)

    result = await asyncio.to_thread(live_status, rehearsal_cluster, rehearsal_cluster.kubeconfig, tmp_path)
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["healthy"] is False and data["kube_error"] == ""
    nodes = {n["name"]: n for n in data["nodes"]}
    for name in kwok_nodes:
        assert nodes[name]["ready"] is True and nodes[name]["reachable"] is False and nodes[name]["error"]
        assert nodes[name]["kubernetes_version"] and nodes[name]["address"] == "127.0.0.1"
    apps = {(a["namespace"], a["name"]): a for wave in data["waves"] for a in wave["apps"]}
    assert apps[(kube_namespace, "monitoring")]["health"] == "Healthy"
    assert apps[(kube_namespace, "monitoring")]["wave"] == -7300
    assert {"namespace": kube_namespace, "healthy": 1, "starting": 0, "total": 2} in data["namespaces"]
    problems = [p for p in data["pod_problems"] if p["namespace"] == kube_namespace]
    assert [(p["name"], p["kind"]) for p in problems] == [("stranded", "Pending")]
    assert problems[0]["detail"].startswith("Unschedulable: ")
    assert data["pods_total"] >= 2 and data["apps_total"] >= 1
    assert rehearsal_cluster.pki.admin_token not in result.stdout + result.stderr


async def test_status_live_reports_an_unreachable_api_and_fails(rehearsal_cluster, tmp_path):
    # The same credentials, but a loopback port nothing listens on.
    document = yaml.safe_load(rehearsal_cluster.kubeconfig.read_text())
    document["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{free_loopback_port()}"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(document))
    os.chmod(kubeconfig, 0o600)

    result = await asyncio.to_thread(live_status, rehearsal_cluster, kubeconfig, tmp_path)
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["healthy"] is False and data["nodes"] == []
    assert "nodes:" in data["kube_error"] and "pods:" in data["kube_error"]
    assert "Traceback" not in result.stderr
    assert rehearsal_cluster.pki.admin_token not in result.stdout + result.stderr
