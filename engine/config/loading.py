"""Reading and writing config files: YAML in, PlatformConfig out, every problem reported at once.

`load_config` is what commands use: shape and rules, raising `ConfigInvalid` with all errors.
`read_config` checks the shape only (YAML, keys, types), for `validate` and the wizard, which
report the rule problems themselves, warnings included.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic
import yaml

from talos_platform.engine.config.models import API_VERSION, KIND, ConfigModel, PlatformConfig
from talos_platform.engine.config.validation import Problem, errors_only, suggest, validate
from talos_platform.engine.errors import UserError
from talos_platform.engine.files import atomic_write

# Keys that look like they hold a secret. Secrets belong in the secrets file or environment.
_SECRET_LOOKING_KEY = re.compile(r"token|passw|secret|api_?key|private_?key|credential|gitusername", re.IGNORECASE)

SECRETS_HINT = (
    "secrets never go in the config file: put them in the secrets file (--secrets FILE, mode 0600) "
    "or in TALOS_PLATFORM_* environment variables"
)

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo


class ConfigInvalid(UserError):
    """A config that cannot be used; `.problems` holds every problem found (errors first)."""

    def __init__(self, problems: list[Problem], source: str = "config"):
        self.problems = sorted(problems, key=lambda problem: not problem.is_error)
        self.source = source
        count = len(errors_only(self.problems))
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{source}: {count} {noun}")

    def __str__(self) -> str:
        return "\n".join([self.message, *(problem.format() for problem in self.problems)])


# The base is chosen at import time (libyaml's loader when PyYAML was built with it).
class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loader (libyaml when present) that refuses duplicate keys (PyYAML keeps the last)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in mapping:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def format_path(location: Iterable[Any]) -> str:
    """('nodes', 2, 'installDisk') -> `nodes[2].installDisk`."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


MAX_CONFIG_BYTES = 1024 * 1024
"""A config is a few kilobytes; a bigger file is not one (and is refused before it is parsed)."""


def _too_large(size: int, source: str) -> ConfigInvalid:
    return _whole_file(
        f"file too large: {size} bytes, and a config file may be at most {MAX_CONFIG_BYTES} bytes (1 MiB)",
        "give the platform config (a few kilobytes of YAML); start from examples/metal-3cp-3w.yaml",
        source,
    )


