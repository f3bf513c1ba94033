"""The real Kube driver: the `kubernetes` client for list, get and watch (blocking calls run in
threads), kubectl through the process runner for server-side apply.

The kubeconfig is read on first use: it only exists once Layer 0 fetched it. Objects travel as
plain dicts shaped like the API's JSON (see protocols.py).
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from talos_platform.engine.drivers.loopback import ensure_allowed
from talos_platform.engine.drivers.process import CommandFailed, ProcessRunner
from talos_platform.engine.drivers.protocols import (
    CRDS,
    PODS,
    SECRETS,
    AccessDenied,
    ObjectList,
    Resource,
    WatchEvent,
    WatchExpired,
    secret_digest,
)
from talos_platform.engine.errors import ESCAPE_FLAG, EvictionRefused, PermanentError, TransientError

if TYPE_CHECKING:
    import urllib3

KUBECTL = "kubectl"
FIELD_MANAGER = "talos-platform"
CRD_ESTABLISHED_TIMEOUT = 120.0

# --- kubectl command lines --------------------------------------------------------------------------


def kustomize_argv(folder: Path) -> list[str]:
    return [KUBECTL, "kustomize", "--enable-helm", str(folder)]


def apply_argv(kubeconfig: Path, field_manager: str = FIELD_MANAGER) -> list[str]:
    return [
        KUBECTL,
        "--kubeconfig",
        str(kubeconfig),
        "apply",
        "--server-side",
        "--force-conflicts",
        f"--field-manager={field_manager}",
        "--output",
        "name",
        "--filename",
        "-",
    ]


def parse_applied_names(text: str) -> list[str]:
    """`kubectl apply -o name` prints `kind.group/name` per object, e.g.
    `customresourcedefinition.apiextensions.k8s.io/gateways.gateway.networking.k8s.io`."""
    return [line.strip() for line in text.splitlines() if "/" in line.strip()]


def remote_sources(folder: Path) -> list[str]:
    """URLs a kustomization build would fetch: Helm chart repositories and remote resources,
    following local sub-folders."""
    found: list[str] = []
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        if (folder / name).exists():
            data = yaml.safe_load((folder / name).read_text()) or {}
            break
    else:
        return found
    for chart in data.get("helmCharts") or []:
        if chart.get("repo"):
            found.append(str(chart["repo"]))
    for resource in (data.get("resources") or []) + (data.get("components") or []):
        resource = str(resource)
        if "://" in resource or resource.startswith("github.com/"):
            found.append(resource if "://" in resource else f"https://{resource}")
        elif (folder / resource).is_dir():
            found.extend(remote_sources(folder / resource))
    return found


def split_crds(documents: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(CRDs, everything else): CRDs go first, so the custom resources after them can be applied."""
    crds = [d for d in documents if d.get("kind") == "CustomResourceDefinition"]
    rest = [d for d in documents if d.get("kind") != "CustomResourceDefinition"]
    return crds, rest


def load_documents(text: str) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for document in yaml.safe_load_all(text):
        if not document:
            continue
        if document.get("kind") == "List":
            documents.extend(item for item in document.get("items") or [] if item)
        else:
            documents.append(document)
    return documents


def dump_documents(documents: list[dict[str, Any]]) -> bytes:
    return yaml.safe_dump_all(documents, sort_keys=False).encode()


def resource_path(resource: Resource, namespace: str | None = None, name: str | None = None) -> str:
    base = f"/api/{resource.version}" if not resource.group else f"/apis/{resource.group}/{resource.version}"
    if resource.namespaced and namespace:
        base += f"/namespaces/{namespace}"
    base += f"/{resource.plural}"
    if name:
        base += f"/{name}"
    return base


def crd_established(crd: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Established" and c.get("status") == "True"
        for c in (crd.get("status") or {}).get("conditions") or []
    )


# --- the driver -------------------------------------------------------------------------------------


class ApiError(Exception):
    def __init__(self, status: int, body: str):
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status
        self.body = body


def cordon_argv(kubeconfig: Path, name: str) -> list[str]:
    return [KUBECTL, "--kubeconfig", str(kubeconfig), "cordon", name]


