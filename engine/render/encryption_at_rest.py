"""Secrets encrypted at rest: the key that makes the API server encrypt Secrets in etcd.

Talos generates it with the secrets bundle (`secrets.secretboxencryptionsecret`) and `gen config
--with-secrets` puts it in every control plane's config: as `cluster.secretboxEncryptionSecret`
up to 1.13 (`aescbcEncryptionSecret` on clusters made before Talos 1.3), as a
`KubeEtcdEncryptionConfig` document from 1.14. Without it Secrets lie in etcd in plain text.

Two checks: no rendered patch may set, replace or delete it (`render` and `validate`), and the
control-plane config `gen config` wrote must hold it (the machine-configs step refuses it).
"""

from __future__ import annotations

from typing import Any

import yaml

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.validation import Problem
from talos_platform.engine.config.versions import TalosFeatures

LEGACY_KEYS = ("secretboxEncryptionSecret", "aescbcEncryptionSecret")
BUNDLE_KEYS = ("secretboxencryptionsecret", "aescbcencryptionsecret")
DOCUMENT_KIND = "KubeEtcdEncryptionConfig"
# Providers that encrypt what they write; `identity` first would store Secrets in plain text.
ENCRYPTING_PROVIDERS = ("secretbox", "aescbc", "aesgcm", "kms")


def where_it_lives(features: TalosFeatures) -> str:
    """Where `gen config` of that Talos version writes the key."""
    if features.encryption_as_document:
        return f"a {DOCUMENT_KIND} document encrypting `secrets` (or the legacy `cluster.secretboxEncryptionSecret`)"
    return "`cluster.secretboxEncryptionSecret` (or `cluster.aescbcEncryptionSecret`)"


def _documents(text: str) -> list[Any]:
    return [document for document in yaml.safe_load_all(text) if document is not None]


def _patch_touches(document: Any) -> str:
    """How one patch document would change the key ("" when it leaves it alone)."""
    if isinstance(document, list):  # a JSON patch (RFC 6902)
        for operation in document:
            path = str(operation.get("path", "")) if isinstance(operation, dict) else ""
            if path in ("", "/", "/cluster") or path.startswith(tuple(f"/cluster/{key}" for key in LEGACY_KEYS)):
                return f"its JSON patch operation on {path or '/'!r} replaces or removes it"
        return ""
    if not isinstance(document, dict):
        return ""
    if document.get("kind") == DOCUMENT_KIND:
        return f"its {DOCUMENT_KIND} document replaces or deletes the generated one"
    if "kind" in document:
        return ""
    if document.get("$patch") == "delete":
        return "it deletes the whole v1alpha1 document"
    cluster = document.get("cluster")
    if not isinstance(cluster, dict):
        return ""
    if cluster.get("$patch") == "delete":
        return "it deletes the `cluster` section"
    overridden = [key for key in LEGACY_KEYS if key in cluster]
    if overridden:
        return f"it sets `cluster.{overridden[0]}` (that key comes from the secrets bundle only)"
    return ""


def patch_problems(patches: dict[str, str]) -> list[Problem]:
    """One problem per rendered Talos patch file that would set, replace or remove the key."""
    problems = []
    for name in sorted(patches):
        try:
            documents = _documents(patches[name])
        except yaml.YAMLError as error:
            problems.append(Problem(f"talos/{name}", f"the patch is not valid YAML: {error}"))
            continue
        for document in documents:
            touched = _patch_touches(document)
            if touched:
                problems.append(
                    Problem(
                        f"talos/{name}",
                        f"this patch would change the key that encrypts Secrets at rest: {touched}",
                        "the key must come from the Talos secrets bundle unchanged; report this rendering bug",
                    )
                )
                break
    return problems


def rendered_patch_problems(config: PlatformConfig) -> list[Problem]:
    """`patch_problems` of the Talos patches this config renders (none when they cannot be
    rendered: the render names that problem itself)."""
    from talos_platform.engine.errors import UserError
    from talos_platform.engine.render.talos_patches import talos_patches

    try:
        patches = talos_patches(config)
    except UserError:
        return []
    return patch_problems(patches)


def _document_encrypts_secrets(document: dict[str, Any]) -> bool:
    """The first provider for `secrets` encrypts (it is the one that writes) and has a key."""
    settings = document.get("config")
    resources = settings.get("resources") if isinstance(settings, dict) else None
    for entry in resources if isinstance(resources, list) else []:
        if not isinstance(entry, dict) or "secrets" not in (entry.get("resources") or []):
            continue
        providers = entry.get("providers") or []
        first = providers[0] if providers and isinstance(providers[0], dict) else {}
        kind = next(iter(first), "")
        if kind == "kms":
            return True
        keys = (first.get(kind) or {}).get("keys") if kind in ENCRYPTING_PROVIDERS else None
        return (
            isinstance(keys, list) and bool(keys) and all(isinstance(key, dict) and key.get("secret") for key in keys)
        )
    return False


def machine_config_problem(text: str, features: TalosFeatures) -> str:
    """What keeps a generated control-plane config from encrypting Secrets at rest ("" when it
    holds the key in a form that Talos version reads)."""
    try:
        documents = [document for document in _documents(text) if isinstance(document, dict)]
    except yaml.YAMLError as error:
        return f"it is not valid YAML ({error})"
    for document in documents:
        cluster = document.get("cluster") if "kind" not in document else None
        if isinstance(cluster, dict) and any(isinstance(cluster.get(key), str) and cluster[key] for key in LEGACY_KEYS):
            return ""
    encryption = [document for document in documents if document.get("kind") == DOCUMENT_KIND]
    if features.encryption_as_document and any(_document_encrypts_secrets(document) for document in encryption):
        return ""
    if encryption and features.encryption_as_document:
        return f"its {DOCUMENT_KIND} document does not encrypt `secrets` with a key first (plain text is written)"
    return f"it has no key that encrypts Secrets at rest: expected {where_it_lives(features)}"


def bundle_has_key(bundle: Any) -> bool:
    """A parsed secrets bundle holds the key `gen config` copies into the control-plane config."""
    secrets = bundle.get("secrets") if isinstance(bundle, dict) else None
    return isinstance(secrets, dict) and any(isinstance(secrets.get(key), str) and secrets[key] for key in BUNDLE_KEYS)
