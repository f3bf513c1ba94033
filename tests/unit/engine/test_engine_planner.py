import pytest
from support.steps import FakeStep, FakeWorld

from talos_platform.engine.errors import UserError
from talos_platform.engine.plan.planner import Plan, PlanInvalid


def steps(*specs):
    world = FakeWorld()
    return [FakeStep(step_id, world, layer=layer, needs=tuple(needs)) for step_id, layer, needs in specs]


def test_order_follows_needs_then_layer_then_given_order():
    plan = Plan(
        steps(
            ("apps", 4, ["argocd"]),
            ("argocd", 1, ["cilium"]),
            ("cp-2", 0, ["secrets"]),
            ("cp-1", 0, ["secrets"]),
            ("secrets", 0, []),
            ("cilium", 1, ["cp-1", "cp-2"]),
        )
    )
    assert plan.ids == ("secrets", "cp-2", "cp-1", "cilium", "argocd", "apps")
    assert plan.layers == (0, 1, 4)
    assert [s.id for s in plan.steps_in_layer(1)] == ["cilium", "argocd"]
    assert plan.dependencies("argocd") == {"cilium", "cp-1", "cp-2", "secrets"}
    assert plan.dependents("cp-1") == {"cilium", "argocd", "apps"}
    assert "cilium" in plan and "nope" not in plan and len(plan) == 6


def test_unknown_need_is_named():
    with pytest.raises(PlanInvalid) as raised:
        Plan(steps(("a", 0, ["ghost"])))
    assert "ghost" in str(raised.value) and raised.value.where == "a"


def test_cycle_is_refused_with_the_steps_in_it():
    with pytest.raises(PlanInvalid) as raised:
        Plan(steps(("a", 0, ["c"]), ("b", 0, ["a"]), ("c", 0, ["b"]), ("d", 0, [])))
    message = str(raised.value)
    assert "cycle" in message
    assert {"a", "b", "c"} <= set(message.replace(":", " ").split())
    assert " d " not in f" {message} "


def test_duplicate_ids_and_needs_on_later_layers_are_refused():
    with pytest.raises(PlanInvalid, match="share the id"):
        Plan(steps(("a", 0, []), ("a", 1, [])))
    with pytest.raises(PlanInvalid, match="later layer"):
        Plan(steps(("early", 0, ["late"]), ("late", 2, [])))


def test_unknown_step_lookup_lists_the_known_ones():
    plan = Plan(steps(("a", 0, []), ("b", 0, [])))
    with pytest.raises(UserError) as raised:
        plan.step("c")
    assert "a, b" in str(raised.value)


def test_a_plan_orders_the_given_steps_by_their_needs():
    given = steps(("b", 0, ["a"]), ("a", 0, []))
    assert Plan(given).ids == ("a", "b")
