"""What answers at pod addresses in the rehearsal: run inside the cluster's network namespace
(`python -m talos_platform.rehearsal.pod_servers CERT_DIR`), where every pod address is local.

kwok pods run no containers, so the API server's calls to pods reach these stand-ins instead:

- admission webhooks (TLS on the usual webhook ports): every review is allowed, unchanged. The
  certificate is picked by the name the API server asks for (`<service>.<namespace>.svc`), from
  CERT_DIR, where the host-side stand-in writes it and injects its CA into the webhook's
  caBundle. It could hide: a webhook's own checks (cert-manager's validation of an Issuer, the
  Prometheus operator's of a rule); the CRD schemas still apply.
- Vault's HTTP API on 8200, the calls the install makes (init, unseal, auth, KV), sealed until
  unsealed with enough of its keys. It could hide: Vault refusing a policy or role we write.
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

WEBHOOK_PORTS = (443, 8443, 9443, 10250)
VAULT_PORT = 8200


class _DualStackServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


# --- admission webhooks --------------------------------------------------------------------------


class _Webhook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        review = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        uid = (review.get("request") or {}).get("uid", "")
        answer = {
            "apiVersion": review.get("apiVersion", "admission.k8s.io/v1"),
            "kind": "AdmissionReview",
            "response": {"uid": uid, "allowed": True},
        }
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        print(f"webhook {self.path} {args[1] if len(args) > 1 else ''}", flush=True)


def _tls_by_name(cert_dir: Path) -> ssl.SSLContext:
    default = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    default.load_cert_chain(cert_dir / "default.crt", cert_dir / "default.key")

    def choose(connection: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        if name and (cert_dir / f"{name}.crt").exists():
            chosen = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            chosen.load_cert_chain(cert_dir / f"{name}.crt", cert_dir / f"{name}.key")
            connection.context = chosen

    default.sni_callback = choose
    return default


# --- Vault ---------------------------------------------------------------------------------------


class VaultState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.keys: list[str] = []
        self.threshold = 0
        self.root_token = ""
        self.given: set[str] = set()
        self.sealed = True
        self.auth: dict[str, dict[str, Any]] = {"token/": {"type": "token"}}
        self.mounts: dict[str, dict[str, Any]] = {"sys/": {"type": "system"}, "cubbyhole/": {"type": "cubbyhole"}}
        self.store: dict[str, dict[str, Any]] = {}


class _Vault(BaseHTTPRequestHandler):
    state = VaultState()

    def _answer(self, status: int, data: object = None) -> None:
        body = json.dumps(data if data is not None else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> dict[str, Any]:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        return json.loads(raw) if raw else {}

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET", {})

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT", self._body())

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST", self._body())

    def _handle(self, method: str, body: dict[str, Any]) -> None:
        state = self.state
        path = self.path.split("?")[0].removeprefix("/v1/").strip("/")
        with state.lock:
            if path == "sys/seal-status":
                return self._answer(
                    200,
                    {
                        "initialized": bool(state.keys),
                        "sealed": state.sealed,
                        "t": state.threshold,
                        "n": len(state.keys),
                        "progress": len(state.given),
                    },
                )
            if path == "sys/init" and method in ("PUT", "POST"):
                if state.keys:
                    return self._answer(400, {"errors": ["Vault is already initialized"]})
                shares, state.threshold = int(body["secret_shares"]), int(body["secret_threshold"])
                state.keys = [base64.b64encode(secrets.token_bytes(32)).decode() for _ in range(shares)]
                state.root_token = "hvs." + secrets.token_urlsafe(18)
                return self._answer(
                    200, {"keys_base64": state.keys, "keys": state.keys, "root_token": state.root_token}
                )
            if path == "sys/unseal" and method in ("PUT", "POST"):
                if body.get("key") not in state.keys:
                    return self._answer(400, {"errors": ["unseal key is not valid"]})
                state.given.add(body["key"])
                if len(state.given) >= state.threshold:
                    state.sealed, state.given = False, set()
                return self._answer(200, {"initialized": True, "sealed": state.sealed, "progress": len(state.given)})
            if state.sealed:
                return self._answer(503, {"errors": ["Vault is sealed"]})
            if self.headers.get("X-Vault-Token") != state.root_token:
                return self._answer(403, {"errors": ["permission denied"]})
            return self._authorised(method, path, body)

    def _authorised(self, method: str, path: str, body: dict[str, Any]) -> None:
        state = self.state
        if path in ("sys/auth", "sys/mounts"):
            table = state.auth if path == "sys/auth" else state.mounts
            return self._answer(200, {"data": table, **table})
        for prefix, table in (("sys/auth/", state.auth), ("sys/mounts/", state.mounts)):
            if path.startswith(prefix) and method == "POST":
                table[path.removeprefix(prefix).strip("/") + "/"] = {
                    "type": body.get("type", ""),
                    "options": body.get("options"),
                }
                return self._answer(204)
        if path.startswith("sys/policies/acl/") or path.startswith("auth/"):
            mount = path.split("/")[1] + "/" if path.startswith("auth/") else ""
            if mount and mount not in state.auth:
                return self._answer(404, {"errors": [f"no handler for route '{path}'"]})
            if method in ("PUT", "POST"):
                state.store[path] = dict(body)
                return self._answer(204)
            if path not in state.store:
                return self._answer(404, {"errors": []})
            return self._answer(200, {"data": state.store[path]})
        mount = path.split("/", 1)[0] + "/"
        if mount in state.mounts and "/data/" in path:
            if method in ("PUT", "POST"):
                state.store[path] = dict(body.get("data") or {})
                return self._answer(200, {"data": {"version": 1}})
            if path not in state.store:
                return self._answer(404, {"errors": []})
            return self._answer(200, {"data": {"data": state.store[path], "metadata": {"version": 1}}})
        return self._answer(404, {"errors": [f"no handler for route '{path}'"]})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        print(f"vault {self.command} {self.path.split('?')[0]} {args[1] if len(args) > 1 else ''}", flush=True)


# --- main ----------------------------------------------------------------------------------------


def serve(cert_dir: Path) -> None:
    servers = []
    for port in WEBHOOK_PORTS:
        server = _DualStackServer(("0.0.0.0", port), _Webhook)
        server.socket = _tls_by_name(cert_dir).wrap_socket(server.socket, server_side=True)
        servers.append(server)
    servers.append(_DualStackServer(("0.0.0.0", VAULT_PORT), _Vault))
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"serving webhooks on {WEBHOOK_PORTS} and Vault on {VAULT_PORT} at every pod address", flush=True)
    servers[0].serve_forever()


if __name__ == "__main__":
    socket.setdefaulttimeout(60)
    serve(Path(sys.argv[1]))
