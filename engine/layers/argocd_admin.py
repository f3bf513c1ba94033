"""ArgoCD's `admin` password from Vault instead of the one ArgoCD generates at first start.

ArgoCD reads a bcrypt hash from `argocd/argocd-secret` (`admin.password`, with
`admin.passwordMtime`); the chart creates that Secret and argocd-server writes to it too
(`server.secretkey`, tokens), so nothing takes it over. The password is `argocdAdminPassword`
when given, else one generated once and kept 0600 in the state directory; its hash is made once
and kept beside it (a new salt on every run would look like a new password). `L3.vault-secrets`
writes both to Vault's `secret/platform/argocd`; `L3.argocd-admin-password` then writes only
those two keys into `argocd-secret`, as a field manager of their own, and deletes
`argocd-initial-admin-secret`. argocd-server only generates a password (and that Secret) when
`admin.password` is empty (ArgoCD's util/settings `InitializeSettings`), so neither comes back.

Values are never read back from the cluster or Vault, shown or logged: checks compare SHA-256
digests."""

from __future__ import annotations

import base64
import functools
from datetime import UTC, datetime
from secrets import token_urlsafe
from typing import TYPE_CHECKING

import bcrypt

from talos_platform.engine.config.secrets import argocd_password_from_vault
from talos_platform.engine.drivers import kube_client
from talos_platform.engine.drivers.protocols import SECRETS, secret_digest
from talos_platform.engine.errors import PermanentError, TransientError
from talos_platform.engine.layers.base import BaseStep, done, todo
from talos_platform.engine.layers.planned import server_side_apply
from talos_platform.engine.plan.step import Action, CheckResult

if TYPE_CHECKING:
    from talos_platform.engine.config.models import PlatformConfig
    from talos_platform.engine.plan.context import StepContext

ARGOCD_NAMESPACE = "argocd"
SETTINGS_SECRET = "argocd-secret"
INITIAL_ADMIN_SECRET = "argocd-initial-admin-secret"
PASSWORD_HASH_KEY, PASSWORD_MTIME_KEY = "admin.password", "admin.passwordMtime"
FIELD_MANAGER = "talos-platform-argocd-admin"
"""Not the bootstrap's manager: applying these two keys as that one would drop every field the
bootstrap applied to `argocd-secret` and this partial Secret leaves out."""
BCRYPT_COST = 10
"""ArgoCD's own (`bcrypt.DefaultCost`, util/password)."""

# Vault's copy (KV version 2 at `secret/`): the hash as argocd-secret's `data` holds it (base64),
# so its digest compares with the live one even when this machine has lost the hash.
ARGOCD_VAULT_PATH = "platform/argocd"
ADMIN_USER = "admin"
USER_FIELD, PASSWORD_FIELD, HASH_FIELD = "admin-user", "admin-password", "admin-password-bcrypt-base64"
VAULT_FIELDS = (PASSWORD_FIELD, HASH_FIELD, USER_FIELD)


def argocd_password(ctx: StepContext) -> str:
    """The password given, else the one an earlier run generated; "" while there is neither."""
    password = ctx.secrets.argocd_admin_password
    if not password and ctx.state.argocd_admin_password.exists():
        password = ctx.state.argocd_admin_password.read_text(encoding="utf-8").strip()
    return password


@functools.lru_cache(maxsize=8)
def _verifies(password: str, hashed: str) -> bool:
    """bcrypt is slow on purpose (a tenth of a second or more): a check asks only once per pair."""
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:  # not a bcrypt hash: a damaged file
        return False


def kept_hash(ctx: StepContext, password: str) -> str:
    """The hash kept in the state directory when it is the hash of `password`; else ""."""
    path = ctx.state.argocd_admin_password_hash
    if not password or not path.exists():
        return ""
    hashed = path.read_text(encoding="utf-8").strip()
    return hashed if _verifies(password, hashed) else ""


def make_hash(password: str) -> str:
    """bcrypt at ArgoCD's cost, with the `$2a$` prefix ArgoCD's own hashes carry."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_COST, prefix=b"2a")).decode()


def as_secret_data(hashed: str) -> str:
    """The hash as a Secret's `data` holds it."""
    return base64.b64encode(hashed.encode()).decode()


def argocd_login(ctx: StepContext) -> dict[str, str] | None:
    """What Vault keeps at `ARGOCD_VAULT_PATH`: None until both the password and its hash are here."""
    password = argocd_password(ctx)
    hashed = kept_hash(ctx, password)
    if not hashed:
        return None
    return {USER_FIELD: ADMIN_USER, PASSWORD_FIELD: password, HASH_FIELD: as_secret_data(hashed)}


