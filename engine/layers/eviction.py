"""The explicit escape from a drain a PodDisruptionBudget blocks (`--delete-if-eviction-fails`):
the pods are deleted with `kubectl drain --disable-eviction`, which never asks a budget. Never
the default: a budget is there because someone decided the service must keep that many pods, so
the step says loudly which pods go and which budgets are bypassed."""

from __future__ import annotations

from typing import Any

from talos_platform.engine.drivers.protocols import NODES, PODS, Resource
from talos_platform.engine.errors import ESCAPE_FLAG, EvictionRefused
from talos_platform.engine.plan.context import StepContext

PDBS = Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget")

TALOS_CORDON_ANNOTATION = "talos.dev/cordoned"
"""Set by Talos on a node it cordoned itself; it uncordons only those after the reboot."""
OUR_CORDON_ANNOTATION = "talos-platform.dev/cordoned-for-upgrade"
"""Set before the deleting drain cordons a node: the upgrade uncordons a node carrying it once the
node is back (also in a later run, when one was killed in between), and never a node without it."""


async def mark_our_cordon(ctx: StepContext, node: str) -> None:
    """Mark `node` before the deleting drain cordons it, unless someone else cordoned it already
    (cordoned without Talos' annotation: the user meant it, and it stays cordoned)."""
    current = await ctx.drivers.kube.get(NODES, node) or {}
    annotations = (current.get("metadata") or {}).get("annotations") or {}
    if (current.get("spec") or {}).get("unschedulable") and TALOS_CORDON_ANNOTATION not in annotations:
        return
    # Before the drain: a run killed between the two finds the mark on a node it then uncordons.
    await ctx.drivers.kube.annotate_node(node, OUR_CORDON_ANNOTATION, "true")


def evictable(pod: dict[str, Any], node: str) -> bool:
    """A pod on `node` a drain takes away: not a DaemonSet's (it would come back) nor a static one."""
    metadata = pod["metadata"]
    return (
        (pod.get("spec") or {}).get("nodeName") == node
        and not any(o.get("kind") in ("DaemonSet", "Node") for o in metadata.get("ownerReferences") or [])
        and "kubernetes.io/config.mirror" not in (metadata.get("annotations") or {})
    )


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions) against a pod's labels; an empty
    selector of a policy/v1 budget selects every pod of its namespace."""
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


async def bypassed(ctx: StepContext, node: str) -> tuple[list[str], list[str]]:
    """The pods a deleting drain of `node` removes and the budgets that cover them (`namespace/name`)."""
    pods = [p for p in (await ctx.drivers.kube.list(PODS)).items if evictable(p, node)]
    budgets = (await ctx.drivers.kube.list(PDBS)).items
    covering = sorted(
        {
            f"{b['metadata'].get('namespace')}/{b['metadata']['name']}"
            for b in budgets
            for p in pods
            if b["metadata"].get("namespace") == p["metadata"].get("namespace")
            and selects((b.get("spec") or {}).get("selector") or {}, p["metadata"].get("labels") or {})
        }
    )
    return [f"{p['metadata'].get('namespace')}/{p['metadata']['name']}" for p in pods], covering


async def drain_deleting(ctx: StepContext, node: str, refused: EvictionRefused, timeout: float) -> None:
    """After `refused`: say what is bypassed, then `kubectl drain NODE --disable-eviction`."""
    pods, budgets = await bypassed(ctx, node)
    ctx.output(f"!!! {ESCAPE_FLAG}: the drain of {node} was refused: {refused.message}")
    ctx.output(
        f"!!! DELETING the pods left on {node} without eviction, bypassing their PodDisruptionBudgets: "
        f"pods {', '.join(pods) or '(none listed)'}; budgets {', '.join(budgets) or '(none found covering them)'}"
    )
    await ctx.drivers.kube.drain_node(node, timeout, disable_eviction=True)
    ctx.output(f"!!! {node} drained by deletion: the budgets above were not honoured")
