"""`talos-platform validate` and `schema` run as the installed console script."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from talos_platform.commands.schema import platform_json_schema, render_schema
from talos_platform.engine.config.models import PlatformConfig

from .helpers import DOCKER_EXAMPLE, METAL_EXAMPLE, REPO, example

SCRIPT = REPO / ".venv" / "bin" / "talos-platform"
SCHEMA_FILE = REPO / "schema" / "platform.schema.json"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TALOS_PLATFORM_") or k == "TALOS_PLATFORM_LOOPBACK_ONLY"
    }
    result = subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, env={**clean, **(env or {})}, timeout=60
    )
    assert "Traceback" not in result.stdout + result.stderr
    return result


def write(tmp_path: Path, data: dict, name: str = "platform.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("example_path", [METAL_EXAMPLE, DOCKER_EXAMPLE])
def test_examples_are_valid(example_path):
    result = run("validate", "--config", str(example_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"{example_path}: valid"


def test_every_problem_is_printed_with_path_and_hint(tmp_path):
    data = example(METAL_EXAMPLE)
    data["cluster"]["vip"] = "192.168.10.12"
    data["nodes"][4]["name"] = "Worker_2"
    data["nodes"][3]["role"] = "control-plane"
    data["nodes"][3]["link"] = "eth0"
    path = write(tmp_path, data)
    result = run("validate", "--config", str(path))
    assert result.returncode == 2
    lines = result.stdout.splitlines()
    assert "error: cluster.vip: 192.168.10.12 is the IP of nodes[1] (cp-2)" in lines
    assert "error: nodes[4].name: 'Worker_2' is not a DNS label" in lines
    assert any(line.startswith("warning: nodes: 4 control planes") for line in lines)
    assert lines[lines.index("error: cluster.vip: 192.168.10.12 is the IP of nodes[1] (cp-2)") + 1].startswith(
        "  hint: "
    )
    assert lines[-1] == f"{path}: invalid, 2 errors, 1 warning"


def test_warnings_only_exit_zero(tmp_path):
    data = example(METAL_EXAMPLE)
    data["domain"]["acmeEmail"] = "ops@example.com"
    result = run("validate", "--config", str(write(tmp_path, data)))
    assert result.returncode == 0
    assert result.stdout.startswith("warning: domain.acmeEmail: ")


def file_with(name: str, content: bytes):
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content)
        return path

    return make


@pytest.mark.parametrize(
    "make, says",
    [
        (lambda folder: folder / "missing.yaml", "file not found"),
        (lambda folder: folder, "is a directory"),
        (file_with("binary.yaml", b"\x00\xff\xfe"), "not UTF-8"),
        (file_with("broken.yaml", b"cluster: [\n"), "not valid YAML"),
        (file_with("empty.yaml", b""), "empty"),
    ],
    ids=["missing", "directory", "binary", "broken-yaml", "empty"],
)
def test_unusable_files_exit_2_without_traceback(tmp_path, make, says):
    path = make(tmp_path)
    result = run("validate", "--config", str(path))
    assert result.returncode == 2
    assert says in result.stdout


def test_missing_config_argument_is_a_usage_error():
    result = run("validate")
    assert result.returncode == 2
    assert "--config" in result.stderr


def test_secrets_are_checked_when_given(tmp_path):
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("gitUsername: me\ngitToken: ghp_canaryCANARYcanary123\n")
    secrets.chmod(0o600)
    result = run("validate", "--config", str(METAL_EXAMPLE), "--secrets", str(secrets))
    assert result.returncode == 2
    assert "error: secrets.cloudflareApiToken: " in result.stdout
    assert "error: secrets.cloudflareTunnelToken: " in result.stdout
    assert "TALOS_PLATFORM_CLOUDFLARE_API_TOKEN" in result.stdout
    assert "ghp_canaryCANARYcanary123" not in result.stdout + result.stderr


def test_secrets_from_environment_complete_the_file(tmp_path):
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("gitUsername: me\ngitToken: ghp_canaryCANARYcanary123\n")
    secrets.chmod(0o600)
    env = {
        "TALOS_PLATFORM_CLOUDFLARE_API_TOKEN": "cf-api-token-0123456789",
        "TALOS_PLATFORM_CLOUDFLARE_TUNNEL_TOKEN": "cf-tunnel-token-0123456789",
    }
    result = run("validate", "--config", str(METAL_EXAMPLE), "--secrets", str(secrets), env=env)
    assert result.returncode == 0, result.stdout


def test_secrets_file_readable_by_others_is_refused(tmp_path):
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("gitToken: ghp_canaryCANARYcanary123\n")
    secrets.chmod(0o644)
    result = run("validate", "--config", str(DOCKER_EXAMPLE), "--secrets", str(secrets))
    assert result.returncode == 2
    assert f"hint: chmod 600 {secrets}" in result.stdout


def test_schema_command_prints_the_committed_schema():
    result = run("schema")
    assert result.returncode == 0
    assert result.stdout == SCHEMA_FILE.read_text()


def test_committed_schema_is_in_sync_with_the_models():
    assert SCHEMA_FILE.read_text() == render_schema(), (
        "regenerate: talos-platform schema --output schema/platform.schema.json"
    )


def test_schema_describes_the_yaml_keys():
    schema = platform_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    node = schema["$defs"]["Node"]["properties"]
    assert {"name", "address", "role", "installDisk", "link"} == set(node)
    assert "DNS label" in node["name"]["description"]
    assert set(schema["properties"]) == {field.alias or name for name, field in PlatformConfig.model_fields.items()}
    json.dumps(schema)
