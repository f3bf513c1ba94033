"""Refuse to render a config that fails validation, listing every problem at once.

The shared validator decides what a valid config is. The renderer's own preconditions are
checked as well, so a config built in code (not loaded from a file) cannot slip through and
produce a broken tree.
"""

from __future__ import annotations

from talos_platform.engine.config.loading import ConfigInvalid
from talos_platform.engine.config.models import Platform, PlatformConfig
from talos_platform.engine.config.validation import Problem, errors_only, validate
from talos_platform.engine.config.versions import VersionError, minor
from talos_platform.engine.render.encryption_at_rest import rendered_patch_problems


def ensure_valid(config: PlatformConfig, source: str = "config") -> None:
    problems = errors_only(validate(config))
    seen = {problem.path for problem in problems}
    problems += [problem for problem in _render_preconditions(config) if problem.path not in seen]
    if not problems:
        problems += rendered_patch_problems(config)
    if problems:
        raise ConfigInvalid(problems, f"{source} (nothing was rendered)")


def _render_preconditions(config: PlatformConfig) -> list[Problem]:
    problems: list[Problem] = []
    try:
        minor(config.cluster.talos_version)
    except VersionError as error:
        problems.append(Problem("cluster.talosVersion", str(error), "use a version like v1.11.5"))
    if not config.control_planes:
        problems.append(Problem("nodes", "no control plane", "give at least one node `role: control-plane`"))
    if config.cluster.platform is Platform.metal and config.cluster.vip:
        for index, node in enumerate(config.nodes):
            if node in config.control_planes and not node.link:
                problems.append(
                    Problem(
                        f"nodes[{index}].link",
                        f"control plane {node.name} has no link for the VIP",
                        "set the interface that carries the node IP, e.g. eth0 or enp1s0",
                    )
                )
    return problems
