"""Secrets for a simulated install: obviously fake values, so nothing is asked of the user and
nothing real can leak from a demo."""

from __future__ import annotations

from talos_platform.engine.config.secrets import Secrets

FAKE_SECRET_VALUES = {
    "git_username": "simulated-user",
    "git_token": "simulated-git-token-not-real",
    "cloudflare_api_token": "simulated-cloudflare-api-token-not-real",
    "cloudflare_tunnel_token": "simulated-cloudflare-tunnel-token-not-real",
}


def fake_secrets() -> Secrets:
    return Secrets(**FAKE_SECRET_VALUES)