def argocd_login_to_make(ctx: StepContext, held: dict[str, str] | None) -> bool:
    """Whether the password (none given or kept, and none in Vault either) or its hash (a password
    here without a kept hash of it) must be made now. `held`: Vault's digests at the path."""
    password = argocd_password(ctx)
    if not password:
        return PASSWORD_FIELD not in (held or {})  # else Vault's stays: a state directory lost
    return not kept_hash(ctx, password)


def make_argocd_login(ctx: StepContext, held: dict[str, str] | None) -> None:
    """Generate the password once when none is given or kept and Vault holds none, then its hash
    when none is kept for it. Both are saved (0600) before they go anywhere, so a resumed install
    writes the same ones. A kept hash of another password (the one given changed) is replaced,
    its old copy kept in backups/."""
    password = argocd_password(ctx)
    if not password:
        if PASSWORD_FIELD in (held or {}):
            return
        password = token_urlsafe(24)
        ctx.state.write_secret(ctx.state.argocd_admin_password, password + "\n")
    if not kept_hash(ctx, password):
        ctx.state.write_secret(ctx.state.argocd_admin_password_hash, make_hash(password) + "\n", overwrite=True)


def argocd_login_notes(config: PlatformConfig) -> list[str]:
    """Where the user finds ArgoCD's admin login once installed (no value, only places)."""
    from talos_platform.engine.config.vault_layout import VAULT_KV_MOUNT

    if not argocd_password_from_vault(config):
        return []
    return [
        f"ArgoCD: https://argocd.{config.domain.base}, user {ADMIN_USER}; the password is in Vault "
        f"(`vault kv get -field={PASSWORD_FIELD} {VAULT_KV_MOUNT}/{ARGOCD_VAULT_PATH}`)",
    ]


def _delete_call() -> str:
    return f"DELETE {kube_client.resource_path(SECRETS, ARGOCD_NAMESPACE, INITIAL_ADMIN_SECRET)}"


