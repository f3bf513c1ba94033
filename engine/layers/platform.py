"""Layer 3: the platform services. Follow the Vault Application until its pod runs, initialise
Vault once (keys and root token kept 0600 in the state directory, never shown), unseal it,
enable Kubernetes auth for the Vault Secrets Operator, load the user's secrets, then follow
Vault, the operator, monitoring and the Cloudflare Tunnel to Healthy."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from secrets import token_urlsafe
from typing import TYPE_CHECKING, Any

from talos_platform.engine.config.platform_checks import installs_local_path
from talos_platform.engine.drivers.protocols import PODS, Vault, secret_digest
from talos_platform.engine.errors import PermanentError, TransientError
from talos_platform.engine.layers.applications import FollowApplications, Selector
from talos_platform.engine.layers.argo import name_of
from talos_platform.engine.layers.base import BaseStep, done, todo
from talos_platform.engine.layers.planned import vault_call, watch_until
from talos_platform.engine.layers.waiting import Objects, WaitTimedOut, wait_for_objects
from talos_platform.engine.plan.step import Action, CheckResult
from talos_platform.engine.render.load_balancer import load_balancer_enabled

if TYPE_CHECKING:
    from talos_platform.engine.config.models import PlatformConfig
    from talos_platform.engine.config.secrets import Secrets
    from talos_platform.engine.plan.context import StepContext

VAULT_NAMESPACE, VAULT_POD = "vault", "vault-0"
KEY_SHARES, KEY_THRESHOLD = 5, 3

# Where the user's secrets go in Vault (KV version 2 mounted at `secret/`), field by field.
VAULT_SECRET_PATHS: dict[str, dict[str, str]] = {
    "platform/cloudflare": {"api-token": "cloudflare_api_token", "tunnel-token": "cloudflare_tunnel_token"},
    "platform/git": {"username": "git_username", "token": "git_token"},
}


def vault_secret_payloads(secrets: Secrets) -> dict[str, dict[str, str]]:
    """Path -> data for every path with at least one value given."""
    payloads = {}
    for path, fields in VAULT_SECRET_PATHS.items():
        data = {
            key: getattr(secrets, attribute) for key, attribute in fields.items() if getattr(secrets, attribute, "")
        }
        if data:
            payloads[path] = data
    return payloads


def planned_secret_fields(config: PlatformConfig) -> dict[str, list[str]]:
    """Path -> field names for the secrets `config` needs (what `vault_secret_payloads` will hold
    once they are given)."""
    from talos_platform.engine.config.secrets import required_secrets

    needed = {_snake(name) for name in required_secrets(config)}
    planned = {}
    for path, fields in VAULT_SECRET_PATHS.items():
        names = [key for key, attribute in fields.items() if attribute in needed]
        if names:
            planned[path] = names
    return planned


def _snake(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)


VAULT_INIT_WHAT = "Vault's init material (unseal keys and root token)"
VAULT_INIT_RECOVERY = "it is the only copy of Vault's unseal keys and root token: without it Vault cannot be unsealed"


def read_vault_init(ctx: StepContext) -> dict[str, Any] | None:
    """The saved init answer (None: never saved). A damaged file is an error naming the file,
    never quoting it."""
    from talos_platform.engine.secret_files import damaged, read_json_secret

    path = ctx.state.vault_init
    try:
        material = read_json_secret(path, VAULT_INIT_WHAT, state=ctx.state, recovery=VAULT_INIT_RECOVERY)
    except FileNotFoundError:
        return None
    if not isinstance(material, dict) or not isinstance(material.get("unseal_keys", []), list):
        raise damaged(
            path,
            VAULT_INIT_WHAT,
            "it is not a JSON object with `unseal_keys` and `root_token`",
            state=ctx.state,
            recovery=VAULT_INIT_RECOVERY,
        )
    return material


def named(name: str) -> Selector:
    return lambda app: name_of(app) == name


def vault_driver(ctx: StepContext) -> Vault:
    if ctx.drivers.vault is None:
        raise PermanentError("no Vault driver available", hint="this front end cannot configure Vault")
    return ctx.drivers.vault


def pod_running(objects: Objects) -> tuple[bool, str]:
    pod = objects.get((VAULT_NAMESPACE, VAULT_POD))
    if pod is None:
        return False, f"pod {VAULT_NAMESPACE}/{VAULT_POD} does not exist yet"
    phase = (pod.get("status") or {}).get("phase", "Pending")
    waiting = [
        (s.get("state") or {}).get("waiting", {}).get("reason", "")
        for s in (pod.get("status") or {}).get("containerStatuses") or []
        if (s.get("state") or {}).get("waiting")
    ]
    running = phase == "Running" and not waiting
    return running, f"pod {VAULT_NAMESPACE}/{VAULT_POD} is {phase}" + (
        f" ({', '.join(filter(None, waiting))})" if waiting else ""
    )


class VaultRunning(BaseStep):
    """Vault's server pod runs (it is not Ready while sealed: that is what comes next)."""

    layer = 3
    timeout: float = 900

    def __init__(self, config: PlatformConfig, *, needs: tuple[str, ...]) -> None:
        super().__init__(config, step_id="L3.vault-running", title="Wait for the Vault pod", needs=needs)

    async def _check(self, ctx: StepContext) -> CheckResult:
        pod = await ctx.drivers.kube.get(PODS, VAULT_POD, VAULT_NAMESPACE)
        ok, text = pod_running({(VAULT_NAMESPACE, VAULT_POD): pod} if pod else {})
        if ok:
            return done(text)
        return todo(text, *self.planned_actions(ctx))

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        return (
            Action(
                f"wait for the Vault pod {VAULT_NAMESPACE}/{VAULT_POD} to run (it stays unready while sealed)",
                api_call=watch_until(PODS, "it is Running", name=VAULT_POD, namespace=VAULT_NAMESPACE),
            ),
        )

    async def _wait(self, ctx: StepContext) -> None:
        try:
            await wait_for_objects(ctx, PODS, pod_running, timeout=self.wait_budget, namespace=VAULT_NAMESPACE)
        except WaitTimedOut as timed_out:
            raise PermanentError(
                f"Vault did not start within {self.timeout:g}s: {timed_out.status}",
                hint="`kubectl -n vault describe pod vault-0`; Pending on an unbound PersistentVolumeClaim means no "
                "StorageClass can serve it: check the local-path-storage Application, or the class named in "
                "storage.storageClass (`kubectl get storageclass`)",
            ) from None


