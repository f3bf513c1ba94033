"""ArgoCD Helm values, shared by the bootstrap and ArgoCD's own self-managing Application."""

from __future__ import annotations

from typing import Any

from talos_platform.engine.config.models import PlatformConfig

APPLICATION_HEALTH_KEY = "resource.customizations.health.argoproj.io_Application"

# ArgoCD stopped assessing the health of Application resources (1.8), so a parent app-of-apps
# would call a child healthy the moment it exists and sync waves would not wait for anything.
# This check reports a child Application as healthy only once the child itself says so.
APPLICATION_HEALTH_LUA = """\
local assessed = { status = "Progressing", message = "waiting for the application to report its health" }
if obj.status ~= nil and obj.status.health ~= nil and obj.status.health.status ~= nil then
  assessed.status = obj.status.health.status
  assessed.message = obj.status.health.message or ""
end
return assessed
"""


# Anyone who logs in may look; changing anything takes the admin role (ArgoCD's built-in policy
# keeps the local `admin` account an administrator).
DEFAULT_ROLE = "role:readonly"
ADMIN_ROLE = "role:admin"


def rbac_values(config: PlatformConfig) -> dict[str, str]:
    """`configs.rbac` (argocd-rbac-cm): read-only by default, the configured group as admin."""
    rbac = {"policy.default": DEFAULT_ROLE}
    group = config.components.argocd.admin_group
    if group:
        rbac["policy.csv"] = f"g, {group}, {ADMIN_ROLE}\n"
    return rbac


def argocd_values(config: PlatformConfig) -> dict[str, Any]:
    return {
        "global": {"domain": f"argocd.{config.domain.base}"},
        "configs": {
            "cm": {
                APPLICATION_HEALTH_KEY: APPLICATION_HEALTH_LUA,
                # Apps may use kustomize `helmCharts`, as bootstrap/ does.
                "kustomize.buildOptions": "--enable-helm",
            },
            "rbac": rbac_values(config),
        },
        # No single sign-on is configured, so Dex would only cost memory.
        "dex": {"enabled": False},
    }
