"""The cluster panes together: the four quarters (nodes, apps, pods, flows) the dashboard and the
install screen show, and the dashboard's alerts strip below them."""

from __future__ import annotations

from functools import partial
from typing import Any

from textual.app import ComposeResult
from textual.containers import Grid

from talos_platform.engine.observe import ClusterSnapshot
from talos_platform.tui.widgets.alerts import AlertsPane, alerts_content
from talos_platform.tui.widgets.apps import AppsPane, apps_content
from talos_platform.tui.widgets.flows import FlowsPane, flows_content
from talos_platform.tui.widgets.nodes import NOTHING_EXPECTED, InstallExpectations, NodesPane, nodes_content
from talos_platform.tui.widgets.pane import Pane
from talos_platform.tui.widgets.pods import PodsPane, pods_content
from talos_platform.tui.widgets.staleness import mark_stale, stale_label

PANE_IDS = ("nodes", "apps", "pods", "flows", "alerts")
"""Every cluster pane the dashboard shows, in the order of their number keys."""
INSTALL_PANE_IDS = PANE_IDS[:4]
"""The install screen's: no alerts strip (it would leave the quarters too little height)."""


class ClusterPanes(Grid):
    def __init__(self, pane_ids: tuple[str, ...] = PANE_IDS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pane_ids = pane_ids
        self.paused: ClusterSnapshot | None = None
        self.expected: InstallExpectations = NOTHING_EXPECTED
        """What a running install expects of its nodes (set by the run screen): a node waiting for
        its config or rebooting into it is not a problem then."""
        self._drawn_from: dict[str, tuple[tuple[object, ...], str]] = {}

    def compose(self) -> ComposeResult:
        yield NodesPane(id="nodes", title="Nodes")
        yield AppsPane(id="apps", title="Apps by wave")
        yield PodsPane(id="pods", title="Pod health")
        yield FlowsPane(id="flows", title="Hubble flows")
        if "alerts" in self.pane_ids:
            yield AlertsPane(id="alerts", title="Alerts")

    def pane(self, pane_id: str) -> Pane:
        return self.query_one(f"#{pane_id}", Pane)

    def forget(self, pane_id: str) -> None:
        """Draw this pane on the next `show` even if its data did not change (its order did)."""
        self._drawn_from.pop(pane_id, None)

    def show(self, snapshot: ClusterSnapshot, only_visible: bool = True, now: float | None = None) -> None:
        """`now`: the observer's clock, when known, so panes of a feed that stopped say so."""
        inputs = {
            "nodes": (snapshot.nodes, snapshot.kube_error, self.expected),
            "apps": (snapshot.waves, snapshot.blocked),
            "pods": (snapshot.pod_problems, snapshot.namespaces, snapshot.healthy_pods),
            # Its durations count on with the snapshot's time.
            "alerts": (snapshot.alerts, snapshot.taken_at),
        }
        builders = (
            ("nodes", partial(nodes_content, expected=self.expected)),
            ("apps", apps_content),
            ("pods", pods_content),
            ("alerts", alerts_content),
        )
        for pane_id, build in builders:
            if pane_id not in self.pane_ids:
                continue
            pane = self.pane(pane_id)
            if only_visible and not pane.display:
                continue
            # The observer keeps a view's identity while it is unchanged: nothing to redraw.
            # (The objects are kept, not their ids, so a freed object's id cannot be mistaken.)
            # The stale label is text: compared by value, it changes once a second at most.
            label = stale_label(snapshot, pane_id, now)
            drawn_from = (*inputs[pane_id], pane.query_text)
            before = self._drawn_from.get(pane_id)
            if (
                before is not None
                and before[1] == label
                and all(a is b for a, b in zip(before[0], drawn_from, strict=True))
            ):
                continue
            self._drawn_from[pane_id] = (drawn_from, label)
            pane.show(mark_stale(build(snapshot, pane.query_text), label))
        flows = self.pane("flows")
        if not only_visible or flows.display:
            content = flows_content(snapshot, flows.query_text, paused=self.paused)
            flows.show(mark_stale(content, stale_label(snapshot, "flows", now)))
