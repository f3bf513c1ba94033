"""Issue 14, item 4: every pod can be found by filter and opened, healthy ones included; a filter
that matches nothing says so rather than claiming there are no pods yet."""

from __future__ import annotations

import io

from rich.console import Console
from support.cluster_data import cluster_snapshot
from textual.widgets import Static

from talos_platform.engine.observe import build_snapshot
from talos_platform.engine.observe.observer import summarise_pods
from talos_platform.engine.observe.pods import classify_pod
from talos_platform.tui.app import create_app
from talos_platform.tui.details import describe
from talos_platform.tui.screens.dashboard import DashboardScreen
from talos_platform.tui.screens.detail import DetailScreen
from talos_platform.tui.widgets.pods import pods_content

SIZE = (180, 50)


def test_the_snapshot_lists_the_healthy_pods_in_natural_order() -> None:
    healthy = cluster_snapshot(faulty=True).healthy_pods
    names = [f"{p.namespace}/{p.name}" for p in healthy]
    assert "vault/vault-0-7f9c" in names
    assert "shop/api-5d8f6-x2k9q" not in names  # it has a problem: listed with the problems
    assert names == sorted(names, key=lambda n: n.split("/")[0]) and len(names) == len(set(names))
    assert all(p.node for p in healthy if p.namespace == "vault")


def test_summary_orders_pod_names_naturally() -> None:
    from support.cluster_data import pod_object

    pods = [classify_pod(pod_object("batch", f"job-{i}", "batch", "worker-1")) for i in (10, 2, 1)]
    _problems, _namespaces, healthy = summarise_pods(pods)
    assert [p.name for p in healthy] == ["job-1", "job-2", "job-10"]
    assert (
        "healthy_pods"
        not in build_snapshot(
            taken_at=0,
            simulated=True,
            kube_nodes=(),
            facts={},
            targets=(),
            history=None,
            pods=pods,
            apps=(),
            flows=None,
        ).to_dict()
    )


def test_a_filter_finds_a_healthy_pod_and_an_empty_result_says_no_pod_matches() -> None:
    snapshot = cluster_snapshot(faulty=True)
    found = pods_content(snapshot, "vault-0")
    assert [r.key for r in found.rows] == ["pod:vault/vault-0-7f9c"]
    assert "✓ healthy" in str(found.rows[0].cells[1])
    nothing = pods_content(snapshot, "vault-9")
    assert nothing.rows == ()
    assert nothing.empty == 'no pod matches "vault-9"'
    assert "CNI" not in nothing.empty


async def test_a_healthy_pod_found_by_filter_opens_with_its_node_and_app() -> None:
    app = create_app(snapshot=cluster_snapshot(faulty=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        await pilot.press("3", "slash", *"vault-0", "enter", "enter")
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        assert detail.title_text == "Pod vault/vault-0-7f9c"
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(describe(detail.key, detail.snapshot)[1])
        body = console.export_text()
        assert "✓ healthy" in body and "worker-" in body
        assert {"flows", "node"} <= set(detail.jumps)
        await pilot.press("n")
        assert app.screen is screen
        assert screen.focused_pane() is screen.pane("nodes")


async def test_an_empty_filter_result_is_said_on_screen() -> None:
    app = create_app(snapshot=cluster_snapshot(faulty=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        await pilot.press("3", "slash", *"vault-9", "enter")
        summary = str(screen.query_one("#pods-summary", Static).render())
        assert 'no pod matches "vault-9"' in summary
