"""The real Kube driver (kubernetes client + kubectl) against the rehearsal control plane:
server-side apply of a kustomization with a CRD, watches driving rollout waits on kwok nodes,
Applications followed by wave while their status is patched, and the watch across an API
server restart."""

from __future__ import annotations

import asyncio
import os
import textwrap
import uuid
from pathlib import Path

import pytest

from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.drivers.clock import RealClock
from talos_platform.engine.drivers.kube_client import KubernetesDriver
from talos_platform.engine.drivers.process import ProcessRunner
from talos_platform.engine.drivers.protocols import APPLICATIONS, CRDS, DAEMONSETS, DEPLOYMENTS, NODES, Drivers
from talos_platform.engine.errors import PermanentError
from talos_platform.engine.layers.applications import FollowApplications
from talos_platform.engine.layers.argo import wave_of
from talos_platform.engine.layers.cluster_bootstrap import (
    daemonset_rollout,
    deployment_available,
    wait_crds_established,
)
from talos_platform.engine.layers.waiting import wait_for_objects
from talos_platform.engine.plan.context import StepContext
from talos_platform.rehearsal.cluster import APPLICATION_DELAY_ANNOTATION


@pytest.fixture
def driver(rehearsal_cluster, harness_bin) -> KubernetesDriver:
    kubectl_dir = Path(harness_bin("kubectl")).parent
    runner = ProcessRunner(
        env={"PATH": f"{kubectl_dir}{os.pathsep}{os.environ['PATH']}", "HOME": rehearsal_cluster.env["HOME"]}
    )
    return KubernetesDriver(rehearsal_cluster.kubeconfig, runner)


def step_context(driver: KubernetesDriver, lines: list[str]) -> StepContext:
    from talos_platform.engine.config.models import PlatformConfig

    config = PlatformConfig.model_validate(
        {
            "cluster": {"name": "rehearsal", "platform": "docker"},
            "nodes": [{"name": "cp-1", "address": "127.0.0.1/8", "role": "control-plane"}],
            "domain": {"base": "example.com", "acmeEmail": "ops@example.com"},
            "gitops": {"repoUrl": "file:///nonexistent"},
        }
    )
    return StepContext(
        config=config,
        secrets=Secrets(),
        state=None,
        drivers=Drivers(talos=None, kube=driver),  # type: ignore[arg-type]
        clock=RealClock(),
        step_id="harness",
        output=lines.append,
    )


async def test_list_get_and_a_missing_kind(driver, kwok_nodes):
    nodes = await driver.list(NODES)
    assert set(kwok_nodes) <= {n["metadata"]["name"] for n in nodes.items}
    assert nodes.resource_version
    assert nodes.items[0]["kind"] == "Node"
    assert (await driver.get(NODES, kwok_nodes[0]))["metadata"]["name"] == kwok_nodes[0]
    assert await driver.get(NODES, "no-such-node") is None


async def test_a_kustomization_with_a_crd_and_its_custom_resource_applies_in_one_go(driver, kube_namespace, tmp_path):
    group = f"t{uuid.uuid4().hex[:6]}.rehearsal.test"
    folder = tmp_path / "kustomization"
    folder.mkdir()
    (folder / "crd.yaml").write_text(
        textwrap.dedent(
            f"""\
            apiVersion: apiextensions.k8s.io/v1
            kind: CustomResourceDefinition
            metadata:
              name: widgets.{group}
            spec:
              group: {group}
              scope: Namespaced
              names: {{plural: widgets, singular: widget, kind: Widget}}
              versions:
                - name: v1
                  served: true
                  storage: true
                  schema:
                    openAPIV3Schema:
                      type: object
                      x-kubernetes-preserve-unknown-fields: true
            """
        )
    )
    (folder / "widget.yaml").write_text(
        f"apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: first\n  namespace: {kube_namespace}\nsize: 3\n"
    )
    (folder / "kustomization.yaml").write_text("resources:\n  - widget.yaml\n  - crd.yaml\n")
    applied = await driver.apply_kustomization(folder)
    assert applied == [f"customresourcedefinition.apiextensions.k8s.io/widgets.{group}", f"widget.{group}/first"]
    lines: list[str] = []
    await wait_crds_established(step_context(driver, lines), timeout=30)
    assert (await driver.get(CRDS, f"widgets.{group}"))["status"]["acceptedNames"]["kind"] == "Widget"
    # Applying again is a no-op server-side apply.
    assert await driver.apply_kustomization(folder) == applied


async def test_secrets_are_applied_from_stdin(driver, kube_namespace):
    from talos_platform.engine.drivers.protocols import SECRETS

    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "token", "namespace": kube_namespace},
        "data": {"token": "c2VjcmV0"},
    }
    assert await driver.apply_objects([secret]) == ["secret/token"]
    assert all("c2VjcmV0" not in " ".join(argv) for argv in driver.runner.recorded)
    assert (await driver.get(SECRETS, "token", kube_namespace))["data"] == {"token": "c2VjcmV0"}


