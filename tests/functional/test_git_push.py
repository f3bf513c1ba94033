"""The real Git driver publishing to a local bare repository with the real `git`."""

import subprocess
from pathlib import Path

import pytest

from talos_platform.engine.drivers.git import _ASKPASS, GitDriver
from talos_platform.engine.drivers.process import ProcessRunner
from talos_platform.engine.errors import PermanentError


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def bare(tmp_path) -> Path:
    repository = tmp_path / "platform.git"
    git("init", "--quiet", "--bare", str(repository))
    return repository


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "rendered"
    (root / "bootstrap").mkdir(parents=True)
    (root / "bootstrap" / "kustomization.yaml").write_text("resources: []\n")
    (root / "bootstrap-app.yaml").write_text("kind: Application\n")
    return root


def files_at(repository: Path, branch: str) -> dict[str, str]:
    listing = git("--git-dir", str(repository), "ls-tree", "-r", "--name-only", branch).split()
    return {name: git("--git-dir", str(repository), "show", f"{branch}:{name}") for name in listing}


async def test_publish_to_an_empty_repository_then_nothing_new_when_unchanged(bare, tree):
    driver = GitDriver(ProcessRunner())
    first = await driver.publish(tree, f"file://{bare}", "main", ".", "render demo")
    assert files_at(bare, "main") == {
        "bootstrap-app.yaml": "kind: Application\n",
        "bootstrap/kustomization.yaml": "resources: []\n",
    }
    assert git("--git-dir", str(bare), "rev-parse", "main").strip() == first
    again = await driver.publish(tree, f"file://{bare}", "main", ".", "render demo")
    assert again == first
    assert git("--git-dir", str(bare), "rev-list", "--count", "main").strip() == "1"


async def test_a_changed_tree_is_a_new_commit_and_removed_files_go(bare, tree):
    driver = GitDriver(ProcessRunner())
    first = await driver.publish(tree, str(bare), "main", ".", "render demo")
    (tree / "bootstrap-app.yaml").unlink()
    (tree / "apps").mkdir()
    (tree / "apps" / "kustomization.yaml").write_text("resources: [hello]\n")
    second = await driver.publish(tree, str(bare), "main", ".", "render demo again")
    assert second != first
    assert sorted(files_at(bare, "main")) == ["apps/kustomization.yaml", "bootstrap/kustomization.yaml"]
    assert (
        git("--git-dir", str(bare), "log", "-1", "--format=%an %s", "main").strip()
        == "talos-platform render demo again"
    )


async def test_publish_under_a_path_keeps_the_rest_of_the_repository(bare, tree, tmp_path):
    work = tmp_path / "work"
    git("clone", "--quiet", str(bare), str(work))
    (work / "README.md").write_text("ours\n")
    git("add", "README.md", cwd=work)
    git("-c", "user.name=me", "-c", "user.email=me@localhost", "commit", "--quiet", "-m", "readme", cwd=work)
    git("push", "--quiet", "origin", "HEAD:refs/heads/main", cwd=work)
    await GitDriver(ProcessRunner()).publish(tree, f"file://{bare}", "main", "clusters/demo", "render demo")
    assert sorted(files_at(bare, "main")) == [
        "README.md",
        "clusters/demo/bootstrap-app.yaml",
        "clusters/demo/bootstrap/kustomization.yaml",
    ]


async def test_a_new_branch_is_created(bare, tree):
    await GitDriver(ProcessRunner()).publish(tree, str(bare), "main", ".", "first")
    await GitDriver(ProcessRunner()).publish(tree, str(bare), "staging", ".", "first on staging")
    assert "bootstrap-app.yaml" in files_at(bare, "staging")


async def test_a_path_outside_the_repository_is_refused(bare, tree):
    with pytest.raises(PermanentError):
        await GitDriver(ProcessRunner()).publish(tree, str(bare), "main", "../elsewhere", "x")


async def test_credentials_never_reach_argv_or_output(bare, tree):
    lines: list[str] = []
    runner = ProcessRunner(default_output=lambda line, stream: lines.append(line))
    await GitDriver(runner, username="robot", token="ghp-secret-token").publish(tree, str(bare), "main", ".", "x")
    assert all("ghp-secret-token" not in " ".join(argv) for argv in runner.recorded)
    assert not any("ghp-secret-token" in line for line in lines)


def test_the_askpass_helper_answers_from_its_environment(tmp_path):
    helper = tmp_path / "askpass.sh"
    helper.write_text(_ASKPASS)
    helper.chmod(0o700)
    env = {
        "TALOS_PLATFORM_ASKPASS_USERNAME": "robot",
        "TALOS_PLATFORM_ASKPASS_PASSWORD": "ghp-secret-token",
        "PATH": "/usr/bin:/bin",
    }

    def ask(prompt: str) -> str:
        return subprocess.run([str(helper), prompt], env=env, capture_output=True, text=True, check=True).stdout

    assert ask("Username for 'https://git.example.com': ") == "robot\n"
    assert ask("Password for 'https://robot@git.example.com': ") == "ghp-secret-token\n"


async def test_dry_run_records_the_push_without_pushing(bare, tree):
    runner = ProcessRunner(dry_run=True)
    await GitDriver(runner).publish(tree, str(bare), "main", ".", "x")
    pushes = [argv for argv in runner.recorded if "push" in argv]
    assert [argv[3:] for argv in pushes] == [("push", "--quiet", str(bare), "HEAD:refs/heads/main")]
    assert git("--git-dir", str(bare), "for-each-ref").strip() == ""
