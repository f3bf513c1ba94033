"""The day-2 dashboard: nodes, apps by wave, pod health, Hubble flows and firing alerts, live."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Static

from talos_platform.engine.observe import ClusterSnapshot
from talos_platform.engine.observe.freshness import STALE_AFTER_SECONDS
from talos_platform.tui.object_targets import object_for, pane_hint, refusal, talos_facts
from talos_platform.tui.screens.detail import DetailScreen, Jump
from talos_platform.tui.screens.objects import LogScreen, ObjectScreen
from talos_platform.tui.widgets.cluster_header import ClusterHeader
from talos_platform.tui.widgets.grid import PANE_IDS, ClusterPanes
from talos_platform.tui.widgets.key_hints import KeyHints
from talos_platform.tui.widgets.pane import Pane
from talos_platform.tui.widgets.rollout_strip import RolloutStrip

if TYPE_CHECKING:
    from textual import getters
    from textual.dom import DOMNode

    from talos_platform.tui.app import PlatformApp

PANE_ALIASES = {
    "nodes": ("node", "no"),
    "apps": ("applications", "argocd", "waves"),
    "pods": ("pod", "po", "health"),
    "flows": ("flow", "hubble", "network"),
    "alerts": ("alert", "alertmanager", "am"),
}
"""Other names `:` accepts for a pane, k9s' short names among them."""

ROLLOUT_POLL_SECONDS = 2.0
"""How often the dashboard reads the state directory's newest run journal."""

PANE_NAMES = {"nodes": "Nodes", "apps": "Apps", "pods": "Pods", "flows": "Flows", "alerts": "Alerts"}


COMPACT_BELOW = (100, 30)
"""Terminals narrower or lower than this (80x24 among them) show one cluster pane at a time, whole
width, instead of four quarters too small to hold the columns that matter."""


