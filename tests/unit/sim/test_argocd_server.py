"""The simulated argocd-server's start (as ArgoCD's InitializeSettings): a generated admin password
only when argocd-secret has no hash; and the Kube driver's writes of some keys of a Secret (its
other keys kept) and deletes, journalled as digests and replayed."""

import base64

import pytest

from talos_platform.engine.drivers.protocols import DEPLOYMENTS, SECRETS
from talos_platform.engine.errors import PermanentError
from talos_platform.engine.sim.argocd_server import INITIAL_ADMIN_SECRET, SETTINGS_SECRET, initialise_settings

from .helpers import bring_up_kubernetes, platform_for, wait_until


def settings_secret() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SETTINGS_SECRET, "namespace": "argocd"},
        "stringData": {"admin.password": "$2a$10$argocd-own", "server.secretkey": "signature"},
    }


def initial_secret() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": INITIAL_ADMIN_SECRET, "namespace": "argocd"},
        "stringData": {"password": "first-password"},
    }


def keys(platform, name: str) -> dict[str, str] | None:
    secret = platform.model.store.get_entry(SECRETS, "argocd", name)
    return None if secret is None else secret["data"]


async def test_a_first_start_generates_the_admin_password_and_the_initial_secret(tmp_path):
    platform = platform_for()
    await bring_up_kubernetes(platform, tmp_path)
    initialise_settings(platform.model)
    settings = keys(platform, SETTINGS_SECRET)
    assert set(settings) == {"admin.password", "admin.passwordMtime", "server.secretkey"}
    assert base64.b64decode(settings["admin.password"]).startswith(b"$2a$10$")
    assert set(keys(platform, INITIAL_ADMIN_SECRET)) == {"password"}


async def test_a_start_with_a_hash_in_place_keeps_it_and_makes_no_initial_secret(tmp_path):
    platform = platform_for()
    await bring_up_kubernetes(platform, tmp_path)
    await platform.drivers.kube.apply_secret_keys(
        SETTINGS_SECRET, "argocd", {"admin.password": "$2a$10$ours"}, "talos-platform-argocd-admin"
    )
    initialise_settings(platform.model)
    settings = keys(platform, SETTINGS_SECRET)
    assert base64.b64decode(settings["admin.password"]) == b"$2a$10$ours"
    assert "server.secretkey" in settings and keys(platform, INITIAL_ADMIN_SECRET) is None


async def test_argocd_server_initialises_once_it_runs_during_an_install(tmp_path):
    from talos_platform.engine.render import render_repository

    platform = platform_for()
    await bring_up_kubernetes(platform, tmp_path)
    render_repository(platform.config, tmp_path / "rendered")
    await platform.drivers.kube.apply_kustomization(tmp_path / "rendered" / "bootstrap")
    assert keys(platform, INITIAL_ADMIN_SECRET) is None  # not before argocd-server runs
    await wait_until(platform, lambda: keys(platform, INITIAL_ADMIN_SECRET) is not None)
    assert platform.model.argo.server_started and "admin.password" in keys(platform, SETTINGS_SECRET)


async def test_secret_keys_and_deletes_are_journalled_as_digests_and_replayed(tmp_path):
    journal = tmp_path / "simulation.jsonl"
    first = platform_for(journal=journal)
    await bring_up_kubernetes(first, tmp_path)
    kube = first.drivers.kube
    await kube.apply_objects([settings_secret(), initial_secret()])
    await kube.apply_secret_keys(SETTINGS_SECRET, "argocd", {"admin.password": "hash-9c1e77"}, "manager")
    await kube.delete(SECRETS, INITIAL_ADMIN_SECRET, "argocd")
    await kube.delete(SECRETS, INITIAL_ADMIN_SECRET, "argocd")  # already gone: no error
    assert "hash-9c1e77" not in journal.read_text()
    held = await kube.secret_digests(SETTINGS_SECRET, "argocd")
    assert set(held) == {"admin.password", "server.secretkey"}

    second = platform_for(journal=journal)
    assert await second.drivers.kube.secret_digests(SETTINGS_SECRET, "argocd") == held
    assert await second.drivers.kube.secret_digests(INITIAL_ADMIN_SECRET, "argocd") is None


async def test_deleting_what_a_simulated_controller_follows_is_refused(tmp_path):
    platform = platform_for()
    await bring_up_kubernetes(platform, tmp_path)
    platform.model.apply_object(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"}}
    )
    with pytest.raises(PermanentError, match="does not model deleting a Deployment"):
        await platform.drivers.kube.delete(DEPLOYMENTS, "web", "default")
