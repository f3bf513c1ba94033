"""How steps word the API calls they make, for `plan` and for `check`.

Commands (talosctl, kubectl, git) come from the drivers' own argv builders; API calls have no
argv, so they are said in one fixed form here, the same in a step's `check` and its
`planned_actions`: `server-side apply Secret argocd/gitops-repository`,
`watch apps/v1 DaemonSet kube-system/cilium until rolled out`.
"""

from __future__ import annotations

from collections.abc import Iterable

from talos_platform.engine.drivers.protocols import Resource

VAULT_PROXY = "through the API server's pod proxy to vault/vault-0"


def object_name(resource: Resource, name: str = "", namespace: str = "") -> str:
    """`DaemonSet kube-system/cilium`, `Node` (all of them), `Pod vault/*` (a namespace's)."""
    where = f"{namespace}/{name or '*'}" if namespace else name
    return f"{resource.kind} {where}".rstrip()


def watch_until(resource: Resource, until: str, *, name: str = "", namespace: str = "") -> str:
    """A list + watch that ends when the condition holds."""
    return f"watch {resource.api_version} {object_name(resource, name, namespace)} until {until}"


def server_side_apply(objects: Iterable[tuple[str, str, str]]) -> str:
    """(kind, namespace, name) of the objects applied in one call; values are never named."""
    named = [f"{kind} {namespace + '/' if namespace else ''}{name}" for kind, namespace, name in objects]
    return "server-side apply " + ", ".join(named)


def vault_call(method: str, path: str) -> str:
    return f"{method} {path} ({VAULT_PROXY})"
