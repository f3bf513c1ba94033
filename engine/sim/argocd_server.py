"""The simulated argocd-server's start, as ArgoCD's `InitializeSettings` (util/settings/settings.go)
does it: an admin account without a password hash gets a random password, its bcrypt hash and
the time in `argocd-secret` (`admin.password`, `admin.passwordMtime`), and the password in clear
in `argocd-initial-admin-secret`; an account that has a hash keeps it, and then no initial Secret
is made. A missing server signature (`server.secretkey`) is made as well.

The values are derived from the seed, never drawn from the model's random generator (which would
shift every simulated timing after it). The hash is shaped like a bcrypt hash; nothing in the
simulator verifies a password against it."""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import TYPE_CHECKING, Any

from talos_platform.engine.drivers.protocols import SECRETS

if TYPE_CHECKING:
    from talos_platform.engine.sim.model import PlatformModel

ARGOCD_NAMESPACE = "argocd"
SETTINGS_SECRET = "argocd-secret"
INITIAL_ADMIN_SECRET = "argocd-initial-admin-secret"
_BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def initialise_settings(model: PlatformModel) -> None:
    """What argocd-server writes when it starts (see the module's docstring)."""
    secret = model.store.get_entry(SECRETS, ARGOCD_NAMESPACE, SETTINGS_SECRET)
    held = dict((secret or {}).get("data") or {})
    added: dict[str, str] = {}
    if "admin.password" not in held:
        password = _derived(model.seed, "initial-admin-password")[:16]
        added["admin.password"] = _encoded(_bcrypt_shaped(model.seed))
        added["admin.passwordMtime"] = _encoded(model.now_iso())
        _put_secret(model, INITIAL_ADMIN_SECRET, {"password": _encoded(password)})
    if "server.secretkey" not in held:
        added["server.secretkey"] = _encoded(_derived(model.seed, "server-signature")[:44])
    if not added:
        return
    if secret is None:
        _put_secret(model, SETTINGS_SECRET, added)  # the chart makes it; argocd-server fills it
    else:
        model.merge_secret_data(ARGOCD_NAMESPACE, SETTINGS_SECRET, added)


def _put_secret(model: PlatformModel, name: str, data: dict[str, str]) -> None:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "namespace": ARGOCD_NAMESPACE,
            "labels": {"app.kubernetes.io/part-of": "argocd"},
            "uid": str(uuid.UUID(_derived(model.seed, f"uid-{name}")[:32], version=4)),
        },
        "data": data,
    }
    model.put_object(SECRETS, obj)


def _derived(seed: int, purpose: str) -> str:
    return hashlib.sha256(f"{seed}:{purpose}".encode()).hexdigest()


def _bcrypt_shaped(seed: int) -> str:
    digest = hashlib.sha512(f"{seed}:admin-password-hash".encode()).digest()
    return "$2a$10$" + "".join(_BCRYPT_ALPHABET[byte % 64] for byte in digest[:53])


def _encoded(value: str) -> str:
    return base64.b64encode(value.encode()).decode()
