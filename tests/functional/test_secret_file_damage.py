"""Secret-bearing files that are damaged are reported by name, line and column, never by their
text (issue 17, item 5): not on screen, not in the run journal, not in a `--debug` traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from talos_platform.engine.config.secrets import load_secrets
from talos_platform.engine.errors import UserError

ENVIRONMENT = {**os.environ, "TALOS_PLATFORM_LOOPBACK_ONLY": "1"}
KEY = "LS0tLS1CRUdJTiBFRDI1NTE5IFBSSVZBVEUgS0VZLS0tLS0KTUM0Q0FRQXdCUVlESzJWd0JDSUVJT2"


def talos_platform(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "talos_platform", *argv], env=ENVIRONMENT, capture_output=True, text=True, timeout=120
    )


def simulated_install(state: Path) -> subprocess.CompletedProcess:
    return talos_platform("install", "--simulate", "--speed", "inf", "--state-dir", str(state))


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    state = tmp_path_factory.mktemp("installed") / "state"
    assert simulated_install(state).returncode == 0
    return state


def copy_of(installed: Path, tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "state"
    shutil.copytree(installed, target, symlinks=True)
    (target / ".lock").unlink(missing_ok=True)
    return target


def everything_written(state: Path, run: subprocess.CompletedProcess) -> str:
    journals = "".join(p.read_text() for p in (state / "runs").rglob("events.jsonl"))
    return run.stdout + run.stderr + journals


def test_a_yaml_error_in_the_talosconfig_never_shows_the_client_key(installed, tmp_path):
    state = copy_of(installed, tmp_path)
    talosconfig = state / "talos" / "talosconfig"
    talosconfig.write_text(f"context: homelab\ncontexts:\n  homelab:\n    key: {KEY}: [\n")
    run = simulated_install(state)
    assert run.returncode == 1
    written = everything_written(state, run)
    assert KEY[:20] not in written
    assert f"the talosconfig {talosconfig} is damaged: not valid YAML at line 4, column" in run.stdout
    assert "restore it from your backup" in run.stdout


def test_garbage_in_vault_init_names_the_file_and_says_to_restore_it(installed, tmp_path):
    state = copy_of(installed, tmp_path)
    vault_init = state / "vault-init.json"
    vault_init.write_text('{"root_token": "' + KEY + '", unseal')
    run = simulated_install(state)
    assert run.returncode == 1
    written = everything_written(state, run)
    assert KEY[:20] not in written
    assert "unexpected JSONDecodeError" not in written
    assert f"{vault_init} is damaged: not valid JSON at line 1, column" in run.stdout
    assert "the only copy of Vault's unseal keys" in run.stdout


def test_a_vault_init_of_the_wrong_shape_is_named_too(installed, tmp_path):
    state = copy_of(installed, tmp_path)
    (state / "vault-init.json").write_text('["' + KEY + '"]\n')
    run = simulated_install(state)
    assert run.returncode == 1
    assert KEY[:20] not in everything_written(state, run)
    assert "vault-init.json is damaged: it is not a JSON object" in run.stdout


def test_a_backup_of_a_damaged_file_is_named_in_the_hint(installed, tmp_path):
    state = copy_of(installed, tmp_path)
    backups = state / "backups"
    backups.mkdir()
    backup = backups / "vault-init.json.20260101T000000.000000Z"
    backup.write_bytes((state / "vault-init.json").read_bytes())
    (state / "vault-init.json").write_text("{")
    run = simulated_install(state)
    assert f"restore it from its backup: cp -p {backup} {state / 'vault-init.json'}" in run.stdout


def secrets_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "secrets.yaml"
    path.write_text(text)
    path.chmod(0o600)
    return path


TOKEN = "ghp_" + "Ab3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1eF3hJ5"


def test_a_token_pasted_as_a_key_is_masked_by_validate_and_in_debug_tracebacks(tmp_path):
    path = secrets_file(tmp_path, f"{TOKEN}: x\n")
    config = Path(__file__).parents[2] / "examples" / "docker-single.yaml"
    run = talos_platform("validate", "--config", str(config), "--secrets", str(path))
    debug = talos_platform("--debug", "validate", "--config", str(config), "--secrets", str(path))
    assert run.returncode == 2
    assert "unknown secret ghp_… (40 characters, masked: it looks like a token)" in run.stdout + run.stderr
    for output in (run.stdout + run.stderr, debug.stdout + debug.stderr):
        assert TOKEN not in output and TOKEN[4:] not in output


@pytest.mark.parametrize("key", ["gitTokn", "cloudflareTunelToken", "git_token"])
def test_a_mistyped_secret_name_is_still_shown(tmp_path, key):
    with pytest.raises(UserError, match=f"unknown secret '{key}'"):
        load_secrets(secrets_file(tmp_path, f"{key}: x\n"), environ={})


def test_a_yaml_error_in_the_secrets_file_gives_line_and_column_only(tmp_path):
    path = secrets_file(tmp_path, f"gitUsername: me\ngitToken: {TOKEN}: x\n")
    with pytest.raises(UserError) as error:
        load_secrets(path, environ={})
    assert TOKEN[4:] not in str(error.value)
    assert f"the secrets file {path} is not valid YAML at line 2, column" in str(error.value)
    assert error.value.__suppress_context__


def test_an_emptied_talosconfig_is_named_not_silently_rewritten(installed, tmp_path):
    state = copy_of(installed, tmp_path)
    talosconfig = state / "talos" / "talosconfig"
    talosconfig.write_text("")
    run = simulated_install(state)
    assert run.returncode == 1
    assert f"the talosconfig {talosconfig} is damaged: it is empty" in run.stdout
    assert "--output-types talosconfig" in run.stdout  # how to make it again from the bundle
    assert talosconfig.read_text() == ""


def test_damaged_bytes_in_non_secret_state_files_are_never_a_traceback(installed, tmp_path):
    state = copy_of(installed, tmp_path)
    (state / "talos" / ".inputs").write_bytes(b"\x00\xff{[")  # machine configs: generated again
    run = simulated_install(state)
    assert run.returncode == 0, run.stdout[-2000:]
    assert "L0.machine-configs: done" in run.stdout
    (state / "simulation.jsonl").write_bytes(b"\x00\xff{[: not json\n")  # another cluster: started afresh
    run = simulated_install(state)
    assert "Traceback" not in run.stderr
    assert "starting a new simulated cluster" in run.stdout
