"""Reading rendered ArgoCD Applications in tests."""

from __future__ import annotations

from typing import Any


def chart_source(application: dict[str, Any]) -> dict[str, Any] | None:
    """The Helm chart source of an Application, whether it has one source or several (a chart
    and its namespace's network policy); None when it has no chart."""
    spec = application["spec"]
    charts = [source for source in spec.get("sources") or [spec.get("source") or {}] if "chart" in source]
    assert len(charts) <= 1, f"{application['metadata']['name']} has {len(charts)} chart sources"
    return charts[0] if charts else None
