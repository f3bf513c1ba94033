"""What the user needs once the platform is up: where its keys are kept and how to watch it.
Places and commands only, never a value."""

from __future__ import annotations

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.state import StateDirectory


def next_steps(config: PlatformConfig, state: StateDirectory, simulated: bool) -> list[str]:
    """Lines to show after a successful install."""
    from talos_platform.engine.layers.argocd_admin import argocd_login_notes
    from talos_platform.engine.layers.platform import grafana_login_notes

    if simulated:
        lines = [
            f"kubeconfig, talosconfig: none for a simulated cluster (a real install keeps them in {state.root})",
            "dashboard: talos-platform dashboard --simulate",
        ]
    else:
        lines = [
            f"kubeconfig:  {state.kubeconfig}  (cluster-admin: keep it private; export KUBECONFIG={state.kubeconfig})",
            f"talosconfig: {state.talosconfig}  (export TALOSCONFIG={state.talosconfig})",
            f"dashboard:   talos-platform dashboard --kubeconfig {state.kubeconfig} --talosconfig {state.talosconfig}",
        ]
    return lines + grafana_login_notes(config) + argocd_login_notes(config)
