"""Stable YAML for everything we render: same data, same bytes.

Keys are sorted (Kubernetes and Talos do not care about key order, and sorting removes any
dependence on how a dict was built), multi-line strings use the literal block style so Lua and
scripts stay readable in Git diffs, and no anchors or aliases are ever emitted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml


class _StableDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # noqa: D401 - yaml hook
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key, as kubectl and most editors do.
        super().increase_indent(flow, False)


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    if "\n" in text:
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", text)


_StableDumper.add_representer(str, _represent_text)


def dump_document(data: Any) -> str:
    """One YAML document, keys sorted."""
    return yaml.dump(
        data,
        Dumper=_StableDumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=4096,
    )


def dump_documents(documents: Iterable[Any], header: str = "") -> str:
    """Several documents separated by `---`, with an optional `# comment` header."""
    parts = [dump_document(document) for document in documents]
    body = "---\n".join(parts)
    return (header + body) if header else body


def comment_header(*lines: str) -> str:
    return "".join(f"# {line}\n" if line else "#\n" for line in lines)
