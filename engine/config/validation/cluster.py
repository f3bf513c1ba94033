"""Rules of the `cluster` section itself: its name, the Talos and Kubernetes versions (a pair Talos
supports), and the extra API server names. Its network and VIP are in `network.py`."""

from __future__ import annotations

from talos_platform.engine.config import versions
from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.validation.formats import is_dns_label, is_dns_name, is_ip
from talos_platform.engine.config.validation.problems import Collector


def check_cluster(config: PlatformConfig, found: Collector) -> None:
    cluster = config.cluster
    if not is_dns_label(cluster.name):
        found.error(
            "cluster.name",
            f"{cluster.name!r} is not a DNS label",
            "use lowercase letters, digits and '-' (not first or last), at most 63 characters, e.g. `homelab`",
        )
    _check_versions(config, found)
    seen: dict[str, int] = {}
    for index, san in enumerate(cluster.extra_api_sans):
        path = f"cluster.extraApiSans[{index}]"
        if not (is_ip(san) or is_dns_name(san, allow_wildcard=True)):
            found.error(
                path,
                f"{san!r} is neither an IP address nor a DNS name",
                "e.g. `k8s.example.com` or `203.0.113.10`",
            )
        elif san in seen:
            found.warning(
                path,
                f"{san!r} is listed twice (also cluster.extraApiSans[{seen[san]}])",
                "remove the duplicate",
            )
        seen.setdefault(san, index)


def _check_versions(config: PlatformConfig, found: Collector) -> None:
    cluster = config.cluster
    talos_ok = False
    try:
        talos_minor = versions.minor(cluster.talos_version)
    except versions.VersionError:
        found.error(
            "cluster.talosVersion",
            f"{cluster.talos_version!r} is not a version like v1.11.5",
            "write `vMAJOR.MINOR.PATCH`",
        )
    else:
        if talos_minor not in versions.SUPPORTED_TALOS:
            found.error(
                "cluster.talosVersion",
                f"Talos {cluster.talos_version} is not supported",
                f"use one of: {', '.join(versions.supported_talos_versions())} (any patch release)",
            )
        else:
            talos_ok = True
    try:
        kubernetes_minor = versions.minor(cluster.kubernetes_version)
    except versions.VersionError:
        found.error(
            "cluster.kubernetesVersion",
            f"{cluster.kubernetes_version!r} is not a version like v1.34.1",
            "write `vMAJOR.MINOR.PATCH`",
        )
        return
    if talos_ok and kubernetes_minor not in versions.SUPPORTED_TALOS[talos_minor]:
        supported = versions.kubernetes_supported_by(cluster.talos_version)
        found.error(
            "cluster.kubernetesVersion",
            f"Kubernetes {cluster.kubernetes_version} is not supported by Talos {cluster.talos_version}",
            f"use Kubernetes {', '.join(supported)} (any patch release), or another Talos version",
        )
