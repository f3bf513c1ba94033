"""A simulated Vault server (`vault-0` in namespace `vault`): answers once its pod runs,
initialises exactly once, unseals with a threshold of key shares, then takes Kubernetes auth
and secrets. Keys and tokens are clearly fake."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from talos_platform.engine.drivers.protocols import VaultStatus
from talos_platform.engine.errors import PermanentError, TransientError

if TYPE_CHECKING:
    from talos_platform.engine.sim.model import PlatformModel

_CALL_SECONDS = 0.3


class VaultState:
    def __init__(self, model: PlatformModel):
        self.model = model
        self.initialized = False
        self.unsealed = False
        self.keys: list[str] = []
        self.threshold = 0
        self.provided: set[int] = set()
        self.root_token = ""
        self.kubernetes_auth = False
        self.secrets: dict[str, dict[str, str]] = {}
        self.digests: dict[str, dict[str, str]] = {}
        """Path -> field -> digest of the value: what a resumed simulation knows of the values."""

    def initialize(self, key_shares: int, key_threshold: int) -> dict[str, Any]:
        rng = self.model.rng
        self.keys = [f"SIMULATED-unseal-key-{index + 1}-{rng.getrandbits(64):016x}" for index in range(key_shares)]
        self.threshold = key_threshold
        self.root_token = f"SIMULATED-root-token-{rng.getrandbits(64):016x}"
        self.initialized = True
        return {"unseal_keys": list(self.keys), "root_token": self.root_token}

    def wipe(self) -> None:
        """Vault's storage deleted and its pod started again: uninitialised and sealed."""
        self.initialized = self.unsealed = self.kubernetes_auth = False
        self.keys, self.threshold, self.provided, self.root_token = [], 0, set(), ""
        self.secrets, self.digests = {}, {}
        self.model.workloads.vault_sealed()

    def unseal(self, key_index: int) -> None:
        if self.unsealed:
            return
        self.provided.add(key_index)
        if len(self.provided) >= self.threshold:
            self.unsealed = True
            self.provided.clear()
            self.model.workloads.vault_unsealed()

    def node_rebooted(self, node: str) -> None:
        """A Vault server pod on `node` was evicted by the drain and started again: sealed, as
        Vault always starts (it keeps its data, not its unseal)."""
        if not self.unsealed or self.model.workloads is None:
            return
        if any(
            pod.node == node
            for workload in self.model.workloads.workloads.values()
            if workload.requires_unseal
            for pod in workload.pods.values()
        ):
            self.unsealed = False
            self.provided.clear()
            self.model.workloads.vault_sealed()

    def server_running(self) -> bool:
        workload = self.model.workloads.workload("StatefulSet", "vault", "vault") if self.model.workloads else None
        if workload is None:
            workload = next((w for w in self.model.workloads.workloads.values() if w.requires_unseal), None)
        return workload is not None and any(
            pod.phase == "Running" and not pod.waiting_reason for pod in workload.pods.values()
        )


class SimulatedVault:
    def __init__(self, state: VaultState):
        self.state = state

    async def _call(self) -> None:
        await self.state.model.clock.sleep(_CALL_SECONDS)
        if not self.state.server_running():
            raise TransientError(
                'Get "http://vault.vault.svc:8200/v1/sys/seal-status": dial tcp: connect: connection refused',
                hint="the Vault pod is not running yet",
            )

    async def status(self) -> VaultStatus:
        await self._call()
        return VaultStatus(initialized=self.state.initialized, sealed=not self.state.unsealed)

    async def initialize(self, key_shares: int, key_threshold: int) -> dict[str, Any]:
        await self._call()
        state = self.state
        if state.initialized:
            raise PermanentError(
                "Error initializing: Code: 400. Errors: * Vault is already initialized",
                hint="Vault keeps its unseal keys from the first init; use the stored vault-init material",
            )
        if not 1 <= key_threshold <= key_shares:
            raise PermanentError(f"Error initializing: invalid threshold {key_threshold} for {key_shares} key shares")
        return state.model.changes.vault_initialize(key_shares, key_threshold)

    async def unseal(self, key: str) -> VaultStatus:
        await self._call()
        state = self.state
        if not state.initialized:
            raise PermanentError("Error unsealing: Code: 400. Errors: * Vault is not initialized")
        if key not in state.keys:
            raise PermanentError(
                "Error unsealing: Code: 400. Errors: * invalid key", hint="use the unseal keys stored at init"
            )
        state.model.changes.vault_unseal(state.keys.index(key))
        return VaultStatus(initialized=True, sealed=not state.unsealed)

    def _authorise(self, token: str) -> None:
        if not self.state.unsealed:
            raise TransientError("Error: Code: 503. Errors: * Vault is sealed", hint="unseal Vault first")
        if token != self.state.root_token:
            raise PermanentError(
                "Error: Code: 403. Errors: * permission denied", hint="use the root token stored at init"
            )

    async def enable_kubernetes_auth(self, token: str) -> None:
        await self._call()
        self._authorise(token)
        self.state.model.changes.vault_enable_kubernetes_auth()

    async def write_secret(self, token: str, path: str, data: dict[str, str]) -> None:
        await self._call()
        self._authorise(token)
        self.state.model.changes.vault_write(path, data)

    async def kubernetes_auth(self, token: str) -> dict[str, Any] | None:
        await self._call()
        self._authorise(token)
        if not self.state.kubernetes_auth:
            return None
        # What the real driver's writes leave in Vault (the simulator applies them as one change).
        from talos_platform.engine.config.vault_layout import VAULT_OPERATOR_ROLE, VAULT_TOKEN_AUDIENCE
        from talos_platform.engine.drivers.vault import KUBERNETES_HOST, operator_role

        return {**operator_role(VAULT_OPERATOR_ROLE, VAULT_TOKEN_AUDIENCE), "kubernetes_host": KUBERNETES_HOST}

    async def wipe_storage(self) -> None:
        await self._call()
        self.state.model.changes.vault_wipe()

    async def secret_digests(self, token: str, path: str) -> dict[str, str] | None:
        await self._call()
        self._authorise(token)
        digests = self.state.digests.get(path)
        return dict(digests) if digests is not None else None
