"""A simulated Git remote (the GitOps repository ArgoCD syncs from) and the `Git` driver that
publishes the rendered tree to it. Commits are content-addressed, so an unchanged tree makes no
new commit, as the protocol asks."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from talos_platform.engine.drivers.clock import Clock
from talos_platform.engine.errors import PermanentError

_PUSH_SECONDS = 1.5


def normalise_url(url: str) -> str:
    url = url.strip().lower().rstrip("/")
    return url[:-4] if url.endswith(".git") else url


@dataclass
class Branch:
    files: dict[str, bytes] = field(default_factory=dict)
    head: str = ""
    history: list[tuple[str, str]] = field(default_factory=list)
    """(commit id, message), oldest first."""


class GitRemote:
    """Repositories by normalised URL, each with branches of files."""

    def __init__(self) -> None:
        self.repositories: dict[str, dict[str, Branch]] = {}
        self.version = 0
        """Bumped by every new commit anywhere (watchers compare it to notice changes)."""

    def branch(self, url: str, branch: str) -> Branch | None:
        return self.repositories.get(normalise_url(url), {}).get(branch)

    def commit(self, url: str, branch: str, files: dict[str, bytes], message: str) -> str:
        repo = self.repositories.setdefault(normalise_url(url), {})
        current = repo.setdefault(branch, Branch())
        if current.head and current.files == files:
            return current.head
        digest = hashlib.sha1()
        digest.update(current.head.encode())
        for path in sorted(files):
            digest.update(path.encode() + b"\0" + files[path] + b"\0")
        current.files = dict(files)
        current.head = digest.hexdigest()
        current.history.append((current.head, message))
        self.version += 1
        return current.head

    def files_under(self, url: str, revision: str, path: str) -> dict[str, bytes] | None:
        """Files below `path` (relative names), or None when the repository or branch does not exist."""
        if revision in ("", "HEAD"):
            branches = self.repositories.get(normalise_url(url), {})
            branch = branches.get("main") or next(iter(branches.values()), None)
        else:
            branch = self.branch(url, revision)
        if branch is None:
            return None
        prefix = _clean(path)
        found = {}
        for name, content in branch.files.items():
            if not prefix:
                found[name] = content
            elif name.startswith(prefix + "/"):
                found[name[len(prefix) + 1 :]] = content
        return found

    def directories(self, url: str, revision: str) -> set[str]:
        files = self.files_under(url, revision, "") or {}
        directories = set()
        for name in files:
            parts = name.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                directories.add("/".join(parts[:depth]))
        return directories


def _clean(path: str) -> str:
    text = str(PurePosixPath(path or "."))
    return "" if text == "." else text.strip("/")


class SimulatedGit:
    def __init__(
        self, remote: GitRemote, clock: Clock, commit: Callable[[str, str, dict[str, bytes], str], str] | None = None
    ):
        self.remote = remote
        self.clock = clock
        self._commit = commit or remote.commit
        """Where a push lands: the remote itself, or the platform's journal of outside changes."""

    async def publish(self, tree: Path, repo_url: str, branch: str, path: str, message: str) -> str:
        tree = Path(tree)
        if not tree.is_dir():
            raise PermanentError(f"cannot publish {tree}: not a directory", hint="render the GitOps tree first")
        await self.clock.sleep(_PUSH_SECONDS)
        prefix = _clean(path)
        existing = self.remote.branch(repo_url, branch)
        files = {
            name: content
            for name, content in (existing.files if existing else {}).items()
            if prefix and not name.startswith(prefix + "/")
        }
        for file in sorted(tree.rglob("*")):
            if file.is_file() and ".git" not in file.relative_to(tree).parts:
                relative = file.relative_to(tree).as_posix()
                files[f"{prefix}/{relative}" if prefix else relative] = file.read_bytes()
        return self._commit(repo_url, branch, files, message)
