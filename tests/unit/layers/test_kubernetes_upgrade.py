"""The Kubernetes upgrade's steps: refused before anything changes when the version cannot be
installed, done only when every Node reports it, a kubelet left behind named, the config file
edited in place."""

import pytest
from support.clock import ManualClock
from support.drivers import FakeKube, FakeTalos

from talos_platform.engine.drivers.protocols import NODES
from talos_platform.engine.errors import PermanentError
from talos_platform.engine.layers.config_file import VersionInConfig
from talos_platform.engine.layers.kubernetes_upgrade import (
    KubernetesPreflight,
    KubernetesUpgrade,
)

from .helpers import make_context, platform_config

CONFIG = platform_config(talos_version="v1.14.1")


def node(name: str, version: str) -> dict:
    return {"metadata": {"name": name}, "status": {"nodeInfo": {"kubeletVersion": version}}}


def context(tmp_path, *versions: str, talos: FakeTalos | None = None):
    kube = FakeKube().put(NODES, *(node(f"node-{i}", v) for i, v in enumerate(versions)))
    ctx, lines = make_context(CONFIG, tmp_path, kube=kube, talos=talos)
    return ctx, lines, kube


@pytest.mark.parametrize(
    ("to", "running", "refusal"),
    [
        ("v1.39.0", "v1.37.2", "Talos v1.14.1 does not support Kubernetes v1.39.0"),
        ("v1.36.0", "v1.37.2", "newer than v1.36.0: a downgrade is not supported"),
        ("v1.37.2", "v1.35.1", "more than one minor version up"),
        ("1.37", "v1.36.1", "is not a version"),
    ],
)
async def test_the_preflight_refuses_what_cannot_be_installed(tmp_path, to, running, refusal):
    ctx, _, _ = context(tmp_path, running)
    with pytest.raises(PermanentError, match=refusal):
        await KubernetesPreflight(CONFIG, to).check(ctx)


async def test_the_preflight_passes_one_minor_up(tmp_path):
    ctx, _, _ = context(tmp_path, "v1.36.4", "v1.36.4")
    check = await KubernetesPreflight(CONFIG, "v1.37.2").check(ctx)
    assert check.done and "v1.36.4 on node-0, node-1" in check.reason


async def test_the_upgrade_is_done_only_when_every_node_reports_the_version(tmp_path):
    ctx, _, kube = context(tmp_path, "v1.37.2", "v1.37.1")
    step = KubernetesUpgrade(CONFIG, "v1.37.2")

    check = await step.check(ctx)
    assert not check.done and "v1.37.1 on node-1" in check.reason
    kube.put(NODES, node("node-1", "v1.37.2"))
    assert (await step.check(ctx)).done


async def test_the_dry_run_comes_first_then_the_upgrade(tmp_path):
    talos = FakeTalos()
    ctx, _, _ = context(tmp_path, "v1.37.1", talos=talos)
    step = KubernetesUpgrade(CONFIG, "v1.37.2")
    await step.apply(ctx, await step.check(ctx))

    calls = [call for call in talos.calls if call[0] == "upgrade_kubernetes"]
    assert [call[3] for call in calls] == [True, False]


async def test_a_kubelet_left_behind_is_named_with_what_to_look_at(tmp_path):
    ctx, _, _ = context(tmp_path, "v1.37.2", "v1.37.1")
    ctx.clock = ManualClock()
    with pytest.raises(PermanentError, match="still report the old version: v1.37.1 on node-1") as failed:
        await KubernetesUpgrade(CONFIG, "v1.37.2").wait(ctx)
    assert "service kubelet" in failed.value.hint


async def test_the_config_file_gets_the_version_keeping_its_comments(tmp_path):
    from pathlib import Path

    example = Path(__file__).resolve().parents[3] / "examples" / "metal-3cp-3w.yaml"
    path = tmp_path / "platform.yaml"
    original = example.read_text()
    path.write_text(original)
    ctx, lines, _ = context(tmp_path, "v1.37.3")
    step = VersionInConfig(CONFIG, "kubernetesVersion", "v1.37.3", path, step_id="K.config", layer=2, needs=())

    await step.apply(ctx, await step.check(ctx))

    assert path.read_text() == original.replace("kubernetesVersion: v1.37.2", "kubernetesVersion: v1.37.3")
    assert (tmp_path / "platform.yaml.bak").read_text() == original
    assert (await step.check(ctx)).done
