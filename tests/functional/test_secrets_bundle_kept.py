"""The Talos secrets bundle is the cluster's PKI (issue 17, item 1): once anything used it, a
missing or damaged bundle stops the install with the file, its backup and how to recover,
and a new bundle is never generated in its place."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture
def state(installed, tmp_path) -> Path:
    copy = tmp_path / "state"
    shutil.copytree(installed, copy)
    return copy


def test_a_deleted_bundle_stops_the_install_and_says_how_to_extract_it(state, simulated_install):
    bundle = state / "talos" / "secrets.yaml"
    bundle.unlink()
    run = simulated_install(state)
    assert run.returncode == 1, run.stdout
    assert f"L0.secrets: FAILED: the Talos secrets bundle (the cluster's PKI) {bundle} is missing" in run.stdout
    assert "the cluster was bootstrapped with it" in run.stdout
    control_plane = state / "talos" / "controlplane.yaml"
    assert f"talosctl gen secrets --from-controlplane-config {control_plane} --output-file {bundle}" in run.stdout
    assert "get machineconfig v1alpha1" in run.stdout and "Never generate a new one" in run.stdout
    assert not bundle.exists()  # not silently regenerated
    assert "L0.machine-configs" not in run.stdout.split("FAILED")[1]  # nothing after it ran


def test_a_truncated_bundle_is_refused_and_kept_as_it_is(state, simulated_install):
    bundle = state / "talos" / "secrets.yaml"
    bundle.write_bytes(bundle.read_bytes()[:300])
    before = bundle.read_bytes()
    run = simulated_install(state)
    assert run.returncode == 1
    assert f"{bundle} is damaged:" in run.stdout
    assert bundle.read_bytes() == before


def test_a_bundle_that_is_not_yaml_is_damaged_without_quoting_it(state, simulated_install):
    bundle = state / "talos" / "secrets.yaml"
    bundle.write_text("certs:\n  os:\n    key: PRIVATEKEYMATERIAL0123: [\n")
    run = simulated_install(state)
    assert run.returncode == 1
    assert "not valid YAML at line 3, column" in run.stdout
    assert "PRIVATEKEYMATERIAL" not in run.stdout + run.stderr
    assert "PRIVATEKEYMATERIAL" not in "".join(p.read_text() for p in (state / "runs").rglob("events.jsonl"))


def test_the_backup_is_named_when_there_is_one(state, simulated_install):
    bundle = state / "talos" / "secrets.yaml"
    backup = state / "backups" / "talos--secrets.yaml.20260101T000000.000000Z"
    backup.parent.mkdir()
    shutil.copy2(bundle, backup)
    bundle.unlink()
    run = simulated_install(state)
    assert run.returncode == 1
    assert f"restore it from its backup: cp -p {backup} {bundle}" in run.stdout
    shutil.copy2(backup, bundle)  # restored: the install goes on
    assert simulated_install(state).returncode == 0


def test_a_bundle_no_one_used_yet_is_generated(tmp_path, simulated_install):
    state = tmp_path / "state"
    assert simulated_install(state, "--only", "L0.secrets").returncode == 0
    bundle = state / "talos" / "secrets.yaml"
    bundle.unlink()  # nothing was made from it yet: a new one is fine
    run = simulated_install(state, "--only", "L0.secrets")
    assert run.returncode == 0, run.stdout
    assert bundle.exists()
