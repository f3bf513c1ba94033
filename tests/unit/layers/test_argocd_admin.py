"""ArgoCD's admin password from Vault: made once (or given) with its bcrypt hash kept beside it,
both written to Vault by L3.vault-secrets, and L3.argocd-admin-password writing only the hash's
two keys into argocd-secret and deleting argocd-initial-admin-secret. Values are never shown."""

import base64
import json
import stat

import bcrypt
import pytest
from support.drivers import FakeKube, FakeVault

from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.drivers.protocols import SECRETS
from talos_platform.engine.errors import PermanentError, TransientError
from talos_platform.engine.layers import argocd_admin, platform, platform_steps
from talos_platform.engine.layers.argocd_admin import (
    FIELD_MANAGER,
    INITIAL_ADMIN_SECRET,
    SETTINGS_SECRET,
    ArgocdAdminPassword,
)

from .helpers import make_context, platform_config

ROOT_TOKEN = "hvs.root"


def encoded(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def argocd_cluster(admin_hash: str = "$2a$10$generated-by-argocd-at-first-start") -> FakeKube:
    """argocd-secret as the chart and argocd-server leave it, and the generated first password."""
    settings = {
        "metadata": {"name": SETTINGS_SECRET, "namespace": "argocd"},
        "data": {
            "admin.password": encoded(admin_hash),
            "admin.passwordMtime": encoded("2026-01-01T00:00:00Z"),
            "server.secretkey": encoded("argocd-own-signature"),
        },
    }
    initial = {"metadata": {"name": INITIAL_ADMIN_SECRET, "namespace": "argocd"}, "data": {"password": encoded("x")}}
    return FakeKube().put(SECRETS, settings, initial)


def context(tmp_path, *, kube=None, vault=None, secrets=None, config=None):
    config = config or platform_config()
    vault = vault or FakeVault(initialized=True, sealed=False)
    ctx, lines = make_context(config, tmp_path, kube=kube or argocd_cluster(), vault=vault, secrets=secrets)
    ctx.state.write_secret(ctx.state.vault_init, json.dumps({"unseal_keys": ["k"], "root_token": ROOT_TOKEN}))
    return config, ctx, lines, vault


async def load_vault(ctx, config):
    step = platform.VaultSecrets(config)
    await step.apply(ctx, await step.check(ctx))


def secret_data(kube: FakeKube, name: str) -> dict[str, str] | None:
    secret = kube.objects[SECRETS.plural].get(("argocd", name))
    return None if secret is None else {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


async def test_the_password_and_its_hash_are_made_once_kept_0600_and_written_to_vault(tmp_path):
    config, ctx, lines, vault = context(tmp_path)
    first = await platform.VaultSecrets(config).check(ctx)
    assert "write secret/platform/argocd (admin-password, admin-password-bcrypt-base64, admin-user)" in [
        a.description for a in first.actions
    ]
    await load_vault(ctx, config)
    password = ctx.state.argocd_admin_password.read_text().strip()
    hashed = ctx.state.argocd_admin_password_hash.read_text().strip()
    assert len(password) >= 24 and hashed.startswith("$2a$10$")  # ArgoCD's prefix and cost
    assert bcrypt.checkpw(password.encode(), hashed.encode())
    for path in (ctx.state.argocd_admin_password, ctx.state.argocd_admin_password_hash):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert vault.stored["platform/argocd"] == {
        "admin-user": "admin",
        "admin-password": password,
        "admin-password-bcrypt-base64": encoded(hashed),
    }
    # A resumed or later install finds both in Vault (by digest) and makes no other hash.
    assert (await platform.VaultSecrets(config).check(ctx)).done
    await load_vault(ctx, config)
    assert ctx.state.argocd_admin_password_hash.read_text().strip() == hashed
    assert password not in " ".join(lines) + " ".join(str(call) for call in vault.calls)


async def test_a_given_password_wins_and_a_changed_one_gets_a_new_hash_the_old_kept_as_a_backup(tmp_path):
    config, ctx, _, vault = context(tmp_path, secrets=Secrets(argocd_admin_password="chosen-by-me-123"))
    await load_vault(ctx, config)
    assert not ctx.state.argocd_admin_password.exists()
    first = ctx.state.argocd_admin_password_hash.read_text().strip()
    assert bcrypt.checkpw(b"chosen-by-me-123", first.encode())
    assert vault.stored["platform/argocd"]["admin-password"] == "chosen-by-me-123"

    config, ctx, _, vault = context(tmp_path, vault=vault, secrets=Secrets(argocd_admin_password="changed-by-me-456"))
    assert not (await platform.VaultSecrets(config).check(ctx)).done
    await load_vault(ctx, config)
    second = ctx.state.argocd_admin_password_hash.read_text().strip()
    assert bcrypt.checkpw(b"changed-by-me-456", second.encode())
    assert [p.read_text().strip() for p in ctx.state.backups_of(ctx.state.argocd_admin_password_hash)] == [first]
    assert vault.stored["platform/argocd"]["admin-password-bcrypt-base64"] == encoded(second)


async def test_the_step_writes_only_the_two_keys_as_its_own_field_manager_then_deletes_the_first_password(tmp_path):
    config, ctx, lines, _ = context(tmp_path)
    await load_vault(ctx, config)
    kube = ctx.drivers.kube
    step = ArgocdAdminPassword(config)

    found = await step.check(ctx)

    assert not found.done
    assert [a.api_call for a in found.actions] == [
        "server-side apply Secret argocd/argocd-secret",
        "DELETE /api/v1/namespaces/argocd/secrets/argocd-initial-admin-secret",
    ]
    assert f"--field-manager={FIELD_MANAGER}" in found.actions[0].command
    await step.apply(ctx, found)
    hashed = ctx.state.argocd_admin_password_hash.read_text().strip()
    assert (
        "apply_secret_keys",
        "argocd",
        SETTINGS_SECRET,
        ["admin.password", "admin.passwordMtime"],
        FIELD_MANAGER,
    ) in (kube.calls)
    data = secret_data(kube, SETTINGS_SECRET)
    assert data["admin.password"] == hashed and data["server.secretkey"] == "argocd-own-signature"
    assert data["admin.passwordMtime"].endswith("Z") and data["admin.passwordMtime"] != "2026-01-01T00:00:00Z"
    assert secret_data(kube, INITIAL_ADMIN_SECRET) is None
    assert any("vault kv get -field=admin-password secret/platform/argocd" in line for line in lines)
    assert (await step.check(ctx)).done
    password = ctx.state.argocd_admin_password.read_text().strip()
    shown = " ".join(lines) + " ".join(str(a) for a in found.actions) + found.reason
    assert password not in shown and hashed not in shown and encoded(hashed) not in shown


async def test_with_the_hash_in_place_only_the_first_password_is_deleted(tmp_path):
    config, ctx, _, _ = context(tmp_path)
    await load_vault(ctx, config)
    hashed = ctx.state.argocd_admin_password_hash.read_text().strip()
    ctx.drivers.kube = argocd_cluster(hashed)
    found = await ArgocdAdminPassword(config).check(ctx)
    assert [a.api_call for a in found.actions] == [
        "DELETE /api/v1/namespaces/argocd/secrets/argocd-initial-admin-secret"
    ]
    await ArgocdAdminPassword(config).apply(ctx, found)
    assert not any(call[0] == "apply_secret_keys" for call in ctx.drivers.kube.calls)


async def test_a_lost_state_directory_is_done_when_vaults_hash_is_the_live_one(tmp_path):
    vault = FakeVault(initialized=True, sealed=False)
    held_hash = "$2a$10$written-by-an-earlier-install-from-a-machine-now-gone"
    vault.stored["platform/argocd"] = {
        "admin-user": "admin",
        "admin-password": "from-an-earlier-install",
        "admin-password-bcrypt-base64": encoded(held_hash),
    }
    kube = argocd_cluster(held_hash)
    kube.objects[SECRETS.plural].pop(("argocd", INITIAL_ADMIN_SECRET))
    config, ctx, _, _ = context(tmp_path, kube=kube, vault=vault)

    loading = await platform.VaultSecrets(config).check(ctx)
    assert "platform/argocd" not in loading.facts.get("stale", [])  # Vault's password stays
    await load_vault(ctx, config)
    assert not ctx.state.argocd_admin_password.exists() and not ctx.state.argocd_admin_password_hash.exists()
    assert (await ArgocdAdminPassword(config).check(ctx)).done


async def test_a_lost_state_directory_with_another_live_hash_says_what_to_do(tmp_path):
    vault = FakeVault(initialized=True, sealed=False)
    vault.stored["platform/argocd"] = {
        "admin-user": "admin",
        "admin-password": "from-an-earlier-install",
        "admin-password-bcrypt-base64": encoded("$2a$10$the-hash-vault-keeps"),
    }
    config, ctx, _, _ = context(tmp_path, vault=vault)  # argocd-secret holds ArgoCD's own hash
    await load_vault(ctx, config)
    step = ArgocdAdminPassword(config)
    found = await step.check(ctx)
    assert not found.done
    with pytest.raises(PermanentError) as failure:
        await step.apply(ctx, found)
    assert str(ctx.state.argocd_admin_password_hash) in failure.value.message
    assert "argocdAdminPassword" in failure.value.hint and "TALOS_PLATFORM_ARGOCD_ADMIN_PASSWORD" in failure.value.hint
    assert "vault kv get -field=admin-password secret/platform/argocd" in failure.value.hint
    assert not any(call[0] in ("apply_secret_keys", "delete") for call in ctx.drivers.kube.calls)


async def test_before_argocd_made_its_secret_the_write_waits_for_it(tmp_path):
    config, ctx, _, _ = context(tmp_path, kube=FakeKube())
    await load_vault(ctx, config)
    step = ArgocdAdminPassword(config)
    found = await step.check(ctx)
    assert "does not exist yet" in found.reason
    with pytest.raises(TransientError):
        await step.apply(ctx, found)
    assert not any(call[0] == "apply_secret_keys" for call in ctx.drivers.kube.calls)


def test_the_step_follows_the_vault_secrets_only_when_vault_is_installed():
    with_vault = [step.id for step in platform_steps(platform_config())]
    assert with_vault.index("L3.argocd-admin-password") > with_vault.index("L3.vault-secrets")
    assert "L3.argocd-admin-password" not in [
        step.id for step in platform_steps(platform_config(vault={"enabled": False}))
    ]
    assert argocd_admin.argocd_login_notes(platform_config(vault={"enabled": False})) == []


async def test_without_vault_no_argocd_login_is_made(tmp_path):
    config = platform_config(vault={"enabled": False}, monitoring={"enabled": False})
    ctx, _ = make_context(config, tmp_path, kube=argocd_cluster(), vault=FakeVault(initialized=True, sealed=False))
    assert argocd_admin.argocd_login(ctx) is None
    assert not ctx.state.argocd_admin_password.exists()