REINITIALISE_VAULT = "reinitialise-vault"
"""The recovery (`install --reinitialise-vault`) that wipes Vault's storage when this install's own
interrupted run initialised Vault and lost the answer."""
WIPE_WAIT_SECONDS, WIPE_POLL_SECONDS = 600.0, 5.0


def read_vault_init_intent(ctx: StepContext) -> dict[str, Any] | None:
    """The record written just before `vault operator init` (None: no init was started, or its
    answer was saved). A damaged record still counts: the intent was there."""
    try:
        text = ctx.state.vault_init_intent.read_text()
    except FileNotFoundError:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


class VaultInitialise(BaseStep):
    """`vault operator init` exactly once; the keys are saved before anything else happens.

    The intent is recorded first. A run killed between Vault accepting the init and the answer
    reaching the disk leaves the intent without the keys; the next run then says that this
    install lost them, and, while Vault still holds nothing (it has stayed sealed, so nothing
    was ever written to it), offers to wipe its storage and initialise it again."""

    layer = 3
    timeout: float = 120

    def __init__(self, config: PlatformConfig) -> None:
        super().__init__(config, step_id="L3.vault-init", title="Initialise Vault", needs=("L3.vault-running",))

    def inputs(self) -> Any:
        return {"shares": KEY_SHARES, "threshold": KEY_THRESHOLD}

    async def _check(self, ctx: StepContext) -> CheckResult:
        status = await vault_driver(ctx).status()
        held = read_vault_init(ctx)
        if status.initialized and held:
            ctx.state.vault_init_intent.unlink(missing_ok=True)  # a run killed right after saving
            return done(f"Vault is initialised; its keys are in {ctx.state.vault_init}")
        if status.initialized:
            intent = read_vault_init_intent(ctx)
            if intent is None:
                from talos_platform.engine.secret_files import restore_hint

                raise PermanentError(
                    f"Vault is already initialised by someone else, or {ctx.state.vault_init} that held its keys "
                    "was lost: this install holds no unseal keys for it",
                    hint=f"if this install initialised it, {restore_hint(ctx.state.vault_init, ctx.state)}; if you "
                    f"have its init output, save it as JSON with `unseal_keys` and `root_token` in "
                    f"{ctx.state.vault_init} (mode 0600) and run again; otherwise delete Vault's data volume "
                    "(this erases everything stored in it) so it can be initialised afresh",
                )
            return self._lost_by_us(ctx, intent, status.sealed)
        return todo("Vault is not initialised", *self.planned_actions(ctx))

    def _lost_by_us(self, ctx: StepContext, intent: dict[str, Any], sealed: bool) -> CheckResult:
        when = intent.get("started") or "an earlier run"
        lost = (
            f"Vault was initialised by this install's own interrupted run ({when}), which was stopped before "
            f"it saved the answer: Vault's unseal keys and root token are lost ({ctx.state.vault_init} was never "
            "written)"
        )
        if not sealed:
            raise PermanentError(
                lost + ", yet Vault is unsealed now, so someone holds its keys and may have stored data in it",
                hint="get the init output from whoever unsealed it and save it as JSON with `unseal_keys` and "
                f"`root_token` in {ctx.state.vault_init} (mode 0600), then run again; nothing is wiped automatically",
            )
        if REINITIALISE_VAULT not in ctx.allowed:
            raise PermanentError(
                lost + "; Vault has stayed sealed since, so it holds nothing",
                hint="the safe recovery wipes Vault's storage (its volume claim data-vault-0 and pod vault-0) and "
                "initialises it again: run the same install command with --reinitialise-vault (it asks first; "
                "with --yes it goes ahead)",
            )
        return todo(
            lost
            + "; Vault has stayed sealed since, so it holds nothing: its storage is wiped and it is initialised again",
            *self._wipe_actions(),
            *self.planned_actions(ctx),
            wipe=True,
        )

    def _wipe_actions(self) -> tuple[Action, ...]:
        return (
            Action(
                f"delete Vault's volume claim {VAULT_NAMESPACE}/data-{VAULT_POD} and pod {VAULT_NAMESPACE}/{VAULT_POD}",
                api_call=f"DELETE /api/v1/namespaces/{VAULT_NAMESPACE}/persistentvolumeclaims/data-{VAULT_POD}, "
                f"DELETE /api/v1/namespaces/{VAULT_NAMESPACE}/pods/{VAULT_POD}",
            ),
            Action("wait until Vault answers again, uninitialised", api_call=vault_call("GET", "/v1/sys/seal-status")),
        )

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        return (
            Action(
                f"initialise Vault with {KEY_SHARES} key shares, threshold {KEY_THRESHOLD}; save them 0600 to "
                f"{ctx.state.vault_init}",
                api_call=vault_call("PUT", "/v1/sys/init"),
            ),
        )

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        if check.facts.get("wipe"):
            await self._wipe_and_wait(ctx)
        started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        intent = {"started": started, "shares": KEY_SHARES, "threshold": KEY_THRESHOLD}
        ctx.state.write_file(ctx.state.vault_init_intent, json.dumps(intent, sort_keys=True) + "\n", mode=0o600)
        # The answer is the only copy of the keys: once Vault is asked, a Ctrl-C must not drop it
        # before it is on disk (a second Ctrl-C cancels the step; this waits for the answer anyway).
        task = asyncio.ensure_future(self._initialise_and_save(ctx))
        interrupted = False
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                interrupted = True  # keep waiting: the answer must reach the disk first
        task.result()  # the init's own error, if it failed
        if interrupted:
            raise asyncio.CancelledError
        ctx.output(f"Vault initialised; unseal keys and root token saved to {ctx.state.vault_init}")

    async def _initialise_and_save(self, ctx: StepContext) -> None:
        material = await vault_driver(ctx).initialize(KEY_SHARES, KEY_THRESHOLD)
        ctx.state.write_secret(ctx.state.vault_init, json.dumps(material, indent=2, sort_keys=True) + "\n")
        ctx.state.vault_init_intent.unlink(missing_ok=True)

    async def _wipe_and_wait(self, ctx: StepContext) -> None:
        vault = vault_driver(ctx)
        await vault.wipe_storage()
        ctx.output(
            f"deleted Vault's volume claim data-{VAULT_POD} and pod {VAULT_POD}; waiting for Vault to start again, "
            "uninitialised"
        )
        deadline = ctx.clock.now() + WIPE_WAIT_SECONDS
        while True:
            try:
                if not (await vault.status()).initialized:
                    return
            except TransientError:
                pass  # the pod is starting again
            if ctx.clock.now() >= deadline:
                raise PermanentError(
                    f"Vault did not come back uninitialised within {WIPE_WAIT_SECONDS:g} s after its storage was wiped",
                    hint="`kubectl -n vault get pvc,pods` (a volume claim stuck Terminating, or no storage class); "
                    "then run the install again",
                )
            await ctx.clock.sleep(WIPE_POLL_SECONDS)


class VaultUnseal(BaseStep):
    layer = 3
    timeout: float = 120

    def __init__(self, config: PlatformConfig) -> None:
        super().__init__(config, step_id="L3.vault-unseal", title="Unseal Vault", needs=("L3.vault-init",))

    async def _check(self, ctx: StepContext) -> CheckResult:
        status = await vault_driver(ctx).status()
        if not status.sealed:
            return done("Vault is unsealed")
        return todo("Vault is sealed", *self.planned_actions(ctx))

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        return (
            Action(
                f"unseal Vault with {KEY_THRESHOLD} of its saved keys, one call per key",
                api_call=vault_call("PUT", "/v1/sys/unseal"),
            ),
        )

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        material = read_vault_init(ctx)
        if not material or not material.get("unseal_keys"):
            raise PermanentError(f"no unseal keys in {ctx.state.vault_init}", hint="restore that file from your backup")
        status = None
        for key in material["unseal_keys"]:
            status = await vault_driver(ctx).unseal(key)
            if not status.sealed:
                ctx.output("Vault is unsealed")
                return
        raise PermanentError(
            "Vault is still sealed after every saved key",
            hint=f"the keys in {ctx.state.vault_init} do not match this Vault",
        )


def saved_root_token(ctx: StepContext) -> str:
    token: str = (read_vault_init(ctx) or {}).get("root_token", "")
    return token


