"""Adding and removing nodes: refused before anything changes when the config or etcd forbids
it, etcd members removed by hand only with the ID given back, joins verified (a learner is not a
voter), the config file edited with its comments kept."""

import pytest
import yaml
from support.clock import ManualClock
from support.drivers import FakeKube, FakeTalos, configured

from talos_platform.engine.config.loading import dump_config
from talos_platform.engine.config.models import Node, Role
from talos_platform.engine.drivers.protocols import NODES, PODS, EtcdMember
from talos_platform.engine.drivers.talosctl import parse_etcd_member_list
from talos_platform.engine.errors import PermanentError, TransientError, UserError
from talos_platform.engine.layers.node_add import ClusterReadyForNode, NodeJoined, node_add_steps
from talos_platform.engine.layers.node_membership import NodesInConfigFile, with_nodes
from talos_platform.engine.layers.node_remove import (
    DrainNode,
    LeaveCluster,
    NodeRemovalPreflight,
    node_remove_steps,
)
from talos_platform.engine.operations.node_add import before_and_after, node_add_plan
from talos_platform.engine.operations.node_remove import node_remove_plan

from .helpers import make_context, platform_config

THREE = platform_config(control_planes=3, workers=2)
FIVE = platform_config(control_planes=5, workers=2)


def members(*names: str, learners: tuple[str, ...] = ()) -> list[EtcdMember]:
    return [EtcdMember(f"{index:016x}", name, learner=name in learners) for index, name in enumerate(names, 1)]


def node(name: str, ready: bool = True, unschedulable: bool = False) -> dict:
    status = "True" if ready else "False"
    return {
        "metadata": {"name": name},
        "spec": {"unschedulable": True} if unschedulable else {},
        "status": {"conditions": [{"type": "Ready", "status": status}]},
    }


def context(tmp_path, config, *, etcd=None, down=(), kube=None):
    talos = FakeTalos()
    for n in config.nodes:
        address = config.node_ip(n)
        if n.name not in down:
            talos.secure[address] = configured(address)
        if n.role is Role.control_plane and n.name not in down:
            talos.members[address] = list(etcd or [])
    ctx, lines = make_context(config, tmp_path, talos=talos, kube=kube or FakeKube())
    ctx.clock = ManualClock()
    ctx.state.talosconfig.parent.mkdir(parents=True, exist_ok=True)
    ctx.state.talosconfig.write_text(yaml.safe_dump({"context": "demo", "contexts": {"demo": {}}}))
    return ctx, lines, talos


def test_the_etcd_member_table_gives_ids_and_learners():
    text = (
        "NODE        ID                 HOSTNAME   PEER URLS                 CLIENT URLS               LEARNER\n"
        "10.0.0.11   2a9cc2d7b8c4f0a1   cp-1       https://10.0.0.11:2380    https://10.0.0.11:2379    false\n"
        "10.0.0.11   0f3e1b2c3d4e5f60   cp-4       https://10.0.0.14:2380    https://10.0.0.14:2379    true\n"
    )
    assert [(m.member_id, m.hostname, m.learner) for m in parse_etcd_member_list(text)] == [
        ("2a9cc2d7b8c4f0a1", "cp-1", False),
        ("0f3e1b2c3d4e5f60", "cp-4", True),
    ]
    with pytest.raises(ValueError):
        parse_etcd_member_list("something else\n")


# --- remove: refusals -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "name", "refusal"),
    [
        (THREE, "cp-2", "leaves 2 control planes"),
        (platform_config(control_planes=1, workers=2), "cp-1", "the only control plane"),
        (platform_config(control_planes=3, workers=1), "w-1", "the last worker"),
        (THREE, "cp-9", "no node named cp-9"),
    ],
)
def test_a_removal_the_config_forbids_is_refused_before_anything_runs(config, name, refusal):
    with pytest.raises(UserError, match=refusal):
        node_remove_plan(config, {"name": name})


async def test_a_removal_that_would_lose_quorum_is_refused_naming_the_unhealthy(tmp_path):
    ctx, _, _ = context(tmp_path, FIVE, etcd=members("cp-1", "cp-2", "cp-3", "cp-4", "cp-5"), down=("cp-2", "cp-3"))
    after = with_nodes(FIVE, [n for n in FIVE.nodes if n.name != "cp-1"])
    step = NodeRemovalPreflight(FIVE, after, FIVE.nodes[0])

    with pytest.raises(PermanentError, match="below quorum: 4 member.*need 3.*only 2.*not healthy: cp-2, cp-3"):
        await step.check(ctx)


async def test_a_removal_that_keeps_quorum_passes(tmp_path):
    ctx, _, _ = context(tmp_path, FIVE, etcd=members("cp-1", "cp-2", "cp-3", "cp-4", "cp-5"), down=("cp-2",))
    after = with_nodes(FIVE, [n for n in FIVE.nodes if n.name != "cp-1"])

    check = await NodeRemovalPreflight(FIVE, after, FIVE.nodes[0]).check(ctx)

    assert check.done and "3 of 4 members healthy" in check.reason


def test_a_control_plane_removal_snapshots_from_one_that_stays_and_writes_the_file_last(tmp_path):
    steps = node_remove_steps(FIVE, with_nodes(FIVE, FIVE.nodes[1:]), FIVE.nodes[0], tmp_path / "p.yaml")

    assert [s.id for s in steps] == [
        "N.preflight",
        "E.snapshot",
        "N.drain.cp-1",
        "N.reset.cp-1",
        "N.delete-node.cp-1",
        "L0.talosconfig-endpoints",
        "N.config",
    ]
    assert "cp-1" not in steps[1].inputs()


# --- remove: drain, reset, the etcd member left behind -----------------------------------------


async def test_the_drain_cordons_then_drains_and_a_blocking_budget_fails_it(tmp_path):
    kube = FakeKube().put(NODES, node("w-1"))
    kube.put(PODS, {"metadata": {"name": "web-1", "namespace": "apps"}, "spec": {"nodeName": "w-1"}})
    ctx, _, _ = context(tmp_path, THREE, kube=kube)
    step = DrainNode(THREE, THREE.nodes[3], needs=())

    check = await step.check(ctx)
    assert not check.done and [a.command[3] for a in check.actions] == ["cordon", "drain"]
    assert "--ignore-daemonsets" in check.actions[1].command
    kube.drain_blocked = "Cannot evict pod as it would violate the pod's disruption budget."
    with pytest.raises(PermanentError, match="disruption budget"):
        await step.apply(ctx, check)
    assert [c[0] for c in kube.calls if c[0] in ("cordon_node", "drain_node")] == ["cordon_node", "drain_node"]


async def test_with_the_escape_a_drain_a_budget_refuses_deletes_the_pods_and_names_them(tmp_path):
    kube = FakeKube().put(NODES, node("w-1"))
    kube.put(PODS, {"metadata": {"name": "web-1", "namespace": "apps"}, "spec": {"nodeName": "w-1"}})
    kube.drain_blocked = "Cannot evict pod as it would violate the pod's disruption budget."
    ctx, lines, _ = context(tmp_path, THREE, kube=kube)
    step = DrainNode(THREE, THREE.nodes[3], needs=(), delete_if_eviction_fails=True)

    check = await step.check(ctx)
    assert (
        "--disable-eviction" in check.actions[2].command
        and "--delete-if-eviction-fails" in check.actions[2].description
    )
    await step.apply(ctx, check)

    drains = [c for c in kube.calls if c[0] == "drain_node"]
    assert drains == [("drain_node", "w-1"), ("drain_node", "w-1", "--disable-eviction")]
    assert any(line.startswith("!!! DELETING the pods left on w-1") and "apps/web-1" in line for line in lines)
    assert step.inputs()["delete_if_eviction_fails"]


async def test_a_cordoned_node_with_only_daemonset_pods_is_drained(tmp_path):
    kube = FakeKube().put(NODES, node("w-1", unschedulable=True))
    kube.put(
        PODS,
        {
            "metadata": {"name": "cilium-x", "namespace": "kube-system", "ownerReferences": [{"kind": "DaemonSet"}]},
            "spec": {"nodeName": "w-1"},
        },
    )
    ctx, _, _ = context(tmp_path, THREE, kube=kube)
    assert (await DrainNode(THREE, THREE.nodes[3], needs=()).check(ctx)).done


async def test_a_running_control_plane_is_reset_gracefully(tmp_path):
    ctx, lines, talos = context(tmp_path, THREE, etcd=members("cp-1", "cp-2", "cp-3"))
    step = LeaveCluster(THREE, THREE.nodes[2], needs=())

    check = await step.check(ctx)
    assert not check.done and check.actions[0].command[-3:] == ("reset", "--graceful=true", "--reboot=false")
    await step.apply(ctx, check)
    for address in ("10.0.0.11", "10.0.0.12"):  # it left etcd
        talos.members[address] = members("cp-1", "cp-2")
    await step.wait(ctx)

    assert ("reset_node", "10.0.0.13") in talos.calls
    assert not any(c[0] == "etcd_remove_member" for c in talos.calls)
    assert lines[-1] == "cp-3 left the cluster and etcd"


async def test_a_dead_control_plane_shows_its_member_id_and_node_and_needs_it_given_back(tmp_path):
    etcd = members("cp-1", "cp-2", "cp-3")
    ctx, _, talos = context(tmp_path, THREE, etcd=etcd, down=("cp-3",))
    step = LeaveCluster(THREE, THREE.nodes[2], needs=())

    with pytest.raises(PermanentError, match=f"member {etcd[2].member_id} .*node cp-3 at 10.0.0.13") as refused:
        await step.check(ctx)
    assert f"--remove-etcd-member {etcd[2].member_id}" in refused.value.hint

    ctx.allowed = frozenset({"remove-etcd-member:ffffffffffffffff"})  # another member's ID: not this one
    with pytest.raises(PermanentError):
        await step.check(ctx)

    ctx.allowed = frozenset({f"remove-etcd-member:{etcd[2].member_id}"})
    check = await step.check(ctx)
    assert check.actions[0].command[-3:] == ("etcd", "remove-member", etcd[2].member_id)
    await step.apply(ctx, check)
    await step.wait(ctx)
    assert ("etcd_remove_member", "10.0.0.11", etcd[2].member_id) in talos.calls


async def test_a_failed_reset_falls_back_only_for_a_node_gone_and_the_member_given_back(tmp_path):
    etcd = members("cp-1", "cp-2", "cp-3")
    ctx, lines, talos = context(tmp_path, THREE, etcd=etcd)
    talos.reset_fails = "rpc error: leaving etcd: context deadline exceeded"
    step = LeaveCluster(THREE, THREE.nodes[2], needs=())

    check = await step.check(ctx)
    with pytest.raises(PermanentError, match=f"failed .*still runs, so its etcd member {etcd[2].member_id} is not"):
        await step.apply(ctx, check)  # a member removed under a running node would rejoin

    talos.secure.pop("10.0.0.13")  # it went away during the reset
    with pytest.raises(PermanentError, match=f"graceful reset of cp-3 failed.*member {etcd[2].member_id}"):
        await step.apply(ctx, check)
    assert not any(c[0] == "etcd_remove_member" for c in talos.calls)

    ctx.allowed = frozenset({f"remove-etcd-member:{etcd[2].member_id}"})
    await step.apply(ctx, check)
    assert ("etcd_remove_member", "10.0.0.11", etcd[2].member_id) in talos.calls


async def test_a_worker_that_no_longer_answers_has_nothing_to_reset(tmp_path):
    ctx, _, _ = context(tmp_path, THREE, down=("w-1",))
    assert (await LeaveCluster(THREE, THREE.nodes[3], needs=()).check(ctx)).done


