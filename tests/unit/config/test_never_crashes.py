"""Odd values anywhere in a config give problems, never an exception (no traceback for users)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from talos_platform.engine.config.secrets import Secrets

from .helpers import DOCKER_EXAMPLE, METAL_EXAMPLE, example, problems_for

ODD_VALUES = [
    "",
    " ",
    "-",
    "fd00::/64",
    "fd00::1",
    "10.0.0.1/24",
    "10.0.0.0/8",
    "0.0.0.0/0",
    "255.255.255.255",
    "[::1",
    "https://[::1/x",
    "v999.999.999",
    "é.example.com",
    "a" * 300,
    "line\nbreak",
    None,
    0,
    -1,
    True,
    [],
    {},
    ["x"],
]


def leaves(data: Any, location: tuple = ()) -> Iterator[tuple]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaves(value, (*location, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from leaves(value, (*location, index))
    else:
        yield location


def with_value(data: dict, location: tuple, value: Any) -> dict:
    changed = copy.deepcopy(data)
    target = changed
    for key in location[:-1]:
        target = target[key]
    target[location[-1]] = value
    return changed


@pytest.mark.parametrize("source", [METAL_EXAMPLE, DOCKER_EXAMPLE], ids=["metal", "docker"])
def test_any_odd_value_in_any_field_is_reported_not_raised(source):
    base = example(source)
    base["cluster"].setdefault("network", {})["nodeSubnet"] = "192.168.10.0/24"
    secrets = Secrets(git_token="x")
    checked = 0
    for location in leaves(base):
        for value in ODD_VALUES:
            problems = problems_for(with_value(base, location, value), secrets)
            assert all(problem.message for problem in problems)
            checked += 1
    assert checked >= 300
