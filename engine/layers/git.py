"""The optional push of the rendered tree to the GitOps repository, before Layer 2.

When to push: the config has no switch for it (a config describes the platform, not one run).
A repository on this machine (a path or a file:// URL) is always pushed to: nothing leaves the
machine and that is how a rehearsal works. A remote repository is only pushed to when the run
asks for it (`install --push`), because pushing publishes to a shared place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from talos_platform.engine.errors import PermanentError
from talos_platform.engine.layers.base import BaseStep, todo
from talos_platform.engine.plan.step import Action, CheckResult

if TYPE_CHECKING:
    from talos_platform.engine.config.models import PlatformConfig
    from talos_platform.engine.plan.context import StepContext


TEMPORARY_CLONE = "<temporary clone>"
"""Stands for the scratch folder `publish` makes (its name is random) in planned commands."""


def is_local_repository(url: str) -> bool:
    return url.startswith("file://") or url.startswith("/") or url.startswith("./") or url.startswith("../")


def should_push(config: PlatformConfig, push: bool | None) -> bool:
    return is_local_repository(config.gitops.repo_url) if push is None else push


class PushRepository(BaseStep):
    """Commit the rendered tree under `gitops.path` on `gitops.branch` and push it (idempotent:
    an unchanged tree makes no commit)."""

    layer = 2
    timeout: float = 300

    def __init__(self, config: PlatformConfig) -> None:
        super().__init__(
            config, step_id="L2.push", title=f"Push the rendered tree to {config.gitops.repo_url}", needs=("L1.render",)
        )

    def inputs(self) -> Any:
        return {"gitops": self.config.gitops, "config": self.config}

    async def _check(self, ctx: StepContext) -> CheckResult:
        # Whether the remote already has this tree is only known by trying; publishing an
        # unchanged tree is a no-op, so the plan always lists it.
        return todo("publish the rendered tree", *self.planned_actions(ctx))

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        from talos_platform.engine.drivers.git import GIT, ls_remote_args, push_args

        gitops = self.config.gitops
        folder = "its files" if gitops.path.strip("/") in ("", ".") else gitops.path
        return (
            Action(
                f"look up {gitops.branch} on {gitops.repo_url} (credentials come from an askpass helper, never argv)",
                command=(GIT, *ls_remote_args(gitops.repo_url, gitops.branch)),
            ),
            Action(
                f"in a temporary clone of that branch, replace {folder} with {ctx.state.rendered}, commit "
                "(nothing when unchanged) and push",
                command=(GIT, *push_args(TEMPORARY_CLONE, gitops.repo_url, gitops.branch)),
            ),
        )

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        if ctx.drivers.git is None:
            raise PermanentError(
                "no Git driver to push with", hint="this front end cannot push; push the rendered tree yourself"
            )
        gitops = self.config.gitops
        commit = await ctx.drivers.git.publish(
            ctx.state.rendered,
            gitops.repo_url,
            gitops.branch,
            gitops.path,
            f"talos-platform: render {self.config.cluster.name}",
        )
        ctx.output(f"{gitops.branch} is at {commit}")