class ArgocdAdminPassword(BaseStep):
    """The hash of the admin password kept in Vault into `argocd-secret` (its two keys only), and
    ArgoCD's generated first password (`argocd-initial-admin-secret`) deleted."""

    layer = 3
    timeout: float = 120

    def __init__(self, config: PlatformConfig) -> None:
        super().__init__(
            config,
            step_id="L3.argocd-admin-password",
            title="Set ArgoCD's admin password from Vault",
            needs=("L3.vault-secrets",),
        )

    async def _wanted_digest(self, ctx: StepContext) -> str:
        """The digest `admin.password` must have: of the hash kept here, else (this machine lost
        it) of the one Vault holds; "" while there is neither."""
        from talos_platform.engine.layers.platform import saved_root_token, vault_driver, vault_sealed

        hashed = kept_hash(ctx, argocd_password(ctx))
        if hashed:
            return secret_digest(as_secret_data(hashed))
        token = saved_root_token(ctx)
        if not token or ctx.drivers.vault is None or await vault_sealed(ctx):
            return ""
        held = await vault_driver(ctx).secret_digests(token, ARGOCD_VAULT_PATH) or {}
        return held.get(HASH_FIELD, "")

    async def _check(self, ctx: StepContext) -> CheckResult:
        kube = ctx.drivers.kube
        live = await kube.secret_digests(SETTINGS_SECRET, ARGOCD_NAMESPACE)
        initial = await kube.secret_digests(INITIAL_ADMIN_SECRET, ARGOCD_NAMESPACE) is not None
        wanted = await self._wanted_digest(ctx)
        in_place = live is not None and bool(wanted) and live.get(PASSWORD_HASH_KEY) == wanted
        if in_place and not initial:
            return done(
                f"{ARGOCD_NAMESPACE}/{SETTINGS_SECRET} holds the hash of the admin password kept in Vault (compared "
                f"by digest) and {INITIAL_ADMIN_SECRET} is gone"
            )
        if live is None:
            # ArgoCD makes it when it starts, with a generated first password to delete.
            return todo(
                f"{ARGOCD_NAMESPACE}/{SETTINGS_SECRET} does not exist yet",
                *self.planned_actions(ctx),
                write=True,
                delete_initial=True,
            )
        found = []
        if not in_place:
            found.append(f"{ARGOCD_NAMESPACE}/{SETTINGS_SECRET} does not hold the hash of the password kept in Vault")
        if initial:
            found.append(f"{INITIAL_ADMIN_SECRET} still holds ArgoCD's generated first password")
        actions = (() if in_place else (self._write_action(ctx),)) + ((self._delete_action(ctx),) if initial else ())
        return todo("; ".join(found), *actions, write=not in_place, delete_initial=initial)

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        return self._write_action(ctx), self._delete_action(ctx)

    def _write_action(self, ctx: StepContext) -> Action:
        return Action(
            f"write the bcrypt hash of the admin password (kept 0600 in {ctx.state.argocd_admin_password_hash}) "
            f"into {PASSWORD_HASH_KEY} and the time into {PASSWORD_MTIME_KEY}, as field manager {FIELD_MANAGER}: "
            "the Secret's other keys stay ArgoCD's; values go on stdin, never shown",
            command=tuple(kube_client.apply_argv(ctx.state.kubeconfig, FIELD_MANAGER)),
            api_call=server_side_apply([("Secret", ARGOCD_NAMESPACE, SETTINGS_SECRET)]),
        )

    def _delete_action(self, ctx: StepContext) -> Action:
        return Action(
            f"delete {ARGOCD_NAMESPACE}/{INITIAL_ADMIN_SECRET} (ArgoCD's generated first password, no longer valid)",
            command=tuple(
                kube_client.delete_argv(ctx.state.kubeconfig, SECRETS, INITIAL_ADMIN_SECRET, ARGOCD_NAMESPACE)
            ),
            api_call=_delete_call(),
        )

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        kube = ctx.drivers.kube
        if check.facts.get("write", True):
            hashed = kept_hash(ctx, argocd_password(ctx))
            if not hashed:
                raise self._lost(ctx)
            if await kube.secret_digests(SETTINGS_SECRET, ARGOCD_NAMESPACE) is None:
                raise TransientError(
                    f"{ARGOCD_NAMESPACE}/{SETTINGS_SECRET} does not exist yet",
                    hint="ArgoCD's chart creates it with ArgoCD (layer 1): `kubectl -n argocd get secret "
                    f"{SETTINGS_SECRET}`; retried",
                )
            mtime = datetime.fromtimestamp(ctx.clock.now(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            keys = {PASSWORD_HASH_KEY: hashed, PASSWORD_MTIME_KEY: mtime}
            await kube.apply_secret_keys(SETTINGS_SECRET, ARGOCD_NAMESPACE, keys, FIELD_MANAGER)
            ctx.output(
                f"wrote the admin password's hash into {ARGOCD_NAMESPACE}/{SETTINGS_SECRET} "
                f"({PASSWORD_HASH_KEY}, {PASSWORD_MTIME_KEY})"
            )
        if check.facts.get("delete_initial", True):
            await kube.delete(SECRETS, INITIAL_ADMIN_SECRET, ARGOCD_NAMESPACE)
            ctx.output(f"deleted {ARGOCD_NAMESPACE}/{INITIAL_ADMIN_SECRET}")
        for note in argocd_login_notes(self.config):
            ctx.output(note)

    def _lost(self, ctx: StepContext) -> PermanentError:
        from talos_platform.engine.config.secrets import ENV_NAMES
        from talos_platform.engine.config.vault_layout import VAULT_KV_MOUNT

        state = ctx.state
        return PermanentError(
            f"ArgoCD's admin password is not held on this machine ({state.argocd_admin_password} and "
            f"{state.argocd_admin_password_hash} are missing and no argocdAdminPassword was given), and "
            f"{ARGOCD_NAMESPACE}/{SETTINGS_SECRET} does not hold the hash Vault keeps at "
            f"{VAULT_KV_MOUNT}/{ARGOCD_VAULT_PATH}",
            hint="restore those two files from your backup of the state directory, or give the password Vault "
            f"keeps (`vault kv get -field={PASSWORD_FIELD} {VAULT_KV_MOUNT}/{ARGOCD_VAULT_PATH}`) as "
            f"argocdAdminPassword in the secrets file or {ENV_NAMES['argocdAdminPassword']}, and run again: its "
            "hash is then made here and written",
        )


def argocd_admin_steps(config: PlatformConfig) -> list[BaseStep]:
    return [ArgocdAdminPassword(config)] if argocd_password_from_vault(config) else []


def vault_payload_fields() -> dict[str, list[str]]:
    """Path -> field names written for ArgoCD (for a plan made before the values exist)."""
    return {ARGOCD_VAULT_PATH: sorted(VAULT_FIELDS)}
