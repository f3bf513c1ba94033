"""docs/install-steps.md names every step of the install, and no step that does not exist.

The ids come from the real plans of both examples (plus the push step, which a remote repository
gets only with `install --push`); a node's own steps are written with `NAME` for its name.
"""

from __future__ import annotations

import re
from pathlib import Path

from talos_platform.engine.config.loading import load_config
from talos_platform.engine.layers import platform_steps

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "install-steps.md").read_text()
EXAMPLES = (ROOT / "examples" / "metal-3cp-3w.yaml", ROOT / "examples" / "docker-single.yaml")


def documented_form(step_id: str, node_names: list[str]) -> str:
    """`L0.apply-config.cp-1` is documented as `L0.apply-config.NAME`."""
    for name in node_names:
        if step_id.endswith(f".{name}"):
            return step_id[: -len(name)] + "NAME"
    return step_id


def plan_ids() -> dict[str, str]:
    """Every step id of both examples' plans, as documented, with the example it comes from."""
    ids: dict[str, str] = {}
    for path in EXAMPLES:
        config = load_config(path)
        names = [node.name for node in config.nodes]
        for step in platform_steps(config, push=True):
            ids.setdefault(documented_form(step.id, names), path.name)
    return ids


def documented_ids() -> set[str]:
    return set(re.findall(r"`(L[0-9]\.[^`\s]+)`", DOC))


def test_every_step_of_both_examples_is_documented():
    missing = [f"{step_id} ({example})" for step_id, example in plan_ids().items() if step_id not in documented_ids()]
    assert missing == []


def test_every_documented_step_exists():
    assert sorted(documented_ids() - set(plan_ids())) == []


def test_the_plans_hold_the_steps_the_doc_is_about():
    # Guards the test itself: both platforms, every layer and a node's own steps are seen.
    ids = plan_ids()
    assert {"L0.docker-cluster", "L0.apply-config.NAME", "L2.push", "L4.applications"} <= set(ids)
    assert {step_id[:2] for step_id in ids} == {"L0", "L1", "L2", "L3", "L4"}
