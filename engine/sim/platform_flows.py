"""The calls the simulated platform's own components make to each other, by namespace and port:
the traffic a healthy platform always carries, whether or not a policy guards it.

Read from what the components do (their charts' Services and clients), not from the policies:
a policy that forgot one of these flows drops it in the simulation too.
"""

from __future__ import annotations

from dataclasses import dataclass

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.render.cluster_secrets import CLOUDFLARED_TUNNEL
from talos_platform.engine.render.upstream import monitoring_chart, vault_chart, vault_secrets_operator_chart


@dataclass(frozen=True)
class ExpectedFlow:
    source_namespace: str
    destination_namespace: str
    port: int
    what: str


def platform_flows(config: PlatformConfig) -> tuple[ExpectedFlow, ...]:
    components = config.components
    vault = vault_chart(config).namespace if components.vault.enabled else None
    operator = (
        vault_secrets_operator_chart(config).namespace
        if components.vault.enabled and components.vault.secrets_operator.enabled
        else None
    )
    monitoring = monitoring_chart(config).namespace if components.monitoring.enabled else None
    tunnel = CLOUDFLARED_TUNNEL.namespace if components.cloudflare_tunnel.enabled else None
    flows: list[ExpectedFlow] = []
    if vault:
        flows.append(ExpectedFlow(vault, vault, 8201, "Vault servers on their cluster port"))
        flows.append(ExpectedFlow(vault, vault, 8200, "a standby Vault forwarding to the active one"))
    if vault and operator:
        flows.append(ExpectedFlow(operator, vault, 8200, "the Vault Secrets Operator reading secrets"))
    if monitoring:
        flows += [
            ExpectedFlow(monitoring, monitoring, 9090, "Grafana querying Prometheus"),
            ExpectedFlow(monitoring, monitoring, 9093, "Prometheus sending alerts to Alertmanager"),
            ExpectedFlow(monitoring, monitoring, 8080, "Prometheus scraping kube-state-metrics"),
            ExpectedFlow(monitoring, monitoring, 10250, "Prometheus scraping the operator"),
            ExpectedFlow(monitoring, monitoring, 3000, "Prometheus scraping Grafana"),
        ]
    if tunnel and monitoring:
        flows.append(ExpectedFlow(tunnel, monitoring, 3000, "the Cloudflare Tunnel serving Grafana"))
    if tunnel and vault:
        flows.append(ExpectedFlow(tunnel, vault, 8200, "the Cloudflare Tunnel serving Vault's UI"))
    return tuple(flows)