# --- add ------------------------------------------------------------------------------------------


def test_a_new_node_is_validated_as_the_install_validates_it():
    one = platform_config(control_planes=1, workers=1)
    with pytest.raises(UserError, match="2 control planes"):
        node_add_plan(one, {"node": {"name": "cp-2", "address": "10.0.0.12/24", "role": "control-plane"}})
    with pytest.raises(UserError, match="nodes\\[2\\].address"):
        node_add_plan(one, {"node": {"name": "w-2", "address": "10.0.0.21/24"}})
    with pytest.raises(UserError, match="already has a node named w-1"):
        node_add_plan(one, {"node": {"name": "w-1", "address": "10.0.0.29/24"}})
    with pytest.raises(UserError, match="which node"):
        node_add_plan(one, {})


def test_a_node_the_config_lists_already_is_the_one_being_added():
    new = Node(name="w-3", address="10.0.0.23/24")
    before, after = before_and_after(with_nodes(THREE, [*THREE.nodes, new]), new)
    assert [n.name for n in before.nodes] == [n.name for n in THREE.nodes]
    assert after.nodes[-1] == new


def test_a_control_plane_is_added_after_a_snapshot_and_the_file_comes_first(tmp_path):
    new = Node(name="cp-4", address="10.0.0.14/24", role=Role.control_plane, link="eth0")
    before, after = before_and_after(with_nodes(FIVE, FIVE.nodes[1:]), new)
    steps = {s.id: s for s in node_add_steps(before, after, new, tmp_path / "p.yaml")}

    assert list(steps)[0] == "N.config"
    assert "E.snapshot" in steps["L0.apply-config.cp-4"].needs
    assert steps["N.join.cp-4"].needs == ("L0.apply-config.cp-4",)


async def test_a_control_plane_joins_only_onto_an_etcd_where_every_member_votes(tmp_path):
    ctx, _, _ = context(tmp_path, THREE, etcd=members("cp-1", "cp-2", "cp-3", learners=("cp-3",)))
    ctx.state.talos_secrets.write_text("bundle")
    new = Node(name="cp-4", address="10.0.0.14/24", role=Role.control_plane)
    with pytest.raises(TransientError, match="cp-3 are still learners"):
        await ClusterReadyForNode(THREE, new, needs=()).check(ctx)


async def test_a_joined_control_plane_still_a_learner_is_waited_for_then_named(tmp_path):
    new = Node(name="cp-4", address="10.0.0.14/24", role=Role.control_plane, link="eth0")
    after = with_nodes(THREE, [*THREE.nodes, new])
    etcd = members("cp-1", "cp-2", "cp-3", "cp-4", learners=("cp-4",))
    ctx, lines, _ = context(tmp_path, after, etcd=etcd, kube=FakeKube().put(NODES, node("cp-4")))
    step = NodeJoined(after, new, needs=())

    check = await step.check(ctx)
    assert not check.done and "still a learner" in check.reason
    with pytest.raises(PermanentError, match=f"etcd member {etcd[3].member_id} is still a learner"):
        await step.wait(ctx)


async def test_the_config_file_gets_the_node_with_its_comments_kept(tmp_path):
    path = tmp_path / "platform.yaml"
    text = "# my cluster\n" + dump_config(THREE).replace("name: w-2\n", "name: w-2  # the noisy one\n")
    path.write_text(text)
    new = Node(name="w-3", address="10.0.0.23/24")
    step = NodesInConfigFile(with_nodes(THREE, [*THREE.nodes, new]), path, layer=0, what="add node w-3")
    ctx, lines, _ = context(tmp_path, THREE)

    check = await step.check(ctx)
    assert "+- name: w-3" in check.actions[0].description
    await step.apply(ctx, check)

    written = path.read_text()
    assert written.startswith("# my cluster\n") and "# the noisy one" in written and "name: w-3" in written
    assert (tmp_path / "platform.yaml.bak").read_text() == text
    assert (await step.check(ctx)).done
