"""Layer 2 with the real Kube driver on the rehearsal cluster: the rendered root Application is
applied, the rendered layer-0 Applications (what ArgoCD would create from Git) are followed wave
by wave while kwok plays ArgoCD's controller, and a Degraded one blocks its wave by name."""

from __future__ import annotations

import asyncio

import pytest
import yaml

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.drivers.clock import RealClock
from talos_platform.engine.drivers.kube_client import KubernetesDriver
from talos_platform.engine.drivers.process import ProcessRunner
from talos_platform.engine.drivers.protocols import APPLICATIONS, Drivers
from talos_platform.engine.errors import PermanentError
from talos_platform.engine.layers import cluster_bootstrap, layer0
from talos_platform.engine.plan.context import StepContext
from talos_platform.engine.state import StateDirectory

# kwok moves Application status at its own pace; under load that takes tens of seconds.
PATIENCE = 240


@pytest.fixture
def context(rehearsal_cluster, harness_bin, tmp_path):
    import os
    from pathlib import Path

    runner = ProcessRunner(
        env={"PATH": f"{Path(harness_bin('kubectl')).parent}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path)}
    )
    state = StateDirectory(tmp_path / "state").ensure()
    state.kubeconfig.write_bytes(Path(rehearsal_cluster.kubeconfig).read_bytes())
    rehearsal_cluster.kubectl("create", "namespace", "argocd", check=False)
    config = PlatformConfig.model_validate(
        {
            "cluster": {
                "name": "rehearsal",
                "platform": "docker",
                "network": {"loadBalancerPool": "10.5.0.240-10.5.0.250"},
            },
            "nodes": [{"name": "cp-1", "address": "10.5.0.2/24", "role": "control-plane"}],
            "domain": {"base": "example.com", "acmeEmail": "ops@example.com"},
            "gitops": {"repoUrl": "https://git.example.com/platform.git"},
            "components": {"cloudflareTunnel": {"enabled": False}},
        }
    )
    lines: list[str] = []
    ctx = StepContext(
        config=config,
        secrets=Secrets(),
        state=state,
        drivers=Drivers(talos=None, kube=KubernetesDriver(state.kubeconfig, runner)),  # type: ignore[arg-type]
        clock=RealClock(),
        step_id="harness",
        output=lines.append,
    )
    return ctx, lines


async def test_layer0_waves_on_the_rehearsal_cluster(rehearsal_cluster, context):
    ctx, lines = context
    render = cluster_bootstrap.RenderRepository(ctx.config)
    await render.apply(ctx, await render.check(ctx))

    root = layer0.RootApplication(ctx.config, needs=())
    check = await root.check(ctx)
    assert check.reason == "Application layer-0 does not exist yet"
    await root.apply(ctx, check)
    assert (await root.check(ctx)).done

    # What ArgoCD would create from Git: the rendered layer-0 Applications, accepted by the API.
    children = [yaml.safe_load(path.read_text()) for path in sorted((ctx.state.rendered / "layer-0").glob("*.yaml"))]
    children = [child for child in children if child.get("kind") == "Application"]
    assert {c["metadata"]["name"] for c in children} >= {
        "gateway-api-crds",
        "cilium",
        "cert-manager",
        "external-dns",
        "argocd",
    }
    degraded = "cert-manager"
    for child in children:
        if child["metadata"]["name"] == degraded:
            child["metadata"]["annotations"].update(
                {
                    "rehearsal.talos-platform.test/health": "Degraded",
                    "rehearsal.talos-platform.test/message": (
                        "Deployment cert-manager-webhook exceeded its progress deadline"
                    ),
                }
            )
    await ctx.drivers.kube.apply_objects(children)

    waves = layer0.wave_steps(ctx.config, first_needs=("L2.root-app",))
    assert [w.id for w in waves] == ["L2.wave-100", "L2.wave-99", "L2.wave-98", "L2.wave-97", "L2.wave-96"]
    for wave in waves[:2]:
        wave.timeout = PATIENCE
        await wave.wait(ctx)
    assert lines[-1] == "wave -99: 1 Applications Synced and Healthy"

    async def is_degraded():
        app = await ctx.drivers.kube.get(APPLICATIONS, degraded, "argocd")
        return ((app or {}).get("status") or {}).get("health", {}).get("status") == "Degraded"

    for _ in range(PATIENCE * 2):
        if await is_degraded():
            break
        await asyncio.sleep(0.5)
    blocked = waves[2]
    blocked.timeout = 3
    with pytest.raises(PermanentError) as failure:
        await blocked.wait(ctx)
    assert failure.value.message.startswith(
        "wave -98 is blocked by cert-manager: Synced/Degraded: Deployment cert-manager-webhook exceeded its "
        "progress deadline"
    )