async def vault_sealed(ctx: StepContext) -> bool:
    status = await vault_driver(ctx).status()
    return status.sealed or not status.initialized


# What the operator's role must say (as Vault reads it back), and where the auth method points.
_COMPARED_ROLE_FIELDS = (
    "bound_service_account_names",
    "bound_service_account_namespaces",
    "audience",
    "token_policies",
)


def wanted_kubernetes_auth() -> dict[str, Any]:
    from talos_platform.engine.config.vault_layout import VAULT_OPERATOR_ROLE, VAULT_TOKEN_AUDIENCE
    from talos_platform.engine.drivers.vault import KUBERNETES_HOST, operator_role

    role = operator_role(VAULT_OPERATOR_ROLE, VAULT_TOKEN_AUDIENCE)
    return {**{key: role[key] for key in _COMPARED_ROLE_FIELDS}, "kubernetes_host": KUBERNETES_HOST}


def root_token(ctx: StepContext) -> str:
    material = read_vault_init(ctx) or {}
    token: str = material.get("root_token", "")
    if not token:
        raise PermanentError(f"no root token in {ctx.state.vault_init}", hint="restore that file from your backup")
    return token


class VaultKubernetesAuth(BaseStep):
    """Enable Kubernetes auth, the KV store, its read policy and the operator's role; done when
    Vault reads them back as wanted."""

    layer = 3
    timeout: float = 120

    def __init__(self, config: PlatformConfig) -> None:
        super().__init__(
            config,
            step_id="L3.vault-kubernetes-auth",
            title="Enable Vault's Kubernetes auth",
            needs=("L3.vault-unseal",),
        )

    async def _check(self, ctx: StepContext) -> CheckResult:
        token = saved_root_token(ctx)
        if not token or await vault_sealed(ctx):
            return todo(
                "Vault's auth settings cannot be read before it is initialised and unsealed", *self.planned_actions(ctx)
            )
        found = await vault_driver(ctx).kubernetes_auth(token)
        if found is None:
            return todo(
                "Kubernetes auth, its role, the KV store or the read policy is not set up yet",
                *self.planned_actions(ctx),
            )
        wanted = wanted_kubernetes_auth()
        differing = sorted(key for key, value in wanted.items() if found.get(key) != value)
        if differing:
            return todo(f"the operator's role differs in {', '.join(differing)}", *self.planned_actions(ctx))
        return done("Kubernetes auth is enabled with the operator's role, the KV store and its read policy")

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        from talos_platform.engine.config.vault_layout import VAULT_KUBERNETES_AUTH_MOUNT as MOUNT
        from talos_platform.engine.config.vault_layout import VAULT_KV_MOUNT, VAULT_OPERATOR_ROLE
        from talos_platform.engine.drivers.vault import SECRETS_POLICY

        return (
            Action(
                "enable the kubernetes auth method (when it is not yet)",
                api_call=vault_call("POST", f"/v1/sys/auth/{MOUNT}"),
            ),
            Action("point it at the cluster's API server", api_call=vault_call("POST", f"/v1/auth/{MOUNT}/config")),
            Action(
                f"mount the KV version 2 store at {VAULT_KV_MOUNT}/ (when it is not yet)",
                api_call=vault_call("POST", f"/v1/sys/mounts/{VAULT_KV_MOUNT}"),
            ),
            Action(
                "write the policy that reads the platform's secrets",
                api_call=vault_call("PUT", f"/v1/sys/policies/acl/{SECRETS_POLICY}"),
            ),
            Action(
                "write the operator's role", api_call=vault_call("POST", f"/v1/auth/{MOUNT}/role/{VAULT_OPERATOR_ROLE}")
            ),
        )

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        await vault_driver(ctx).enable_kubernetes_auth(root_token(ctx))


