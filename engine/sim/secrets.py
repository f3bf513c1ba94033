"""Secrets for a simulated install: those the user gives (secrets file, `TALOS_PLATFORM_*`
variables), and obviously fake values for the rest, so nothing is asked of the user and nothing
real is needed for a demo."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from talos_platform.engine.config.secrets import ENV_NAMES, SECRET_KEYS, Secrets, load_secrets

FAKE_SECRET_VALUES = {
    "git_username": "simulated-user",
    "git_token": "simulated-git-token-not-real",
    "cloudflare_api_token": "simulated-cloudflare-api-token-not-real",
    "cloudflare_tunnel_token": "simulated-cloudflare-tunnel-token-not-real",
}


def fake_secrets() -> Secrets:
    return Secrets(**FAKE_SECRET_VALUES)


def simulation_secrets(path: Path | str | None, environ: Mapping[str, str]) -> tuple[Secrets, str]:
    """The secrets a simulated install uses, and a sentence saying where each came from.

    As for a real install: the `TALOS_PLATFORM_*` variables win over the secrets file (when
    given). Whatever neither gives is an obviously fake stand-in, so a demo asks for nothing."""
    from_file = load_secrets(path, environ={}) if path is not None else Secrets()
    given = load_secrets(path, environ)
    values, sources = {}, []
    for key, attribute in SECRET_KEYS.items():
        value = getattr(given, attribute)
        if environ.get(ENV_NAMES[key]):
            sources.append(f"{key} from {ENV_NAMES[key]}")
        elif getattr(from_file, attribute):
            sources.append(f"{key} from {path}")
        values[attribute] = value or FAKE_SECRET_VALUES.get(attribute, "")
    if not sources:
        return Secrets(**values), "secrets: simulated stand-ins (no --secrets file or TALOS_PLATFORM_* variable given)"
    faked = any(not getattr(given, attribute) for attribute in FAKE_SECRET_VALUES)
    rest = "; the others are simulated stand-ins" if faked else ""
    return Secrets(**values), "secrets: " + ", ".join(sources) + rest
