"""What a normal install shows while it runs, driven with Pilot: pods that just started are
starting, not problems."""

from __future__ import annotations

from support.cluster_data import install_progress, starting_pods_snapshot
from textual.widgets import Static

from talos_platform.engine.observe.pods import POD_START_GRACE_SECONDS
from talos_platform.tui.app import create_app
from talos_platform.tui.styles import BAD, WAIT
from talos_platform.tui.widgets.pods import PodsPane

SIZE = (160, 48)


def pods_pane_text(app) -> tuple[list[tuple[str, str]], str]:
    """(pod, problem cell with its style) of every pod row, and the summary line."""
    pane = app.screen.query_one(PodsPane)
    rows = [
        (row.cells[0].plain, f"{row.cells[1].plain}|{row.cells[1].style}")
        for row in pane.content.rows
        if row.key.startswith("pod:")
    ]
    return rows, str(pane.query_one(".pane-summary", Static).render())


async def test_pods_that_just_started_show_as_starting_not_as_problems():
    app = create_app(
        "install", progress=install_progress(), snapshot=starting_pods_snapshot(seconds_since_scheduled=20)
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rows, summary = pods_pane_text(app)
        pane = app.screen.query_one(PodsPane)
        namespace = next(r for r in pane.content.rows if r.key == "namespace:cert-manager")
    assert [cell for _pod, cell in rows] == [f"◌ starting|{WAIT}"] * 3
    assert "with problems" not in summary and "◌ 3 starting" in summary
    assert namespace.cells[1].plain == "◌ 0/3 healthy, 3 starting" and namespace.cells[1].style == WAIT


async def test_pods_still_creating_after_the_grace_are_problems():
    late = starting_pods_snapshot(seconds_since_scheduled=POD_START_GRACE_SECONDS + 5)
    app = create_app("install", progress=install_progress(), snapshot=late)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rows, summary = pods_pane_text(app)
        spans = app.screen.query_one(PodsPane).content.summary.spans
    assert [cell.split("|")[0] for _pod, cell in rows] == ["● Pending"] * 3
    assert "✗ 3 with problems" in summary and "starting" not in summary
    assert any(span.style == f"bold {BAD}" for span in spans)
