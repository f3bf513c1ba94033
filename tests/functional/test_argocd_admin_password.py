"""A simulated install replaces the admin password ArgoCD generated at its first start with the one
kept in Vault, a second run finds it done, and neither the password nor its hash reaches an event,
a journal, the rendered tree or the output."""

from __future__ import annotations

import base64
import json
import math
import urllib.parse

import bcrypt
from support.commands import run_simulated_install

from talos_platform.engine.drivers.protocols import SECRETS, secret_digest
from talos_platform.engine.run.events import StepOutput
from talos_platform.engine.session import InstallSession
from talos_platform.engine.sim import simulated_platform
from talos_platform.engine.state import StateDirectory

STEP = "L3.argocd-admin-password"


def forms(value: str) -> set[str]:
    """The value and the encodings a leak would take (a Secret's data, a URL)."""
    raw = value.encode()
    return {value, base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(), urllib.parse.quote(value)}


async def test_the_install_replaces_argocds_generated_password_with_the_one_kept_in_vault(tmp_path):
    platform = simulated_platform("default", speed=math.inf)
    state = StateDirectory(tmp_path / "state")
    session = InstallSession(platform.config, platform.secrets, state, platform.drivers, platform.clock)
    events = []
    session.subscribe(events.append)

    assert await session.run() == "succeeded"

    said = [e.line for e in events if isinstance(e, StepOutput) and e.step_id == STEP]
    # ArgoCD had generated its own password: there was something to replace.
    assert any(line.startswith("wrote the admin password's hash") for line in said)
    assert "deleted argocd/argocd-initial-admin-secret" in said
    password = state.argocd_admin_password.read_text().strip()
    hashed = state.argocd_admin_password_hash.read_text().strip()
    assert bcrypt.checkpw(password.encode(), hashed.encode())
    live = await platform.drivers.kube.secret_digests("argocd-secret", "argocd")
    assert live["admin.password"] == secret_digest(base64.b64encode(hashed.encode()).decode())
    assert "server.secretkey" in live  # ArgoCD's own keys stay
    assert await platform.drivers.kube.get(SECRETS, "argocd-initial-admin-secret", "argocd") is None
    assert platform.model.vault.secrets["platform/argocd"]["admin-password"] == password
    shown = "\n".join(repr(event) for event in events)
    assert not any(form in shown for value in (password, hashed) for form in forms(value))


def test_no_run_shows_the_password_or_its_hash_and_a_second_finds_it_done(tmp_path):
    state = tmp_path / "state"
    first = run_simulated_install(state, "--yes", "--output", "json")
    assert first.returncode == 0, first.stderr
    second = run_simulated_install(state, "--yes", "--output", "json")
    assert second.returncode == 0, second.stderr

    events = [json.loads(line) for line in second.stdout.splitlines() if line.startswith("{")]
    assert STEP in [e["step_id"] for e in events if e["type"] == "StepSkipped"]
    assert STEP not in [e.get("step_id") for e in events if e["type"] == "StepFinished"]

    kept = {state / "argocd-admin-password", state / "argocd-admin-password.bcrypt"}
    secrets = [path.read_text().strip() for path in kept]
    places = {"output": first.stdout + first.stderr + second.stdout + second.stderr}
    for path in state.rglob("*"):  # journals, the simulation's journal, the rendered tree, ...
        if path.is_file() and path not in kept:
            places[str(path.relative_to(state))] = path.read_text(errors="replace")
    assert any(name.endswith("events.jsonl") for name in places) and "simulation.jsonl" in places
    assert any(name.startswith("rendered/") for name in places)
    for name, text in places.items():
        for value in secrets:
            assert not any(form in text for form in forms(value)), f"ArgoCD's admin password or hash in {name}"
