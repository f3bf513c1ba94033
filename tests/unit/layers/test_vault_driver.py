"""The real Vault driver, over the real Kubernetes client, against a loopback HTTP server that
plays the API server's pod proxy in front of a small Vault: the exact paths, bodies and token
header of each call."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from talos_platform.engine.drivers.kube_client import KubernetesDriver
from talos_platform.engine.drivers.process import ProcessRunner
from talos_platform.engine.drivers.vault import SECRETS_POLICY, VaultThroughKubernetes
from talos_platform.engine.errors import PermanentError

PROXY = "/api/v1/namespaces/vault/pods/http:vault-0:8200/proxy"


class FakeVaultBehindProxy(BaseHTTPRequestHandler):
    state: dict = {}

    def log_message(self, *args):  # keep test output quiet
        pass

    def _reply(self, status: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        state = self.state
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        state["requests"].append((self.command, self.path, self.headers.get("X-Vault-Token"), body))
        state.setdefault("authorization", set()).add(self.headers.get("Authorization"))
        if self.command == "DELETE":
            return self._reply(state.get("delete_status", 200), {"kind": "Status", "message": "forbidden here"})
        if not self.path.startswith(PROXY):
            return self._reply(404, {"kind": "Status", "message": "not found"})
        path = self.path[len(PROXY) :]
        if state.get("unavailable"):
            return self._reply(503, {"errors": ["Vault is sealed"]})
        if path == "/v1/sys/seal-status":
            return self._reply(200, {"initialized": state["initialized"], "sealed": state["sealed"], "t": 3})
        if path == "/v1/sys/init" and self.command == "PUT":
            if state["initialized"]:
                return self._reply(400, {"errors": ["Vault is already initialized"]})
            state["initialized"] = True
            return self._reply(200, {"keys": ["aa", "bb"], "keys_base64": ["qg==", "uw=="], "root_token": "hvs.root"})
        if path == "/v1/sys/unseal":
            state["sealed"] = False
            return self._reply(200, {"initialized": True, "sealed": False})
        if self.headers.get("X-Vault-Token") != "hvs.root":
            return self._reply(403, {"errors": ["permission denied"]})
        if path == "/v1/sys/auth":
            return self._reply(200, {"data": {"token/": {"type": "token"}, **state["auth"]}})
        if path == "/v1/sys/mounts":
            return self._reply(200, {"data": {"sys/": {"type": "system"}, **state["mounts"]}})
        if path.startswith("/v1/sys/auth/"):
            state["auth"][path.removeprefix("/v1/sys/auth/") + "/"] = body
            return self._reply(204, {})
        if path.startswith("/v1/sys/mounts/"):
            state["mounts"][path.removeprefix("/v1/sys/mounts/") + "/"] = body
            return self._reply(204, {})
        if self.command == "GET":
            # Reads give back what was written, as Vault wraps it; a path never written is 404.
            if path not in state["stored"]:
                return self._reply(404, {"errors": []})
            return self._reply(200, {"data": state["stored"][path]})
        state["stored"][path] = body
        return self._reply(200, {"data": {}})

    do_GET = do_PUT = do_POST = do_DELETE = _handle


@pytest.fixture
def vault_server(tmp_path):
    FakeVaultBehindProxy.state = {
        "initialized": False,
        "sealed": True,
        "requests": [],
        "auth": {},
        "mounts": {},
        "stored": {},
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeVaultBehindProxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{server.server_address[1]}'}}}}]\n"
        "users: [{name: u, user: {token: kube-token}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n"
    )
    yield VaultThroughKubernetes(KubernetesDriver(kubeconfig, ProcessRunner())), FakeVaultBehindProxy.state
    server.shutdown()


async def test_init_unseal_and_configure_through_the_pod_proxy(vault_server):
    vault, state = vault_server
    status = await vault.status()
    assert (status.initialized, status.sealed) == (False, True)
    material = await vault.initialize(5, 3)
    assert material == {"unseal_keys": ["qg==", "uw=="], "root_token": "hvs.root", "key_threshold": 3}
    assert (await vault.unseal("qg==")).sealed is False
    await vault.enable_kubernetes_auth("hvs.root")
    await vault.write_secret("hvs.root", "platform/cloudflare", {"api-token": "cf"})
    calls = [(method, path.removeprefix(PROXY), token) for method, path, token, _ in state["requests"]]
    assert calls == [
        ("GET", "/v1/sys/seal-status", None),
        ("PUT", "/v1/sys/init", None),
        ("PUT", "/v1/sys/unseal", None),
        ("GET", "/v1/sys/auth", "hvs.root"),
        ("POST", "/v1/sys/auth/kubernetes", "hvs.root"),
        ("POST", "/v1/auth/kubernetes/config", "hvs.root"),
        ("GET", "/v1/sys/mounts", "hvs.root"),
        ("POST", "/v1/sys/mounts/secret", "hvs.root"),
        ("PUT", f"/v1/sys/policies/acl/{SECRETS_POLICY}", "hvs.root"),
        ("POST", "/v1/auth/kubernetes/role/vault-secrets-operator", "hvs.root"),
        ("POST", "/v1/secret/data/platform/cloudflare", "hvs.root"),
    ]
    assert state["authorization"] == {"Bearer kube-token"}  # the kubeconfig's credentials reach the API server
    bodies = {path.removeprefix(PROXY): body for _, path, _, body in state["requests"]}
    assert bodies["/v1/sys/init"] == {"secret_shares": 5, "secret_threshold": 3}
    assert bodies["/v1/sys/mounts/secret"] == {"type": "kv", "options": {"version": "2"}}
    assert bodies["/v1/auth/kubernetes/role/vault-secrets-operator"]["audience"] == "vault"
    assert bodies["/v1/secret/data/platform/cloudflare"] == {"data": {"api-token": "cf"}}


async def test_enabling_again_skips_what_exists(vault_server):
    vault, state = vault_server
    state["auth"]["kubernetes/"] = {"type": "kubernetes"}
    state["mounts"]["secret/"] = {"type": "kv"}
    await vault.enable_kubernetes_auth("hvs.root")
    posted = [path.removeprefix(PROXY) for method, path, _, _ in state["requests"] if method == "POST"]
    assert "/v1/sys/auth/kubernetes" not in posted and "/v1/sys/mounts/secret" not in posted


async def test_vault_refusals_are_permanent_errors_with_its_message(vault_server):
    vault, state = vault_server
    state["initialized"] = True
    with pytest.raises(PermanentError) as refused:
        await vault.initialize(5, 3)
    assert "Vault is already initialized" in refused.value.message
    with pytest.raises(PermanentError) as denied:
        await vault.write_secret("wrong-token", "platform/git", {"token": "x"})
    assert "permission denied" in denied.value.message


async def test_what_was_configured_reads_back_and_secrets_only_as_digests(vault_server):
    from talos_platform.engine.drivers.protocols import secret_digest
    from talos_platform.engine.layers.platform import wanted_kubernetes_auth

    vault, state = vault_server
    state.update(initialized=True, sealed=False)
    assert await vault.kubernetes_auth("hvs.root") is None  # nothing enabled yet
    assert await vault.secret_digests("hvs.root", "platform/git") is None  # never written: Vault's 404
    await vault.enable_kubernetes_auth("hvs.root")
    await vault.write_secret("hvs.root", "platform/git", {"username": "robot", "token": "t0ken"})
    found = await vault.kubernetes_auth("hvs.root")
    assert {key: found[key] for key in wanted_kubernetes_auth()} == wanted_kubernetes_auth()
    assert await vault.secret_digests("hvs.root", "platform/git") == {
        "username": secret_digest("robot"),
        "token": secret_digest("t0ken"),
    }
    reads = [path.removeprefix(PROXY) for method, path, _, _ in state["requests"] if method == "GET"]
    assert "/v1/secret/data/platform/git" in reads and f"/v1/sys/policies/acl/{SECRETS_POLICY}" in reads
    # A policy someone changed is not what the operator needs: not configured.
    state["stored"][f"/v1/sys/policies/acl/{SECRETS_POLICY}"] = {"policy": 'path "*" { capabilities = ["deny"] }'}
    assert await vault.kubernetes_auth("hvs.root") is None


async def test_a_missing_vault_pod_is_worth_a_retry(vault_server):
    from talos_platform.engine.errors import TransientError

    vault, _ = vault_server
    vault.pod = "vault-9"  # the API server answers 404 with its own Status, not Vault's JSON
    with pytest.raises(TransientError) as missing:
        await vault.status()
    assert "kubectl -n vault describe pod vault-9" in missing.value.hint


async def test_a_vault_that_cannot_answer_yet_is_worth_a_retry_with_a_hint(vault_server):
    from talos_platform.engine.errors import TransientError

    vault, state = vault_server
    state["unavailable"] = True
    with pytest.raises(TransientError, match="answered 503") as unavailable:
        await vault.status()
    assert "kubectl -n vault logs vault-0" in unavailable.value.hint


async def test_wiping_deletes_the_data_claim_then_the_pod(vault_server):
    vault, state = vault_server
    await vault.wipe_storage()
    assert [(method, path) for method, path, _, _ in state["requests"]] == [
        ("DELETE", "/api/v1/namespaces/vault/persistentvolumeclaims/data-vault-0"),
        ("DELETE", "/api/v1/namespaces/vault/pods/vault-0"),
    ]


async def test_a_refused_wipe_is_a_permanent_error(vault_server):
    vault, state = vault_server
    state["delete_status"] = 403
    with pytest.raises(PermanentError, match="could not delete persistentvolumeclaim data-vault-0 \\(403\\)"):
        await vault.wipe_storage()
