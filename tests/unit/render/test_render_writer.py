"""render_repository writes all or nothing, and refuses bad targets and bad configs clearly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from render_helpers import example_config, variant

from talos_platform.engine.config.loading import ConfigInvalid
from talos_platform.engine.errors import UserError
from talos_platform.engine.render import render_repository, render_tree


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_renders_into_a_new_folder_and_into_an_empty_one(tmp_path: Path) -> None:
    config = example_config("docker-single")
    written = render_repository(config, tmp_path / "new" / "nested")
    assert written == list(render_tree(config))
    empty = tmp_path / "empty"
    empty.mkdir()
    render_repository(config, empty)
    assert (empty / "bootstrap" / "kustomization.yaml").is_file()


def test_renders_into_a_fresh_clone_that_holds_only_git(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    (clone / ".git").mkdir(parents=True)
    (clone / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    render_repository(example_config("docker-single"), clone)
    assert (clone / "bootstrap" / "kustomization.yaml").is_file()
    assert (clone / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"


def test_refuses_a_non_empty_folder_and_leaves_it_alone(tmp_path: Path) -> None:
    target = tmp_path / "repo"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty") as raised:
        render_repository(example_config("docker-single"), target)
    assert raised.value.where == str(target) and raised.value.hint
    assert leftovers(target) == ["notes.txt"]
    assert leftovers(tmp_path) == ["repo"], "no temp folder left behind"


def test_refuses_a_file_in_the_way(tmp_path: Path) -> None:
    target = tmp_path / "repo"
    target.write_text("x")
    with pytest.raises(UserError, match="not a folder"):
        render_repository(example_config("docker-single"), target)
    assert target.read_text() == "x"


def test_refuses_an_unwritable_location(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(UserError):
        render_repository(example_config("docker-single"), blocker / "repo")
    assert leftovers(tmp_path) == ["a-file"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_refuses_a_read_only_parent(tmp_path: Path) -> None:
    parent = tmp_path / "locked"
    parent.mkdir(mode=0o555)
    try:
        with pytest.raises(UserError, match="permission"):
            render_repository(example_config("docker-single"), parent / "repo")
        assert leftovers(parent) == []
    finally:
        parent.chmod(0o755)


def test_a_failure_half_way_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = Path.write_bytes
    calls = {"count": 0}

    def failing_write(self: Path, data: bytes) -> int:
        calls["count"] += 1
        if calls["count"] == 5:
            raise OSError(28, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", failing_write)
    with pytest.raises(UserError, match="No space left") as raised:
        render_repository(example_config("metal-3cp-3w"), tmp_path / "deep" / "repo")
    assert "Traceback" not in str(raised.value)
    assert calls["count"] == 5
    assert leftovers(tmp_path) == [], "neither the temp folder nor the created parents remain"


def test_invalid_config_writes_nothing_and_names_the_field(tmp_path: Path) -> None:
    config = variant("metal-3cp-3w", **{"cluster.vip": "192.168.10.11"})  # a node's own IP
    with pytest.raises(ConfigInvalid) as raised:
        render_repository(config, tmp_path / "repo")
    assert any(problem.path == "cluster.vip" for problem in raised.value.problems)
    assert "nothing was rendered" in str(raised.value)
    assert leftovers(tmp_path) == []


def test_config_built_in_code_is_checked_too(tmp_path: Path) -> None:
    config = example_config("metal-3cp-3w").model_copy(deep=True)
    config.nodes[0].link = None  # control plane with a VIP but no link
    with pytest.raises(ConfigInvalid) as raised:
        render_repository(config, tmp_path / "repo")
    assert any(problem.path == "nodes[0].link" for problem in raised.value.problems)
    assert leftovers(tmp_path) == []


def test_an_empty_folder_keeps_its_identity(tmp_path: Path) -> None:
    """`--out .` from an empty working directory: the folder itself is not replaced."""
    target = tmp_path / "repo"
    target.mkdir()
    inode = target.stat().st_ino
    render_repository(example_config("docker-single"), target)
    assert target.stat().st_ino == inode
    assert sorted(leftovers(target)) == sorted(
        {relative.split("/")[0] for relative in render_tree(example_config("docker-single"))}
    ), "no temp folder left inside"


def test_a_failure_while_filling_an_empty_folder_leaves_it_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "repo"
    target.mkdir()
    real_rename = os.rename
    calls = {"count": 0}

    def failing_rename(source: object, destination: object) -> None:
        calls["count"] += 1
        if calls["count"] == 3:
            raise OSError(5, "Input/output error")
        real_rename(source, destination)

    monkeypatch.setattr(os, "rename", failing_rename)
    with pytest.raises(UserError, match="Input/output error"):
        render_repository(example_config("metal-3cp-3w"), target)
    assert calls["count"] == 3
    assert leftovers(target) == []