def grafana_login(ctx: StepContext) -> dict[str, str] | None:
    """Grafana's admin login for Vault: the password the user gave, else the one generated by an
    earlier run (kept 0600 in the state directory); None while there is neither."""
    from talos_platform.engine.render.platform_services import GRAFANA_ADMIN_USER

    password = ctx.secrets.grafana_admin_password
    if not password and ctx.state.grafana_admin_password.exists():
        password = ctx.state.grafana_admin_password.read_text(encoding="utf-8").strip()
    if not password:
        return None
    return {"admin-user": GRAFANA_ADMIN_USER, "admin-password": password}


def generate_grafana_password(ctx: StepContext) -> None:
    """Make Grafana's admin password once: saved (0600, never replaced) before it goes anywhere,
    so a resumed install writes the same one and never makes another."""
    ctx.state.write_secret(ctx.state.grafana_admin_password, token_urlsafe(24) + "\n")


def grafana_login_notes(config: PlatformConfig) -> list[str]:
    """Where the user finds Grafana's admin login once installed (no value, only places)."""
    from talos_platform.engine.config.secrets import grafana_password_from_vault
    from talos_platform.engine.config.vault_layout import VAULT_KV_MOUNT
    from talos_platform.engine.render.platform_services import (
        GRAFANA_ADMIN_PASSWORD_KEY,
        GRAFANA_ADMIN_SECRET,
        GRAFANA_ADMIN_USER,
        GRAFANA_VAULT_PATH,
        MONITORING_NAMESPACE,
    )

    if not grafana_password_from_vault(config):
        return []
    return [
        f"Grafana: https://grafana.{config.domain.base}, user {GRAFANA_ADMIN_USER}; the password is in Vault "
        f"(`vault kv get {VAULT_KV_MOUNT}/{GRAFANA_VAULT_PATH}`) and in the Secret "
        f"{MONITORING_NAMESPACE}/{GRAFANA_ADMIN_SECRET} "
        f"(`kubectl -n {MONITORING_NAMESPACE} get secret {GRAFANA_ADMIN_SECRET} -o "
        f"jsonpath='{{.data.{GRAFANA_ADMIN_PASSWORD_KEY}}}' | base64 -d`)",
    ]


