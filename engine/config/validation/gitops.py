"""Rules of the `gitops` section: the repository the platform is rendered into, its branch and
folder. A private repository is reached over https with a token given as a secret, never with
credentials in the URL."""

from __future__ import annotations

import re

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.validation.formats import GIT_CREDENTIALS_PROBLEM, git_url_problem
from talos_platform.engine.config.validation.problems import Collector

_BAD_REF = re.compile(r"[\s~^:?*\[\\]|\.\.|@\{|//")


def check_gitops(config: PlatformConfig, found: Collector) -> None:
    gitops = config.gitops
    problem = git_url_problem(gitops.repo_url)
    if problem == GIT_CREDENTIALS_PROBLEM:
        found.error(
            "gitops.repoUrl",
            "the URL contains credentials, which must never be in the config",
            "remove them; give `gitUsername`/`gitToken` as secrets and set gitops.private: true",
        )
    elif problem:
        found.error(
            "gitops.repoUrl",
            f"the URL {problem}",
            "use https://host/owner/repo.git, ssh://git@host/owner/repo.git or git@host:owner/repo.git",
        )
    elif gitops.private and not gitops.repo_url.startswith("https://"):
        found.error(
            "gitops.repoUrl",
            "private repositories are reached over https with a token; SSH keys are not supported",
            "use the repository's https:// URL",
        )
    branch = gitops.branch
    bad_ends = branch.startswith(("-", "/", ".")) or branch.endswith(("/", ".", ".lock"))
    if not branch or _BAD_REF.search(branch) or bad_ends:
        found.error("gitops.branch", f"{branch!r} is not a valid branch name", "e.g. `main`")
    path = gitops.path
    if path.startswith("/") or "\\" in path or ".." in path.split("/") or not path.strip():
        found.error(
            "gitops.path",
            f"{path!r} is not a relative folder inside the repository",
            "e.g. `.` or `clusters/homelab`",
        )
