"""Layer 1's steps with the real drivers on the rehearsal control plane: the rendered bootstrap
(its upstream charts and CRD manifest swapped for small local stand-ins: nothing is downloaded)
is built by the real `kubectl kustomize --enable-helm` and helm, applied server-side CRDs first,
then the bootstrap Secrets, the Cilium rollout on kwok nodes, every node Ready and ArgoCD
Available, all followed by watches; a second check finds everything done."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.drivers.clock import RealClock
from talos_platform.engine.drivers.kube_client import KubernetesDriver
from talos_platform.engine.drivers.process import ProcessRunner
from talos_platform.engine.drivers.protocols import SECRETS, Drivers
from talos_platform.engine.layers import cluster_bootstrap
from talos_platform.engine.plan.context import StepContext
from talos_platform.engine.state import StateDirectory

REPO = Path(__file__).resolve().parents[2]
HELM = Path(
    subprocess.run(
        [REPO / "scripts" / "build-helm.sh", "--print-path"], capture_output=True, text=True, check=True
    ).stdout.strip()
)
CLOSED_PORT = "http://127.0.0.1:9"

GATEWAY_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    # *.k8s.io groups need this annotation, as the real Gateway API CRDs carry it.
    "metadata": {
        "name": "gateways.gateway.networking.k8s.io",
        "annotations": {"api-approved.kubernetes.io": "unapproved, rehearsal stand-in"},
    },
    "spec": {
        "group": "gateway.networking.k8s.io",
        "names": {"kind": "Gateway", "listKind": "GatewayList", "plural": "gateways", "singular": "gateway"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }
        ],
    },
}

POD_SPEC = "      tolerations: [{operator: Exists}]\n      containers: [{name: main, image: standin:1}]\n"
CILIUM_TEMPLATE = (
    "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: cilium\n  namespace: {{ .Release.Namespace }}\n"
    "spec:\n  selector: {matchLabels: {k8s-app: cilium}}\n"
    "  template:\n    metadata: {labels: {k8s-app: cilium}}\n    spec:\n" + POD_SPEC
)
ARGOCD_TEMPLATE = "".join(
    f"---\napiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: {{{{ .Release.Namespace }}}}\n"
    f"spec:\n  replicas: 1\n{extra}  selector: {{matchLabels: {{app: {name}}}}}\n"
    f"  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n" + POD_SPEC
    for kind, name, extra in (
        ("Deployment", "argocd-server", ""),
        ("Deployment", "argocd-repo-server", ""),
        ("StatefulSet", "argocd-application-controller", "  serviceName: argocd-application-controller\n"),
    )
)


def use_standins(folder: Path) -> None:
    """Point the rendered kustomization at local stand-ins (same releases, namespaces, values)."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    resources = []
    for resource in kustomization.get("resources", []):
        if resource.startswith("https://"):
            (folder / "gateway-api-crds.yaml").write_text(yaml.safe_dump(GATEWAY_CRD))
            resource = "gateway-api-crds.yaml"
        resources.append(resource)
    kustomization["resources"] = resources
    for chart in kustomization.get("helmCharts", []):
        del chart["repo"]  # kustomize then takes the chart from charts/<name>
        chart_dir = folder / "charts" / chart["name"]
        (chart_dir / "templates").mkdir(parents=True)
        (chart_dir / "Chart.yaml").write_text(
            yaml.safe_dump({"apiVersion": "v2", "name": chart["name"], "version": chart["version"]})
        )
        template = CILIUM_TEMPLATE if chart["name"] == "cilium" else ARGOCD_TEMPLATE
        (chart_dir / "templates" / "workloads.yaml").write_text(template)
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))


