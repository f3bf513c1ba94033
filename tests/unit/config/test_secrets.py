"""Secrets: a 0600 file or environment variables (env wins); never shown, never in the config."""

from __future__ import annotations

import stat

import pytest

from talos_platform.engine.config.loading import read_config
from talos_platform.engine.config.secrets import (
    ENV_NAMES,
    Secrets,
    load_secrets,
    required_secrets,
    write_secrets_file,
)
from talos_platform.engine.errors import UserError

from .helpers import DOCKER_EXAMPLE, METAL_EXAMPLE

CANARY = "canary-Zq8mK2pL9xW4vB7n"


def secrets_file(tmp_path, text: str, mode: int = 0o600):
    path = tmp_path / "secrets.yaml"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_written_file_is_0600_and_reads_back(tmp_path):
    path = tmp_path / "secrets.yaml"
    secrets = Secrets(git_username="me", git_token=CANARY, cloudflare_api_token="cf-api-token-123456")
    write_secrets_file(path, secrets)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == f"gitUsername: me\ngitToken: {CANARY}\ncloudflareApiToken: cf-api-token-123456\n"
    assert load_secrets(path, environ={}) == secrets


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606])
def test_file_readable_by_others_is_refused(tmp_path, mode):
    path = secrets_file(tmp_path, f"gitToken: {CANARY}\n", mode)
    with pytest.raises(UserError) as raised:
        load_secrets(path, environ={})
    assert raised.value.hint == f"chmod 600 {path}"
    assert raised.value.where == str(path)
    assert f"{mode:04o}" in raised.value.message


def test_environment_wins_over_the_file(tmp_path):
    path = secrets_file(tmp_path, "gitUsername: file-user\ngitToken: from-the-file-123\n")
    secrets = load_secrets(
        path,
        environ={
            "TALOS_PLATFORM_GIT_TOKEN": "from-the-env-456",
            "TALOS_PLATFORM_CLOUDFLARE_TUNNEL_TOKEN": "tunnel-789xyz",
        },
    )
    assert secrets.git_username == "file-user"
    assert secrets.git_token == "from-the-env-456"
    assert secrets.cloudflare_tunnel_token == "tunnel-789xyz"
    assert secrets.cloudflare_api_token == ""


def test_environment_alone_and_empty_variables_do_not_count():
    secrets = load_secrets(
        None, environ={ENV_NAMES["gitToken"]: "", ENV_NAMES["cloudflareApiToken"]: "api-token-value"}
    )
    assert secrets == Secrets(cloudflare_api_token="api-token-value")


def test_every_secret_has_its_documented_environment_variable():
    environ = {name: f"value-of-{key}" for key, name in ENV_NAMES.items()}
    secrets = load_secrets(None, environ=environ)
    assert secrets == Secrets(
        git_username="value-of-gitUsername",
        git_token="value-of-gitToken",
        cloudflare_api_token="value-of-cloudflareApiToken",
        cloudflare_tunnel_token="value-of-cloudflareTunnelToken",
        grafana_admin_password="value-of-grafanaAdminPassword",
        argocd_admin_password="value-of-argocdAdminPassword",
    )
    assert sorted(ENV_NAMES.values()) == [
        "TALOS_PLATFORM_ARGOCD_ADMIN_PASSWORD",
        "TALOS_PLATFORM_CLOUDFLARE_API_TOKEN",
        "TALOS_PLATFORM_CLOUDFLARE_TUNNEL_TOKEN",
        "TALOS_PLATFORM_GIT_TOKEN",
        "TALOS_PLATFORM_GIT_USERNAME",
        "TALOS_PLATFORM_GRAFANA_ADMIN_PASSWORD",
    ]


@pytest.mark.parametrize(
    "text, says",
    [
        ("gitTokn: x\n", "unknown secret 'gitTokn'"),
        ("gitToken: 12345678\n", "must be a string"),
        ("- a\n", "mapping"),
        (f"gitToken: [{CANARY}\n", "not valid YAML at line"),
        (f"gitToken: '{CANARY}\n", "not valid YAML"),
    ],
)
def test_bad_secrets_file_is_a_clear_error_without_values(tmp_path, text, says):
    path = secrets_file(tmp_path, text)
    with pytest.raises(UserError) as raised:
        load_secrets(path, environ={})
    assert says in str(raised.value)
    assert CANARY not in str(raised.value)
    assert "12345678" not in str(raised.value)


def test_missing_or_directory_secrets_file(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_secrets(tmp_path / "nope.yaml", environ={})
    with pytest.raises(UserError, match="not a regular file"):
        load_secrets(tmp_path, environ={})


def test_empty_file_means_no_secrets(tmp_path):
    assert load_secrets(secrets_file(tmp_path, ""), environ={}) == Secrets()


def test_repr_never_shows_values():
    secrets = Secrets(git_username="me", git_token=CANARY)
    assert CANARY not in repr(secrets) and CANARY not in str(secrets)
    assert repr(secrets) == "Secrets(given=['gitUsername', 'gitToken'])"


def test_values_are_the_non_empty_secrets_without_the_user_name():
    secrets = Secrets(git_username="me", git_token=CANARY, cloudflare_tunnel_token="tunnel-token-1")
    assert secrets.values() == [CANARY, "tunnel-token-1"]
    assert Secrets().values() == []


def test_required_secrets_follow_the_enabled_components():
    assert required_secrets(read_config(METAL_EXAMPLE)) == [
        "gitUsername",
        "gitToken",
        "cloudflareApiToken",
        "cloudflareTunnelToken",
    ]
    assert required_secrets(read_config(DOCKER_EXAMPLE)) == []


def test_model_has_no_secret_fields():
    from talos_platform.engine.config.loading import _model_keys

    assert not [key for key in _model_keys() if "token" in key.lower() or "password" in key.lower()]
