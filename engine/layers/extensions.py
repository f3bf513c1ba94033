"""What system extensions each node runs today, against what the upgrade's installer carries.

A Talos upgrade installs exactly the extensions of the installer image's schematic: one the node
runs now and the schematic lacks is gone after the reboot, silently (siderolabs/talos#8467,
#9354, #11844). Talos publishes what each node runs on its Node object, from its
ExtensionStatus resources (the same list `talosctl get extensions` prints): a label
`extensions.talos.dev/<name>: <version>` per extension, or an annotation of that name when the
value is not a valid label value, which is how the Image Factory's pseudo-extension `schematic`
(its 64-character ID) appears. Reading it there needs no extra call per node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from talos_platform.engine.config.models import Schematic
from talos_platform.engine.config.schematic import canonical_extensions, schematic_id

PREFIX = "extensions.talos.dev/"
SCHEMATIC_KEY = PREFIX + "schematic"
# Entries of the extension list that are not extensions a schematic names.
_NOT_EXTENSIONS = {"schematic", "modules.dep"}


@dataclass(frozen=True)
class NodeExtensions:
    node: str
    schematic: str
    """The Image Factory schematic ID the node was installed from (empty: not a factory image)."""
    extensions: tuple[str, ...]
    """Names as Talos reports them (`iscsi-tools`, without the `siderolabs/` owner)."""


def node_extensions(node: dict[str, Any]) -> NodeExtensions:
    metadata = node.get("metadata") or {}
    published = {**(metadata.get("annotations") or {}), **(metadata.get("labels") or {})}
    names = sorted(
        key.removeprefix(PREFIX)
        for key in published
        if key.startswith(PREFIX) and key.removeprefix(PREFIX) not in _NOT_EXTENSIONS
    )
    return NodeExtensions(
        node=str(metadata.get("name", "")), schematic=str(published.get(SCHEMATIC_KEY, "")), extensions=tuple(names)
    )


def short_name(extension: str) -> str:
    """`siderolabs/iscsi-tools` -> `iscsi-tools`, the name Talos reports once installed."""
    return extension.rsplit("/", 1)[-1]


def dropped_by(schematic: Schematic, running: NodeExtensions) -> list[str]:
    """Extensions the node runs that an installer of `schematic` would not carry."""
    if running.schematic and running.schematic == schematic_id(schematic):
        return []
    carried = {short_name(name) for name in canonical_extensions(schematic)}
    return [name for name in running.extensions if name not in carried]
