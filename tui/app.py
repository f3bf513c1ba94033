"""The Textual application and its one factory, used by the CLI, the tests and the screenshot
script. The app is thin: screens draw, the engine runs on its own thread (see bridge.py)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from talos_platform.engine.drivers.clock import Clock, RealClock
from talos_platform.engine.drivers.protocols import Drivers
from talos_platform.engine.observe import ClusterSnapshot, TalosTarget
from talos_platform.tui.bridge import EngineThread, EventBatcher, SnapshotSlot
from talos_platform.tui.feed import LiveFeed, ObjectReader
from talos_platform.tui.heap import HeapFreezer
from talos_platform.tui.install_state import InstallProgress
from talos_platform.tui.messages import InstallEventsArrived, InstallFinished, SnapshotPublished
from talos_platform.tui.screens.dashboard import ClusterView, DashboardScreen
from talos_platform.tui.screens.help import HelpScreen
from talos_platform.tui.screens.install import InstallScreen

if TYPE_CHECKING:
    from talos_platform.engine.run.rollout import RolloutReader
    from talos_platform.engine.session import OperationSession

REPLACED_COMMANDS = frozenset({"Keys", "Maximize", "Minimize"})
"""Textual's own palette entries that ours replace on the cluster screens."""

PANE_TITLES = {
    "steps": "Steps",
    "nodes": "Nodes",
    "apps": "Apps by wave",
    "pods": "Pod health",
    "flows": "Hubble flows",
    "alerts": "Alerts",
}

HELP_SCREEN = "help"
"""The name the help screen is installed under."""

DARK = "textual-dark"
LIGHT = "textual-light"


