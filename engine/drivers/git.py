"""The real Git driver: publishes the rendered tree with the `git` command line.

Credentials never reach argv, the remote URL or a log line: git asks a tiny askpass helper,
which reads them from its own environment (`GIT_ASKPASS`), and terminal prompts are off.
Each publish works in a fresh temporary clone of just the target branch.
"""

from __future__ import annotations

import re
import shutil
import stat
import tempfile
from pathlib import Path

from talos_platform.engine.drivers.loopback import ensure_allowed
from talos_platform.engine.drivers.process import CommandFailed, CommandResult, ProcessRunner
from talos_platform.engine.errors import PermanentError

GIT = "git"
AUTHOR = ("talos-platform", "talos-platform@localhost")

_ASKPASS = """#!/bin/sh
case "$1" in
  Username*|username*) printf '%s\\n' "$TALOS_PLATFORM_ASKPASS_USERNAME" ;;
  *) printf '%s\\n' "$TALOS_PLATFORM_ASKPASS_PASSWORD" ;;
esac
"""

_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?!//)")


def remote_host(url: str) -> str | None:
    """The host a remote URL talks to; None for a repository on this machine."""
    if url.startswith("file://") or url.startswith("/") or url.startswith("."):
        return None
    if "://" in url:
        from urllib.parse import urlsplit

        return urlsplit(url).hostname or ""
    match = _SCP_LIKE.match(url)
    if match:
        return match.group("host")
    return None


def ls_remote_args(repo_url: str, branch: str) -> list[str]:
    return ["ls-remote", "--heads", repo_url, f"refs/heads/{branch}"]


def push_args(work: Path | str, repo_url: str, branch: str) -> list[str]:
    return ["-C", str(work), "push", "--quiet", repo_url, f"HEAD:refs/heads/{branch}"]


class GitDriver:
    """Implements the `Git` protocol."""

    def __init__(self, runner: ProcessRunner, *, username: str = "", token: str = ""):
        self.runner = runner
        self.username = username
        self.token = token

    async def publish(self, tree: Path, repo_url: str, branch: str, path: str, message: str) -> str:
        host = remote_host(repo_url)
        if host is not None:
            ensure_allowed(host, "Git remote")
        tree = Path(tree)
        if not tree.is_dir():
            raise PermanentError(f"nothing to publish: {tree} is not a folder", hint="render the tree first (layer 1)")
        with tempfile.TemporaryDirectory(prefix="talos-platform-git-") as scratch:
            env = self._environment(Path(scratch))
            work = Path(scratch) / "work"
            await self._git(["init", "--quiet", str(work)], env)
            fetched = await self._fetch(work, repo_url, branch, env)
            if fetched:
                await self._git(["-C", str(work), "checkout", "--quiet", "-B", branch, "FETCH_HEAD"], env)
            else:
                await self._git(["-C", str(work), "checkout", "--quiet", "--orphan", branch], env)
            _replace(work, path, tree)
            await self._git(["-C", str(work), "add", "--all"], env)
            status = await self._git(["-C", str(work), "status", "--porcelain"], env)
            if fetched and not status.stdout.strip():
                head = await self._git(["-C", str(work), "rev-parse", "HEAD"], env)
                return head.stdout.strip()
            name, email = AUTHOR
            await self._git(
                [
                    "-C",
                    str(work),
                    "-c",
                    f"user.name={name}",
                    "-c",
                    f"user.email={email}",
                    "commit",
                    "--quiet",
                    "--no-verify",
                    "--message",
                    message,
                ],
                env,
            )
            await self._git(push_args(work, repo_url, branch), env, mutates=True)
            head = await self._git(["-C", str(work), "rev-parse", "HEAD"], env)
            return head.stdout.strip()

    async def _fetch(self, work: Path, repo_url: str, branch: str, env: dict[str, str]) -> bool:
        """Fetch the branch's tip; False when the branch (or the whole repository) is empty."""
        listed = await self._git(ls_remote_args(repo_url, branch), env)
        if not listed.stdout.strip():
            return False
        await self._git(["-C", str(work), "fetch", "--quiet", "--depth=1", repo_url, f"refs/heads/{branch}"], env)
        return True

    def _environment(self, scratch: Path) -> dict[str, str]:
        env = {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
        }
        if self.token:
            helper = scratch / "askpass.sh"
            helper.write_text(_ASKPASS)
            helper.chmod(stat.S_IRWXU)
            env.update(
                GIT_ASKPASS=str(helper),
                TALOS_PLATFORM_ASKPASS_USERNAME=self.username or "git",
                TALOS_PLATFORM_ASKPASS_PASSWORD=self.token,
            )
        return env

    async def _git(self, args: list[str], env: dict[str, str], *, mutates: bool = False) -> CommandResult:
        """Only the push changes anything outside the scratch clone (`mutates=True`)."""
        try:
            return await self.runner.run([GIT, *args], timeout=300, env=env, quiet=True, mutates=mutates)
        except CommandFailed as error:
            lowered = error.stderr.lower()
            if "authentication failed" in lowered or "could not read username" in lowered or "403" in lowered:
                raise PermanentError(
                    "Git refused the credentials for the repository: "
                    f"{error.stderr.strip().splitlines()[-1] if error.stderr.strip() else ''}",
                    hint="check the gitUsername/gitToken secrets (the token needs write access to the repository)",
                ) from None
            if "non-fast-forward" in lowered or "rejected" in lowered:
                raise PermanentError(
                    "the push was rejected: the branch moved while publishing",
                    hint="run the install again (it publishes on top of the new tip)",
                ) from None
            raise


def _replace(work: Path, path: str, tree: Path) -> None:
    """Make `path` inside the clone hold exactly `tree` (other folders of the repo are kept)."""
    relative = path.strip("/") or "."
    target = (work / relative).resolve()
    if work.resolve() not in (target, *target.parents):
        raise PermanentError(
            f"gitops.path {path!r} points outside the repository", hint="use a folder inside the repository"
        )
    if target == work.resolve():
        for child in work.iterdir():
            if child.name != ".git":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    elif target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True, exist_ok=True)
    for source in sorted(tree.rglob("*")):
        destination = target / source.relative_to(tree)
        if source.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
