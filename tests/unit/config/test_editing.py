"""Editing a config file keeps what the user wrote: comments, order, layout; only changed values
change."""

import pytest

from talos_platform.engine.config.editing import ConfigEdit, edited_text
from talos_platform.engine.config.loading import dump_config, parse_config

from .helpers import DOCKER_EXAMPLE, METAL_EXAMPLE


@pytest.mark.parametrize("example", [METAL_EXAMPLE, DOCKER_EXAMPLE], ids=["metal", "docker"])
def test_an_unchanged_config_leaves_the_file_byte_for_byte(example):
    text = example.read_text()

    edit = ConfigEdit(text, edited_text(text, parse_config(text)))

    assert not edit.changed and edit.diff == []


def test_a_changed_value_keeps_its_comment_and_every_other_line():
    text = METAL_EXAMPLE.read_text()
    config = parse_config(text)
    config.cluster.vip = "192.168.10.11"

    after = edited_text(text, config)

    changed = [(a, b) for a, b in zip(text.splitlines(), after.splitlines(), strict=True) if a != b]
    assert len(changed) == 1
    assert changed[0][1].startswith("  vip: 192.168.10.11 ") and "# unused IP" in changed[0][1]
    assert after.startswith("# yaml-language-server: $schema=")


def test_a_removed_node_takes_only_its_own_lines():
    text = METAL_EXAMPLE.read_text()
    config = parse_config(text)
    removed = config.nodes.pop(4)

    after = edited_text(text, config)

    assert f"name: {removed.name}" not in after
    assert parse_config(after) == config
    assert len(text.splitlines()) - len(after.splitlines()) == 5  # name, address, role, disk, link


def test_defaults_the_file_leaves_out_stay_out_and_a_new_value_lands_in_its_section():
    text = DOCKER_EXAMPLE.read_text()
    config = parse_config(text)
    config.cluster.extra_api_sans = ["k8s.local.dev"]

    after = edited_text(text, config)

    assert after.splitlines()[:5] == text.splitlines()[:5]  # the comments on top
    assert "bpfMasquerade" not in after  # a default the file never named
    assert "extraApiSans:" in after.split("nodes:", 1)[0]  # in `cluster`, not appended at the end
    assert parse_config(after) == config


def test_a_file_that_is_no_longer_yaml_is_written_fresh():
    config = parse_config(DOCKER_EXAMPLE.read_text())

    assert edited_text("cluster: [unclosed", config) == dump_config(config)
