"""Shared helpers: the examples as dicts, and problems for a config dict from either stage."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from talos_platform.engine.config.loading import ConfigInvalid, parse_config
from talos_platform.engine.config.validation import Problem, validate

REPO = Path(__file__).resolve().parents[3]
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
METAL_EXAMPLE = REPO / "examples" / "metal-3cp-3w.yaml"
DOCKER_EXAMPLE = REPO / "examples" / "docker-single.yaml"


def example(path: Path) -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(path.read_text()))


def problems_for(data: dict[str, Any], secrets: Any = None) -> list[Problem]:
    """Shape problems if the dict does not load, else every rule problem."""
    try:
        config = parse_config(yaml.dump(data, Dumper=DUMPER), "test.yaml")
    except ConfigInvalid as invalid:
        return invalid.problems
    return validate(config, secrets)
