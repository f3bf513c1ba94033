"""The rehearsal's loopback servers: a Git server (smart HTTP through `git http-backend`, push
included) for the rendered repository, and a static file server for a Helm chart repository
folder (its `index.yaml`, packaged charts and the Gateway API release files).

Both bind 127.0.0.1 on a free port and run in a thread of the calling process.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Served:
    """A ThreadingHTTPServer on 127.0.0.1 in a daemon thread; `requests` records each path."""

    def __init__(self, handler: Callable[..., BaseHTTPRequestHandler]) -> None:
        self.requests: list[str] = []
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._server.served = self
        self._thread = threading.Thread(target=self._server.serve_forever, name=type(self).__name__, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> _Served:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Server(ThreadingHTTPServer):
    served: _Served
    """The server's owner, for its handlers (they record the requests there)."""


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        if isinstance(self.server, _Server):
            self.server.served.requests.append(f"{self.command} {self.path} {args[1] if len(args) > 1 else ''}")


class ChartRepository(_Served):
    """Serves `folder` (a Helm repository: index.yaml, *.tgz, gateway-api/<version>/...)."""

    def __init__(self, folder: Path) -> None:
        if not (folder / "index.yaml").is_file():
            raise FileNotFoundError(f"{folder} is not a Helm chart repository (no index.yaml)")
        self.folder = folder
        super().__init__(partial(_QuietFiles, directory=str(folder)))


class _GitHttpBackend(BaseHTTPRequestHandler):
    """Runs `git http-backend` (CGI) for each request, as a web server in front of Git does."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._backend()

    def do_POST(self) -> None:  # noqa: N802
        self._backend()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _backend(self) -> None:
        server = self.server
        assert isinstance(server, _Server) and isinstance(server.served, GitServer)
        served = server.served
        path, _, query = self.path.partition("?")
        body = self._body()
        env = {
            "GIT_PROJECT_ROOT": str(served.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "REMOTE_ADDR": self.client_address[0],
            "PATH": "/usr/local/bin:/usr/bin:/bin",
        }
        completed = subprocess.run(["git", "http-backend"], input=body, capture_output=True, env=env, timeout=120)
        head, _, content = completed.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, content = completed.stdout.partition(b"\n\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        served.requests.append(f"{self.command} {path} {status}")
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class GitServer(_Served):
    """Bare repositories under `root`, served read-write at `<url>/<name>.git`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        super().__init__(_GitHttpBackend)

    def create_repository(self, name: str, branch: str = "main") -> str:
        """An empty bare repository that accepts pushes; returns its URL."""
        path = self.root / f"{name}.git"
        subprocess.run(["git", "init", "--quiet", "--bare", f"--initial-branch={branch}", str(path)], check=True)
        subprocess.run(["git", "-C", str(path), "config", "http.receivepack", "true"], check=True)
        return f"{self.url}/{name}.git"