async def test_daemonset_and_deployment_rollouts_on_kwok_nodes_are_followed_by_watch(
    driver, kube_namespace, kwok_nodes
):
    labels = {"app": "agent"}
    toleration = [{"operator": "Exists"}]
    pod = {
        "metadata": {"labels": labels},
        "spec": {"tolerations": toleration, "containers": [{"name": "agent", "image": "agent:1"}]},
    }
    daemonset = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": kube_namespace},
        "spec": {"selector": {"matchLabels": labels}, "template": pod},
    }
    web_labels = {"app": "web"}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": kube_namespace},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": web_labels},
            "template": {"metadata": {"labels": web_labels}, "spec": {**pod["spec"]}},
        },
    }
    await driver.apply_objects([daemonset, deployment])
    lines: list[str] = []
    ctx = step_context(driver, lines)
    ready_nodes = len(
        [
            n
            for n in (await driver.list(NODES)).items
            if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))
        ]
    )

    final = await wait_for_objects(
        ctx,
        DAEMONSETS,
        lambda objects: daemonset_rollout(objects.get((kube_namespace, "agent"))),
        timeout=60,
        namespace=kube_namespace,
    )
    assert final == f"{ready_nodes}/{ready_nodes} available, {ready_nodes}/{ready_nodes} updated"
    assert lines[0] != final  # seen moving, not only the end state

    def web_available(objects):
        found = objects.get((kube_namespace, "web"))
        return deployment_available(found) if found else (False, "no Deployment yet")

    assert (
        await wait_for_objects(ctx, DEPLOYMENTS, web_available, timeout=60, namespace=kube_namespace) == "2/2 available"
    )


def application(name: str, namespace: str, wave: int, delay: str = "1s") -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": {"argocd.argoproj.io/sync-wave": str(wave), APPLICATION_DELAY_ANNOTATION: delay},
        },
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.rehearsal.invalid/p.git", "path": name, "targetRevision": "main"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
        },
    }


def wave_step(ctx, namespace: str, wave: int, name: str, timeout: float) -> FollowApplications:
    return FollowApplications(
        ctx.config,
        step_id=f"L2.wave{wave}",
        title=f"wave {wave}",
        group=f"wave {wave}",
        selector=lambda app: wave_of(app) == wave,
        expected=(name,),
        layer=2,
        timeout=timeout,
        namespace=namespace,
    )


# kwok plays ArgoCD's controller; under load it can take tens of seconds to move a status.
KWOK_PATIENCE = 240


async def eventually(predicate, what: str, timeout: float = KWOK_PATIENCE):
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.5)


async def test_applications_are_followed_wave_by_wave_and_a_degraded_one_blocks_its_wave(
    rehearsal_cluster, driver, kube_namespace
):
    lines: list[str] = []
    ctx = step_context(driver, lines)
    await driver.apply_objects(
        [application("gateway-api-crds", kube_namespace, -100), application("cilium", kube_namespace, -99, delay="3s")]
    )
    await wave_step(ctx, kube_namespace, -100, "gateway-api-crds", timeout=KWOK_PATIENCE).wait(ctx)
    assert lines[-1] == "wave -100: 1 Applications Synced and Healthy"
    await wave_step(ctx, kube_namespace, -99, "cilium", timeout=KWOK_PATIENCE).wait(ctx)
    assert lines[-1] == "wave -99: 1 Applications Synced and Healthy"
    assert any(line.startswith("wave -99 is blocked by cilium: OutOfSync/Progressing") for line in lines)

    await driver.apply_objects([application("cert-manager", kube_namespace, -98)])
    rehearsal_cluster.set_application_status(
        kube_namespace, "cert-manager", "Degraded", "Synced", message="webhook has no endpoints"
    )

    async def degraded():
        found = await driver.get(APPLICATIONS, "cert-manager", kube_namespace)
        return ((found or {}).get("status") or {}).get("health", {}).get("status") == "Degraded"

    await eventually(degraded, "cert-manager to turn Degraded")
    with pytest.raises(PermanentError) as failure:
        await wave_step(ctx, kube_namespace, -98, "cert-manager", timeout=3).wait(ctx)
    assert failure.value.message.startswith(
        "wave -98 is blocked by cert-manager: Synced/Degraded: webhook has no endpoints"
    )

    rehearsal_cluster.set_application_status(kube_namespace, "cert-manager", "Healthy")
    await wave_step(ctx, kube_namespace, -98, "cert-manager", timeout=KWOK_PATIENCE).wait(ctx)
    assert lines[-1] == "wave -98: 1 Applications Synced and Healthy"


async def test_a_watch_ends_when_the_api_server_restarts_and_a_new_list_recovers(rehearsal_cluster, driver, kwok_nodes):
    listed = await driver.list(NODES)
    events = driver.watch(NODES, listed.resource_version, timeout_seconds=60)

    async def consume():
        async for _ in events:
            pass

    consumer = asyncio.ensure_future(consume())
    await asyncio.sleep(0.5)
    await asyncio.to_thread(rehearsal_cluster.restart_apiserver)
    # A graceful shutdown ends the stream, an abrupt one drops it: either way the watch stops
    # (never hangs) and the caller lists again.
    try:
        await asyncio.wait_for(consumer, 60)
    except ConnectionError:
        pass
    assert {n["metadata"]["name"] for n in (await driver.list(NODES)).items} >= set(kwok_nodes)
