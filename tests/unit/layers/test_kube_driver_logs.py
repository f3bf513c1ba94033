"""The real Kube driver reads a container's log through the Kubernetes client's connection, from
a loopback stand-in for the API server: the query kubectl would send, the lines as they come, a
followed stream closed by its reader, and the API's refusal as an error with its message."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from talos_platform.engine.drivers.kube_client import KubernetesDriver
from talos_platform.engine.drivers.process import ProcessRunner
from talos_platform.engine.errors import PermanentError

LOG = [f"line {n}" for n in range(1, 6)]


class StandInLogServer(BaseHTTPRequestHandler):
    paths: list[str] = []
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.paths.append(self.path)
        if "previous=true" in self.path:
            message = 'previous terminated container "api" in pod "p" not found'
            body = json.dumps({"kind": "Status", "code": 400, "message": message}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for line in LOG:
            data = (line + "\n").encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        if "follow=true" not in self.path:
            self.wfile.write(b"0\r\n\r\n")
            return
        try:
            while True:  # a followed log stays open, quiet, until the reader goes
                time.sleep(0.05)
                self.wfile.write(b"1\r\n\n\r\n")  # an empty line now and then keeps it honest
                self.wfile.flush()
        except OSError:
            return


@pytest.fixture
def driver(tmp_path):
    StandInLogServer.paths = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandInLogServer)
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
    server.server_close()


async def test_the_log_is_read_line_by_line_with_kubectls_query(driver):
    lines = [line async for line in driver.pod_log("shop", "p", "api", tail_lines=50)]
    assert lines == LOG
    assert StandInLogServer.paths == ["/api/v1/namespaces/shop/pods/p/log?tailLines=50&container=api"]


async def test_a_followed_log_gives_lines_as_they_come_and_ends_when_its_reader_does(driver):
    stream = driver.pod_log("shop", "p", follow=True)
    got = [await anext(stream) for _ in range(len(LOG))]
    await stream.aclose()
    assert got == LOG
    assert "follow=true" in StandInLogServer.paths[0] and "container=" not in StandInLogServer.paths[0]


async def test_the_apis_refusal_is_an_error_with_its_message(driver):
    with pytest.raises(PermanentError, match='previous terminated container "api" in pod "p" not found'):
        async for _ in driver.pod_log("shop", "p", "api", previous=True):
            pass
