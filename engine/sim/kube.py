"""The `Kube` driver over the simulated API server: list, get, watch (ADDED/MODIFIED/DELETED with
resourceVersions, 410 as WatchExpired, ConnectionError when the API goes away), and
server-side apply of objects and kustomization directories."""

from __future__ import annotations

import base64
import builtins
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import yaml

from talos_platform.engine.drivers.kube_client import DISRUPTION_BUDGET_HINT
from talos_platform.engine.drivers.process import current_output
from talos_platform.engine.drivers.protocols import (
    NODES,
    PODS,
    SECRETS,
    AccessDenied,
    ObjectList,
    Resource,
    WatchEvent,
    WatchExpired,
)
from talos_platform.engine.errors import EvictionRefused, PermanentError, TransientError
from talos_platform.engine.sim.api_server_stats import stats_summary
from talos_platform.engine.sim.catalog import component_for_url, component_named
from talos_platform.engine.sim.changes import data_digests
from talos_platform.engine.sim.crds import crd_object
from talos_platform.engine.sim.logs import LINE_EVERY_SECONDS, log_lines
from talos_platform.engine.sim.model import RUNNING, ApiUnavailable, PlatformModel
from talos_platform.engine.sim.scenarios import DrainBlocked
from talos_platform.engine.sim.store import Watcher, clone, render, resource_of

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# How often a quiet watch gets a BOOKMARK, like the API server's watch cache.
BOOKMARK_SECONDS = 60.0


class SimulatedApiUnavailable(TransientError, ConnectionError):
    """The API server does not answer; worth retrying (both a TransientError for the runner and
    a ConnectionError for watch loops)."""


def _unavailable(error: ApiUnavailable) -> SimulatedApiUnavailable:
    return SimulatedApiUnavailable(str(error), hint="the Kubernetes API server is not reachable yet; retrying")


