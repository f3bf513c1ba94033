"""What the docs promise, as the command line does it (issue 17, item 8): the `TALOS_PLATFORM_*`
variables win for a simulated install too (and the screen says which secrets it used), and a
huge file given as the config is refused as too large, not as an alias bomb."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from talos_platform.engine.config.loading import MAX_CONFIG_BYTES

TOKEN = "env-git-token-for-the-simulation-0123"


def talos_platform(*argv: str, **environment: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TALOS_PLATFORM_")}
    env.update(TALOS_PLATFORM_LOOPBACK_ONLY="1", **environment)
    return subprocess.run(
        [sys.executable, "-m", "talos_platform", *argv], env=env, capture_output=True, text=True, timeout=120
    )


def vault_writes(state: Path) -> dict[str, dict[str, str]]:
    writes = {}
    for line in (state / "simulation.jsonl").read_text().splitlines()[1:]:
        entry = json.loads(line)
        if entry["change"] == "vault_write":
            writes[entry["path"]] = entry["digests"]
    return writes


def test_a_simulated_install_uses_the_variables_and_says_which_secrets_it_used(tmp_path):
    state = tmp_path / "s"
    run = talos_platform(
        "install", "--simulate", "--speed", "inf", "--state-dir", str(state), TALOS_PLATFORM_GIT_TOKEN=TOKEN
    )
    assert run.returncode == 0, run.stderr
    first = run.stdout.splitlines()[0]
    assert "secrets: gitToken from TALOS_PLATFORM_GIT_TOKEN; the others are simulated stand-ins" in first
    assert vault_writes(state)["platform/git"]["token"] == hashlib.sha256(TOKEN.encode()).hexdigest()
    assert TOKEN not in run.stdout + run.stderr  # used, and redacted like any secret


def test_the_variables_win_over_the_secrets_file_in_a_simulation(tmp_path):
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text('gitToken: "from-the-file-0123456789"\ngitUsername: me\n')
    secrets.chmod(0o600)
    state = tmp_path / "s"
    run = talos_platform(
        "install",
        "--simulate",
        "--speed",
        "inf",
        "--state-dir",
        str(state),
        "--secrets",
        str(secrets),
        TALOS_PLATFORM_GIT_TOKEN=TOKEN,
    )
    assert run.returncode == 0, run.stderr
    assert f"gitUsername from {secrets}, gitToken from TALOS_PLATFORM_GIT_TOKEN" in run.stdout.splitlines()[0]
    git = vault_writes(state)["platform/git"]
    assert git["token"] == hashlib.sha256(TOKEN.encode()).hexdigest()
    assert git["username"] == hashlib.sha256(b"me").hexdigest()


def test_without_any_secret_given_the_screen_says_stand_ins(tmp_path):
    run = talos_platform(
        "install", "--simulate", "--speed", "inf", "--state-dir", str(tmp_path / "s"), "--only", "L0.preflight.tools"
    )
    assert run.returncode == 0, run.stderr
    assert "secrets: simulated stand-ins" in run.stdout.splitlines()[0]


def test_a_50_megabyte_plain_list_is_too_large_not_nested_aliases(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "w") as handle:
        line = "- 1\n" * 1024
        for _ in range(50 * 1024 * 1024 // len(line)):
            handle.write(line)
    run = talos_platform("validate", "--config", str(big))
    assert run.returncode == 2
    output = run.stdout + run.stderr
    assert "aliases" not in output
    assert (
        f"file too large: {big.stat().st_size} bytes, and a config file may be at most {MAX_CONFIG_BYTES} bytes"
        in output
    )


def test_a_list_of_many_values_under_the_size_limit_is_not_called_aliases_either(tmp_path):
    many = tmp_path / "many.yaml"
    many.write_text("values: [" + ",".join("1" for _ in range(200_000)) + "]\n")
    assert many.stat().st_size < MAX_CONFIG_BYTES
    run = talos_platform("validate", "--config", str(many))
    output = run.stdout + run.stderr
    assert run.returncode == 2
    assert "aliases" not in output and "the file holds more than 100000 values" in output


def test_nested_aliases_are_still_called_so(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for level in range(1, 7):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 10)}]")
    bomb.write_text("\n".join(lines) + "\n")
    run = talos_platform("validate", "--config", str(bomb))
    assert run.returncode == 2
    assert "nested YAML aliases" in run.stdout + run.stderr
