"""`README.md` of the rendered repository: what each folder is and how to add an app."""

from __future__ import annotations

from talos_platform.engine.config.models import Platform, PlatformConfig
from talos_platform.engine.config.schematic import installer_image
from talos_platform.engine.config.versions import TalosFeatures
from talos_platform.engine.render.applications import repo_path
from talos_platform.engine.render.cluster_secrets import cluster_secrets
from talos_platform.engine.render.platform_network_policy import POLICY_NAME, admitted_flows, policy_folder


def readme(config: PlatformConfig, folders: list[str]) -> str:
    contract = TalosFeatures.for_version(config.cluster.talos_version).contract
    gitops = config.gitops
    secrets = cluster_secrets(config)
    lines = [
        f"# {config.cluster.name}: platform repository",
        "",
        "Rendered by `talos-platform render`. ArgoCD syncs this repository; change the platform",
        "config and render again rather than editing rendered files by hand (your own apps under",
        "`apps/` are yours to edit). No secret is stored here.",
        "",
        f"ArgoCD follows `{gitops.repo_url}`, branch `{gitops.branch}`, folder `{repo_path(config)}`.",
        "",
        "## Layout",
        "",
        "| path | layer | what |",
        "|---|---|---|",
        f"| `talos/` | 0 | Talos config patches for Talos {contract}: `all.yaml`, `controlplane.yaml`, "
        "`worker.yaml`, and `nodes/<name>.yaml` per machine"
        + (
            f"; `schematic.yaml`, the Image Factory schematic of the installer image `{installer_image(config)}`"
            if config.cluster.platform is Platform.metal
            else ""
        )
        + " |",
        "| `bootstrap/` | 1 | one-time kustomization: Gateway API CRDs, Cilium, ArgoCD (Helm charts pinned by "
        "version) |",
        "| `bootstrap-app.yaml` | 1 | the root Application; it points ArgoCD at `layer-0/` |",
        "| `layer-0/` | 2 | infrastructure Applications in sync waves: Gateway API CRDs (-100), Cilium (-99), "
        "cert-manager (-98), external-dns (-97), ArgoCD itself (-96), then platform (0) and apps (10) |",
    ]
    if "platform" in folders:
        lines.append(
            "| `platform/` | 3 | platform services, each an Application: first storage (local-path) and load-balancer "
            "addresses (wave -1), then Vault, monitoring, Cloudflare Tunnel and certificates |"
        )
        for namespace, flows in admitted_flows(config).items():
            lines.append(
                f"| `platform/{policy_folder(namespace)}/` | 3 | applied with the `{namespace}` Application: the "
                f"CiliumNetworkPolicy `{POLICY_NAME}`, ingress only on {flows} |"
            )
    lines.append("| `apps/` | 4 | an ApplicationSet: every folder under `apps/` becomes an Application |")
    if "app-defaults" in folders:
        lines.append(
            "| `app-defaults/` | 4 | added to every app: a CiliumNetworkPolicy admitting ingress only from the app's "
            "own namespace, the Gateway, the node and monitoring |"
        )
    lines += [
        "",
        "Sync waves gate each other because ArgoCD's `argocd-cm` carries a health check for",
        "`argoproj.io/Application`: a wave starts only when the previous one is healthy.",
        "",
        "## Bootstrap (done by `talos-platform install`)",
        "",
        "```sh",
        "kubectl kustomize --enable-helm bootstrap | kubectl apply --server-side --force-conflicts -f -",
        "kubectl apply -f bootstrap-app.yaml",
        "```",
        "",
    ]
    if secrets:
        lines += [
            "The install creates these Secrets directly in the cluster (their values never enter Git):",
            "",
            *[f"- `{secret.namespace}/{secret.name}` (key `{secret.key}`)" for secret in secrets],
            "",
        ]
    lines += [
        "## Add an app",
        "",
        "1. Copy `apps/hello` to `apps/<name>` (a lowercase DNS label) and change its manifests;",
        "   any folder with a `kustomization.yaml` works, including Helm charts through kustomize.",
        "2. Commit and push. The ApplicationSet creates the Application `<name>` and deploys it",
        "   into the namespace `<name>`, created on first sync.",
        "3. Remove the folder to remove the app: the Application and its objects are pruned.",
        "",
        "Check locally before pushing: `kubectl kustomize apps/<name>`.",
        "",
    ]
    return "\n".join(lines)
