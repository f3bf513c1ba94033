"""The upgrade's gates: `--gate-condition` parsed and refused up front naming the flag, the
ArgoCD baseline (what was out of line before is named, not gated), etcd member health, and an
object's condition with its current status and message."""

import dataclasses

import pytest
from support.cluster_data import etcd_healths
from support.drivers import FakeKube, FakeTalos

from talos_platform.engine.drivers.protocols import APPLICATIONS, DEPLOYMENTS, Drivers, EtcdAlarm, EtcdHealth
from talos_platform.engine.errors import PermanentError, UserError
from talos_platform.engine.layers.upgrade_gates import (
    AppsBaseline,
    ArgoBaseline,
    apps_not_back,
    condition_not_met,
    etcd_not_healthy,
    parse_gate_condition,
    read_baseline,
    take_baseline,
    write_baseline,
)
from talos_platform.engine.state import StateDirectory

from .helpers import make_context, platform_config

CONFIG = platform_config(control_planes=3, workers=1)
PLANES = tuple(CONFIG.node_ip(node) for node in CONFIG.control_planes)


@pytest.mark.parametrize(
    ("text", "kind", "name", "namespace", "condition", "status"),
    [
        ("deployment/web:shop=Available", "Deployment", "web", "shop", "Available", "True"),
        ("deploy/web:shop=Progressing=false", "Deployment", "web", "shop", "Progressing", "False"),
        ("node/worker-1=Ready", "Node", "worker-1", None, "Ready", "True"),
        ("job/migrate:shop=Complete", "Job", "migrate", "shop", "Complete", "True"),
        (
            "cephclusters.v1.ceph.rook.io/rook-ceph:rook-ceph=Ready",
            "cephclusters",
            "rook-ceph",
            "rook-ceph",
            "Ready",
            "True",
        ),
        ("clusterissuers.v1.cert-manager.io/letsencrypt=Ready", "clusterissuers", "letsencrypt", None, "Ready", "True"),
    ],
)
def test_a_gate_condition_names_a_kind_an_object_and_a_condition(text, kind, name, namespace, condition, status):
    gate = parse_gate_condition(text)
    assert (gate.resource.kind, gate.name, gate.namespace, gate.condition, gate.status) == (
        kind,
        name,
        namespace,
        condition,
        status,
    )
    assert gate.resource.namespaced == (namespace is not None)
    assert gate.text == text


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("deployment/web:shop", "no condition: add =CONDITION"),
        ("deployment/web=Available", "a Deployment lives in a namespace: add :NAMESPACE"),
        ("node/worker-1:default=Ready", "a Node has no namespace: drop :default"),
        ("widget/web:shop=Ready", "unknown kind 'widget'"),
        ("web=Available", "no KIND/NAME before the condition"),
        ("deployment/Web_1:shop=Available", "'Web_1' is no Kubernetes object name"),
        ("deployment/web:shop=Available=maybe", "must be True, False or Unknown"),
        ("deployment/web:shop=has space", "is no condition type"),
    ],
)
def test_a_bad_gate_condition_is_refused_naming_the_flag_and_the_syntax(text, refusal):
    with pytest.raises(UserError, match=refusal) as raised:
        parse_gate_condition(text)
    assert raised.value.where == "--gate-condition"
    assert "KIND/NAME[:NAMESPACE]=CONDITION[=STATUS]" in (raised.value.hint or "")


def app(name: str, sync: str = "Synced", health: str = "Healthy") -> dict:
    return {
        "metadata": {"name": name, "namespace": "argocd"},
        "status": {"sync": {"status": sync}, "health": {"status": health}},
    }


def test_the_baseline_gates_what_was_in_line_and_names_the_rest():
    baseline = take_baseline([app("vault"), app("blog", "OutOfSync"), app("shop", health="Degraded")])

    assert baseline.gated == ("vault",)
    assert baseline.describe_not_gated() == (
        "not gated: blog (was OutOfSync/Healthy before the upgrade), shop (was Synced/Degraded before the upgrade)"
    )
    # Still out of line as before: nothing to wait for; an app the upgrade took out of line is named.
    assert apps_not_back([app("vault"), app("blog", "OutOfSync"), app("shop", health="Degraded")], baseline) is None
    assert apps_not_back([app("vault", "OutOfSync", "Healthy"), app("blog", "OutOfSync")], baseline) == (
        "ArgoCD Applications not Synced and Healthy again: vault (OutOfSync/Healthy)"
    )
    assert apps_not_back([], baseline) == "ArgoCD Applications not Synced and Healthy again: vault (gone)"


def test_without_a_baseline_every_application_is_gated():
    assert apps_not_back([app("blog", "OutOfSync")], None) == (
        "ArgoCD Applications not Synced and Healthy again: blog (OutOfSync/Healthy)"
    )


def test_the_baseline_is_kept_per_target_version_in_the_state_directory(tmp_path):
    state = StateDirectory(tmp_path / "state")
    baseline = AppsBaseline(("vault",), (("blog", "OutOfSync/Healthy"),))

    assert read_baseline(state, "v1.12.1") is None
    write_baseline(state, "v1.12.1", baseline)
    assert read_baseline(state, "v1.12.1") == baseline
    assert read_baseline(state, "v1.12.2") is None  # another upgrade takes its own

    (tmp_path / "state" / "upgrades" / "talos-v1.12.1-argocd-baseline.json").write_text("{not json")
    with pytest.raises(PermanentError, match="cannot be read") as raised:
        read_baseline(state, "v1.12.1")  # never silently re-taken mid-upgrade
    assert "delete it" in raised.value.hint


