"""Start, watch and stop the control plane's processes; each writes its own log file."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import weakref
from collections import deque
from collections.abc import Callable
from pathlib import Path

# Every started process, so that none outlives an interrupted test run.
_STARTED: weakref.WeakSet[ManagedProcess] = weakref.WeakSet()


@atexit.register
def _stop_leftover_processes() -> None:
    for process in list(_STARTED):
        process.stop(timeout=5)


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_get_ok(
    url: str, *, context: ssl.SSLContext | None = None, token: str | None = None, timeout: float = 2.0
) -> bool:
    """True when a GET of a loopback URL answers 200."""
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    # Never route the loopback probes through a proxy from the environment.
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    try:
        with urllib.request.build_opener(*handlers).open(request, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def unverified_loopback_tls() -> ssl.SSLContext:
    """For the health ports of the controller manager and scheduler, which serve self-signed."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class ProcessExited(RuntimeError):
    """A harness process ended while it was expected to run."""


class ManagedProcess:
    """One long-running binary with its log file; can be stopped and started again."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        if self.is_running():
            raise RuntimeError(f"{self.name} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # Append, so that a restart keeps the earlier run's lines for the failure report.
        with self.log_path.open("ab") as log:
            log.write(f"--- starting {self.name}: {' '.join(self.argv)}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                # Its own process group, so that stopping it never signals pytest.
                start_new_session=True,
            )
        _STARTED.add(self)

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, then SIGKILL if it has not ended within timeout seconds."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)

    def log_tail(self, lines: int = 40) -> str:
        try:
            with self.log_path.open("r", errors="replace") as log:
                return "".join(deque(log, maxlen=lines))
        except FileNotFoundError:
            return "(no log written)"

    def wait_until(self, ready: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
        """Poll ready() until true; fail early, with the log's tail, if the process ends."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                code = self._process.returncode if self._process else None
                raise ProcessExited(
                    f"{self.name} exited with code {code} before {what}; "
                    f"last lines of {self.log_path}:\n{self.log_tail()}"
                )
            if ready():
                return
            time.sleep(0.25)
        raise TimeoutError(
            f"{self.name} did not reach '{what}' within {timeout:.0f}s; "
            f"last lines of {self.log_path}:\n{self.log_tail()}"
        )
