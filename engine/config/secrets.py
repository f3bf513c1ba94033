"""Secrets: never in the config file. They come from a secrets file (0600), environment
variables (headless use; they win over the file) or the wizard.

The secrets file is YAML with camelCase keys:

    gitUsername: me
    gitToken: ...
    cloudflareApiToken: ...
    cloudflareTunnelToken: ...
    grafanaAdminPassword: ...   # optional: without it one is generated once and kept in Vault
    argocdAdminPassword: ...    # optional: likewise, for ArgoCD's `admin` account
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.errors import UserError
from talos_platform.engine.files import atomic_write
from talos_platform.engine.secret_files import shown_key

# camelCase file key -> attribute name
SECRET_KEYS: dict[str, str] = {
    "gitUsername": "git_username",
    "gitToken": "git_token",
    "cloudflareApiToken": "cloudflare_api_token",
    "cloudflareTunnelToken": "cloudflare_tunnel_token",
    "grafanaAdminPassword": "grafana_admin_password",
    "argocdAdminPassword": "argocd_admin_password",
}

# camelCase file key -> environment variable
ENV_NAMES: dict[str, str] = {
    "gitUsername": "TALOS_PLATFORM_GIT_USERNAME",
    "gitToken": "TALOS_PLATFORM_GIT_TOKEN",
    "cloudflareApiToken": "TALOS_PLATFORM_CLOUDFLARE_API_TOKEN",
    "cloudflareTunnelToken": "TALOS_PLATFORM_CLOUDFLARE_TUNNEL_TOKEN",
    "grafanaAdminPassword": "TALOS_PLATFORM_GRAFANA_ADMIN_PASSWORD",
    "argocdAdminPassword": "TALOS_PLATFORM_ARGOCD_ADMIN_PASSWORD",
}

# The user name is a credential but not a secret: redacting a short, common word such as
# `git` everywhere would mangle logs, so it is kept out of `values()`.
NOT_SECRET = {"gitUsername"}


@dataclass(frozen=True)
class Secrets:
    """The secret values one install needs; `""` means not given. The repr never shows values."""

    git_username: str = dataclasses.field(default="", repr=False)
    git_token: str = dataclasses.field(default="", repr=False)
    cloudflare_api_token: str = dataclasses.field(default="", repr=False)
    cloudflare_tunnel_token: str = dataclasses.field(default="", repr=False)
    grafana_admin_password: str = dataclasses.field(default="", repr=False)
    argocd_admin_password: str = dataclasses.field(default="", repr=False)

    def values(self) -> list[str]:
        """The non-empty secret values, for the redactor."""
        return [
            getattr(self, attribute)
            for key, attribute in SECRET_KEYS.items()
            if key not in NOT_SECRET and getattr(self, attribute)
        ]

    def given(self) -> list[str]:
        """camelCase names of the secrets that have a value."""
        return [key for key, attribute in SECRET_KEYS.items() if getattr(self, attribute)]

    def __repr__(self) -> str:
        return f"Secrets(given={self.given()})"

    def to_file_mapping(self) -> dict[str, str]:
        """camelCase keys of the given secrets, in a stable order."""
        return {key: getattr(self, attribute) for key, attribute in SECRET_KEYS.items() if getattr(self, attribute)}


def secret_value(secrets: Secrets, key: str) -> str:
    """The value of the secret with camelCase name `key` (`""` when not given)."""
    value: str = getattr(secrets, SECRET_KEYS[key])
    return value


def required_secrets(config: PlatformConfig) -> list[str]:
    """camelCase names of the secrets the enabled components need."""
    needed: list[str] = []
    if config.gitops.private:
        needed += ["gitUsername", "gitToken"]
    if config.components.external_dns.enabled:
        needed.append("cloudflareApiToken")
    if config.components.cloudflare_tunnel.enabled:
        needed.append("cloudflareTunnelToken")
    return needed


def grafana_password_from_vault(config: PlatformConfig) -> bool:
    """Grafana's admin password is a Vault secret synced by the Vault Secrets Operator."""
    components = config.components
    return components.monitoring.enabled and components.vault.enabled and components.vault.secrets_operator.enabled


def argocd_password_from_vault(config: PlatformConfig) -> bool:
    """ArgoCD's admin password is kept in Vault, and its hash written into `argocd-secret` by
    the install (ArgoCD itself is always installed)."""
    return config.components.vault.enabled


def optional_secrets(config: PlatformConfig) -> list[str]:
    """camelCase names of the secrets the enabled components may be given (else one is made)."""
    optional = ["grafanaAdminPassword"] if grafana_password_from_vault(config) else []
    return optional + (["argocdAdminPassword"] if argocd_password_from_vault(config) else [])


def load_secrets(path: Path | str | None = None, environ: Mapping[str, str] | None = None) -> Secrets:
    """Secrets from `path` (if given) with environment variables on top (env wins).

    Raises UserError when the file is missing, unreadable, malformed, or readable by group or
    others. Empty environment variables count as not set.
    """
    environ = os.environ if environ is None else environ
    values = _read_secrets_file(Path(path)) if path is not None else {}
    for key, env_name in ENV_NAMES.items():
        if environ.get(env_name):
            values[key] = environ[env_name]
    return Secrets(**{SECRET_KEYS[key]: value for key, value in values.items()})


_LINES_HINT = "write `key: value` lines, e.g. `gitToken: ...`"


def _read_secrets_file(path: Path) -> dict[str, str]:
    where = str(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        hint = "create it, or give secrets by environment variables"
        raise UserError("secrets file not found", where=where, hint=hint) from None
    except OSError as error:
        raise UserError(f"cannot read the secrets file: {error.strerror}", where=where) from None
    if not stat.S_ISREG(mode):
        raise UserError("the secrets file is not a regular file", where=where, hint="give the path of a YAML file")
    if mode & 0o077:
        raise UserError(
            f"the secrets file is open to group or others (mode {stat.S_IMODE(mode):04o}); it must be private to you",
            where=where,
            hint=f"chmod 600 {path}",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read the secrets file: {error}", where=where) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        # Never echo the YAML error's snippet: it would show secret values.
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise UserError(
            f"the secrets file {path} is not valid YAML{at}",
            where=where,
            hint=_LINES_HINT + ", or restore the file from your backup",
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError("the secrets file must be a mapping of names to values", where=where, hint=_LINES_HINT)
    values: dict[str, str] = {}
    for key, value in data.items():
        if key not in SECRET_KEYS:
            # A value pasted where its name belongs is a secret: never shown whole.
            raise UserError(
                f"unknown secret {shown_key(key)}", where=where, hint=f"known secrets: {', '.join(SECRET_KEYS)}"
            )
        if value is None:
            continue
        if not isinstance(value, str):
            # YAML turns unquoted digits into numbers (and 0123 into 83): insist on quotes.
            raise UserError(f"{key} must be a string", where=where, hint=f'quote the value: `{key}: "..."`')
        values[key] = str(value)
    return values


def dump_secrets(secrets: Secrets) -> str:
    """The secrets file content (YAML, camelCase keys, only the given secrets)."""
    return yaml.safe_dump(secrets.to_file_mapping(), sort_keys=False, default_flow_style=False)


def write_secrets_file(path: Path | str, secrets: Secrets) -> None:
    """Write the secrets file atomically with mode 0600 (never readable by anyone else)."""
    atomic_write(path, dump_secrets(secrets).encode("utf-8"), mode=0o600)