def matches_selector(labels: dict[str, str], selector: str) -> bool:
    """Equality-based label selectors (`a=b,c!=d,e`), as kubectl -l accepts them."""
    for term in filter(None, (part.strip() for part in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


class SimulatedKube:
    def __init__(self, model: PlatformModel, *, metrics_allowed: bool = True):
        self.model = model
        self.metrics_allowed = metrics_allowed
        """False: RBAC refuses these credentials `/metrics` (403), as for a user without the
        `system:monitoring` role."""

    async def _round_trip(self, verb: str, resource: str) -> None:
        """Reads take a little virtual time, like a round trip would (more while the API is slow);
        the API server's histogram counts those it served."""
        durations = self.model.request_durations
        seconds = durations.next_duration()
        await self.model.clock.sleep(seconds)
        try:
            self.model.check_api()
        except ApiUnavailable as error:
            raise _unavailable(error) from None
        durations.record(verb, resource, seconds)

    async def read_path(self, path: str) -> str:
        if path == "/metrics":
            await self._round_trip("GET", "")
            if not self.metrics_allowed:
                raise AccessDenied(
                    'GET /metrics: access denied (403): forbidden: User "viewer" cannot get path "/metrics"',
                    hint="check the kubeconfig's credentials",
                )
            return self.model.request_durations.exposition()
        parts = path.strip("/").split("/")
        if len(parts) == 7 and parts[:3] == ["api", "v1", "nodes"] and parts[4:] == ["proxy", "stats", "summary"]:
            await self._round_trip("CONNECT", "nodes")
            machine = self.model.machine_named(parts[3])
            if machine is None or self.model.store.get_entry(NODES, "", parts[3]) is None:
                raise PermanentError(f'GET {path}: the API server answered 404: nodes "{parts[3]}" not found')
            if machine.stage != RUNNING or not machine.ready:
                raise TransientError(
                    f"GET {path}: the API server answered 503: error trying to reach service: dial tcp "
                    f"{machine.address}:10250: connect: connection refused"
                )
            return json.dumps(stats_summary(self.model, machine))
        raise PermanentError(
            f"GET {path}: the API server answered 404: the server could not find the requested resource"
        )

    async def list(self, resource: Resource, namespace: str | None = None, label_selector: str = "") -> ObjectList:
        await self._round_trip("LIST", resource.plural)
        store = self.model.store
        namespace = namespace if resource.namespaced else None
        items = []
        for entry in store.entries(resource, namespace):
            obj = render(entry)
            if label_selector and not matches_selector(obj["metadata"].get("labels") or {}, label_selector):
                continue
            items.append(clone(obj))
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return ObjectList(items=items, resource_version=str(store.revision))

    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        await self._round_trip("GET", resource.plural)
        entry = self.model.store.get_entry(resource, (namespace or "default") if resource.namespaced else "", name)
        return None if entry is None else clone(render(entry))

    async def secret_digests(self, name: str, namespace: str) -> dict[str, str] | None:
        secret = await self.get(SECRETS, name, namespace)
        return None if secret is None else data_digests(secret)

    async def pod_log(
        self,
        namespace: str,
        name: str,
        container: str = "",
        *,
        previous: bool = False,
        tail_lines: int = 500,
        follow: bool = False,
    ) -> AsyncIterator[str]:
        await self._round_trip("GET", "pods")
        clock = self.model.clock

        def read() -> tuple[list[str], float | None]:
            entry = self.model.store.get_entry(PODS, namespace, name)
            if entry is None:
                raise PermanentError(
                    f'pods "{name}" not found', hint="it was deleted; the dashboard shows its successor"
                )
            return log_lines(render(entry), container, previous=previous, now=clock.now())

        lines, last = read()
        for line in lines[-tail_lines:] if tail_lines > 0 else lines:
            yield line
        shown = lines
        while follow and last is not None:
            await clock.sleep(max(0.0, last + LINE_EVERY_SECONDS - clock.now()))
            try:
                lines, last = read()
            except PermanentError:
                return  # the container stopped or the pod went away: the stream ends, as kubectl's does
            if lines[:1] != shown[:1]:
                return  # another instance of the container: a follow ends with the one it followed
            for line in lines[len(shown) :]:
                yield line
            shown = lines

    async def watch(
        self, resource: Resource, resource_version: str, namespace: str | None = None, timeout_seconds: int = 300
    ) -> AsyncIterator[WatchEvent]:
        model = self.model
        clock = model.clock
        try:
            model.check_api()
        except ApiUnavailable as error:
            raise _unavailable(error) from None
        namespace = namespace if resource.namespaced else None
        watcher = Watcher(namespace)
        model.store.add_watcher(resource, watcher)
        try:
            if resource_version in ("", "0"):
                # Like the API server: synthetic ADDED events for what exists, then changes.
                backlog = [
                    WatchEvent("ADDED", clone(render(entry))) for entry in model.store.entries(resource, namespace)
                ]
            else:
                changes = model.store.changes_since(resource, int(resource_version), namespace)
                if changes is None:
                    raise WatchExpired(f"too old resource version: {resource_version} ({model.store.revision})")
                backlog = [WatchEvent(change.type, clone(change.object)) for change in changes]
            # The watcher was registered before the backlog was taken, in the same step: every
            # later change is in its queue and none is in both.
            for event in backlog:
                yield event
            deadline = clock.now() + timeout_seconds
            next_bookmark = clock.now() + BOOKMARK_SECONDS
            while True:
                remaining = deadline - clock.now()
                if remaining <= 0:
                    return
                try:
                    item = await clock.wait_for(watcher.queue.get(), min(remaining, next_bookmark - clock.now()))
                except TimeoutError:
                    if clock.now() >= next_bookmark and watcher.queue.empty():
                        # The client asks for bookmarks (allowWatchBookmarks): a quiet watch still
                        # hears the current resourceVersion now and then.
                        next_bookmark = clock.now() + BOOKMARK_SECONDS
                        yield WatchEvent(
                            "BOOKMARK",
                            {
                                "kind": resource.kind,
                                "apiVersion": resource.api_version,
                                "metadata": {"resourceVersion": str(model.store.revision)},
                            },
                        )
                    continue
                if isinstance(item, BaseException):
                    raise _unavailable(item) if isinstance(item, ApiUnavailable) else item
                if item is None:
                    return
                yield WatchEvent(item.type, clone(item.object))
        finally:
            model.store.remove_watcher(resource, watcher)

    async def apply_objects(self, objects: builtins.list[dict[str, Any]]) -> builtins.list[str]:
        self.model.changes.note_apply()
        await self._round_trip("PATCH", "")
        # CRDs first, namespaces next, like kubectl's ordering.
        try:
            return self.model.changes.apply(sorted(objects, key=_apply_order))
        except ValueError as error:  # what the API server answers 422 Unprocessable to
            raise PermanentError(f"the server rejected an object: {error}") from None

    def _node(self, name: str, verb: str) -> None:
        if self.model.store.get_entry(NODES, "", name) is None:
            raise PermanentError(
                f'`kubectl {verb} {name}` exited with 1: Error from server (NotFound): nodes "{name}" not found'
            )

    async def cordon_node(self, name: str) -> None:
        await self._round_trip("PATCH", "nodes")
        self._node(name, "cordon")
        self.model.changes.cordon(name)

    async def drain_node(self, name: str, timeout: float, *, disable_eviction: bool = False) -> None:
        await self._round_trip("POST", "pods")
        self._node(name, "drain")
        say = current_output()
        machine = self.model.machine_named(name)
        if machine is not None and not machine.cordoned:  # drain cordons first
            self.model.changes.cordon(name)
        for blocked in self.model.scenario.fault(DrainBlocked):
            # A delete never asks the budget; after one, the pod it protected is gone from the node.
            if blocked.node == name and not disable_eviction and not (machine and machine.drained_by_deletion):
                namespace, pod = blocked.pod.split("/", 1)
                await self.model.clock.sleep(timeout)  # kubectl retries the eviction until its timeout
                raise EvictionRefused(
                    f"kubectl drain {name} did not finish: error when evicting pods/{pod!r} -n {namespace!r}: Cannot "
                    f"evict pod as it would violate the pod's disruption budget; global timeout reached: {timeout:g}s",
                    hint=DISRUPTION_BUDGET_HINT,
                )
        verb = "deleting" if disable_eviction else "evicting"
        for pod in self.model.changes.drain(name, deleting=disable_eviction):
            say(f"{verb} pod {pod}")
        say(f"node/{name} drained")

    async def uncordon_node(self, name: str) -> None:
        await self._round_trip("PATCH", "nodes")
        self._node(name, "uncordon")
        self.model.changes.uncordon(name)

    async def annotate_node(self, name: str, key: str, value: str | None) -> None:
        await self._round_trip("PATCH", "nodes")
        self._node(name, "annotate node")
        self.model.changes.annotate_node(name, key, value)

    async def delete_node(self, name: str) -> None:
        await self._round_trip("DELETE", "nodes")
        if self.model.store.get_entry(NODES, "", name) is not None:
            self.model.changes.node_deleted(name)

    async def apply_secret_keys(self, name: str, namespace: str, data: dict[str, str], field_manager: str) -> None:
        await self._round_trip("PATCH", "secrets")
        encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
        self.model.changes.secret_keys(namespace, name, encoded)

    async def delete(self, resource: Resource, name: str, namespace: str | None = None) -> None:
        await self._round_trip("DELETE", resource.plural)
        where = (namespace or "default") if resource.namespaced else ""
        if self.model.store.get_entry(resource, where, name) is None:
            return
        try:
            self.model.changes.delete(resource.api_version, resource.kind, where, name)
        except ValueError as error:
            raise PermanentError(f"kubectl delete {resource.plural} {name}: {error}") from None

    async def apply_kustomization(self, path: Path) -> builtins.list[str]:
        objects = kustomization_objects(Path(path))
        return await self.apply_objects(objects)


def _apply_order(obj: dict[str, Any]) -> int:
    kind = obj.get("kind", "")
    return {"CustomResourceDefinition": 0, "Namespace": 1}.get(kind, 2)


# --- kustomization directories (what `kubectl kustomize --enable-helm` would produce) --------


def kustomization_objects(directory: Path) -> list[dict[str, Any]]:
    """The objects a kustomization directory builds to. Local manifests are read as they are;
    Helm charts and remote release manifests are recognised by name and replaced by the objects
    the simulator knows they create (it cannot inflate real charts)."""
    kustomization_file = next(
        (
            directory / name
            for name in ("kustomization.yaml", "kustomization.yml", "Kustomization")
            if (directory / name).exists()
        ),
        None,
    )
    if kustomization_file is None:
        raise PermanentError(
            "error: unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in "
            f"directory '{directory}'",
            hint="render the bootstrap kustomization first (talos-platform render)",
        )
    try:
        kustomization = yaml.safe_load(kustomization_file.read_text()) or {}
    except yaml.YAMLError as error:
        raise PermanentError(f"error: invalid {kustomization_file.name} in {directory}: {error}") from error
    objects: list[dict[str, Any]] = []
    for entry in kustomization.get("resources") or []:
        entry = str(entry)
        if "://" in entry or entry.startswith("github.com/"):
            component = component_for_url(entry)
            if component is None:
                raise PermanentError(
                    f"error: accumulating resources: the simulator does not know the remote resource {entry!r}"
                )
            objects += component_objects(component.name, component.namespace)
            continue
        target = directory / entry
        if target.is_dir():
            objects += kustomization_objects(target)
        elif target.exists():
            objects += manifest_objects(target.read_text())
        else:
            raise PermanentError(
                f"error: accumulating resources: accumulation err='accumulating resources from '{entry}': file does "
                "not exist'"
            )
    for chart in kustomization.get("helmCharts") or []:
        objects += chart_objects(chart, directory)
    namespace = kustomization.get("namespace")
    if namespace:
        for obj in objects:
            if resource_of(obj).namespaced:
                obj.setdefault("metadata", {})["namespace"] = namespace
    return objects


def manifest_objects(text: str) -> list[dict[str, Any]]:
    objects = []
    for document in yaml.load_all(text, Loader=_LOADER):
        if not isinstance(document, dict):
            continue
        if document.get("kind", "").endswith("List") and "items" in document:
            objects += [item for item in document["items"] if isinstance(item, dict)]
        elif document.get("kind"):
            objects.append(document)
    return objects


def chart_objects(chart: dict[str, Any], directory: Path) -> list[dict[str, Any]]:
    name = str(chart.get("name", ""))
    namespace = chart.get("namespace") or ""
    objects = component_objects(name, namespace, release=chart.get("releaseName") or name)
    values = dict(chart.get("valuesInline") or {})
    values_file = chart.get("valuesFile")
    if values_file and (directory / values_file).exists():
        loaded = yaml.safe_load((directory / values_file).read_text()) or {}
        values = {**loaded, **values}
    objects = apply_chart_values(objects, values)
    component = component_named(name)
    if component is not None and component.name == "argocd":
        cm = (values.get("configs") or {}).get("cm") or {}
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "argocd-cm", "namespace": namespace or component.namespace},
                "data": {str(k): v if isinstance(v, str) else yaml.safe_dump(v) for k, v in cm.items()},
            }
        )
    return objects


def apply_chart_values(objects: list[dict[str, Any]], values: dict[str, Any]) -> list[dict[str, Any]]:
    """The few chart values the simulator honours: components switched off, replica counts."""

    def enabled(*path: str) -> bool:
        node: Any = values
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return True
            node = node[key]
        return node is not False

    kept = []
    for obj in objects:
        name = obj["metadata"]["name"]
        if name.endswith("agent-injector") and not enabled("injector", "enabled"):
            continue
        if name == "hubble-relay" and not (enabled("hubble", "enabled") and enabled("hubble", "relay", "enabled")):
            continue
        # The Cilium chart leaves the Hubble UI off unless asked for.
        if name == "hubble-ui" and not (
            enabled("hubble", "enabled") and ((values.get("hubble") or {}).get("ui") or {}).get("enabled") is True
        ):
            continue
        if name == "argocd-dex-server" and not enabled("dex", "enabled"):
            continue
        replicas = (values.get("operator") or {}).get("replicas") if name.endswith("operator") else None
        if isinstance(replicas, int) and obj.get("kind") == "Deployment":
            obj["spec"]["replicas"] = replicas
        _volume_values(obj, values)
        kept.append(obj)
    return kept


def _volume_values(obj: dict[str, Any], values: dict[str, Any]) -> None:
    """Volumes the values ask for: Vault's data volume (on by default) and Prometheus' and
    Alertmanager's storage specs, with the StorageClass they name (None: the default class)."""
    name = obj["metadata"]["name"]
    spec = obj.get("spec") or {}
    if name == "vault" and obj.get("kind") == "StatefulSet":
        storage = _dig(values, "server", "dataStorage") or {}
        if storage.get("enabled") is False:
            spec.pop("volumeClaimTemplates", None)
        elif spec.get("volumeClaimTemplates"):
            spec["volumeClaimTemplates"] = [_claim_template("data", storage.get("storageClass"))]
    for prefix, path in (
        ("prometheus-", ("prometheus", "prometheusSpec", "storageSpec")),
        ("alertmanager-", ("alertmanager", "alertmanagerSpec", "storage")),
    ):
        claim = _dig(values, *path, "volumeClaimTemplate", "spec")
        if name.startswith(prefix) and obj.get("kind") == "StatefulSet" and isinstance(claim, dict):
            spec["volumeClaimTemplates"] = [_claim_template(f"{name}-db", claim.get("storageClassName"))]


def component_objects(name: str, namespace: str = "", *, release: str = "") -> list[dict[str, Any]]:
    """CRDs and workloads of a known component; an unknown chart becomes one Deployment."""
    component = component_named(name)
    objects: list[dict[str, Any]] = []
    if component is None:
        return [
            workload_object(
                "Deployment", release or name, namespace or "default", 1, f"registry.example/{name}:latest", False
            )
        ]
    namespace = namespace or component.namespace or "default"
    objects += [crd_object(crd) for crd in component.crds]
    for workload in component.workloads:
        obj = workload_object(
            workload.kind,
            workload.name,
            namespace,
            workload.replicas,
            workload.image,
            workload.tolerate_all,
            workload.memory_limit,
        )
        template_spec = obj["spec"]["template"]["spec"]
        if workload.host_access:
            template_spec.update(
                {
                    "hostNetwork": True,
                    "hostPID": True,
                    "volumes": [
                        {"name": name, "hostPath": {"path": path}}
                        for name, path in (("proc", "/proc"), ("sys", "/sys"), ("root", "/"))
                    ],
                }
            )
        if workload.claim:
            obj["spec"]["volumeClaimTemplates"] = [_claim_template(workload.claim, None)]
        objects.append(obj)
    return objects


def _claim_template(name: str, storage_class: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"metadata": {"name": name}, "spec": spec}


def _dig(values: dict[str, Any], *path: str) -> Any:
    node: Any = values
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def workload_object(
    kind: str, name: str, namespace: str, replicas: int, image: str, tolerate_all: bool, memory_limit: str = "512Mi"
) -> dict[str, Any]:
    template_spec: dict[str, Any] = {
        "containers": [
            {
                "name": name.rsplit("-", 1)[0] if kind == "DaemonSet" else name,
                "image": image,
                "resources": {"limits": {"memory": memory_limit}},
            }
        ]
    }
    if tolerate_all:
        template_spec["tolerations"] = [{"operator": "Exists"}]
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
        "template": {"metadata": {"labels": {"app.kubernetes.io/name": name}}, "spec": template_spec},
    }
    if kind != "DaemonSet":
        spec["replicas"] = replicas
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec}
