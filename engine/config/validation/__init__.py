"""Every rule a config must follow beyond its shape, reported all at once.

`validate(config)` never stops at the first mistake: it returns every problem, each with the
camelCase field path it is about and what to do. The wizard runs the same function on each
answer and keeps the problems under the field it is asking about (`problems_at`).

The rules live by config section, each module explaining the ones worth explaining:
`cluster.py` (name, versions, API names), `nodes.py` (nodes and the control-plane count),
`network.py` (VIP, pod/service/node networks), `machines.py` (gateway, schematic),
`services.py` (domain, mirrors, components), `gitops.py`, `secrets.py`, and
`engine/config/platform_checks.py` (storage, load-balancer pool), whose derived views the render
shares. `formats.py` holds the single-value formats, `problems.py` what is reported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from talos_platform.engine.config import platform_checks
from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.validation.cluster import check_cluster
from talos_platform.engine.config.validation.formats import (
    DNS_LABEL,
    GIT_CREDENTIALS_PROBLEM,
    git_url_problem,
    is_dns_label,
    is_dns_name,
    is_email,
    mirror_url_problem,
)
from talos_platform.engine.config.validation.gitops import check_gitops
from talos_platform.engine.config.validation.machines import check_machines
from talos_platform.engine.config.validation.network import check_networks, check_vip
from talos_platform.engine.config.validation.nodes import check_control_planes, check_nodes
from talos_platform.engine.config.validation.problems import (
    Collector,
    Problem,
    Severity,
    errors_only,
    problems_at,
    suggest,
)
from talos_platform.engine.config.validation.secrets import check_secrets
from talos_platform.engine.config.validation.services import check_components, check_domain, check_mirrors

if TYPE_CHECKING:
    from talos_platform.engine.config.secrets import Secrets

__all__ = [
    "DNS_LABEL",
    "GIT_CREDENTIALS_PROBLEM",
    "Problem",
    "Severity",
    "errors_only",
    "git_url_problem",
    "is_dns_label",
    "is_dns_name",
    "is_email",
    "mirror_url_problem",
    "problems_at",
    "suggest",
    "validate",
]


def validate(config: PlatformConfig, secrets: Secrets | None = None) -> list[Problem]:
    """Every problem in `config` (and, when given, in `secrets` for it), errors and warnings.

    Secrets are checked only when passed: a config alone can be validated before the secrets
    are at hand (the wizard asks for them last).
    """
    found = Collector()
    check_cluster(config, found)
    interfaces = check_nodes(config, found)
    check_control_planes(config, found)
    check_vip(config, interfaces, found)
    check_networks(config, interfaces, found)
    check_machines(config, interfaces, found)
    check_domain(config, found)
    check_gitops(config, found)
    check_mirrors(config, found)
    check_components(config, found)
    platform_checks.check_storage(config, found)
    platform_checks.check_load_balancer_pool(config, found)
    if secrets is not None:
        check_secrets(config, secrets, found)
    return found.problems