def drain_argv(kubeconfig: Path, name: str, timeout: float, *, disable_eviction: bool = False) -> list[str]:
    """DaemonSet pods cannot be evicted (they would come back) and emptyDir data goes with its
    pod anyway; evictions honour PodDisruptionBudgets, retried until `timeout`.
    `disable_eviction`: delete the pods instead of evicting them, which bypasses every budget
    (kubectl's `--disable-eviction`); only ever after an eviction was refused and the user said so."""
    return [
        KUBECTL,
        "--kubeconfig",
        str(kubeconfig),
        "drain",
        name,
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        *(["--disable-eviction"] if disable_eviction else []),
        f"--timeout={int(timeout)}s",
    ]


def uncordon_argv(kubeconfig: Path, name: str) -> list[str]:
    return [KUBECTL, "--kubeconfig", str(kubeconfig), "uncordon", name]


def annotate_node_argv(kubeconfig: Path, name: str, key: str, value: str | None) -> list[str]:
    change = f"{key}-" if value is None else f"{key}={value}"
    return [KUBECTL, "--kubeconfig", str(kubeconfig), "annotate", "node", name, change, "--overwrite"]


def delete_node_argv(kubeconfig: Path, name: str) -> list[str]:
    return [KUBECTL, "--kubeconfig", str(kubeconfig), "delete", "node", name, "--ignore-not-found"]


def delete_argv(kubeconfig: Path, resource: Resource, name: str, namespace: str | None) -> list[str]:
    kind = f"{resource.plural}.{resource.group}" if resource.group else resource.plural
    where = ["--namespace", namespace] if resource.namespaced and namespace else []
    return [KUBECTL, "--kubeconfig", str(kubeconfig), "delete", kind, name, *where, "--ignore-not-found"]