class ClusterView(Screen[None]):
    """Shared by the dashboard and the install screen: the panes, filter, maximise, pause, drill-down."""

    BINDINGS = [
        Binding("slash", "start_filter", "Filter"),
        Binding("colon", "start_command", "Pane by name", show=False),
        Binding("s", "sort", "Sort", show=False),
        Binding("S", "reverse_sort", "Reverse sort", show=False),
        Binding("escape", "back", "Back", show=False),
        Binding("z", "maximise", "Maximise"),
        Binding("p", "pause", "Pause flows"),
        Binding("t", "toggle_theme", "Theme"),
        # k9s' keys on the selected row; the key line says where they apply (see object_targets).
        Binding("l", "object_view('logs')", "Logs", show=False),
        Binding("d", "object_view('describe')", "Describe", show=False),
        Binding("y", "object_view('yaml')", "YAML", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("1", "focus_pane('nodes')", "Nodes", show=False),
        Binding("2", "focus_pane('apps')", "Apps", show=False),
        Binding("3", "focus_pane('pods')", "Pods", show=False),
        Binding("4", "focus_pane('flows')", "Flows", show=False),
        Binding("5", "focus_pane('alerts')", "Alerts", show=False),
        Binding("tab", "next_pane(1)", "Next pane", show=False),
        Binding("shift+tab", "next_pane(-1)", "Previous pane", show=False),
    ]

    if TYPE_CHECKING:
        # These screens run in PlatformApp (for the type checker only: no runtime change).
        app = getters.app(PlatformApp)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.snapshot: ClusterSnapshot | None = None
        self.maximised: str | None = None
        self._filter_target: str | None = None
        self._command_mode = False
        """The box at the bottom asks for a pane's name (`:`) rather than a filter (`/`)."""
        self.ready = False
        self._banner_drawn = False
        self._outlook = ""
        self._stale = False
        self.compact = False
        """One cluster pane at a time (a small terminal); `shown` is the one on screen."""
        self.shown = "nodes"

    # --- composition helpers -------------------------------------------------------------------

    def banner(self) -> Static:
        return Static("", id="banner")

    def show_simulation_banner(self, simulated: bool) -> None:
        try:
            banner = self.query_one("#banner", Static)
        except NoMatches:  # the app is shutting down (as show_snapshot guards the panes)
            return
        if banner.display != simulated or (simulated and not self._banner_drawn):
            banner.display = simulated
            banner.update(self.app.simulation_label() + self._outlook, layout=False)
            self._banner_drawn = simulated

    def show_fault_outlook(self, snapshot: ClusterSnapshot) -> None:
        """The simulated scenario's timed faults on the banner: what is about to happen and
        when, and what is under way (`in 52 s: worker-3 loses power`)."""
        outlook_of = self.app.fault_outlook
        text = outlook_of(snapshot.taken_at) if outlook_of is not None and snapshot.simulated else ""
        outlook = f"  ▸ scenario: {text}" if text else ""
        if outlook != self._outlook:
            self._outlook = outlook
            self._banner_drawn = False

    def filter_input(self) -> Input:
        input_ = Input(
            placeholder="filter: words, or for flows ns:NAME pod:NAME verdict:dropped — Enter to apply, Esc to cancel",
            id="filter",
        )
        input_.display = False
        return input_

    @property
    def panes(self) -> ClusterPanes:
        return self.query_one(ClusterPanes)

    def pane(self, pane_id: str) -> Pane:
        return self.panes.pane(pane_id)

    @property
    def cluster_pane_ids(self) -> tuple[str, ...]:
        """The cluster panes this screen shows (the install screen has no alerts strip)."""
        return self.panes.pane_ids

    # --- data -----------------------------------------------------------------------------------

    def show_snapshot(self, snapshot: ClusterSnapshot) -> None:
        self.snapshot = snapshot
        if not self.ready or not self.is_attached:
            return  # drawn by `on_mount` once the panes exist; nothing to draw once closed
        if self.app.screen is not self:
            # Under the help or a detail view (`is_current` would still be true behind a
            # see-through one): drawing here would also repaint that screen's dimmed background,
            # the whole dashboard, on every snapshot. Drawn on resume.
            self._stale = True
            return
        self._stale = False
        try:
            self.panes.show(snapshot)
            self.show_fault_outlook(snapshot)
            self.show_simulation_banner(snapshot.simulated or self.app.simulated_drivers)
        except NoMatches:
            # The app is shutting down: its widgets go one by one, and a snapshot that arrives
            # meanwhile finds some panes gone (seen on a loaded machine).
            return

    def on_screen_resume(self) -> None:
        if self._stale:
            # Back from the help or a detail view: first the frame as it was (every widget's
            # rendered lines are still cached), so the key that closed the view is answered at
            # once; then the snapshots that arrived meanwhile, as the next frame.
            self.call_after_refresh(self._catch_up)

    def _catch_up(self) -> None:
        if self._stale and self.snapshot is not None:
            self.show_snapshot(self.snapshot)

    def redraw(self) -> None:
        if self.snapshot is not None:
            self.panes.show(self.snapshot)

    # --- actions --------------------------------------------------------------------------------

    def focused_pane(self) -> Pane | None:
        node: DOMNode | None = self.focused
        while node is not None and not isinstance(node, Pane):
            node = node.parent
        return node

    def action_focus_pane(self, pane_id: str) -> None:
        if pane_id in PANE_IDS and pane_id not in self.cluster_pane_ids:
            return
        if self.compact and pane_id in PANE_IDS and pane_id != self.shown:
            self.show_only(pane_id)
        self.pane(pane_id).table.focus()

    def action_next_pane(self, step: int) -> None:
        """Tab: the next pane; on a small terminal that is also the next one shown."""
        if not self.compact:
            if step > 0:
                self.focus_next()
            else:
                self.focus_previous()
            return
        order = list(self.pane_names())
        pane = self.focused_pane()
        current = pane.id if pane is not None and pane.id in order else self.shown
        self.action_focus_pane(order[(order.index(current) + step) % len(order)])

    # --- small terminals ------------------------------------------------------------------------

    def on_resize(self) -> None:
        width, height = self.app.size
        compact = width < COMPACT_BELOW[0] or height < COMPACT_BELOW[1]
        if compact == self.compact:
            return
        self.compact = compact
        self.set_class(compact, "compact")
        if compact:
            pane = self.focused_pane()
            self.show_only(pane.id if pane is not None and pane.id in self.cluster_pane_ids else self.shown)
        else:
            for pane_id in self.cluster_pane_ids:
                self.pane(pane_id).display = self.maximised in (None, pane_id)
                self.pane(pane_id).border_subtitle = ""
            self.redraw()

    def show_only(self, pane_id: str) -> None:
        """The one pane a small terminal shows; its lower border names the others and the keys."""
        self.shown = pane_id
        shown = self.cluster_pane_ids
        for other in shown:
            pane = self.pane(other)
            pane.display = other == pane_id
        others = " · ".join(f"{PANE_IDS.index(p) + 1} {PANE_NAMES[p]}" for p in shown if p != pane_id)
        self.pane(pane_id).border_subtitle = f"Tab/:name ▸ {others}"
        self.redraw()

    def action_start_filter(self) -> None:
        pane = self.focused_pane() or self.pane("pods")
        self._filter_target = pane.id
        box = self.query_one("#filter", Input)
        box.value = pane.query_text
        box.border_title = f"Filter {pane.border_title}"
        box.display = True
        box.focus()

    def action_start_command(self) -> None:
        """`:` then a pane's name (or its start: `po`, `no`), as k9s switches views."""
        pane = self.focused_pane()
        self._filter_target = pane.id if pane is not None else None
        self._command_mode = True
        box = self.query_one("#filter", Input)
        box.value = ""
        box.border_title = "Go to pane: " + ", ".join(self.pane_names())
        box.display = True
        box.focus()

    def pane_names(self) -> tuple[str, ...]:
        return PANE_IDS

    def pane_by_name(self, text: str) -> str | None:
        """The pane a typed name means: its id, an alias, or the start of either."""
        word = text.strip().lower().lstrip(":")
        if not word:
            return None
        for pane_id, names in (*((p, (p,)) for p in self.pane_names()), *PANE_ALIASES.items()):
            if pane_id in self.pane_names() and any(name.startswith(word) for name in names):
                return pane_id
        return None

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "filter":
            return
        if self._command_mode:
            target = self.pane_by_name(event.value)
            self._close_filter()
            if target is not None:
                self.action_focus_pane(target)
            elif event.value.strip():
                self.notify(
                    f"no pane named {event.value.strip()!r}: " + ", ".join(self.pane_names()), severity="warning"
                )
            return
        self.apply_filter(self._filter_target or "pods", event.value.strip())
        self._close_filter()

    def apply_filter(self, pane_id: str, text: str) -> None:
        self.pane(pane_id).query_text = text
        self.redraw()

    def _close_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = False
        self._command_mode = False
        if self._filter_target:
            self.pane(self._filter_target).table.focus()
        self._filter_target = None

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display:
            self._close_filter()
            return
        if self.maximised:
            self.action_maximise()
            return
        pane = self.focused_pane()
        if pane is not None and pane.id is not None and pane.query_text:
            self.apply_filter(pane.id, "")

    def action_maximise(self) -> None:
        if self.compact:
            return  # one pane at a time already
        pane = self.focused_pane() or self.pane("nodes")
        target = None if self.maximised else pane.id
        self.maximised = target
        for pane_id in self.cluster_pane_ids:
            self.pane(pane_id).display = target is None or pane_id == target
        # Inline grid styles rather than a class on the grid: a class change restyles every
        # widget below it, which throws away all four tables' render caches.
        grid = self.panes.styles
        grid.grid_size_columns = 1 if target else None
        grid.grid_size_rows = 1 if target else None
        grid.grid_columns = "1fr" if target else None
        grid.grid_rows = "1fr" if target else None
        self.redraw()
        (self.pane(target) if target else pane).table.focus()

    def action_sort(self) -> None:
        """`s`: order the focused pane by its next column (after the last, its own order again)."""
        self._resort(reverse=False)

    def action_reverse_sort(self) -> None:
        """`S`: the other way round."""
        self._resort(reverse=True)

    def _resort(self, *, reverse: bool) -> None:
        pane = self.focused_pane()
        if pane is None:
            return
        if reverse:
            pane.reverse_sort()
        else:
            pane.cycle_sort()
        self.redraw_pane(pane)

    def redraw_pane(self, pane: Pane) -> None:
        if pane.id in self.cluster_pane_ids:
            self.panes.forget(pane.id)
            self.redraw()

    def action_pause(self) -> None:
        self.panes.paused = None if self.panes.paused is not None else self.snapshot
        self.redraw()

    def action_toggle_theme(self) -> None:
        self.app.toggle_theme()

    def action_help(self) -> None:
        help_screen = self.app.help_screen()
        if help_screen not in self.app.screen_stack:
            self.app.push_screen(help_screen)

    # --- logs, describe, YAML (k9s' l, d, y) ----------------------------------------------------

    def on_descendant_focus(self) -> None:
        pane = self.focused_pane()
        try:
            hints = self.query_one(KeyHints)
        except NoMatches:
            return
        hints.show_context(pane_hint(pane.id if pane is not None else None))

    def action_object_view(self, view: str) -> None:
        """`l`, `d`, `y` on the selected row; where they do not apply, a note says why (nothing opens)."""
        pane = self.focused_pane()
        ref = object_for(pane.selected_key() if pane is not None else None, self.snapshot)
        why = refusal(view, pane.id if pane is not None else None, ref)
        if why or ref is None:
            self.notify(why, severity="warning", timeout=4)
            return
        reader = self.app.object_reader
        if view == "logs":
            self.app.push_screen(LogScreen(ref.namespace, ref.name, reader))
            return
        extra = talos_facts(self.snapshot, ref.name) if ref.resource.kind == "Node" else []
        self.app.push_screen(ObjectScreen(ref, reader, view, extra=extra))

    # --- drill-down and cross-links -------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        pane = event.data_table.parent
        if not isinstance(pane, Pane) or pane.id not in self.cluster_pane_ids or self.snapshot is None:
            return
        key = pane.key_at(event.cursor_row)
        if key and not key.startswith(("more", "layer:")):
            self.open_detail(key)

    def open_detail(self, key: str) -> None:
        assert self.snapshot is not None
        self.app.push_screen(DetailScreen(key, self.snapshot, self.app.feed), self.follow_jump)

    def follow_jump(self, jump: Jump | None) -> None:
        if not jump:
            return
        target, value = jump
        if target == "flows":
            self.apply_filter("flows", f"pod:{value}")
            self.action_focus_pane("flows")
        elif target == "app":
            self.pane("apps").query_text = ""
            self.redraw()
            self.pane("apps").select_key(f"app:{value}")
            self.action_focus_pane("apps")
        elif target == "node":
            self.pane("nodes").query_text = ""
            self.redraw()
            self.pane("nodes").select_key(f"node:{value}")
            self.action_focus_pane("nodes")


class DashboardScreen(ClusterView):
    BINDINGS = [Binding("q", "app.quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield self.banner()
        yield ClusterHeader(self.app.cluster_name, self.app.kube_context, id="cluster-header")
        yield RolloutStrip(id="rollout")
        yield ClusterPanes(id="cluster")
        yield self.filter_input()
        yield KeyHints()

    def on_mount(self) -> None:
        self.show_simulation_banner(self.app.simulated_drivers)
        self.action_focus_pane("nodes")
        self.ready = True
        if self.snapshot is not None:
            self.show_snapshot(self.snapshot)
        if self.app.data_clock() is not None:
            # The age keeps counting between snapshots: a stalled feed shows as one.
            self.set_interval(1.0, self.refresh_header)
        if self.app.rollout is not None:
            # A day-2 operation may start (in another terminal) at any time: its journal is polled.
            self.refresh_rollout()
            self.set_interval(ROLLOUT_POLL_SECONDS, self.refresh_rollout)

    def refresh_rollout(self) -> None:
        reader = self.app.rollout
        if reader is None:
            return
        try:
            strip = self.query_one(RolloutStrip)
        except NoMatches:  # the app is shutting down
            return
        strip.show(reader.read(), reader.now())

    def show_snapshot(self, snapshot: ClusterSnapshot) -> None:
        super().show_snapshot(snapshot)
        if self.ready and self.is_attached:
            self.refresh_header()

    def refresh_header(self) -> None:
        clock = self.app.data_clock()
        try:
            header = self.query_one(ClusterHeader)
        except NoMatches:  # the app is shutting down
            return
        now = clock.now() if clock is not None else None
        header.show(self.snapshot, now)
        if now is not None and self.snapshot is not None and now - self.snapshot.taken_at >= STALE_AFTER_SECONDS:
            # No snapshot for a while (the feed stalled): the panes say so too.
            if self.app.screen is self:
                self.panes.show(self.snapshot, now=now)