@dataclass(frozen=True)
class MadeLogin:
    """An admin login the install makes when none is given (Grafana's, ArgoCD's): kept 0600 in the
    state directory, written to Vault at `path`. Vault's own stays when this machine lost its copy."""

    path: str
    fields: tuple[str, ...]
    wanted: Callable[[PlatformConfig], bool]
    login: Callable[[StepContext], dict[str, str] | None]
    """What Vault keeps at `path`; None until it is made (or while only Vault holds it)."""
    to_make: Callable[[StepContext, dict[str, str] | None], bool]
    """Given Vault's digests at `path` (None: nothing there), whether something must be made now."""
    make: Callable[[StepContext, dict[str, str] | None], None]
    planned: Callable[[StepContext], str]
    notes: Callable[[PlatformConfig], list[str]]


def made_logins() -> tuple[MadeLogin, ...]:
    from talos_platform.engine.config.secrets import argocd_password_from_vault, grafana_password_from_vault
    from talos_platform.engine.layers import argocd_admin as argocd
    from talos_platform.engine.render.platform_services import GRAFANA_VAULT_PATH

    def grafana_to_make(ctx: StepContext, held: dict[str, str] | None) -> bool:
        return "admin-password" not in (held or {})  # else Vault's stays: a state directory lost

    def grafana_make(ctx: StepContext, held: dict[str, str] | None) -> None:
        if grafana_to_make(ctx, held):
            generate_grafana_password(ctx)

    return (
        MadeLogin(
            GRAFANA_VAULT_PATH,
            ("admin-password", "admin-user"),
            grafana_password_from_vault,
            grafana_login,
            grafana_to_make,
            grafana_make,
            lambda ctx: (
                f"generate Grafana's admin password once and keep it 0600 in {ctx.state.grafana_admin_password}"
            ),
            grafana_login_notes,
        ),
        MadeLogin(
            argocd.ARGOCD_VAULT_PATH,
            tuple(sorted(argocd.VAULT_FIELDS)),
            argocd_password_from_vault,
            argocd.argocd_login,
            argocd.argocd_login_to_make,
            argocd.make_argocd_login,
            lambda ctx: (
                "generate ArgoCD's admin password once (when none is given) and its bcrypt hash; keep them "
                f"0600 in {ctx.state.argocd_admin_password} and {ctx.state.argocd_admin_password_hash}"
            ),
            lambda config: [],  # said by L3.argocd-admin-password, once the password works
        ),
    )


class VaultSecrets(BaseStep):
    """The user's secrets into Vault's KV store (for the Vault Secrets Operator), and the admin
    logins of Grafana and ArgoCD: the password given, or one generated once and kept."""

    layer = 3
    timeout: float = 120

    def __init__(self, config: PlatformConfig) -> None:
        super().__init__(
            config, step_id="L3.vault-secrets", title="Load the secrets into Vault", needs=("L3.vault-kubernetes-auth",)
        )

    def _logins(self) -> tuple[MadeLogin, ...]:
        return tuple(login for login in made_logins() if login.wanted(self.config))

    def _payloads(self, ctx: StepContext) -> dict[str, dict[str, str]]:
        payloads = vault_secret_payloads(ctx.secrets)
        for made in self._logins():
            login = made.login(ctx)
            if login:
                payloads[made.path] = login
        return payloads

    def _missing(self, ctx: StepContext) -> tuple[MadeLogin, ...]:
        """The logins not (yet) held on this machine."""
        return tuple(made for made in self._logins() if made.login(ctx) is None)

    async def _check(self, ctx: StepContext) -> CheckResult:
        payloads = self._payloads(ctx)
        missing = self._missing(ctx)
        if not payloads and not missing:
            return done("no secrets to load")
        token = saved_root_token(ctx)
        if not token or await vault_sealed(ctx):
            return todo(
                f"{len(payloads) + len(missing)} secret paths to write once Vault is unsealed",
                *self.planned_actions(ctx),
            )
        stale = {}
        for path, data in payloads.items():
            # Digests on both sides: the values are never read back, held or shown.
            wanted = {key: secret_digest(value) for key, value in data.items()}
            if await vault_driver(ctx).secret_digests(token, path) != wanted:
                stale[path] = data
        for made in missing:
            if made.to_make(ctx, await vault_driver(ctx).secret_digests(token, made.path)):
                stale[made.path] = dict.fromkeys(made.fields, "")
        if not stale:
            return done(f"{len(payloads)} secret paths in Vault hold the given values (compared by digest)")
        return todo(
            f"{', '.join(sorted(stale))}: missing or different in Vault", *self._actions(stale), stale=sorted(stale)
        )

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        """The paths of the secrets given; with none given (a plan made before they exist), the
        paths of the secrets this config needs. Field names only: never a value."""
        payloads: dict[str, Any] = self._payloads(ctx) or planned_secret_fields(self.config)
        actions: tuple[Action, ...] = ()
        for made in self._missing(ctx):
            actions += (Action(made.planned(ctx)),)
            payloads = {**payloads, made.path: list(made.fields)}
        if not payloads:
            return (Action("nothing to write: no secrets were given and this config needs none"),)
        return actions + self._actions(payloads)

    def _actions(self, payloads: dict[str, Any]) -> tuple[Action, ...]:
        from talos_platform.engine.config.vault_layout import VAULT_KV_MOUNT

        return tuple(
            Action(
                f"write {VAULT_KV_MOUNT}/{path} ({', '.join(sorted(data))})",
                api_call=vault_call("POST", f"/v1/{VAULT_KV_MOUNT}/data/{path}"),
            )
            for path, data in payloads.items()
        )

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        token = root_token(ctx)
        stale = check.facts.get("stale")
        for made in self._missing(ctx):
            made.make(ctx, await vault_driver(ctx).secret_digests(token, made.path))
        for path, data in self._payloads(ctx).items():
            if stale is None or path in stale:
                await vault_driver(ctx).write_secret(token, path, data)
        for made in self._logins():
            for note in made.notes(self.config):
                ctx.output(note)


def platform_steps_for(config: PlatformConfig, *, needs: tuple[str, ...]) -> list[BaseStep]:
    """Layer 3's steps; `needs` is the end of layer 2. Vault's own Application turns Healthy only
    once Vault is unsealed, so it (and its operator) are followed after the Vault steps."""
    from talos_platform.engine.config.secrets import grafana_password_from_vault

    components = config.components
    vault_on = components.vault.enabled
    steps: list[BaseStep] = []
    if vault_on:
        steps += [
            VaultRunning(config, needs=needs),
            VaultInitialise(config),
            VaultUnseal(config),
            VaultKubernetesAuth(config),
            VaultSecrets(config),
        ]
        from talos_platform.engine.layers.argocd_admin import argocd_admin_steps

        steps += argocd_admin_steps(config)
    after_vault = ("L3.vault-secrets",) if vault_on else needs
    followed = [
        # The first platform wave: volumes and load-balancer addresses the services rely on.
        ("local-path-storage", installs_local_path(config), needs),
        ("load-balancer", load_balancer_enabled(config), needs),
        ("vault", vault_on, after_vault),
        ("vault-secrets-operator", vault_on and components.vault.secrets_operator.enabled, after_vault),
        # Grafana's admin Secret comes from Vault, so monitoring follows Vault's steps then.
        ("monitoring", components.monitoring.enabled, after_vault if grafana_password_from_vault(config) else needs),
        ("cloudflare-tunnel", components.cloudflare_tunnel.enabled, needs),
        ("cert-manager-issuer", components.cert_manager.enabled, needs),
    ]
    for name, enabled, step_needs in followed:
        if enabled:
            steps.append(
                FollowApplications(
                    config,
                    step_id=f"L3.app.{name}",
                    title=f"Wait for {name}",
                    group=f"Application {name}",
                    selector=named(name),
                    expected=(name,),
                    needs=step_needs,
                    layer=3,
                )
            )
    return steps