def secret_keys_object(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    """A Secret that names only `data`'s keys: what a field manager applying just those owns."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }


DISRUPTION_BUDGET_HINT = (
    "a PodDisruptionBudget keeps a pod on the node from being evicted (`kubectl get pdb -A` shows which allow "
    "0 disruptions): scale its workload up, relax the budget or move the pod yourself, then run again; or run "
    f"again with {ESCAPE_FLAG} to delete the pods the budget keeps (the budget is bypassed: their service may "
    "go down)"
)


class KubernetesDriver:
    """Implements the `Kube` protocol."""

    def __init__(self, kubeconfig: Path, runner: ProcessRunner, *, request_timeout: float = 30.0):
        self.kubeconfig = Path(kubeconfig)
        self.runner = runner
        self.request_timeout = request_timeout
        self._client: Any = None
        self._lock = threading.Lock()

    # --- connection ---

    def _api(self) -> Any:
        with self._lock:
            if self._client is None:
                from kubernetes import config as kube_config

                if not self.kubeconfig.exists():
                    raise TransientError(
                        f"no kubeconfig at {self.kubeconfig} yet",
                        hint="Layer 0 fetches it; run the install from layer 0",
                    )
                from talos_platform.engine.secret_files import read_yaml_secret

                # Parsed here first: the client library's YAML errors quote the file (its keys).
                read_yaml_secret(
                    self.kubeconfig,
                    "the kubeconfig",
                    recovery="or delete it: the next install fetches it again (step L0.kubeconfig)",
                )
                client = kube_config.new_client_from_config(config_file=str(self.kubeconfig))
                ensure_allowed(client.configuration.host, "Kubernetes API server")
                self._client = client
            return self._client

    def server(self) -> str:
        host: str = self._api().configuration.host
        return host

    def _open(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, Any]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: Any = None,
        headers: dict[str, str] | None = None,
    ) -> urllib3.BaseHTTPResponse:
        """One HTTP request through the client's configured connection (auth, TLS); returns the
        raw urllib3 response (not yet read)."""
        import urllib3

        client = self._api()
        extra = dict(headers or {})
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        method, url, headers, _, _ = client.param_serialize(
            method,
            path,
            query_params=query or [],
            header_params=headers,
            body=None,
            auth_settings=["BearerToken"],
        )
        headers.update(extra)
        payload = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
        try:
            response: urllib3.BaseHTTPResponse = client.rest_client.pool_manager.request(
                method,
                url,
                body=payload,
                headers=headers,
                preload_content=False,
                timeout=timeout if timeout is not None else urllib3.Timeout(total=self.request_timeout),
            )
        except urllib3.exceptions.HTTPError as error:
            raise ConnectionError(f"Kubernetes API at {client.configuration.host} unreachable: {error}") from error
        return response

    def _request_json(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        response = self._open(method, path, **kwargs)
        try:
            raw = response.read()
        finally:
            response.release_conn()
        text = raw.decode("utf-8", errors="replace")
        try:
            data = json.loads(text) if text else None
        except json.JSONDecodeError:
            data = text
        return response.status, data

    # --- reads ---

    async def list(self, resource: Resource, namespace: str | None = None, label_selector: str = "") -> ObjectList:
        query = [("labelSelector", label_selector)] if label_selector else []
        status, data = await asyncio.to_thread(
            self._request_json, "GET", resource_path(resource, namespace), query=query
        )
        if status == 404:
            # The kind is not served (yet): e.g. Applications before ArgoCD's CRDs exist.
            return ObjectList(items=[], resource_version="")
        _raise_for(status, data, f"list {resource.plural}")
        items = data.get("items") or []
        for item in items:
            # A list's items carry no kind; add it so objects look the same as from a get or watch.
            item.setdefault("apiVersion", resource.api_version)
            item.setdefault("kind", resource.kind)
        return ObjectList(items=items, resource_version=(data.get("metadata") or {}).get("resourceVersion", ""))

    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        status, data = await asyncio.to_thread(self._request_json, "GET", resource_path(resource, namespace, name))
        if status == 404:
            return None
        _raise_for(status, data, f"get {resource.plural} {name}")
        found: dict[str, Any] = data
        return found

    async def read_path(self, path: str) -> str:
        status, text = await asyncio.to_thread(self._request_text, path)
        if status >= 400:
            _raise_for(status, _status_message(text), f"GET {path}")
        return text

    def _request_text(self, path: str) -> tuple[int, str]:
        response = self._open("GET", path, headers={"Accept": "text/plain, application/json, */*"})
        try:
            raw = response.read()
        finally:
            response.release_conn()
        return response.status, raw.decode("utf-8", errors="replace")

    def watch(
        self, resource: Resource, resource_version: str, namespace: str | None = None, timeout_seconds: int = 300
    ) -> AsyncIterator[WatchEvent]:
        """Starts with a BOOKMARK at `resource_version` once the server accepted the watch."""
        return self._watch(resource, resource_version, namespace, timeout_seconds)

    async def secret_digests(self, name: str, namespace: str) -> dict[str, str] | None:
        secret = await self.get(SECRETS, name, namespace)
        if secret is None:
            return None
        return {key: secret_digest(value) for key, value in (secret.get("data") or {}).items()}

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
        query: builtins.list[tuple[str, Any]] = [("tailLines", str(tail_lines))]
        if container:
            query.append(("container", container))
        if previous:
            query.append(("previous", "true"))
        if follow:
            query.append(("follow", "true"))
        path = resource_path(PODS, namespace, name) + "/log"
        async for line in self._stream_lines(path, query, f"logs of pod {namespace}/{name}", follow=follow):
            yield line

    async def _stream_lines(
        self, path: str, query: builtins.list[tuple[str, Any]], what: str, *, follow: bool
    ) -> AsyncIterator[str]:
        """A plain-text stream, line by line, read in a thread; closing the generator closes the
        connection (a followed log has no end of its own)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()
        end = object()
        holder: dict[str, Any] = {}

        def pump() -> None:
            import urllib3

            try:
                # A followed stream is quiet for as long as the container writes nothing.
                read = None if follow else self.request_timeout
                response = self._open(
                    "GET",
                    path,
                    query=query,
                    timeout=urllib3.Timeout(connect=self.request_timeout, read=read),
                    headers={"Accept": "*/*"},
                )
                holder["response"] = response
                if response.status >= 400:
                    body = response.read().decode("utf-8", errors="replace")
                    try:
                        data: Any = json.loads(body)
                    except json.JSONDecodeError:
                        data = body
                    _raise_for(response.status, data, what)
                buffer = b""
                for chunk in response.stream(4096, decode_content=True):
                    if stop.is_set():
                        break
                    buffer += chunk
                    if b"\n" in buffer:
                        *lines, buffer = buffer.split(b"\n")
                        decoded = [line.decode("utf-8", errors="replace") for line in lines]
                        loop.call_soon_threadsafe(queue.put_nowait, decoded)
                if buffer:
                    loop.call_soon_threadsafe(queue.put_nowait, [buffer.decode("utf-8", errors="replace")])
                loop.call_soon_threadsafe(queue.put_nowait, end)
            except BaseException as error:  # handed to the consumer, which raises it
                if isinstance(error, (urllib3.exceptions.HTTPError, OSError)) and not isinstance(
                    error, ConnectionError
                ):
                    error = ConnectionError(f"{what}: the stream dropped: {error}")
                if not stop.is_set():
                    loop.call_soon_threadsafe(queue.put_nowait, error)

        thread = threading.Thread(target=pump, name="pod-log", daemon=True)
        thread.start()
        try:
            while True:
                item = await queue.get()
                if item is end:
                    return
                if isinstance(item, BaseException):
                    raise item
                for line in item:
                    yield line
        finally:
            stop.set()
            _close(holder.get("response"))

    async def _watch(
        self, resource: Resource, resource_version: str, namespace: str | None, timeout_seconds: int
    ) -> AsyncIterator[WatchEvent]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()
        end, opened = object(), object()
        holder: dict[str, Any] = {}

        def pump() -> None:
            import urllib3

            try:
                query = [("watch", "true"), ("allowWatchBookmarks", "true"), ("timeoutSeconds", str(timeout_seconds))]
                if resource_version:
                    query.append(("resourceVersion", resource_version))
                response = self._open(
                    "GET",
                    resource_path(resource, namespace),
                    query=query,
                    timeout=urllib3.Timeout(connect=self.request_timeout, read=timeout_seconds + 30),
                )
                holder["response"] = response
                if response.status == 410:
                    raise WatchExpired(f"resourceVersion {resource_version} expired")
                if response.status >= 400:
                    body = response.read().decode("utf-8", errors="replace")
                    raise ApiError(response.status, body)
                loop.call_soon_threadsafe(queue.put_nowait, opened)
                buffer = b""
                for chunk in response.stream(4096, decode_content=True):
                    if stop.is_set():
                        break
                    buffer += chunk
                    while b"\n" in buffer:
                        line, buffer = buffer.split(b"\n", 1)
                        if line.strip():
                            loop.call_soon_threadsafe(queue.put_nowait, json.loads(line))
                loop.call_soon_threadsafe(queue.put_nowait, end)
            except BaseException as error:  # handed to the consumer, which raises it
                if isinstance(error, (urllib3.exceptions.HTTPError, OSError)) and not isinstance(
                    error, ConnectionError
                ):
                    error = ConnectionError(f"watch on {resource.plural} dropped: {error}")
                if not stop.is_set():
                    loop.call_soon_threadsafe(queue.put_nowait, error)

        thread = threading.Thread(target=pump, name=f"watch-{resource.plural}", daemon=True)
        thread.start()
        try:
            while True:
                item = await queue.get()
                if item is end:
                    return
                if item is opened:
                    # The server accepted the watch: say so with a bookmark at the version asked
                    # for, so a watcher knows the API answers again even when nothing changes.
                    yield WatchEvent(
                        type="BOOKMARK",
                        object={
                            "apiVersion": resource.api_version,
                            "kind": resource.kind,
                            "metadata": {"resourceVersion": resource_version},
                        },
                    )
                    continue
                if isinstance(item, BaseException):
                    raise item
                kind = item.get("type", "")
                obj = item.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise WatchExpired(obj.get("message", "resourceVersion expired"))
                    raise ConnectionError(f"watch error: {obj.get('message', obj)}")
                yield WatchEvent(type=kind, object=obj)
        finally:
            stop.set()
            _close(holder.get("response"))

    # --- writes ---

    async def apply_objects(self, objects: builtins.list[dict[str, Any]]) -> builtins.list[str]:
        """`kubectl apply --server-side` with the objects on stdin (never in argv or output)."""
        if not objects:
            return []
        self._api()  # the loopback guard and a clear error without a kubeconfig
        result = await self.runner.run(
            apply_argv(self.kubeconfig), timeout=300, stdin=dump_documents(objects), quiet=True
        )
        return parse_applied_names(result.stdout)

    async def cordon_node(self, name: str) -> None:
        self._api()
        await self.runner.run(cordon_argv(self.kubeconfig, name), timeout=60)

    async def drain_node(self, name: str, timeout: float, *, disable_eviction: bool = False) -> None:
        self._api()
        argv = drain_argv(self.kubeconfig, name, timeout, disable_eviction=disable_eviction)
        try:
            await self.runner.run(argv, timeout=timeout + 60)
        except CommandFailed as error:
            message = f"kubectl drain {name} did not finish: {_last_line(error.stderr)}"
            if "disruption budget" in error.stderr.lower():
                raise EvictionRefused(message, hint=DISRUPTION_BUDGET_HINT) from None
            raise PermanentError(message, hint="read kubectl's output above for the pod it waited on") from None

    async def uncordon_node(self, name: str) -> None:
        self._api()
        await self.runner.run(uncordon_argv(self.kubeconfig, name), timeout=60)

    async def annotate_node(self, name: str, key: str, value: str | None) -> None:
        self._api()
        await self.runner.run(annotate_node_argv(self.kubeconfig, name, key, value), timeout=60)

    async def delete_node(self, name: str) -> None:
        self._api()
        await self.runner.run(delete_node_argv(self.kubeconfig, name), timeout=60)

    async def apply_secret_keys(self, name: str, namespace: str, data: dict[str, str], field_manager: str) -> None:
        """`kubectl apply --server-side` of a Secret holding only these keys, on stdin (never in argv
        or output), as its own field manager: applying as the bootstrap's manager would drop every
        field that manager applied before and this object leaves out."""
        self._api()
        argv = apply_argv(self.kubeconfig, field_manager)
        await self.runner.run(
            argv, timeout=60, stdin=dump_documents([secret_keys_object(name, namespace, data)]), quiet=True
        )

    async def delete(self, resource: Resource, name: str, namespace: str | None = None) -> None:
        self._api()
        await self.runner.run(delete_argv(self.kubeconfig, resource, name, namespace), timeout=60)

    async def apply_kustomization(self, path: Path) -> builtins.list[str]:
        """Build with Helm charts inflated, apply CRDs first, wait until they are Established
        (custom resources of a kind the API does not serve yet are refused), then the rest."""
        for source in remote_sources(Path(path)):
            if not source.startswith("file://"):
                ensure_allowed(source, "chart or manifest source")
        built = await self.runner.run(kustomize_argv(path), timeout=600, quiet=True, mutates=False)
        crds, rest = split_crds(load_documents(built.stdout))
        applied = await self.apply_objects(crds)
        if crds and not self.runner.dry_run:
            await self._wait_established([c["metadata"]["name"] for c in crds])
        applied += await self.apply_objects(rest)
        return applied

    async def _wait_established(self, names: builtins.list[str]) -> None:
        pending = set(names)

        async def follow() -> None:
            while True:
                listed = await self.list(CRDS)
                pending.difference_update(c["metadata"]["name"] for c in listed.items if crd_established(c))
                if not pending:
                    return
                try:
                    async for event in self.watch(CRDS, listed.resource_version, timeout_seconds=60):
                        if event.type in ("ADDED", "MODIFIED") and crd_established(event.object):
                            pending.discard(event.object.get("metadata", {}).get("name"))
                            if not pending:
                                return
                except WatchExpired:
                    continue

        try:
            await asyncio.wait_for(follow(), CRD_ESTABLISHED_TIMEOUT)
        except TimeoutError:
            raise TransientError(
                f"CRDs not Established after {CRD_ESTABLISHED_TIMEOUT:g}s: {', '.join(sorted(pending))}",
                hint="`kubectl get crd NAME -o yaml` shows its conditions",
            ) from None


def _close(response: Any) -> None:
    """Closing the socket ends the blocking read in the thread."""
    if response is None:
        return
    try:
        response.shutdown()
    except Exception:
        try:
            response.close()
        except Exception:
            pass


def _raise_for(status: int, data: Any, what: str) -> None:
    if status < 400:
        return
    message = data.get("message") if isinstance(data, dict) else str(data)
    if status in (401, 403):
        raise AccessDenied(f"{what}: access denied ({status}): {message}", hint="check the kubeconfig's credentials")
    if status >= 500 or status == 429:
        raise TransientError(f"{what}: the API server answered {status}: {message}", hint=_status_hint(status))
    raise PermanentError(f"{what}: the API server answered {status}: {message}", hint=_status_hint(status))


def _status_message(text: str) -> Any:
    """An error body as `_raise_for` reads it: a Status object when it is JSON, else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text.strip()


def _status_hint(status: int) -> str:
    """What to do about an API status that is neither success nor a refused login."""
    if status >= 500 or status == 429:
        return (
            "the API server is busy or restarting (retried automatically); "
            "`kubectl get --raw='/readyz?verbose'` shows which of its checks fail"
        )
    if status == 404:
        return "`kubectl api-resources` lists what the API server serves: a CRD may not be installed yet"
    if status == 409:
        return "another writer changed the object at the same time: run the same command again (it checks first)"
    return (
        "the API server refused the request as it stands, for the reason above: run `talos-platform validate` "
        "on the config, and report the message if it passes"
    )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
