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


def argocd_values(config: PlatformConfig) -> dict[str, Any]:
    return {
        "global": {"domain": f"argocd.{config.domain.base}"},
        "configs": {
            "cm": {
                APPLICATION_HEALTH_KEY: APPLICATION_HEALTH_LUA,
                # Apps may use kustomize `helmCharts`, as bootstrap/ does.
                "kustomize.buildOptions": "--enable-helm",
            }
        },
        # No single sign-on is configured, so Dex would only cost memory.
        "dex": {"enabled": False},
    }