async def test_the_baseline_step_records_once_and_a_resumed_run_keeps_the_first_runs(tmp_path):
    kube = FakeKube().put(APPLICATIONS, app("vault"), app("blog", "OutOfSync"))
    ctx, lines = make_context(CONFIG, tmp_path, kube=kube)
    step = ArgoBaseline(CONFIG, "v1.12.1", needs=())

    check = await step.check(ctx)
    assert not check.done
    assert check.reason == (
        "ArgoCD baseline: 1 Applications Synced and Healthy, gated; not gated: blog (was OutOfSync/Healthy before "
        "the upgrade)"
    )
    assert check.actions == step.planned_actions(ctx)
    await step.apply(ctx, check)
    assert "; recorded in " in lines[-1]

    kube.put(APPLICATIONS, app("vault", "OutOfSync"))  # the upgrade took vault out of line
    again = await step.check(ctx)
    assert again.done and again.reason.startswith("ArgoCD baseline: 1 Applications Synced and Healthy, gated;")
    assert again.reason.endswith("(recorded when this upgrade started)")
    assert read_baseline(ctx.state, "v1.12.1").gated == ("vault",)


def drivers_with(healths: dict) -> Drivers:
    talos = FakeTalos()
    talos.etcd_healths.update(healths)
    return Drivers(talos=talos, kube=FakeKube())


async def test_healthy_etcd_passes():
    assert await etcd_not_healthy(drivers_with(etcd_healths(addresses=PLANES)), CONFIG) is None


async def test_a_learner_is_named_with_its_member_id_and_node_and_an_alarm_with_its_member():
    troubled = etcd_healths(troubled=True, addresses=PLANES)

    waiting = await etcd_not_healthy(drivers_with(troubled), CONFIG)

    learner_id = troubled[PLANES[2]].status.member_id
    alarmed_id = troubled[PLANES[0]].status.member_id
    assert f"etcd member {learner_id} on cp-3 is still a learner (not promoted to voting)" in waiting
    assert f"etcd alarm NOSPACE on cp-1 (member {alarmed_id})" in waiting


async def test_a_control_plane_whose_etcd_does_not_answer_or_that_is_no_member_holds_the_gate():
    healths = etcd_healths(addresses=PLANES)
    healths[PLANES[1]] = EtcdHealth(PLANES[1], error="rpc error: code = Unavailable")
    assert await etcd_not_healthy(drivers_with(healths), CONFIG) == (
        "etcd on cp-2 does not answer: rpc error: code = Unavailable"
    )

    healths = etcd_healths(addresses=PLANES)
    without_cp3 = tuple(m for m in healths[PLANES[0]].members if m.hostname != "cp-3")
    healths = {address: dataclasses.replace(h, members=without_cp3) for address, h in healths.items()}
    assert await etcd_not_healthy(drivers_with(healths), CONFIG) == "cp-3 is not an etcd member"


async def test_a_corrupt_alarm_alone_holds_the_gate():
    healths = etcd_healths(addresses=PLANES)
    cp2 = healths[PLANES[1]].status.member_id
    healths = {a: dataclasses.replace(h, alarms=(EtcdAlarm(cp2, "CORRUPT"),)) for a, h in healths.items()}
    assert await etcd_not_healthy(drivers_with(healths), CONFIG) == f"etcd alarm CORRUPT on cp-2 (member {cp2})"


def deployment(conditions: list[dict]) -> dict:
    return {"metadata": {"name": "web", "namespace": "shop"}, "status": {"conditions": conditions}}


async def test_a_condition_gate_says_which_object_and_its_conditions_status_and_message():
    gate = parse_gate_condition("deployment/web:shop=Available")
    kube = FakeKube()
    assert await condition_not_met(kube, gate) == "Deployment web in shop does not exist"

    kube.put(DEPLOYMENTS, deployment([{"type": "Progressing", "status": "True"}]))
    assert await condition_not_met(kube, gate) == "Deployment web in shop has no condition Available yet"

    unavailable = {
        "type": "Available",
        "status": "False",
        "reason": "MinimumReplicasUnavailable",
        "message": "Deployment does not have minimum availability.",
    }
    kube.put(DEPLOYMENTS, deployment([unavailable]))
    assert await condition_not_met(kube, gate) == (
        "Deployment web in shop: Available is False, not True "
        "(MinimumReplicasUnavailable: Deployment does not have minimum availability.)"
    )

    kube.put(DEPLOYMENTS, deployment([{"type": "Available", "status": "True"}]))
    assert await condition_not_met(kube, gate) is None
    assert ("get", "deployments", "shop", "web") in kube.calls
    assert gate.hint().startswith("look at `kubectl describe deployment web -n shop`")
    custom = parse_gate_condition("cephclusters.v1.ceph.rook.io/rook-ceph:rook-ceph=Ready")
    assert custom.hint().startswith("look at `kubectl describe cephclusters.ceph.rook.io rook-ceph -n rook-ceph`")
    assert APPLICATIONS.plural not in {call[1] for call in kube.calls}