class PlatformApp(App[str]):
    CSS_PATH = "app.tcss"
    TITLE = "talos-platform"
    BINDINGS: ClassVar[list[BindingType]] = [
        # Ctrl+C quits as in any terminal program (Textual would only say how to quit), through
        # the same question as `q` while an install runs.
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        *,
        mode: str = "dashboard",
        feed: LiveFeed | None = None,
        snapshot: ClusterSnapshot | None = None,
        session_factory: Callable[[], OperationSession | None] | None = None,
        progress: InstallProgress | None = None,
        clock: Clock | None = None,
        simulation_note: str = "",
        theme: str = DARK,
        rehearsal: bool = False,
        fault_outlook: Callable[[float], str] | None = None,
        cluster_name: str = "",
        kube_context: str = "",
        object_drivers: Drivers | None = None,
        rollout: RolloutReader | None = None,
    ):
        super().__init__()
        if mode not in ("dashboard", "install"):
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        self.feed = feed
        self.initial_snapshot = snapshot
        self.session_factory = session_factory
        self.progress = progress
        self.engine_clock = clock
        self.simulation_note = simulation_note
        self.cluster_name = cluster_name
        self.kube_context = kube_context
        """Shown in the dashboard's header line."""
        self.rollout = rollout
        """The state directory's newest run, for the dashboard's rollout strip; None: no state directory known."""
        self.rehearsal = rehearsal
        """A dress rehearsal (`talos-platform rehearse`): real components on this machine only."""
        self.fault_outlook = fault_outlook
        """What a simulated scenario's timed faults are about to do, by virtual time (the banner
        says it); None for a real cluster."""
        self.theme = theme
        self.slot = SnapshotSlot(lambda: self.post_message(SnapshotPublished()))
        self.batcher = EventBatcher(lambda: self.post_message(InstallEventsArrived()))
        self.engine = feed.engine if feed is not None else EngineThread()
        self.object_reader: ObjectReader | None = (
            feed.objects
            if feed is not None
            else ObjectReader(object_drivers, self.engine)
            if object_drivers is not None
            else None
        )
        """Where the logs, describe and YAML views read from; None: no cluster to read (they say so)."""
        self.session: OperationSession | None = None
        self._exit_when_finished = False
        self.cluster_view: ClusterView | None = None
        self.snapshots_shown = 0
        self.heap = HeapFreezer()

    # --- start-up -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        if self.mode == "install":
            if self.progress is None:
                self.progress = InstallProgress(())
            self.cluster_view = InstallScreen(self.progress)
            self.sub_title = "install"
        else:
            self.cluster_view = DashboardScreen()
            self.sub_title = "dashboard"
        self.push_screen(self.cluster_view)
        if self.initial_snapshot is not None:
            self.call_after_refresh(self.show_snapshot, self.initial_snapshot)
        if self.feed is not None:
            self.feed.start(self.slot.put)
        if self.mode == "install" and self.session_factory is not None:
            self.start_install()
            self.set_interval(0.5, self._tick)

    def help_screen(self) -> HelpScreen:
        """The one help screen (`?`), made on first use and kept installed: opening it again
        reuses its widgets, styles and rendered lines instead of composing, styling, laying out
        and rendering a new screen on every press."""
        if not self.is_screen_installed(HELP_SCREEN):
            self.install_screen(HelpScreen(), HELP_SCREEN)
        return self.get_screen(HELP_SCREEN, HelpScreen)

    def on_unmount(self) -> None:
        self.engine.stop()
        if self.heap.freezes:
            gc.unfreeze()  # the process may go on (tests, the CLI): let its heap be collected again

    # --- snapshots ------------------------------------------------------------------------------

    def on_snapshot_published(self, _: SnapshotPublished) -> None:
        snapshot = self.slot.take()
        if snapshot is not None:
            self.show_snapshot(snapshot)
            size = len(snapshot.nodes) + snapshot.pod_total + len(snapshot.apps)
            if self.feed is not None and self.heap.due(size):
                self.call_after_refresh(self.heap.maybe_freeze, size)

    def show_snapshot(self, snapshot: ClusterSnapshot) -> None:
        if self.cluster_view is not None:
            self.cluster_view.show_snapshot(snapshot)
            self.snapshots_shown += 1

    def data_clock(self) -> Clock | None:
        """The clock the observer stamps snapshots with (None when showing a fixed snapshot)."""
        if self.engine_clock is not None:
            return self.engine_clock
        return RealClock() if self.feed is not None else None

    @property
    def simulated_drivers(self) -> bool:
        """True as soon as the app is given simulated drivers (or runs a rehearsal), before any
        data arrives: the banner says what is not real."""
        return self.rehearsal or (self.feed is not None and self.feed.simulated)

    def simulation_label(self) -> str:
        note = f" — {self.simulation_note}" if self.simulation_note else ""
        if self.rehearsal:
            return (
                "⚠ REHEARSAL: a local control plane and the real ArgoCD on this machine; "
                f"no Talos machine is touched{note}"
            )
        return f"⚠ SIMULATED PLATFORM: nothing real is contacted{note}"

    # --- install --------------------------------------------------------------------------------

    def start_install(self) -> None:
        assert self.session_factory is not None
        session = self.session_factory()
        if session is None:
            # The factory had one session only (a dress rehearsal): a retry is a new command.
            self.notify("this run cannot be retried from here: run the command again", severity="warning")
            return
        self.session = session
        operation = getattr(getattr(session, "operation", None), "name", None)
        if self.progress is not None and operation:
            self.progress.operation = operation  # titles the screen before the run's first event
            self.sub_title = operation
        if self.progress is not None and not self.progress.steps:
            self.progress.add_steps((s.id, s.layer, s.title) for s in session.plan)

        async def run() -> None:
            session.subscribe(self.batcher.put)
            notes: tuple[str, ...] = ()
            try:
                outcome = await session.run()
                if outcome == "succeeded":
                    notes = tuple(session.operation.notes(session.config, session.state, simulated=session.simulated))
            except Exception as error:  # noqa: BLE001 - shown in the failure view, never a traceback
                outcome = f"crashed: {str(error) or type(error).__name__}"
            self.post_message(InstallFinished(outcome, notes))

        self.engine.submit(run())

    def on_install_events_arrived(self, _: InstallEventsArrived) -> None:
        events = self.batcher.take()
        if not events or self.progress is None:
            return
        for event in events:
            self.progress.apply(event)
        if isinstance(self.cluster_view, InstallScreen):
            self.cluster_view.refresh_progress()

    def on_install_finished(self, message: InstallFinished) -> None:
        self.on_install_events_arrived(InstallEventsArrived())
        if self.progress is not None and not self.progress.outcome:
            self.progress.outcome = message.outcome
        if self.progress is not None and message.outcome == "succeeded":
            self.progress.notes = message.notes
        if isinstance(self.cluster_view, InstallScreen):
            self.cluster_view.refresh_progress()
        if self._exit_when_finished:
            self.exit(message.outcome)

    def _tick(self) -> None:
        if self.progress is not None and self.progress.running:
            if self.engine_clock is not None:
                self.progress.now = max(self.progress.now, self.engine_clock.now())
            if isinstance(self.cluster_view, InstallScreen):
                self.cluster_view.refresh_progress()

    def interrupt_install_and_exit(self) -> None:
        if self.session is None:
            self.exit("interrupted")
            return
        self._exit_when_finished = True
        if self.progress is not None:
            # The steps in flight may take seconds to finish: say at once that the stop is under way.
            self.progress.stop_requested = True
            if isinstance(self.cluster_view, InstallScreen):
                self.cluster_view.refresh_progress()
        self.session.interrupt()
        self.set_timer(15, lambda: self.exit("interrupted"))

    async def action_quit(self) -> None:
        """Ctrl+Q (and the palette's Quit) go through the same question as `q` during an install."""
        if isinstance(self.cluster_view, InstallScreen):
            self.cluster_view.action_request_quit()
            return
        self.exit()

    # --- theme and palette ------------------------------------------------------------------------

    def toggle_theme(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            # Our screens have their own (`Maximise pane`, `Keys and colours`): one entry each.
            if isinstance(screen, ClusterView) and command.title in REPLACED_COMMANDS:
                continue
            yield command
        yield SystemCommand("Light / dark theme", "Switch between the light and the dark theme", self.toggle_theme)
        if isinstance(screen, ClusterView):
            for pane_id in screen.pane_names():
                yield SystemCommand(
                    f"Go to {PANE_TITLES.get(pane_id, pane_id)}",
                    f"Focus the {pane_id} pane (:{pane_id})",
                    partial(screen.action_focus_pane, pane_id),
                )
            yield SystemCommand(
                "Pause / resume flows", "Freeze the flow list; new flows are counted", screen.action_pause
            )
            yield SystemCommand(
                "Maximise pane", "Give the focused pane the whole screen (again to restore)", screen.action_maximise
            )
            yield SystemCommand("Filter pane", "Filter the focused pane", screen.action_start_filter)
            yield SystemCommand(
                "Show dropped flows",
                "Filter the flows pane to verdict DROPPED",
                partial(show_dropped_flows, screen),
            )
            yield SystemCommand(
                "Show pod problems", "Focus the pod-health pane", lambda: screen.action_focus_pane("pods")
            )
            yield SystemCommand("Keys and colours", "The help screen", screen.action_help)


def create_app(
    mode: str = "dashboard",
    *,
    drivers: Drivers | None = None,
    clock: Clock | None = None,
    talos_targets: Iterable[TalosTarget] = (),
    snapshot: ClusterSnapshot | None = None,
    session_factory: Callable[[], OperationSession | None] | None = None,
    progress: InstallProgress | None = None,
    simulation_note: str = "",
    theme: str = DARK,
    min_interval: float = 0.2,
    rehearsal: bool = False,
    fault_outlook: Callable[[float], str] | None = None,
    cluster_name: str = "",
    kube_context: str = "",
    object_drivers: Drivers | None = None,
    rollout: RolloutReader | None = None,
) -> PlatformApp:
    """`drivers` makes the app observe a cluster (real or simulated) on the engine thread;
    `snapshot` shows a fixed snapshot (tests, screenshots); `session_factory` (install mode)
    creates an `OperationSession` (an install's or another operation's, which titles the
    screen) on those same drivers, called again for a retry (None: no retry); `progress` shows a given install
    state (tests, screenshots); `fault_outlook` (default: the simulated drivers' own) says on
    the banner what the scenario's timed faults are about to do; `object_drivers` serve the logs,
    describe and YAML views beside a fixed `snapshot` (tests, screenshots); `rollout` reads the
    state directory's newest run for the dashboard's rollout strip."""
    feed = (
        LiveFeed(drivers, clock, talos_targets=talos_targets, min_interval=min_interval)
        if drivers is not None
        else None
    )
    return PlatformApp(
        mode=mode,
        feed=feed,
        snapshot=snapshot,
        session_factory=session_factory,
        progress=progress,
        clock=clock,
        simulation_note=simulation_note,
        theme=theme,
        rehearsal=rehearsal,
        fault_outlook=fault_outlook or (drivers.extra.get("fault_outlook") if drivers is not None else None),
        cluster_name=cluster_name,
        kube_context=kube_context,
        object_drivers=object_drivers,
        rollout=rollout,
    )


def show_dropped_flows(screen: ClusterView) -> None:
    screen.apply_filter("flows", "verdict:dropped")
    screen.action_focus_pane("flows")
