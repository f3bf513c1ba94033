"""The wizard driven through its real questionary prompts with scripted keystrokes."""

from __future__ import annotations

import stat

from wizard_script import happy_path
from conftest import EXPECTED


def test_happy_path_writes_the_config_and_a_private_secrets_file(drive):
    run = drive(happy_path())

    assert run.code == 0
    assert run.config_file.read_bytes() == (EXPECTED / "happy-path.yaml").read_bytes()
    assert run.secrets_file.read_bytes() == (EXPECTED / "happy-path.secrets.yaml").read_bytes()
    assert stat.S_IMODE(run.secrets_file.stat().st_mode) == 0o600
    assert "install --yes --config platform.yaml" in run.screen
