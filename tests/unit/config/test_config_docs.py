"""docs/config.md shows both examples verbatim and documents every key and variable."""

from __future__ import annotations

import re

from talos_platform.engine.config.loading import _model_keys
from talos_platform.engine.config.secrets import ENV_NAMES

from .helpers import DOCKER_EXAMPLE, METAL_EXAMPLE, REPO

DOC = (REPO / "docs" / "config.md").read_text()


def test_examples_are_included_verbatim():
    for path in (METAL_EXAMPLE, DOCKER_EXAMPLE):
        assert f"```yaml\n{path.read_text()}```" in DOC, path.name


def test_every_key_and_environment_variable_is_documented():
    spans = re.findall(r"`([^`\n]+)`", DOC)
    words = {word for span in spans for word in re.split(r"[^A-Za-z]+", span)}
    assert sorted(_model_keys() - words) == []
    for key, variable in ENV_NAMES.items():
        assert f"| `{key}` | `{variable}` |" in DOC


def test_even_control_plane_rule_is_explained():
    assert "2 control planes are refused" in DOC
    assert "4, 6, ... are a warning" in DOC


def test_documented_defaults_match_the_model():
    from talos_platform.engine.config.models import Cluster, ClusterNetwork, GitOps, Node

    models = {"cluster": Cluster, "cluster.network": ClusterNetwork, "nodes[]": Node, "gitops": GitOps}
    checked = 0
    for section, key, default in re.findall(
        r"^\| `([a-zA-Z.\[\]]+)\.([a-zA-Z]+)` \|.*\| `([^`]*)` \|$", DOC, re.MULTILINE
    ):
        model = models.get(section)
        if model is None:
            continue
        field = next(info for name, info in model.model_fields.items() if info.alias == key or name == key)
        value = field.get_default(call_default_factory=True)
        expected = str(value.value if hasattr(value, "value") else value)
        if isinstance(value, bool):
            expected = str(value).lower()
        if isinstance(value, list):
            expected = "[]"
        assert default == expected, f"{section}.{key}"
        checked += 1
    assert checked >= 10
