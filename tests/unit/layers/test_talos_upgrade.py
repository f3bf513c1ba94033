"""The Talos upgrade's steps: refused before anything changes when the target cannot work, one
node at a time, a node back on its old version fails the rollout, gates before the next node."""

import dataclasses
import json

import pytest
import yaml
from support.clock import ManualClock
from support.cluster_data import etcd_healths
from support.drivers import FakeKube, FakeTalos, FakeTools, FakeVault, configured

from talos_platform.engine.drivers.protocols import APPLICATIONS, NODES, PODS
from talos_platform.engine.errors import EvictionRefused, PermanentError, TransientError
from talos_platform.engine.layers.eviction import OUR_CORDON_ANNOTATION, PDBS
from talos_platform.engine.layers.talos_upgrade import TalosNodeUpgrade, TalosPreflight, talos_upgrade_steps

from .helpers import make_context, platform_config

CONFIG = platform_config(talos_version="v1.11.5", control_planes=3, workers=3)


def running(address: str, version: str) -> dict:
    return dataclasses.replace(configured(address), talos_version=version)


def ready_node(name: str) -> dict:
    return {"metadata": {"name": name}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


def healthy_etcd() -> dict:
    return etcd_healths(addresses=tuple(CONFIG.node_ip(node) for node in CONFIG.control_planes))


def context(tmp_path, version="v1.11.5", *, client="v1.12.1", endpoints=None, apps=(), vault=None):
    talos = FakeTalos(version=client)
    for node in CONFIG.nodes:
        talos.secure[CONFIG.node_ip(node)] = running(CONFIG.node_ip(node), version)
    kube = FakeKube().put(NODES, *(ready_node(n.name) for n in CONFIG.nodes)).put(APPLICATIONS, *apps)
    ctx, lines = make_context(CONFIG, tmp_path, talos=talos, kube=kube, vault=vault)
    ctx.state.talosconfig.parent.mkdir(parents=True, exist_ok=True)
    context_entry = {"endpoints": endpoints or ["10.0.0.11"], "nodes": ["10.0.0.11"]}
    ctx.state.talosconfig.write_text(yaml.safe_dump({"context": "demo", "contexts": {"demo": context_entry}}))
    return ctx, lines, talos


@pytest.mark.parametrize(
    ("to", "options", "refusal"),
    [
        ("v1.99.0", {}, "not a version this tool supports"),
        ("v1.10.6", {"client": "v1.10.6"}, "does not run Kubernetes v1.34.1"),
        ("v1.12.1", {"client": "v1.11.5"}, "needs the talosctl of v1.12"),
        ("v1.12.1", {"endpoints": ["10.0.0.10"]}, "uses the VIP 10.0.0.10 as an endpoint"),
        ("v1.12.1", {"version": "v1.13.0"}, "a downgrade is not supported"),
    ],
)
async def test_the_preflight_refuses_what_cannot_work(tmp_path, to, options, refusal):
    version = options.pop("version", "v1.11.5")
    ctx, _, _ = context(tmp_path, version, **options)
    with pytest.raises(PermanentError, match=refusal):
        await TalosPreflight(CONFIG, to).check(ctx)


async def test_the_preflight_passes_and_names_the_installer(tmp_path):
    ctx, _, _ = context(tmp_path)
    check = await TalosPreflight(CONFIG, "v1.12.1").check(ctx)
    assert check.done and "metal-installer/" in check.reason and check.reason.endswith(":v1.12.1")


def test_control_planes_go_one_by_one_and_workers_in_batches():
    steps = {step.id: step for step in talos_upgrade_steps(CONFIG, "v1.12.1", None, max_parallel=2)}

    assert steps["T.baseline"].needs == ("T.preflight",)
    assert steps["E.snapshot"].needs == ("T.baseline",)
    assert steps["T.upgrade.cp-1"].needs == ("E.snapshot",)
    assert steps["T.upgrade.cp-2"].needs == ("T.upgrade.cp-1",)
    assert steps["T.upgrade.w-1"].needs == steps["T.upgrade.w-2"].needs == ("T.upgrade.cp-3",)
    assert steps["T.upgrade.w-3"].needs == ("T.upgrade.w-1", "T.upgrade.w-2")
    assert steps["T.config"].needs == ("T.upgrade.w-3",)


async def test_a_node_back_on_its_old_version_fails_the_rollout(tmp_path):
    ctx, _, _ = context(tmp_path)  # every node still runs v1.11.5 after "the upgrade"
    step = TalosNodeUpgrade(CONFIG, CONFIG.nodes[0], "v1.12.1", needs=())
    with pytest.raises(PermanentError, match="came back running Talos v1.11.5, not v1.12.1"):
        await step.wait(ctx)


async def test_the_next_node_waits_for_etcd_and_applications_synced_and_healthy(tmp_path):
    degraded = {
        "metadata": {"name": "vault", "namespace": "argocd"},
        "status": {"sync": {"status": "Synced"}, "health": {"status": "Degraded"}},
    }
    ctx, _, talos = context(tmp_path, "v1.12.1", apps=[degraded])
    ctx.clock = ManualClock()
    step = TalosNodeUpgrade(CONFIG, CONFIG.nodes[0], "v1.12.1", needs=())
    assert (await step._not_yet(ctx) or "").startswith("etcd on cp-1 does not answer")

    talos.etcd_healths.update(healthy_etcd())
    with pytest.raises(
        PermanentError, match=r"ArgoCD Applications not Synced and Healthy again: vault \(Synced/Degraded\)"
    ):
        await step.wait(ctx)


async def test_an_upgraded_node_is_done_once_its_gates_passed_and_a_node_away_is_waited_for_not_upgraded_again(
    tmp_path,
):
    ctx, lines, talos = context(tmp_path, "v1.12.1")
    talos.etcd_healths.update(healthy_etcd())
    step = TalosNodeUpgrade(CONFIG, CONFIG.nodes[0], "v1.12.1", needs=())
    # On the target, but no run saw its gates pass (stopped or failed while they held): not stepped over.
    held = await step.check(ctx)
    assert not held.done and held.reason == "cp-1 runs Talos v1.12.1; its gates have not passed yet"
    await step.apply(ctx, held)
    assert "waiting for its gates, not upgrading it again" in lines[-1]
    await step.wait(ctx)
    assert (await step.check(ctx)).done

    talos.secure["10.0.0.11"] = dataclasses.replace(configured("10.0.0.11", stage="rebooting"))
    check = await step.check(ctx)
    await step.apply(ctx, check)
    assert not [call for call in talos.calls if call[0] == "upgrade_talos"]
    assert "waiting for it instead of upgrading" in lines[-1]


async def test_vault_sealed_by_the_drain_is_unsealed_with_the_saved_keys_before_the_next_node(tmp_path):
    vault = FakeVault(initialized=True, sealed=True)
    ctx, lines, talos = context(tmp_path, "v1.12.1", vault=vault)
    ctx.state.write_secret(ctx.state.vault_init, json.dumps({"unseal_keys": vault.keys, "root_token": "t"}))
    talos.etcd_healths.update(healthy_etcd())
    step = TalosNodeUpgrade(CONFIG, CONFIG.nodes[0], "v1.12.1", needs=())

    await step.wait(ctx)

    assert not vault.sealed
    assert [call[0] for call in vault.calls].count("unseal") == vault.threshold
    assert "Vault came back sealed after the drain: unsealing it with the saved keys" in lines
    assert not any(key in line for line in lines for key in vault.keys)  # keys are never shown


async def test_vault_sealed_without_saved_keys_holds_the_rollout_and_says_what_to_do(tmp_path):
    ctx, _, talos = context(tmp_path, "v1.12.1", vault=FakeVault(initialized=True, sealed=True))
    ctx.clock = ManualClock()
    talos.etcd_healths.update(healthy_etcd())
    step = TalosNodeUpgrade(CONFIG, CONFIG.nodes[0], "v1.12.1", needs=())

    with pytest.raises(PermanentError, match="Vault is sealed and .* holds no unseal keys"):
        await step.wait(ctx)


async def test_a_gate_command_of_the_users_holds_the_next_node_until_it_exits_0(tmp_path):
    """Node Ready is not enough while storage rebuilds (postfinance/topf#135): the user's own
    check runs after the built-in gates, with the node named in its environment."""
    marker = tmp_path / "rebuilt"
    gate = f'echo "checking $NODE at $NODE_IP" >&2; test -f {marker}'
    ctx, lines, talos = context(tmp_path, "v1.12.1")
    ctx.drivers.tools = FakeTools({})
    ctx.clock = ManualClock()
    talos.etcd_healths.update(healthy_etcd())
    step = TalosNodeUpgrade(CONFIG, CONFIG.nodes[0], "v1.12.1", needs=(), gates=(gate,))

    assert await step._not_yet(ctx) == f"gate `{gate}` has not passed: checking cp-1 at 10.0.0.11"
    marker.touch()
    assert await step._not_yet(ctx) is None
    assert f"gate `{gate}` passed" in lines
    assert any("gate: `" in action.description for action in step.planned_actions(ctx))


async def test_a_gate_that_never_passes_fails_the_node_naming_the_gate(tmp_path):
    ctx, lines, talos = context(tmp_path, "v1.12.1")
    ctx.drivers.tools = FakeTools({})
    ctx.clock = ManualClock()
    talos.etcd_healths.update(healthy_etcd())
    step = TalosNodeUpgrade(CONFIG, CONFIG.nodes[0], "v1.12.1", needs=(), gates=("echo degraded; exit 3",))

    with pytest.raises(PermanentError, match="gate `echo degraded; exit 3` has not passed: degraded"):
        await step.wait(ctx)
    # Said once, not every 10 s for half an hour; the last look is at the end of the wait.
    assert [line for line in lines if line.startswith("waiting:")] == [
        "waiting: gate `echo degraded; exit 3` has not passed: degraded"
    ]
    assert ctx.clock.now() >= step.wait_budget


# --- --delete-if-eviction-fails: Talos' drain refused by a PodDisruptionBudget -------------------

REFUSED = 'talosctl upgrade of 10.0.0.21 failed: failed to drain node w-1: error when evicting pod "apps/web-0"'


async def test_a_drain_a_budget_refuses_stops_the_node_without_the_escape(tmp_path):
    ctx, _, talos = context(tmp_path)
    talos.upgrade_errors.append(EvictionRefused(REFUSED))
    step = TalosNodeUpgrade(CONFIG, CONFIG.nodes[3], "v1.12.1", needs=())

    with pytest.raises(EvictionRefused):
        await step.apply(ctx, await step.check(ctx))
    assert [c[0] for c in talos.calls if c[0] == "upgrade_talos"] == ["upgrade_talos"]
    assert not [c for c in ctx.drivers.kube.calls if c[0] in ("drain_node", "uncordon_node")]


async def test_with_the_escape_the_pods_are_deleted_named_and_the_upgrade_runs_again(tmp_path):
    ctx, lines, talos = context(tmp_path)
    kube = ctx.drivers.kube
    kube.put(
        PODS,
        {"metadata": {"name": "web-0", "namespace": "apps", "labels": {"app": "web"}}, "spec": {"nodeName": "w-1"}},
    )
    kube.put(
        PDBS, {"metadata": {"name": "web", "namespace": "apps"}, "spec": {"selector": {"matchLabels": {"app": "web"}}}}
    )
    kube.put(
        PDBS, {"metadata": {"name": "db", "namespace": "apps"}, "spec": {"selector": {"matchLabels": {"app": "db"}}}}
    )
    talos.upgrade_errors.append(EvictionRefused(REFUSED))
    step = TalosNodeUpgrade(CONFIG, CONFIG.nodes[3], "v1.12.1", needs=(), delete_if_eviction_fails=True)

    await step.apply(ctx, await step.check(ctx))

    assert [c[0] for c in talos.calls if c[0] == "upgrade_talos"] == ["upgrade_talos", "upgrade_talos"]
    assert [c for c in kube.calls if c[0] in ("annotate_node", "drain_node", "uncordon_node")] == [
        ("annotate_node", "w-1", OUR_CORDON_ANNOTATION, "true"),  # marked before the drain cordons it
        ("drain_node", "w-1", "--disable-eviction"),
        ("uncordon_node", "w-1"),
        ("annotate_node", "w-1", OUR_CORDON_ANNOTATION),  # unmarked after the uncordon
    ]
    node = kube.objects["nodes"][("", "w-1")]
    assert not node["spec"].get("unschedulable") and OUR_CORDON_ANNOTATION not in node["metadata"]["annotations"]
    loud = "\n".join(line for line in lines if line.startswith("!!!"))
    assert "bypassing their PodDisruptionBudgets: pods apps/web-0; budgets apps/web" in loud
    assert "apps/db" not in loud


def test_the_plan_shows_the_escape_and_the_inputs_keep_it(tmp_path):
    ctx, _, _ = context(tmp_path)
    plain = TalosNodeUpgrade(CONFIG, CONFIG.nodes[3], "v1.12.1", needs=())
    escape = TalosNodeUpgrade(CONFIG, CONFIG.nodes[3], "v1.12.1", needs=(), delete_if_eviction_fails=True)

    commands = [" ".join(a.command) for a in escape.planned_actions(ctx) if a.command]
    assert not any("--disable-eviction" in " ".join(a.command) for a in plain.planned_actions(ctx) if a.command)
    assert any(
        c.endswith("drain w-1 --ignore-daemonsets --delete-emptydir-data --disable-eviction --timeout=600s")
        for c in commands
    )
    assert any(c.endswith("uncordon w-1") for c in commands)
    assert any(c.endswith(f"annotate node w-1 {OUR_CORDON_ANNOTATION}=true --overwrite") for c in commands)
    assert escape.inputs()["delete_if_eviction_fails"] and not plain.inputs()["delete_if_eviction_fails"]


async def test_a_node_away_holds_the_preflight_unless_an_earlier_run_was_upgrading_it(tmp_path):
    ctx, lines, talos = context(tmp_path)
    del talos.secure["10.0.0.21"]  # w-1 does not answer
    with pytest.raises(TransientError, match="w-1 does not answer"):
        await TalosPreflight(CONFIG, "v1.12.1").check(ctx)

    resumed = dataclasses.replace(ctx, left_unfinished=frozenset({"T.upgrade.w-1"}))
    assert (await TalosPreflight(CONFIG, "v1.12.1").check(resumed)).done
    assert any(line.startswith("w-1 does not answer") and "its step waits for it" in line for line in lines)


async def test_the_escape_does_not_mark_a_node_you_cordoned_and_leaves_it_cordoned(tmp_path):
    ctx, lines, talos = context(tmp_path)
    kube = ctx.drivers.kube
    kube.objects["nodes"][("", "w-1")]["spec"] = {"unschedulable": True}
    talos.upgrade_errors.append(EvictionRefused(REFUSED))
    step = TalosNodeUpgrade(CONFIG, CONFIG.nodes[3], "v1.12.1", needs=(), delete_if_eviction_fails=True)

    await step.apply(ctx, await step.check(ctx))

    assert not [c for c in kube.calls if c[0] in ("annotate_node", "uncordon_node")]
    assert kube.objects["nodes"][("", "w-1")]["spec"]["unschedulable"]


async def test_a_node_back_carrying_our_mark_is_uncordoned_and_unmarked_when_its_gates_pass(tmp_path):
    # A run killed after the deleting drain: the node came back cordoned, with our mark.
    ctx, lines, _ = context(tmp_path, "v1.12.1")
    node = ctx.drivers.kube.objects["nodes"][("", "w-1")]
    node["spec"] = {"unschedulable": True}
    node["metadata"].setdefault("annotations", {})[OUR_CORDON_ANNOTATION] = "true"
    step = TalosNodeUpgrade(CONFIG, CONFIG.nodes[3], "v1.12.1", needs=())

    await step.wait(ctx)

    assert [c for c in ctx.drivers.kube.calls if c[0] in ("annotate_node", "uncordon_node")] == [
        ("uncordon_node", "w-1"),
        ("annotate_node", "w-1", OUR_CORDON_ANNOTATION),
    ]
    assert "w-1 uncordoned (kubectl cordoned it for the deleting drain)" in lines
    assert not node["spec"].get("unschedulable") and OUR_CORDON_ANNOTATION not in node["metadata"]["annotations"]


async def test_a_node_back_but_cordoned_not_by_talos_is_named_not_uncordoned(tmp_path):
    ctx, lines, _ = context(tmp_path, "v1.12.1")
    ctx.drivers.kube.objects["nodes"][("", "w-1")]["spec"] = {"unschedulable": True}
    step = TalosNodeUpgrade(CONFIG, CONFIG.nodes[3], "v1.12.1", needs=())

    await step.wait(ctx)

    assert "w-1 is still cordoned (not by Talos" in lines[-1] and "kubectl uncordon w-1" in lines[-1]
    assert not [c for c in ctx.drivers.kube.calls if c[0] == "uncordon_node"]
