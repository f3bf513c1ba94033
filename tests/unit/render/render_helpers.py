"""Shared helpers for the render tests: example configs and variants of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from talos_platform.engine.config.loading import load_config
from talos_platform.engine.config.models import PlatformConfig

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = REPO_ROOT / "examples"
EXAMPLE_NAMES = ("metal-3cp-3w", "docker-single")


def example_config(name: str) -> PlatformConfig:
    return load_config(EXAMPLES / f"{name}.yaml")


def example_data(name: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())


def config_from(data: dict[str, Any]) -> PlatformConfig:
    return PlatformConfig.model_validate(data)


def variant(name: str, **changes: Any) -> PlatformConfig:
    """An example with dotted-path changes, e.g. `variant("metal-3cp-3w", **{"cluster.talosVersion": "v1.12.0"})`."""
    data = example_data(name)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return config_from(data)


def documents(text: str | bytes) -> list[Any]:
    return [document for document in yaml.safe_load_all(text) if document is not None]
