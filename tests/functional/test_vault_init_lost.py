"""A run killed the moment Vault accepted its init (issue 17, item 2), on the simulated platform
through the real command line: the next run names the loss as this install's own, the wipe
needs --reinitialise-vault and a confirmation, and then the install finishes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


@pytest.fixture
def killed_after_init(installed, tmp_path) -> Path:
    """The state directory as a kill -9 leaves it right after Vault accepted the init: the
    simulated cluster up to that change, the intent on disk, the answer never saved."""
    state = tmp_path / "state"
    shutil.copytree(installed, state)
    journal = state / "simulation.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if '"change":"vault_initialize"' in line)
    journal.write_text("".join(lines[: cut + 1]))
    (state / "vault-init.json").unlink()
    intent = state / "vault-init.intent.json"
    intent.write_text(json.dumps({"started": "2026-12-02 10:00:00 UTC", "shares": 5, "threshold": 3}))
    intent.chmod(0o600)
    return state


def changes(state: Path) -> list[str]:
    return [json.loads(line)["change"] for line in (state / "simulation.jsonl").read_text().splitlines()[1:]]


def test_the_next_run_names_the_loss_as_our_own_and_wipes_nothing(killed_after_init, simulated_install):
    run = simulated_install(killed_after_init)
    assert run.returncode == 1
    assert "someone else" not in run.stdout
    assert "L3.vault-init: FAILED: Vault was initialised by this install's own interrupted run" in run.stdout
    assert "--reinitialise-vault" in run.stdout
    assert "vault_wipe" not in changes(killed_after_init)


def test_the_flag_without_a_terminal_or_yes_is_refused_before_anything_runs(killed_after_init, simulated_install):
    before = (killed_after_init / "simulation.jsonl").read_bytes()
    run = simulated_install(killed_after_init, "--reinitialise-vault")
    assert run.returncode == 2
    assert "needs a confirmation" in run.stderr and "--yes" in run.stderr
    assert (killed_after_init / "simulation.jsonl").read_bytes() == before


def test_with_the_flag_and_yes_vault_is_wiped_initialised_again_and_the_install_finishes(
    killed_after_init, simulated_install
):
    run = simulated_install(killed_after_init, "--reinitialise-vault", "--yes")
    assert run.returncode == 0, run.stdout[-3000:]
    after = changes(killed_after_init)
    assert (
        after.count("vault_initialize") == 2
        and after.index("vault_wipe") < len(after) - after[::-1].index("vault_initialize") - 1
    )
    saved = json.loads((killed_after_init / "vault-init.json").read_text())
    assert len(saved["unseal_keys"]) == 5 and saved["root_token"]
    assert not (killed_after_init / "vault-init.intent.json").exists()
    again = simulated_install(killed_after_init)
    assert again.returncode == 0 and "L3.vault-init: already done" in again.stdout
