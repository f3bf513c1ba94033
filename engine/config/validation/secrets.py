"""Rules for the secrets a config needs: each required one given (and not suspiciously short), and
Grafana and ArgoCD admin passwords long enough to be published under the domain."""

from __future__ import annotations

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.secrets import ENV_NAMES, Secrets, required_secrets, secret_value
from talos_platform.engine.config.validation.problems import Collector


def check_secrets(config: PlatformConfig, secrets: Secrets, found: Collector) -> None:
    for name in required_secrets(config):
        value = secret_value(secrets, name)
        if not value:
            found.error(
                f"secrets.{name}",
                f"{name} is required by {_required_by(config, name)} but was not given",
                f"add `{name}: ...` to the secrets file, set {ENV_NAMES[name]}, or enter it in the wizard",
            )
        elif name != "gitUsername" and len(value) < 8:
            found.warning(
                f"secrets.{name}",
                f"{name} is only {len(value)} characters long; is it the real token?",
                "check the token you copied",
            )
    # Grafana is published under the domain and ArgoCD's admin administers the whole platform: a
    # short admin password is guessed quickly.
    for name, service, password in (
        ("grafanaAdminPassword", "Grafana", secrets.grafana_admin_password),
        ("argocdAdminPassword", "ArgoCD", secrets.argocd_admin_password),
    ):
        if password and len(password) < 12:
            found.error(
                f"secrets.{name}",
                f"the {service} admin password is only {len(password)} characters long",
                "use at least 12 characters, or leave it out and let the install generate one",
            )


def _required_by(config: PlatformConfig, name: str) -> str:
    return {
        "cloudflareApiToken": "components.externalDns",
        "cloudflareTunnelToken": "components.cloudflareTunnel",
        "gitUsername": "gitops.private",
        "gitToken": "gitops.private",
    }.get(name, "the config")
