"""A watch survives a kube-apiserver restart by resuming from its last resourceVersion."""

from __future__ import annotations

import queue
import threading

from kubernetes import client, watch


def test_watch_resumes_after_apiserver_restart(rehearsal_cluster, kube_api_client, kube_namespace):
    core = client.CoreV1Api(kube_api_client)
    start_version = core.list_namespaced_config_map(kube_namespace).metadata.resource_version
    events: queue.Queue[tuple[str, str]] = queue.Queue()
    connections: list[str] = []
    stopping = threading.Event()

    def follow() -> None:
        # What a resilient watcher does: on any break, reconnect from the last version seen.
        version = start_version
        while not stopping.is_set():
            connections.append(version)
            try:
                for event in watch.Watch().stream(
                    core.list_namespaced_config_map,
                    kube_namespace,
                    resource_version=version,
                    timeout_seconds=60,
                    _request_timeout=70,
                ):
                    version = event["object"].metadata.resource_version
                    name = event["object"].metadata.name
                    if name != "kube-root-ca.crt":  # published into every namespace
                        events.put((event["type"], name))
                    if stopping.is_set():
                        return
            except Exception:  # noqa: BLE001 - a broken connection while the server restarts
                stopping.wait(0.5)

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    try:
        core.create_namespaced_config_map(
            kube_namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="before-restart"))
        )
        assert events.get(timeout=30) == ("ADDED", "before-restart")

        rehearsal_cluster.restart_apiserver()
        core.create_namespaced_config_map(
            kube_namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="after-restart"))
        )
        # Resumed, not relisted: the next event is the new object, not a replay of the old.
        assert events.get(timeout=60) == ("ADDED", "after-restart")
        assert len(connections) >= 2, "the restart should have broken the first watch"
        assert connections[-1] != start_version
    finally:
        stopping.set()
        core.create_namespaced_config_map(
            kube_namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="wake-the-watcher"))
        )
        follower.join(timeout=30)
