"""Which object a dashboard row stands for, and which of the logs (`l`), describe (`d`) and YAML
(`y`) views apply to it; as pure functions of the row key and the snapshot."""

from __future__ import annotations

from rich.text import Text

from talos_platform.engine.observe import ClusterSnapshot
from talos_platform.engine.observe.objects import ObjectRef, application_ref, namespace_ref, node_ref, pod_ref

VIEWS = {"logs": "l", "describe": "d", "yaml": "y"}

PANE_VIEWS = {
    "pods": ("logs", "describe", "yaml"),
    "nodes": ("describe", "yaml"),
    "apps": ("describe", "yaml"),
}
"""The views each pane's rows have; other panes (flows, steps) have none."""

PANE_HINTS = {
    "pods": "l logs · d describe · y YAML",
    "nodes": "d describe · y YAML (l: pods only)",
    "apps": "d describe · y YAML (l: pods only)",
}
NO_OBJECT_HINT = "l d y: on pods, nodes and apps"


def pane_hint(pane_id: str | None) -> str:
    """What the key line says about `l`, `d` and `y` while a pane has the focus."""
    return PANE_HINTS.get(pane_id or "", NO_OBJECT_HINT)


def object_for(key: str | None, snapshot: ClusterSnapshot | None) -> ObjectRef | None:
    """The object behind a row key (`pod:ns/name`, `node:name`, `app:name`, `namespace:name`)."""
    if not key:
        return None
    kind, _, ident = key.partition(":")
    if kind == "pod" and "/" in ident:
        namespace, _, name = ident.partition("/")
        return pod_ref(namespace, name)
    if kind == "node" and ident:
        return node_ref(ident)
    if kind == "namespace" and ident:
        return namespace_ref(ident)
    if kind == "app" and ident:
        app = next((a for a in snapshot.apps if a.name == ident), None) if snapshot is not None else None
        return application_ref(ident, app.namespace if app is not None and app.namespace else "argocd")
    return None


def refusal(view: str, pane_id: str | None, ref: ObjectRef | None) -> str:
    """Why a view does not open for the selected row ("" when it does)."""
    if ref is None:
        if pane_id in PANE_VIEWS:
            return f"{VIEWS[view]}: select a row that is an object (a pod, node, app or namespace)"
        return f"{VIEWS[view]} ({view}) works on the pods, nodes and apps panes; this pane's rows are not objects"
    if view == "logs" and ref.resource.kind != "Pod":
        return f"l (logs) is for pods; a {ref.resource.kind} has no log (d describes it, y shows its YAML)"
    return ""


def talos_facts(snapshot: ClusterSnapshot | None, name: str) -> list[Text]:
    """A node's describe adds what the Talos API says of it (Kubernetes does not know these)."""
    node = next((n for n in snapshot.nodes if n.name == name), None) if snapshot is not None else None
    if node is None:
        return []
    percent = "{:.0f}%".format
    lines = [
        ("Address", node.address),
        ("Reachable", "yes" if node.reachable else "no (Talos API unreachable)"),
        ("Stage", node.stage or "-"),
        ("Talos", node.talos_version or "-"),
        ("Kubernetes", node.kubernetes_version or "-"),
        ("CPU", percent(node.cpu_percent) if node.cpu_percent is not None else "-"),
        ("Memory", percent(node.memory_percent) if node.memory_percent is not None else "-"),
    ]
    if node.error:
        lines.append(("Error", node.error))
    # The indentation is a run of its own: SVG renderers trim a run's leading spaces.
    return [Text("Talos (from the Talos API):", style="bold")] + [
        Text.assemble(("  ", "dim"), f"{name + ':':<15}{value}") for name, value in lines
    ]
