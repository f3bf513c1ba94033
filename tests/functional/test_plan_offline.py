"""`talos-platform plan --offline` end to end: every step to do, each with the exact commands or API
calls it would make, nothing contacted, no secret shown; and the online plan against a fresh
simulated cluster lists the same actions for the steps that need work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from talos_platform.main import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CANARY = "canary-9f3b2c71d0e4"
"""A secret value that appears nowhere: it must never be printed."""
STATE_CANARY = "cnry-state-5e1a"
"""A secret value that is also part of the state directory's path, so the plan would print it if
it were not redacted."""
SECRET_ENV = {
    "TALOS_PLATFORM_GIT_USERNAME": "robot",
    "TALOS_PLATFORM_GIT_TOKEN": CANARY,
    "TALOS_PLATFORM_CLOUDFLARE_API_TOKEN": CANARY + "-api",
    "TALOS_PLATFORM_CLOUDFLARE_TUNNEL_TOKEN": STATE_CANARY,
}
NOTHING_TO_DO_WITHOUT_SECRETS = {"L1.bootstrap-secrets"}
"""Steps with nothing to do for a config that needs no secret (the docker example). Vault still
gets the secrets given (here through the environment)."""


@pytest.fixture
def guarded(monkeypatch, no_process_no_socket):
    """No process may start and no socket connect while an offline plan runs; canary secrets
    are in the environment."""
    for name, value in SECRET_ENV.items():
        monkeypatch.setenv(name, value)
    return no_process_no_socket


def plan(capsys, *args: str) -> str:
    code = main(["plan", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.mark.parametrize("example", ["metal-3cp-3w.yaml", "docker-single.yaml"])
def test_offline_plan_lists_every_step_to_do_with_concrete_actions(tmp_path, capsys, guarded, example):
    state = tmp_path / STATE_CANARY
    args = ["--offline", "--config", str(EXAMPLES / example), "--state-dir", str(state), "--push"]
    record = json.loads(plan(capsys, *args, "--output", "json"))
    text = plan(capsys, *args)

    assert guarded == []  # no process, no connection
    assert not state.exists()  # and nothing written
    assert record["offline"] is True and record["steps"]
    for step in record["steps"]:
        assert step["state"] == "to do", step
        assert step["actions"], step
        concrete = [a for a in step["actions"] if a["command"] or a["apiCall"]]
        if example == "docker-single.yaml" and step["stepId"] in NOTHING_TO_DO_WITHOUT_SECRETS:
            assert not concrete and step["actions"][0]["description"].startswith("nothing to ")
        else:
            assert concrete, step
    assert "cannot list" not in text and "cannot list" not in json.dumps(record)
    assert f"{len(record['steps'])} to do" in text

    for output in (text, json.dumps(record)):
        assert CANARY not in output and STATE_CANARY not in output
        assert "[REDACTED]" in output  # the state path holds a secret value: it is redacted, not shown


def test_offline_plan_shows_the_exact_commands_of_the_nodes_talos_version(tmp_path, capsys, guarded):
    config = tmp_path / "platform.yaml"
    config.write_text(
        (EXAMPLES / "metal-3cp-3w.yaml")
        .read_text()
        .replace("talosVersion: v1.14.1", "talosVersion: v1.12.0")
        .replace("kubernetesVersion: v1.37.2", "kubernetesVersion: v1.35.0")
    )
    state = tmp_path / "state"
    text = plan(capsys, "--offline", "--config", str(config), "--state-dir", str(state))
    assert f"$ talosctl apply-config --insecure --nodes 192.168.10.11 --file {state}/talos/controlplane.yaml" in text
    assert "--talos-version v1.12 --kubernetes-version 1.35.0" in text
    assert (
        f"$ talosctl --talosconfig {state}/talos/talosconfig --endpoints 192.168.10.11 --nodes 192.168.10.11 bootstrap"
        in text
    )
    assert "watch apps/v1 DaemonSet kube-system/cilium until rolled out" in text
    assert "server-side apply Namespace argocd, Namespace cert-manager" in text
    assert "PUT /v1/sys/init (through the API server's pod proxy to vault/vault-0)" in text


def test_online_plan_of_a_fresh_simulated_cluster_lists_what_the_offline_plan_lists(tmp_path, capsys, monkeypatch):
    for name in SECRET_ENV:
        monkeypatch.delenv(name, raising=False)
    state = tmp_path / "state"
    online = json.loads(plan(capsys, "--simulate", "--state-dir", str(state), "--output", "json"))
    offline = json.loads(plan(capsys, "--simulate", "--offline", "--state-dir", str(state), "--output", "json"))
    planned = {step["stepId"]: step["actions"] for step in offline["steps"]}
    to_do = [step for step in online["steps"] if step["state"] == "to do"]
    assert online["simulated"] is True and len(to_do) >= 10
    for step in online["steps"]:
        if step["state"] != "done":
            assert step["actions"] == planned[step["stepId"]], step["stepId"]
    # Checks that passed (the preflights on a fresh cluster) are done, with nothing to do.
    assert all(not step["actions"] for step in online["steps"] if step["state"] == "done")


def test_offline_plan_as_a_user_runs_it(tmp_path):
    """The installed command, in its own process, with the secrets in its environment."""
    env = {**os.environ, "TALOS_PLATFORM_LOOPBACK_ONLY": "1", **SECRET_ENV}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "talos_platform",
            "plan",
            "--offline",
            "--config",
            str(EXAMPLES / "docker-single.yaml"),
            "--state-dir",
            str(tmp_path / STATE_CANARY),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    # Talos 1.14 (the example's): talosctl 1.12 and later make the provisioner a sub-command.
    assert "$ talosctl cluster create docker --name local" in result.stdout
    assert CANARY not in result.stdout + result.stderr and STATE_CANARY not in result.stdout + result.stderr