def parse_config(text: str, source: str = "config") -> PlatformConfig:
    """Parse YAML text into a PlatformConfig, checking only its shape (see `read_config`)."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_CONFIG_BYTES:
        raise _too_large(size, source)
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise ConfigInvalid([_yaml_problem(error, source)], source) from None
    if data is None:
        raise _whole_file("the file is empty", "start from examples/metal-3cp-3w.yaml or run `talos-platform`", source)
    if not isinstance(data, dict):
        raise _whole_file(
            "the file must be a YAML mapping (`key: value` lines)", "start from examples/metal-3cp-3w.yaml", source
        )
    try:
        problems = _header_problems(data) + _secret_key_problems(data)
    except _BadStructure as bad:
        if bad.too_many and "*" not in text:  # no alias anywhere: simply far too many values
            raise _whole_file(
                f"the file holds more than {_MAX_VALUES} values; a config holds a few hundred",
                "give the platform config; start from examples/metal-3cp-3w.yaml",
                source,
            ) from None
        raise _whole_file(str(bad), "write the values out instead of using YAML anchors there", source) from None
    try:
        config = PlatformConfig.model_validate(data)
    except pydantic.ValidationError as error:
        already = {problem.path for problem in problems}
        problems += [problem for problem in _pydantic_problems(error) if problem.path not in already]
        raise ConfigInvalid(problems, source) from None
    if problems:
        raise ConfigInvalid(problems, source)
    return config


def read_config(path: Path | str) -> PlatformConfig:
    """Read a config file checking its shape only; raises ConfigInvalid (never a traceback)."""
    source = str(path)
    try:
        size = Path(path).stat().st_size
        if size > MAX_CONFIG_BYTES and Path(path).is_file():
            raise _too_large(size, source)
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _whole_file(
            "file not found", "check the path, or run `talos-platform` to create a config", source
        ) from None
    except IsADirectoryError:
        raise _whole_file("is a directory, not a config file", "give the path of a YAML file", source) from None
    except PermissionError:
        raise _whole_file("permission denied", "make the file readable by you", source) from None
    except UnicodeDecodeError:
        raise _whole_file("is not UTF-8 text", "save the file as UTF-8 YAML", source) from None
    except OSError as error:
        raise _whole_file(f"cannot read the file: {error.strerror}", "", source) from None
    return parse_config(text, source)


def load_config(path: Path | str, secrets: Any = None) -> PlatformConfig:
    """Read a config file and check every rule; raises ConfigInvalid listing all errors.

    Warnings do not stop loading. Secrets are checked too when given.
    """
    config = read_config(path)
    errors = errors_only(validate(config, secrets))
    if errors:
        raise ConfigInvalid(errors, str(path))
    return config


def config_data(config: PlatformConfig) -> dict[str, Any]:
    """The config as a file holds it: camelCase keys in field order; unset optional values, empty
    lists and the sections left empty by them (an unused `schematic`, `mirrors` with none set)
    are left out."""
    data = config.model_dump(mode="json", by_alias=True, exclude_none=True)
    _drop_empty(data)
    return data


def dump_config(config: PlatformConfig) -> str:
    """`config_data` as YAML."""
    return yaml.safe_dump(config_data(config), sort_keys=False, default_flow_style=False, allow_unicode=True)


def write_config(path: Path | str, config: PlatformConfig, *, header: str = "") -> None:
    """Write `config` atomically; `header` (e.g. a `# yaml-language-server:` line) goes on top."""
    text = dump_config(config)
    if header:
        text = header.rstrip("\n") + "\n" + text
    atomic_write(path, text.encode("utf-8"), mode=0o644)


def _drop_empty(data: dict[str, Any]) -> None:
    for key in list(data):
        value = data[key]
        if isinstance(value, dict):
            _drop_empty(value)
            if not value:
                del data[key]
        elif value == [] and key != "nodes":
            del data[key]


def _whole_file(message: str, hint: str, source: str) -> ConfigInvalid:
    return ConfigInvalid([Problem("", message, hint)], source)


def _yaml_problem(error: yaml.YAMLError, source: str) -> Problem:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else source
    what = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    message = f"not valid YAML: {what}" + (f" ({context})" if context else "")
    return Problem(where, message, "fix the YAML syntax there (indentation with spaces, `key: value`)")


def _header_problems(data: dict[str, Any]) -> list[Problem]:
    problems = []
    for key, expected, what in (("apiVersion", API_VERSION, "config format version"), ("kind", KIND, "kind")):
        if key not in data:
            message = f"missing; this talos-platform reads `{key}: {expected}`"
            problems.append(Problem(key, message, f"add `{key}: {expected}` at the top"))
        elif data[key] != expected:
            problems.append(
                Problem(
                    key,
                    f"unsupported {what} {data[key]!r}; this talos-platform reads only {expected!r}",
                    f"set `{key}: {expected}`, or use the talos-platform release that wrote this file",
                )
            )
    return problems


# A config is a few hundred values; anything far bigger is an alias bomb or not a config.
_MAX_VALUES = 100_000


class _BadStructure(Exception):
    def __init__(self, message: str, *, too_many: bool = False):
        super().__init__(message)
        self.too_many = too_many


def _walk(data: Any) -> Iterator[tuple[tuple[Any, ...], Any, Any]]:
    """(location, key, value) for every mapping entry, depth first, without recursion.

    Refuses structures that refer to themselves (a YAML anchor inside itself) or expand to far
    more values than a config has (nested aliases).
    """
    pending: list[tuple[tuple[Any, ...], Any, frozenset[int]]] = [((), data, frozenset())]
    visited = 0
    while pending:
        location, value, ancestors = pending.pop()
        visited += 1
        if visited > _MAX_VALUES:
            raise _BadStructure(
                "the file expands to far more values than a config has (nested YAML aliases)", too_many=True
            )
        if not isinstance(value, (dict, list)):
            continue
        if id(value) in ancestors:
            raise _BadStructure(
                f"the YAML at {format_path(location) or 'the top'} contains itself (a recursive anchor)"
            )
        inner = ancestors | {id(value)}
        items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
        for key, item in reversed(items):
            if isinstance(value, dict):
                yield location, key, item
            pending.append(((*location, key), item, inner))


def _secret_key_problems(data: Any) -> list[Problem]:
    problems = []
    flagged: list[tuple[Any, ...]] = []
    for location, key, _ in _walk(data):
        if any(location[: len(prefix)] == prefix for prefix in flagged):
            continue  # inside a reported key: one problem is enough
        if isinstance(key, str) and _SECRET_LOOKING_KEY.search(key) and key not in _model_keys():
            flagged.append((*location, key))
            message = f"`{key}` looks like a secret; the config file must not hold secrets"
            problems.append(Problem(format_path((*location, key)), message, SECRETS_HINT))
    return problems


@functools.cache
def _model_keys() -> frozenset[str]:
    """Every key the config format defines (`secretsOperator` is a component, not a secret)."""
    keys: set[str] = set()
    pending: list[Any] = [PlatformConfig]
    while pending:
        model = pending.pop()
        for name, info in model.model_fields.items():
            keys.add(info.alias or name)
            inner = _model_of(info.annotation)
            if inner is not None:
                pending.append(inner)
    return frozenset(keys)


def _pydantic_problems(error: pydantic.ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        location = item["loc"]
        path = format_path(location)
        kind = item["type"]
        if kind == "missing":
            message, hint = "is required", _description_hint(location)
        elif kind == "extra_forbidden":
            known = _known_keys(location[:-1])
            close = suggest(str(location[-1]), known)
            message = f"unknown key `{location[-1]}`"
            hint = f"did you mean `{close}`? " if close else ""
            hint += f"known keys here: {', '.join(known)}" if known else "remove it"
        else:
            message, hint = item["msg"][0].lower() + item["msg"][1:], _description_hint(location)
            value = item.get("input")  # its type only: the value itself is never echoed
            if kind == "string_type" and isinstance(value, (bool, int, float)):
                what = "true/false" if isinstance(value, bool) else "a number"
                hint = f"YAML reads this unquoted value as {what}: put it in quotes. {hint}".strip()
        problems.append(Problem(path, message, hint))
    return problems


def _field_at(location: Iterable[Any]) -> tuple[type[ConfigModel] | None, Any]:
    """(model holding the last key, its FieldInfo) for a pydantic error location."""
    model: Any = PlatformConfig
    field = None
    for part in location:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, ConfigModel)):
            return None, None
        field = next((info for name, info in model.model_fields.items() if (info.alias or name) == part), None)
        if field is None:
            return model, None
        holder, model = model, _model_of(field.annotation)
    return (holder if field is not None else None), field


def _model_of(annotation: Any) -> Any:
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, ConfigModel):
            return candidate
    return None


def _known_keys(location: Iterable[Any]) -> list[str]:
    model: Any = PlatformConfig
    for part in location:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(_python_name(model, part)) if model else None
        model = _model_of(field.annotation) if field is not None else None
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _python_name(model: Any, alias: str) -> str:
    fields: dict[str, FieldInfo] = model.model_fields
    for name, info in fields.items():
        if (info.alias or name) == alias:
            return name
    return alias


def _description_hint(location: Iterable[Any]) -> str:
    _, field = _field_at(location)
    if field is None or not field.description:
        return ""
    return " ".join(field.description.split())
