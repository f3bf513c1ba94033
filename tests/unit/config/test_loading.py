"""Reading and writing config files: every failure is a ConfigInvalid, never a traceback."""

from __future__ import annotations

import itertools
import os
import stat

import pytest
import yaml

from talos_platform.engine.config.loading import (
    ConfigInvalid,
    dump_config,
    format_path,
    load_config,
    parse_config,
    read_config,
    write_config,
)
from talos_platform.engine.errors import UserError

from .helpers import DOCKER_EXAMPLE, METAL_EXAMPLE, example

# Each level repeats the one before ten times: a million values from a few lines.
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]\n" for previous, name in itertools.pairwise("abcdef")
)


def problem_paths(error: ConfigInvalid) -> list[str]:
    return [problem.path for problem in error.problems]


def test_format_path_uses_yaml_terms():
    assert format_path(("nodes", 2, "installDisk")) == "nodes[2].installDisk"
    assert format_path(("cluster", "extraApiSans", 0)) == "cluster.extraApiSans[0]"
    assert format_path(()) == ""


@pytest.mark.parametrize(
    "text, where, says",
    [
        ("cluster: [unclosed\n", "line 2, column 1", "not valid YAML"),
        ("cluster:\n  name: a\n name: b\n", "line 3, column 2", "not valid YAML"),
        ("cluster:\n\tname: a\n", "line 2, column 1", "not valid YAML"),
        ("kind: Platform\nkind: Platform\n", "line 2, column 1", "duplicate key 'kind'"),
        ("", "", "empty"),
        ("# only a comment\n", "", "empty"),
        ("- a\n- b\n", "", "mapping"),
        ("just text\n", "", "mapping"),
        ("a: &loop [*loop]\n", "", "contains itself"),
        (ALIAS_BOMB, "", "far more values"),
    ],
    ids=["unclosed", "indent", "tab", "duplicate", "empty", "comment", "list", "text", "recursive", "alias-bomb"],
)
def test_unreadable_yaml_is_one_clear_problem(text, where, says):
    with pytest.raises(ConfigInvalid) as raised:
        parse_config(text, "platform.yaml")
    [problem] = raised.value.problems
    assert problem.path == where
    assert says in problem.message
    assert problem.hint


def test_missing_file(tmp_path):
    with pytest.raises(ConfigInvalid) as raised:
        read_config(tmp_path / "nope.yaml")
    assert "file not found" in str(raised.value)
    assert isinstance(raised.value, UserError)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(ConfigInvalid) as raised:
        read_config(tmp_path)
    assert "directory" in raised.value.problems[0].message


def test_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigInvalid) as raised:
        read_config(path)
    assert "UTF-8" in raised.value.problems[0].message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.yaml"
    path.write_text("kind: Platform\n")
    path.chmod(0)
    with pytest.raises(ConfigInvalid) as raised:
        read_config(path)
    assert "permission denied" in raised.value.problems[0].message


def test_unknown_api_version_names_the_supported_one():
    data = example(METAL_EXAMPLE)
    data["apiVersion"] = "talos-platform.dev/v1beta7"
    with pytest.raises(ConfigInvalid) as raised:
        parse_config(yaml.safe_dump(data))
    [problem] = raised.value.problems
    assert problem.path == "apiVersion"
    assert "'talos-platform.dev/v1beta7'" in problem.message
    assert "talos-platform.dev/v1alpha1" in problem.message


def test_unknown_key_suggests_the_close_one():
    data = example(METAL_EXAMPLE)
    data["nodes"][0]["instalDisk"] = data["nodes"][0].pop("installDisk")
    with pytest.raises(ConfigInvalid) as raised:
        parse_config(yaml.safe_dump(data))
    [problem] = raised.value.problems
    assert problem.path == "nodes[0].instalDisk"
    assert "did you mean `installDisk`?" in problem.hint


def test_missing_field_hint_comes_from_the_field_docstring():
    data = example(METAL_EXAMPLE)
    del data["gitops"]["repoUrl"]
    with pytest.raises(ConfigInvalid) as raised:
        parse_config(yaml.safe_dump(data))
    [problem] = raised.value.problems
    assert (problem.path, problem.message) == ("gitops.repoUrl", "is required")
    assert "ArgoCD syncs from" in problem.hint


def test_secret_looking_values_are_never_echoed():
    data = example(METAL_EXAMPLE)
    data["cluster"]["apiToken"] = "canary-value-123456"
    with pytest.raises(ConfigInvalid) as raised:
        parse_config(yaml.safe_dump(data))
    assert "canary-value-123456" not in str(raised.value)
    assert "secrets file" in raised.value.problems[0].hint


def test_load_config_refuses_rule_errors_with_all_of_them(tmp_path):
    data = example(METAL_EXAMPLE)
    data["cluster"]["vip"] = "192.168.10.11"
    data["domain"]["base"] = "nodots"
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(data))
    assert read_config(path).cluster.vip == "192.168.10.11"  # the shape is fine
    with pytest.raises(ConfigInvalid) as raised:
        load_config(path)
    assert sorted(problem_paths(raised.value)) == ["cluster.vip", "domain.base"]
    text = str(raised.value)
    assert text.startswith(f"{path}: 2 problems")
    assert "error: cluster.vip: " in text and "error: domain.base: " in text


def test_load_config_accepts_warnings(tmp_path):
    data = example(METAL_EXAMPLE)
    data["domain"]["acmeEmail"] = "me@example.com"
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(data))
    assert load_config(path).domain.acme_email == "me@example.com"


@pytest.mark.parametrize("source", [METAL_EXAMPLE, DOCKER_EXAMPLE])
def test_dump_then_parse_round_trips(source):
    config = read_config(source)
    text = dump_config(config)
    assert parse_config(text) == config
    assert dump_config(parse_config(text)) == text  # stable


def test_dump_is_camel_case_in_field_order_without_unset_values():
    config = read_config(DOCKER_EXAMPLE)
    data = yaml.safe_load(dump_config(config))
    assert list(data) == ["apiVersion", "kind", "cluster", "nodes", "domain", "gitops", "components", "storage"]
    assert "vip" not in data["cluster"] and "extraApiSans" not in data["cluster"]
    assert data["nodes"][0]["installDisk"] == "/dev/sda"
    assert data["components"]["cloudflareTunnel"] == {"enabled": False, "version": "2026.9.1"}


def test_write_config_is_atomic_and_leaves_no_temp_files(tmp_path):
    config = read_config(METAL_EXAMPLE)
    path = tmp_path / "platform.yaml"
    path.write_text("old content\n")
    write_config(path, config, header="# yaml-language-server: $schema=schema.json")
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=schema.json\napiVersion: ")
    assert read_config(path) == config
    assert sorted(p.name for p in tmp_path.iterdir()) == ["platform.yaml"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_write_config_into_a_missing_folder_fails_without_leftovers(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_config(tmp_path / "missing" / "platform.yaml", read_config(DOCKER_EXAMPLE))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text, says", [("talosVersion: 1.11", "a number"), ("name: no", "true/false")])
def test_unquoted_yaml_scalars_get_a_quoting_hint(text, says):
    key, value = text.split(": ")
    data = example(METAL_EXAMPLE)
    body = yaml.safe_dump(data).replace(f"  {key}: {data['cluster'][key]}\n", f"  {key}: {value}\n")
    with pytest.raises(ConfigInvalid) as raised:
        parse_config(body)
    [problem] = raised.value.problems
    assert problem.path == f"cluster.{key}"
    assert f"YAML reads this unquoted value as {says}: put it in quotes" in problem.hint
