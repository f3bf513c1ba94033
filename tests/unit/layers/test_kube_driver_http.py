"""The real Kube driver's reads and watch stream over the real Kubernetes client, against a
loopback HTTP stand-in for the API server: list/get shapes, watch lines, 410 Gone both as a
status and as an ERROR event, and the stream ending."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from talos_platform.engine.drivers.kube_client import KubernetesDriver, _raise_for
from talos_platform.engine.drivers.process import ProcessRunner
from talos_platform.engine.drivers.protocols import APPLICATIONS, NODES, WatchExpired
from talos_platform.engine.errors import PermanentError, TransientError


class StandInApiServer(BaseHTTPRequestHandler):
    script: dict = {}
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _json(self, status: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.script.setdefault("paths", []).append(self.path)
        if "watch=true" in self.path:
            mode = self.script["watch"]
            if mode == "gone-status":
                return self._json(410, {"kind": "Status", "code": 410, "reason": "Expired"})
            lines = [
                {"type": "ADDED", "object": {"metadata": {"name": "n2", "resourceVersion": "11"}}},
                {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "12"}}},
            ]
            if mode == "gone-event":
                lines.append(
                    {
                        "type": "ERROR",
                        "object": {"kind": "Status", "code": 410, "message": "too old resource version: 5 (9)"},
                    }
                )
            body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path.startswith("/api/v1/nodes/n1"):
            return self._json(200, {"kind": "Node", "apiVersion": "v1", "metadata": {"name": "n1"}})
        if self.path.startswith("/api/v1/nodes"):
            return self._json(
                200,
                {"kind": "NodeList", "metadata": {"resourceVersion": "10"}, "items": [{"metadata": {"name": "n1"}}]},
            )
        return self._json(
            404, {"kind": "Status", "code": 404, "message": "the server could not find the requested resource"}
        )


@pytest.fixture
def driver(tmp_path):
    StandInApiServer.script = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandInApiServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{server.server_address[1]}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n"
    )
    yield KubernetesDriver(kubeconfig, ProcessRunner())
    server.shutdown()


async def test_list_adds_kind_and_keeps_the_resource_version(driver):
    listed = await driver.list(NODES)
    assert listed.resource_version == "10"
    assert listed.items == [{"metadata": {"name": "n1"}, "apiVersion": "v1", "kind": "Node"}]
    assert (await driver.get(NODES, "n1"))["kind"] == "Node"


async def test_a_kind_the_server_does_not_serve_lists_empty(driver):
    listed = await driver.list(APPLICATIONS, "argocd")
    assert listed.items == [] and listed.resource_version == ""
    assert StandInApiServer.script["paths"][-1] == "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications"


async def test_watch_streams_events_then_ends(driver):
    StandInApiServer.script["watch"] = "ok"
    events = [
        (e.type, e.object["metadata"].get("name") or e.object["metadata"]["resourceVersion"])
        async for e in driver.watch(NODES, "10", timeout_seconds=5)
    ]
    # First a bookmark at the version asked for: the server accepted the watch.
    assert events == [("BOOKMARK", "10"), ("ADDED", "n2"), ("BOOKMARK", "12")]
    watch_path = next(p for p in StandInApiServer.script["paths"] if "watch=true" in p)
    assert "resourceVersion=10" in watch_path and "allowWatchBookmarks=true" in watch_path


@pytest.mark.parametrize("mode", ["gone-status", "gone-event"])
async def test_410_gone_raises_watch_expired(driver, mode):
    StandInApiServer.script["watch"] = mode
    seen = []
    with pytest.raises(WatchExpired):
        async for event in driver.watch(NODES, "5", timeout_seconds=5):
            seen.append(event.type)
    assert seen == ([] if mode == "gone-status" else ["BOOKMARK", "ADDED", "BOOKMARK"])


async def test_an_unreachable_api_server_is_a_connection_error(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n"
    )
    driver = KubernetesDriver(kubeconfig, ProcessRunner(), request_timeout=3)
    with pytest.raises(ConnectionError):
        await driver.list(NODES)


@pytest.mark.parametrize(
    "status, kind",
    [
        (400, PermanentError),
        (404, PermanentError),
        (409, PermanentError),
        (422, PermanentError),
        (429, TransientError),
        (500, TransientError),
        (503, TransientError),
    ],
)
def test_every_refusal_of_the_api_server_says_what_to_do(status, kind):
    with pytest.raises(kind, match=f"answered {status}: no luck") as refused:
        _raise_for(status, {"kind": "Status", "message": "no luck"}, "get pods web-0")
    assert refused.value.hint
