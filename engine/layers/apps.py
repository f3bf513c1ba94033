"""Layer 4: the applications. The `apps` Application syncs the ApplicationSet, which generates one
Application per folder under `apps/`; follow them all to Synced and Healthy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from talos_platform.engine.layers.applications import FollowApplications
from talos_platform.engine.layers.argo import name_of, owned_by_application_set

if TYPE_CHECKING:
    from talos_platform.engine.config.models import PlatformConfig

APPS_APPLICATION = "apps"


def application_steps(config: PlatformConfig, *, needs: tuple[str, ...]) -> list[FollowApplications]:
    return [
        FollowApplications(
            config,
            step_id="L4.applications",
            title="Wait for the applications",
            group="layer 4",
            selector=lambda app: name_of(app) == APPS_APPLICATION or owned_by_application_set(app),
            expected=(APPS_APPLICATION,),
            needs=needs,
            layer=4,
            timeout=900,
        )
    ]
