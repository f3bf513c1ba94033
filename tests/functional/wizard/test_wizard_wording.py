"""The wizard speaks of answers: `Node 2` and the prompt's words, never `nodes[1]` or a config key."""

from __future__ import annotations

from conftest import EXPECTED
from wizard_script import cluster_defaults, metal_node
from wizard_terminal import CTRL_C, CTRL_U, expect, shows

from talos_platform.wizards import prompts, wording
from talos_platform.wizards.answers import Answers
from talos_platform.wizards.secret_fields import secret_question


def test_node_indexes_and_config_keys_become_the_prompts_words():
    text = "'cp-1' is also the name of nodes[0] (set cluster.vip to an unused IP; nodes[3].link is empty)"

    assert wording.in_answers_terms(text) == (
        "'cp-1' is also the name of Node 1 (set “Virtual IP (VIP) of the control planes” to an unused IP; "
        "Node 4's network interface is empty)"
    )
    assert wording.answer_named("nodes[3].address") == "Node 4's IP address with prefix length"
    assert wording.answer_named("domain.base") == "Base domain of the platform's services"
    assert wording.answer_named("kind") == "kind"  # no question sets it: the key stays


def test_a_taken_node_name_is_refused_naming_the_node_as_the_prompts_do(drive):
    steps = [
        *cluster_defaults(),
        *metal_node(1, address="10.0.0.11/24", control_plane=True, another=True),
        expect("? Node 2: role"),
        expect("? Node 2: name", CTRL_U + "cp-1\r"),
        shows("is also the name of Node 1", CTRL_C),
    ]
    run = drive(steps)

    assert "nodes[" not in run.matched_screens[0]


def test_an_emptied_git_user_name_is_not_brought_back(monkeypatch):
    answers = Answers()
    answers.set("gitops.private", True)
    answers.secrets["gitUsername"] = "ops"
    seen = {}

    def answer_with_nothing(message, default="", validate=None, instruction=None):
        seen["default"], seen["problem"] = default, validate("")
        return ""

    monkeypatch.setattr(prompts, "ask_text", answer_with_nothing)
    secret_question("gitUsername").ask(answers, console=None)

    assert seen["default"] == "ops"
    assert seen["problem"] == "ArgoCD needs it to clone the private GitOps repository: enter it here"
    assert "gitUsername" not in answers.secrets


def test_a_given_config_is_where_a_simulated_wizard_starts(drive, folder):
    existing = folder / "cluster.yaml"
    existing.write_text((EXPECTED / "happy-path.yaml").read_text())
    run = drive([expect("? Cluster name", CTRL_C)], config_path=existing, simulate=True)

    assert f"Starting from {existing}" in run.screen.replace("\n", "")
    assert "simulated scenario" not in run.screen
