"""Editing a user's config file in place: their comments, key order and layout survive.

The wizard edits files people wrote by hand (the `# yaml-language-server:` line editors use,
comments on why an address was chosen). A plain dump would drop all of it, so an existing file is
loaded with ruamel.yaml's round-trip loader, only the values that changed are replaced, and it is
written back in the indentation it was found in. A new file is the plain dump.
"""

import difflib
import io
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from talos_platform.engine.config.loading import ConfigInvalid, config_data, dump_config, parse_config
from talos_platform.engine.config.models import PlatformConfig

# (mapping, sequence, offset) indentations tried, in order, to find the one a file is written in.
_LAYOUTS = [(m, o + 2, o) for m in (2, 4, 3) for o in (2, 0, 4)]


@dataclass(frozen=True)
class ConfigEdit:
    """What writing `config` to a file would change: the text before (None for a new file) and after."""

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @cached_property
    def diff(self) -> list[str]:
        """Unified diff lines (no trailing newlines); empty when nothing changes."""
        if self.before is None or not self.changed:
            return []
        return list(
            difflib.unified_diff(self.before.splitlines(), self.after.splitlines(), "current", "new", lineterm="", n=2)
        )


def edited_text(before: str | None, config: PlatformConfig) -> str:
    """The file's new text: `before` with the config's values put in, or a fresh dump."""
    if before is None:
        return dump_config(config)
    try:
        yaml, document = _round_trip(before)
    except YAMLError:
        return dump_config(config)  # not YAML any more: nothing of it can be kept
    if not isinstance(document, CommentedMap):
        return dump_config(config)
    try:
        implied = config_data(parse_config(before))
    except ConfigInvalid:
        implied = {}
    _merge_mapping(document, config_data(config), implied)
    return _dump(yaml, document)


def _round_trip(text: str) -> tuple[YAML, Any]:
    """A loader/dumper set to the file's own indentation (the first layout that reproduces it)."""
    for mapping, sequence, offset in _LAYOUTS:
        yaml = _yaml(mapping, sequence, offset)
        document = yaml.load(text)
        if _dump(yaml, document) == text:
            return yaml, document
    yaml = _yaml(*_LAYOUTS[0])
    return yaml, yaml.load(text)


def _yaml(mapping: int, sequence: int, offset: int) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long value onto a second line
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _dump(yaml: YAML, document: Any) -> str:
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def _merge(old: Any, new: Any, implied: Any) -> Any:
    """`new`, reusing `old`'s node (and so its comments and quoting) wherever the shapes match.
    `implied` is what the old file meant at this place, defaults included."""
    if isinstance(old, CommentedMap) and isinstance(new, dict):
        _merge_mapping(old, new, implied if isinstance(implied, dict) else {})
        return old
    if isinstance(old, CommentedSeq) and isinstance(new, list):
        _merge_sequence(old, new, implied if isinstance(implied, list) else [])
        return old
    if type(new) is type(old) or (isinstance(old, str) and isinstance(new, str)):
        if old == new:
            return old  # keeps a quoted or block-style scalar as it was written
    return new


def _merge_mapping(old: CommentedMap, new: dict[str, Any], implied: dict[str, Any]) -> None:
    for key in [key for key in old if key not in new]:
        del old[key]
    previous: str | None = None
    for key, value in new.items():
        if key in old:
            old[key] = _merge(old[key], value, implied.get(key))
        elif key in implied and implied[key] == value:
            continue  # left out of the file and still its default: stays left out
        else:
            # A new key goes after the key that precedes it in the config's own order.
            position = list(old).index(previous) + 1 if previous in old else len(old)
            old.insert(position, key, value)
        previous = key


def _merge_sequence(old: CommentedSeq, new: list[Any], implied: list[Any]) -> None:
    """Items are matched by position; nodes (items with a `name`) by name when nodes were added,
    removed or renamed, so a removed node does not shift its comments onto its neighbour."""
    if _named(old) and _named(new) and [item["name"] for item in old] != [item["name"] for item in new]:
        by_name = {item["name"]: item for item in old}
        meant = {item.get("name"): item for item in implied if isinstance(item, dict)}
        merged = [
            _merge(by_name[item["name"]], item, meant.get(item["name"])) if item["name"] in by_name else item
            for item in new
        ]
        del old[:]
        old.extend(merged)
        return
    for index, value in enumerate(new):
        if index < len(old):
            old[index] = _merge(old[index], value, implied[index] if index < len(implied) else None)
        else:
            old.append(value)
    del old[len(new) :]


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in items)
