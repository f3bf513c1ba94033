"""Canary secrets: whatever secrets exist around a render, none reaches the rendered output."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
import yaml
from render_helpers import EXAMPLES, example_config, example_data

from talos_platform.engine.config.secrets import ENV_NAMES, SECRET_KEYS, Secrets, write_secrets_file
from talos_platform.engine.render import cluster_secrets, render_tree
from talos_platform.main import main

CANARIES = {
    "git_username": "canary-user-3f9a1c",
    "git_token": "canary-git-token-8d2e77b1",
    "cloudflare_api_token": "canary-cf-api-51c0aa9e",
    "cloudflare_tunnel_token": "canary-cf-tunnel-e4b93d02",
    "grafana_admin_password": "canary-grafana-7c41d9e0",
    "argocd_admin_password": "canary-argocd-2b85e6f3",
}


def forms(value: str) -> list[bytes]:
    raw = value.encode()
    return [raw, base64.b64encode(raw), base64.b64encode(raw).rstrip(b"=")]


@pytest.mark.parametrize("example", ["metal-3cp-3w", "docker-single"])
def test_no_canary_secret_reaches_the_rendered_tree(
    example: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Secrets everywhere a careless renderer could pick them up: environment and a secrets file.
    for key, variable in ENV_NAMES.items():
        monkeypatch.setenv(variable, CANARIES[SECRET_KEYS[key]])
    monkeypatch.chdir(tmp_path)
    write_secrets_file(tmp_path / "secrets.yaml", Secrets(**CANARIES))

    out = tmp_path / "out"
    assert main(["render", "--config", str(EXAMPLES / f"{example}.yaml"), "--out", str(out)]) == 0
    printed = capsys.readouterr()
    rendered = [path for path in out.rglob("*") if path.is_file()]
    assert rendered
    for path in rendered:
        content = path.read_bytes()
        for name, value in CANARIES.items():
            for form in forms(value):
                assert form not in content, f"{name} leaked into {path.relative_to(out)}"
    for value in CANARIES.values():
        assert value not in printed.out + printed.err


def test_secrets_are_named_not_included(tmp_path: Path) -> None:
    """The tree references each needed Secret by name; its value is never there."""
    config = example_config("metal-3cp-3w")
    needed = {(secret.namespace, secret.name) for secret in cluster_secrets(config)}
    assert needed == {
        ("argocd", "gitops-repository"),
        ("cert-manager", "cloudflare-api-token"),
        ("external-dns", "cloudflare-api-token"),
        ("cloudflare-tunnel", "cloudflared-token"),
    }
    for path, content in render_tree(config).items():
        for document in yaml.safe_load_all(content) if path.endswith(".yaml") else []:
            if isinstance(document, dict):
                assert document.get("kind") != "Secret", f"{path} holds a Secret"


def test_credentials_in_the_repo_url_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    data = example_data("metal-3cp-3w")
    data["gitops"]["repoUrl"] = f"https://user:{CANARIES['git_token']}@github.com/example/platform.git"
    config_file = tmp_path / "platform.yaml"
    config_file.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    assert main(["render", "--config", str(config_file), "--out", str(out)]) == 2
    assert not out.exists()
    assert os.listdir(tmp_path) == ["platform.yaml"]
