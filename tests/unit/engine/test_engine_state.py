"""The state directory keeps secrets private, atomic and never silently replaced."""

import pytest

from talos_platform.engine.errors import UserError
from talos_platform.engine.state import SecretFileExists, StateDirectory, state_directory_for

BUNDLE = b"cluster:\n  id: abc\n  secret: pki-v1\n"


def test_paths_live_under_the_root(tmp_path):
    state = StateDirectory(tmp_path)
    for path in (
        state.config,
        state.secrets_file,
        state.talos_secrets,
        state.talosconfig,
        state.kubeconfig,
        state.vault_init,
        state.rendered,
        state.runs,
    ):
        assert tmp_path in path.parents
    assert state.talos_dir in state.talos_secrets.parents


def test_secret_files_are_owner_only(tmp_path):
    state = StateDirectory(tmp_path).ensure()
    assert state.write_secret(state.talos_secrets, BUNDLE) is None
    assert state.talos_secrets.read_bytes() == BUNDLE
    assert state.talos_secrets.stat().st_mode & 0o777 == 0o600
    assert state.talos_dir.stat().st_mode & 0o777 == 0o700


def test_a_secret_is_never_overwritten_without_being_told(tmp_path):
    state = StateDirectory(tmp_path)
    state.write_secret(state.talos_secrets, BUNDLE)
    with pytest.raises(SecretFileExists) as raised:
        state.write_secret(state.talos_secrets, b"cluster: {secret: pki-v2}\n")
    assert "refusing to replace" in str(raised.value) and raised.value.hint
    assert state.talos_secrets.read_bytes() == BUNDLE
    assert not state.backups.exists()


def test_writing_the_same_secret_again_is_a_no_op(tmp_path):
    state = StateDirectory(tmp_path)
    state.write_secret("vault-init.json", "{}")
    state.vault_init.chmod(0o644)
    assert state.write_secret("vault-init.json", "{}") is None
    assert state.vault_init.stat().st_mode & 0o777 == 0o600


def test_a_deliberate_replacement_keeps_a_timestamped_backup(tmp_path):
    state = StateDirectory(tmp_path)
    state.write_secret(state.talos_secrets, BUNDLE)
    first = state.write_secret(state.talos_secrets, b"v2", overwrite=True)
    second = state.write_secret(state.talos_secrets, b"v3", overwrite=True)
    assert state.talos_secrets.read_bytes() == b"v3"
    assert first.read_bytes() == BUNDLE and second.read_bytes() == b"v2"
    assert first != second and first.parent == state.backups
    assert first.name.startswith("talos--secrets.yaml.")
    assert first.stat().st_mode & 0o777 == 0o600


def test_no_temp_files_are_left_behind(tmp_path):
    state = StateDirectory(tmp_path)
    state.write_secret(state.kubeconfig, b"a")
    state.write_file("rendered/apps/app.yaml", "kind: App\n")
    leftovers = [p.name for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    assert (state.rendered / "apps" / "app.yaml").stat().st_mode & 0o777 == 0o644


def test_paths_outside_the_state_directory_are_refused(tmp_path):
    state = StateDirectory(tmp_path / "state")
    with pytest.raises(ValueError, match="outside"):
        state.write_secret("../escape", b"x")
    assert not (tmp_path / "escape").exists()


def test_state_directory_for_uses_the_override_or_the_user_state_folder(tmp_path, monkeypatch):
    assert state_directory_for("demo", tmp_path).root == tmp_path
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state_directory_for("demo").root == tmp_path / "xdg" / "talos-platform" / "demo"
    with pytest.raises(UserError, match="cluster.name|state directory"):
        state_directory_for("../etc")


def test_one_install_at_a_time_per_state_directory(tmp_path):
    from talos_platform.engine.state import StateDirectoryBusy

    state = StateDirectory(tmp_path)
    with state.lock():
        with pytest.raises(StateDirectoryBusy, match="another install"):
            with StateDirectory(tmp_path).lock():
                pass
    with state.lock():  # released when the holder is done
        pass


def test_temp_files_of_a_killed_write_are_removed(tmp_path):
    state = StateDirectory(tmp_path).ensure()
    state.write_secret(state.talos_secrets, BUNDLE)
    leftover = state.talos_dir / ".secrets.yaml.abc123.tmp"
    leftover.write_bytes(b"half a bun")
    assert state.remove_stale_temp_files() == [leftover]
    assert state.talos_secrets.read_bytes() == BUNDLE


def test_the_staging_folder_of_a_killed_render_is_removed(tmp_path):
    state = StateDirectory(tmp_path).ensure()
    staging = tmp_path / ".rendered.new.render-abc123"
    (staging / "bootstrap").mkdir(parents=True)
    (staging / "bootstrap" / "kustomization.yaml").write_text("resources:\n  - cil")  # cut by the kill
    (tmp_path / "talos").mkdir()
    (tmp_path / "talos" / ".inputs").write_text("digest")  # a hidden file that belongs there
    assert state.remove_stale_temp_files() == [staging]
    assert not staging.exists() and (tmp_path / "talos" / ".inputs").exists()
