"""Issue 14, item 8: a node given another role in the wizard drops what was its old role's (the
name suggested for that role, the link it had for the VIP), and the name and link questions
suggest again for the new role; default names never collide with another node's."""

from __future__ import annotations

from pathlib import Path

from wizard_terminal import DOWN, ENTER, UP, ScriptedTerminal, expect

from talos_platform.engine.config.loading import read_config
from talos_platform.wizards.answers import Answers, suggested_node_name
from talos_platform.wizards.flow import run_questions
from talos_platform.wizards.sections import node_questions

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "metal-3cp-3w.yaml"


def ask_about_node(answers: Answers, index: int, role_keys: str) -> dict:
    """Node `index + 1`'s questions, the role chosen with `role_keys`, every other default taken."""
    label = f"Node {index + 1}"
    steps = [
        expect(f"{label}: role", role_keys),
        expect(f"{label}: name"),
        expect(f"{label}: IP address"),
        expect(f"{label}: install disk"),
        expect(f"{label}: network interface"),
    ]
    ScriptedTerminal(steps).run(
        lambda console: run_questions(answers, console, node_questions(index, offer_another=False))
    )
    return answers.nodes[index]


def test_a_control_plane_switched_to_worker_drops_its_vip_link_and_its_cp_name():
    # The example's control planes carry the VIP on enp1s0; its workers use enp2s0.
    answers = Answers.from_config(read_config(EXAMPLE))
    node = ask_about_node(answers, 2, DOWN + ENTER)  # cp-3 becomes a worker

    assert node["role"] == "worker"
    assert node["link"] == "enp2s0"  # the workers' link, not the VIP's enp1s0
    assert node["name"] == "worker-4"  # not cp-3, and none of worker-1..3
    assert node["address"] == "192.168.10.13/24"  # what is not the role's own stays
    names = [n["name"] for n in answers.nodes]
    assert len(set(names)) == len(names)


def test_a_worker_switched_to_control_plane_gets_a_cp_name_and_keeps_its_link():
    answers = Answers.from_config(read_config(EXAMPLE))
    node = ask_about_node(answers, 3, UP + ENTER)  # worker-1 becomes a control plane

    # A worker's link carried no VIP: the machine's interface stays.
    assert (node["role"], node["name"], node["link"]) == ("control-plane", "cp-4", "enp2s0")


def test_a_node_whose_role_stays_keeps_its_name_and_link():
    answers = Answers.from_config(read_config(EXAMPLE))
    node = ask_about_node(answers, 2, ENTER)

    assert (node["role"], node["name"], node["link"]) == ("control-plane", "cp-3", "enp1s0")


def test_a_name_of_ones_own_choosing_is_kept_when_the_role_changes():
    answers = Answers.from_config(read_config(EXAMPLE))
    answers.nodes[2]["name"] = "rack2-node7"
    node = ask_about_node(answers, 2, DOWN + ENTER)

    assert (node["role"], node["name"]) == ("worker", "rack2-node7")


def test_suggested_names_never_repeat_a_name_already_given():
    """Names in any order and of either pattern: the suggestion is the first number free."""
    answers = Answers.from_config(read_config(EXAMPLE))
    answers.nodes[0]["name"] = "worker-4"  # a control plane the user named like a worker
    answers.nodes[4]["name"] = "cp-1"  # and a worker like a control plane
    index = answers.add_node()
    answers.nodes[index]["role"] = "worker"
    assert suggested_node_name(answers, index) == "worker-2"
    answers.nodes[index]["role"] = "control-plane"
    assert suggested_node_name(answers, index) == "cp-4"
