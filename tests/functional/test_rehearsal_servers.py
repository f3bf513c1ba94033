"""The rehearsal's loopback servers with the real clients: `git` pushes to and clones from the
smart-HTTP Git server, and the chart repository serves a folder's files byte for byte."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

import pytest

from talos_platform.rehearsal.servers import ChartRepository, GitServer


def git(*args: str, cwd: Path) -> str:
    completed = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "GIT_TERMINAL_PROMPT": "0"},
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_git_server_takes_a_push_and_serves_a_clone(tmp_path: Path):
    server = GitServer(tmp_path / "served").start()
    try:
        url = server.create_repository("platform")
        assert url.startswith("http://127.0.0.1:") and url.endswith("/platform.git")
        work = tmp_path / "work"
        work.mkdir()
        git("init", "--quiet", "--initial-branch=main", cwd=work)
        (work / "README.md").write_text("rendered\n")
        git("add", "README.md", cwd=work)
        git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "first", cwd=work)
        git("push", "--quiet", url, "main", cwd=work)
        clone = tmp_path / "clone"
        git("clone", "--quiet", "--branch", "main", url, str(clone), cwd=tmp_path)
        assert (clone / "README.md").read_text() == "rendered\n"
        assert any(line.startswith("POST /platform.git/git-receive-pack 200") for line in server.requests)
    finally:
        server.stop()


def test_chart_repository_serves_its_folder(tmp_path: Path):
    (tmp_path / "index.yaml").write_text("apiVersion: v1\nentries: {}\n")
    (tmp_path / "gateway-api" / "v1.3.0").mkdir(parents=True)
    (tmp_path / "gateway-api" / "v1.3.0" / "standard-install.yaml").write_bytes(b"kind: List\n")
    server = ChartRepository(tmp_path).start()
    try:
        with urllib.request.urlopen(f"{server.url}/gateway-api/v1.3.0/standard-install.yaml", timeout=10) as answer:
            assert answer.read() == b"kind: List\n"
    finally:
        server.stop()


def test_chart_repository_refuses_a_folder_without_an_index(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="no index.yaml"):
        ChartRepository(tmp_path)