@pytest.fixture
def layer1(rehearsal_cluster, harness_bin, kwok_nodes, tmp_path):
    if not os.access(HELM, os.X_OK):
        pytest.skip("helm is not built (scripts/build-helm.sh)")
    home = tmp_path / "home"
    home.mkdir()
    path = os.pathsep.join([str(Path(harness_bin("kubectl")).parent), str(HELM.parent), os.environ["PATH"]])
    runner = ProcessRunner(
        env={
            "PATH": path,
            "HOME": str(home),
            "HTTP_PROXY": CLOSED_PORT,
            "HTTPS_PROXY": CLOSED_PORT,
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }
    )
    state = StateDirectory(tmp_path / "state").ensure()
    state.kubeconfig.write_bytes(Path(rehearsal_cluster.kubeconfig).read_bytes())
    config = PlatformConfig.model_validate(
        {
            "cluster": {"name": "rehearsal", "vip": "192.0.2.10", "network": {"gateway": "192.0.2.1"}},
            "nodes": [
                {
                    "name": name,
                    "address": f"192.0.2.{11 + index}/24",
                    "role": "control-plane" if index == 0 else "worker",
                    "link": "eth0",
                }
                for index, name in enumerate(kwok_nodes)
            ],
            "domain": {"base": "example.com", "acmeEmail": "ops@example.com"},
            "gitops": {"repoUrl": "https://git.example.com/platform.git", "private": True},
            "components": {
                "externalDns": {"enabled": False},
                "cloudflareTunnel": {"enabled": False},
                "certManager": {"enabled": False},
            },
        }
    )
    lines: list[str] = []
    secrets = Secrets(git_username="robot", git_token="ghp-standin-token")
    ctx = StepContext(
        config=config,
        secrets=secrets,
        state=state,
        drivers=Drivers(talos=None, kube=KubernetesDriver(state.kubeconfig, runner)),  # type: ignore[arg-type]
        clock=RealClock(),
        step_id="harness",
        output=lines.append,
    )
    return ctx, lines, runner


async def run(step, ctx):
    check = await step.check(ctx)
    await step.apply(ctx, check)
    await step.wait(ctx)
    return check


async def test_layer1_on_the_rehearsal_cluster(layer1):
    ctx, lines, runner = layer1
    render = cluster_bootstrap.RenderRepository(ctx.config)
    await run(render, ctx)
    use_standins(ctx.state.rendered / "bootstrap")

    apply = cluster_bootstrap.ApplyBootstrap(ctx.config)
    first = await run(apply, ctx)
    assert not first.done
    kustomize = next(argv for argv in runner.recorded if argv[1] == "kustomize")
    assert kustomize == ("kubectl", "kustomize", "--enable-helm", str(ctx.state.rendered / "bootstrap"))
    applies = [argv for argv in runner.recorded if "apply" in argv]
    assert len(applies) == 2  # CRDs first, then the rest
    assert any(line.endswith("CRDs Established") for line in lines)

    secrets = cluster_bootstrap.BootstrapSecrets(ctx.config)
    await run(secrets, ctx)
    repository = await ctx.drivers.kube.get(SECRETS, "gitops-repository", "argocd")
    assert base64.b64decode(repository["data"]["password"]).decode() == "ghp-standin-token"
    assert repository["metadata"]["labels"] == {"argocd.argoproj.io/secret-type": "repository"}
    assert all("ghp-standin-token" not in " ".join(argv) for argv in runner.recorded)

    for step in (
        cluster_bootstrap.CiliumRollout(ctx.config),
        cluster_bootstrap.NodesReady(ctx.config),
        cluster_bootstrap.ArgoCDAvailable(ctx.config),
    ):
        await run(step, ctx)
    assert lines[-1] == "ArgoCD is Available (2 Deployments, 1 StatefulSets)"

    # Resumed: everything is found done, nothing is applied again.
    before = len(runner.recorded)
    for step in (
        apply,
        secrets,
        cluster_bootstrap.CiliumRollout(ctx.config),
        cluster_bootstrap.NodesReady(ctx.config),
        cluster_bootstrap.ArgoCDAvailable(ctx.config),
    ):
        assert (await step.check(ctx)).done, step.id
    assert len(runner.recorded) == before
