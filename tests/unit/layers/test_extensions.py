"""What a node runs, read from the labels and annotation Talos puts on its Node object, against
what an installer of the config's schematic would carry."""

from talos_platform.engine.config.models import Schematic
from talos_platform.engine.config.schematic import schematic_id
from talos_platform.engine.layers.extensions import dropped_by, node_extensions


def node(labels: dict[str, str], annotations: dict[str, str] | None = None) -> dict:
    return {"metadata": {"name": "cp-1", "labels": labels, "annotations": annotations or {}}}


CONFIG = Schematic(system_extensions=["siderolabs/intel-ucode"])


def test_extensions_come_from_the_labels_and_the_schematic_from_the_annotation():
    running = node_extensions(
        node(
            {"kubernetes.io/hostname": "cp-1", "extensions.talos.dev/iscsi-tools": "v0.2.0"},
            {"extensions.talos.dev/schematic": "abc", "extensions.talos.dev/intel-ucode": "20250812"},
        )
    )
    assert running.node == "cp-1"
    assert running.schematic == "abc"
    assert running.extensions == ("intel-ucode", "iscsi-tools")


def test_an_extension_the_schematic_lacks_would_be_dropped():
    running = node_extensions(
        node({"extensions.talos.dev/intel-ucode": "1", "extensions.talos.dev/iscsi-tools": "1"}, {})
    )
    assert dropped_by(CONFIG, running) == ["iscsi-tools"]


def test_the_same_schematic_drops_nothing_and_a_superset_drops_nothing():
    same = node_extensions(
        node({"extensions.talos.dev/intel-ucode": "1"}, {"extensions.talos.dev/schematic": schematic_id(CONFIG)})
    )
    assert dropped_by(CONFIG, same) == []
    fewer = node_extensions(node({}, {"extensions.talos.dev/schematic": "another"}))
    assert dropped_by(CONFIG, fewer) == []


def test_a_node_without_extensions_published_drops_nothing():
    assert dropped_by(CONFIG, node_extensions({"metadata": {"name": "worker-1"}})) == []
