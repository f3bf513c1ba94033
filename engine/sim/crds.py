"""CustomResourceDefinition objects and their status (Established a moment after creation)."""

from __future__ import annotations

from typing import Any


def crd_status(crd: dict[str, Any], *, established: bool) -> dict[str, Any]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    state = "True" if established else "False"
    return {
        "acceptedNames": names,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"},
            {
                "type": "Established",
                "status": state,
                "reason": "InitialNamesAccepted" if established else "Installing",
                "message": "the initial names have been accepted"
                if established
                else "the initial names are being accepted",
            },
        ],
        "storedVersions": [v.get("name") for v in spec.get("versions") or [] if v.get("storage")] or ["v1"],
    }


def crd_object(full_name: str) -> dict[str, Any]:
    """A CRD object as a release manifest would carry it."""
    plural, _, group = full_name.partition(".")
    singular = plural[:-1] if plural.endswith("s") else plural
    kind = "".join(part.capitalize() for part in singular.replace("-", " ").split())
    scope = "Cluster" if plural.startswith(("cluster", "gatewayclass")) else "Namespaced"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": full_name},
        "spec": {
            "group": group,
            "names": {"plural": plural, "singular": singular, "kind": kind, "listKind": f"{kind}List"},
            "scope": scope,
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }
