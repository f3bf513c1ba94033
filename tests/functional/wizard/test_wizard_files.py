"""The wizard's files: both written or neither, the secrets file private, Ctrl-C held until both
are on disk."""

from __future__ import annotations

import os
import signal
import stat

import pytest
import yaml
from conftest import EXPECTED

from talos_platform.engine.config.loading import parse_config
from talos_platform.engine.config.secrets import Secrets
from talos_platform.wizards import files
from talos_platform.wizards.files import config_path_problem, write_files

CONFIG = parse_config((EXPECTED / "happy-path.yaml").read_text())
SECRETS = Secrets(cloudflare_api_token="cf-api-token-0123456789", cloudflare_tunnel_token="cf-tunnel-token-0123456789")


def test_both_files_are_written_and_the_secrets_file_is_private(tmp_path):
    written = write_files(CONFIG, SECRETS, tmp_path / "platform.yaml", tmp_path / "state" / "secrets.yaml")

    assert written.config.read_bytes() == (EXPECTED / "happy-path.yaml").read_bytes()
    assert written.secrets.read_bytes() == (EXPECTED / "happy-path.secrets.yaml").read_bytes()
    assert stat.S_IMODE(written.secrets.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    assert not written.interrupted


def test_no_secrets_file_when_no_secret_is_needed(tmp_path):
    written = write_files(CONFIG, Secrets(), tmp_path / "platform.yaml", tmp_path / "state" / "secrets.yaml")

    assert written.secrets is None
    assert not (tmp_path / "state").exists()


def test_a_config_that_cannot_be_written_takes_a_new_secrets_file_with_it(tmp_path):
    (tmp_path / "not-a-folder").write_text("")
    with pytest.raises(OSError):
        write_files(CONFIG, SECRETS, tmp_path / "not-a-folder" / "platform.yaml", tmp_path / "secrets.yaml")

    assert not (tmp_path / "secrets.yaml").exists()


def test_a_config_that_cannot_be_written_puts_the_old_secrets_file_back(tmp_path):
    old = tmp_path / "secrets.yaml"
    old.write_text("gitToken: the-old-token-0123\n")
    old.chmod(0o600)
    (tmp_path / "not-a-folder").write_text("")
    with pytest.raises(OSError):
        write_files(CONFIG, SECRETS, tmp_path / "not-a-folder" / "platform.yaml", old)

    assert yaml.safe_load(old.read_text()) == {"gitToken": "the-old-token-0123"}
    assert stat.S_IMODE(old.stat().st_mode) == 0o600


def test_ctrl_c_between_the_two_files_waits_until_both_are_written(tmp_path, monkeypatch):
    real_save_config = files.save_config

    def interrupted_write(path, edit):
        os.kill(os.getpid(), signal.SIGINT)  # the secrets file is written, the config not yet
        real_save_config(path, edit)

    monkeypatch.setattr(files, "save_config", interrupted_write)
    written = write_files(CONFIG, SECRETS, tmp_path / "platform.yaml", tmp_path / "secrets.yaml")

    assert written.interrupted
    assert written.config.exists() and written.secrets.exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize(
    ("typed", "problem"),
    [("", "enter a file name"), (".", "is a folder"), ("sub/dir/platform.yaml", None), ("platform.yaml", None)],
)
def test_where_the_config_may_be_saved(tmp_path, monkeypatch, typed, problem):
    monkeypatch.chdir(tmp_path)
    found = config_path_problem(typed)

    assert (found is None) if problem is None else (problem in found)
