"""The real Vault driver: Vault's HTTP API reached through the Kubernetes API server's pod proxy
(`/api/v1/namespaces/vault/pods/http:vault-0:8200/proxy/...`).

That path needs no port-forward and no network route to the pod, works while Vault is sealed
(a sealed pod is not Ready, so its Service has no endpoints), and keeps keys and tokens in
request bodies and headers: never in argv or logs.
"""

from __future__ import annotations

import asyncio
from typing import Any

from talos_platform.engine.config.vault_layout import (
    VAULT_KUBERNETES_AUTH_MOUNT,
    VAULT_KV_MOUNT,
    VAULT_OPERATOR_ROLE,
    VAULT_TOKEN_AUDIENCE,
)
from talos_platform.engine.drivers.kube_client import KubernetesDriver
from talos_platform.engine.drivers.protocols import VaultStatus, secret_digest
from talos_platform.engine.errors import PermanentError, TransientError

KUBERNETES_HOST = "https://kubernetes.default.svc"
SECRETS_POLICY = "platform-secrets-read"


def proxy_path(namespace: str, pod: str, port: int, api_path: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods/http:{pod}:{port}/proxy{api_path}"


def operator_role(role: str, audience: str) -> dict[str, Any]:
    return {
        # The operator's default auth method logs in as the `default` service account of the
        # namespace holding each VaultStaticSecret.
        "bound_service_account_names": ["default"],
        "bound_service_account_namespaces": ["*"],
        "audience": audience,
        "token_policies": [SECRETS_POLICY],
        "token_ttl": "1h",
    }


SECRETS_POLICY_TEXT = f'path "{VAULT_KV_MOUNT}/data/platform/*" {{\n  capabilities = ["read"]\n}}\n'


class VaultThroughKubernetes:
    """Implements the `Vault` protocol."""

    def __init__(self, kube: KubernetesDriver, *, namespace: str = "vault", pod: str = "vault-0", port: int = 8200):
        self.kube = kube
        self.namespace = namespace
        self.pod = pod
        self.port = port

    async def _call(
        self, method: str, api_path: str, body: Any = None, token: str = "", *, missing_ok: bool = False
    ) -> Any:
        """Vault's JSON answer; with `missing_ok`, None when Vault says the path holds nothing."""
        headers = {"X-Vault-Token": token} if token else None
        path = proxy_path(self.namespace, self.pod, self.port, api_path)
        status, data = await asyncio.to_thread(self.kube._request_json, method, path, body=body, headers=headers)
        if status < 400:
            return data
        errors = data.get("errors") if isinstance(data, dict) else data
        text = "; ".join(errors) if isinstance(errors, list) else str(errors or "")
        if status in (502, 503) or status >= 500:
            raise TransientError(
                f"Vault ({self.namespace}/{self.pod}) answered {status} to {method} {api_path}: {text}",
                hint="Vault is starting or busy (retried automatically); "
                f"`kubectl -n {self.namespace} logs {self.pod}` shows why",
            )
        if status == 404 and not (isinstance(data, dict) and ("errors" in data or "data" in data)):
            # Not Vault's own JSON error: the API server found no such pod (or proxy).
            raise TransientError(
                f"the Vault pod {self.namespace}/{self.pod} is not reachable yet: {text}",
                hint=f"retried until it runs; `kubectl -n {self.namespace} describe pod {self.pod}` tells why not",
            )
        if status == 404 and missing_ok:
            return None
        raise PermanentError(
            f"Vault refused {method} {api_path} ({status}): {text}",
            hint="check Vault's state with `kubectl -n vault exec vault-0 -- vault status`",
        )

    async def status(self) -> VaultStatus:
        data = await self._call("GET", "/v1/sys/seal-status")
        return VaultStatus(initialized=bool(data.get("initialized")), sealed=bool(data.get("sealed", True)))

    async def initialize(self, key_shares: int, key_threshold: int) -> dict[str, Any]:
        data = await self._call("PUT", "/v1/sys/init", {"secret_shares": key_shares, "secret_threshold": key_threshold})
        return {
            "unseal_keys": list(data.get("keys_base64") or data.get("keys") or []),
            "root_token": data.get("root_token", ""),
            "key_threshold": key_threshold,
        }

    async def unseal(self, key: str) -> VaultStatus:
        data = await self._call("PUT", "/v1/sys/unseal", {"key": key})
        return VaultStatus(initialized=bool(data.get("initialized", True)), sealed=bool(data.get("sealed", True)))

    async def enable_kubernetes_auth(self, token: str) -> None:
        mount = VAULT_KUBERNETES_AUTH_MOUNT
        methods = await self._call("GET", "/v1/sys/auth", token=token)
        if f"{mount}/" not in (methods.get("data") or methods):
            await self._call("POST", f"/v1/sys/auth/{mount}", {"type": "kubernetes"}, token=token)
        # Inside the cluster Vault reviews tokens with its own service account.
        await self._call("POST", f"/v1/auth/{mount}/config", {"kubernetes_host": KUBERNETES_HOST}, token=token)
        mounts = await self._call("GET", "/v1/sys/mounts", token=token)
        if f"{VAULT_KV_MOUNT}/" not in (mounts.get("data") or mounts):
            await self._call(
                "POST", f"/v1/sys/mounts/{VAULT_KV_MOUNT}", {"type": "kv", "options": {"version": "2"}}, token=token
            )
        await self._call("PUT", f"/v1/sys/policies/acl/{SECRETS_POLICY}", {"policy": SECRETS_POLICY_TEXT}, token=token)
        await self._call(
            "POST",
            f"/v1/auth/{mount}/role/{VAULT_OPERATOR_ROLE}",
            operator_role(VAULT_OPERATOR_ROLE, VAULT_TOKEN_AUDIENCE),
            token=token,
        )

    async def write_secret(self, token: str, path: str, data: dict[str, str]) -> None:
        await self._call("POST", f"/v1/{VAULT_KV_MOUNT}/data/{path.strip('/')}", {"data": data}, token=token)

    async def kubernetes_auth(self, token: str) -> dict[str, Any] | None:
        mount = VAULT_KUBERNETES_AUTH_MOUNT
        methods = await self._call("GET", "/v1/sys/auth", token=token)
        mounts = await self._call("GET", "/v1/sys/mounts", token=token)
        if f"{mount}/" not in (methods.get("data") or methods) or f"{VAULT_KV_MOUNT}/" not in (
            mounts.get("data") or mounts
        ):
            return None
        policy = await self._call("GET", f"/v1/sys/policies/acl/{SECRETS_POLICY}", token=token, missing_ok=True)
        if policy is None or (policy.get("data") or {}).get("policy", "").strip() != SECRETS_POLICY_TEXT.strip():
            return None
        config = await self._call("GET", f"/v1/auth/{mount}/config", token=token, missing_ok=True)
        role = await self._call("GET", f"/v1/auth/{mount}/role/{VAULT_OPERATOR_ROLE}", token=token, missing_ok=True)
        if config is None or role is None:
            return None
        return {**(role.get("data") or {}), "kubernetes_host": (config.get("data") or {}).get("kubernetes_host", "")}

    async def wipe_storage(self) -> None:
        claim = f"/api/v1/namespaces/{self.namespace}/persistentvolumeclaims/data-{self.pod}"
        pod = f"/api/v1/namespaces/{self.namespace}/pods/{self.pod}"
        # The claim first: its protection finalizer holds it until the pod is gone, and the
        # StatefulSet then recreates the pod with a new, empty claim.
        for path in (claim, pod):
            status, data = await asyncio.to_thread(self.kube._request_json, "DELETE", path)
            if status >= 400 and status != 404:
                raise PermanentError(
                    f"could not delete {path.rsplit('/', 2)[-2].rstrip('s')} {path.rsplit('/', 1)[-1]} ({status}): "
                    f"{(data or {}).get('message', '') if isinstance(data, dict) else data}",
                    hint="check the kubeconfig's rights in namespace vault",
                )

    async def secret_digests(self, token: str, path: str) -> dict[str, str] | None:
        answer = await self._call("GET", f"/v1/{VAULT_KV_MOUNT}/data/{path.strip('/')}", token=token, missing_ok=True)
        data = ((answer or {}).get("data") or {}).get("data")
        if not isinstance(data, dict):
            return None  # never written, or its latest version deleted
        return {key: secret_digest(str(value)) for key, value in data.items()}
