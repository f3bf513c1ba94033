"""Rules of what the platform serves and from where: the `domain` (names and the ACME contact),
the `mirrors` charts and manifests come from, and the `components` (pinned versions, which may be
switched off, and what needs what).

- **Cilium and ArgoCD** cannot be switched off: Cilium is the CNI (Talos is installed without
  one, so nothing runs without it) and ArgoCD installs everything after the bootstrap.

Storage and load-balancer addresses, which these services need from the cluster, are checked in
`engine/config/platform_checks.py`.
"""

from __future__ import annotations

import re

from talos_platform.engine.config.models import Component, PlatformConfig
from talos_platform.engine.config.validation.formats import is_dns_name, is_email, mirror_url_problem
from talos_platform.engine.config.validation.problems import Collector

_COMPONENT_VERSION = re.compile(r"^v?\d+(\.\d+){1,2}([-+][0-9A-Za-z.-]+)?$")
_RESERVED_MAIL_DOMAINS = ("example.com", "example.org", "example.net")


def check_domain(config: PlatformConfig, found: Collector) -> None:
    domain = config.domain
    if not is_dns_name(domain.base, min_labels=2) or not domain.base[-1:].isalpha():
        found.error(
            "domain.base",
            f"{domain.base!r} is not a domain name",
            "e.g. `example.com` or `lab.example.com`, without a trailing dot",
        )
    if not is_email(domain.acme_email):
        found.error("domain.acmeEmail", f"{domain.acme_email!r} is not an e-mail address", "e.g. `admin@example.com`")
    elif domain.acme_email.rpartition("@")[2].lower() in _RESERVED_MAIL_DOMAINS:
        found.warning(
            "domain.acmeEmail",
            f"Let's Encrypt refuses contact addresses at {domain.acme_email.rpartition('@')[2]}",
            "use an address you read",
        )


def _component_paths(config: PlatformConfig) -> list[tuple[str, Component]]:
    components = config.components
    found: list[tuple[str, Component]] = []
    for name, field in type(components).model_fields.items():
        alias = field.alias or name
        component = getattr(components, name)
        found.append((f"components.{alias}", component))
        if name == "vault":
            found.append((f"components.{alias}.secretsOperator", component.secrets_operator))
    return found


def check_mirrors(config: PlatformConfig, found: Collector) -> None:
    mirrors = config.mirrors
    for path, url, example in (
        ("mirrors.charts", mirrors.charts, "https://charts.example.com/platform/"),
        ("mirrors.gatewayApi", mirrors.gateway_api, "https://mirror.example.com/gateway-api"),
    ):
        if url is None:
            continue
        problem = mirror_url_problem(url)
        if problem:
            found.error(path, f"the mirror URL {problem}", f"give its base URL, e.g. {example}, or leave it out")
    if mirrors.gateway_api and not config.components.gateway_api.enabled:
        found.warning("mirrors.gatewayApi", "the Gateway API is switched off, so this mirror is not used", "remove it")


def check_components(config: PlatformConfig, found: Collector) -> None:
    components = config.components
    for path, component in _component_paths(config):
        version = component.version
        if not _COMPONENT_VERSION.match(version):
            found.error(
                f"{path}.version",
                f"{version!r} is not a version",
                "write the pinned release, e.g. 1.18.3 or v1.19.1",
            )
    if not components.cilium.enabled:
        found.error(
            "components.cilium.enabled",
            "Cilium cannot be disabled: it is the cluster's network (Talos is installed without a CNI)",
            "set it to true",
        )
    if not components.argocd.enabled:
        found.error(
            "components.argocd.enabled",
            "ArgoCD cannot be disabled: it installs and manages every component after the bootstrap",
            "set it to true",
        )
    _check_argocd_admin_group(components.argocd.admin_group, found)
    if components.vault.secrets_operator.enabled and not components.vault.enabled:
        found.error(
            "components.vault.secretsOperator.enabled",
            "the Vault Secrets Operator needs Vault",
            "enable components.vault, or disable the operator",
        )
    elif components.monitoring.enabled and not components.vault.secrets_operator.enabled:
        found.warning(
            "components.monitoring",
            "without Vault and its Secrets Operator, Grafana's admin password is the chart's random one, "
            "made anew on every render",
            "enable components.vault and components.vault.secretsOperator to keep it in Vault",
        )


# A group becomes one line of ArgoCD's policy CSV: a comma, quote or line break would add rules.
_POLICY_SPECIAL = (",", '"', "\n", "\r", "#")


def _check_argocd_admin_group(group: str | None, found: Collector) -> None:
    if group is None:
        return
    path = "components.argocd.adminGroup"
    if not group.strip():
        found.error(path, "the admin group is empty", "name the group, or leave adminGroup out for none")
    elif group != group.strip() or any(mark in group for mark in _POLICY_SPECIAL):
        found.error(
            path,
            f"{group!r} cannot be written into ArgoCD's RBAC policy (no commas, quotes, '#', line breaks, "
            "or spaces around it)",
            "write the group as your single sign-on's groups claim names it, e.g. platform-admins",
        )
