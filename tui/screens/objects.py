"""The object views k9s users expect on a selected row: `l` a pod's log (followed), `d` a
describe-like view with the object's events, `y` its YAML. Read-only, each reading the cluster
on demand through the engine thread (see feed.ObjectReader)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Log, OptionList, Static
from textual.widgets.option_list import Option

from talos_platform.engine.observe.objects import (
    ContainerInfo,
    ObjectRef,
    ObjectView,
    containers_of,
    describe_lines,
    object_yaml,
    pod_ref,
)
from talos_platform.tui.feed import ObjectReader
from talos_platform.tui.styles import BAD, MUTED, WARN

NO_CLUSTER = "no cluster connection: this dashboard shows a fixed snapshot, and these views read the cluster"
MAX_LOG_LINES = 20_000
"""Kept in memory per log view (the oldest go first), as a terminal's scrollback would."""


def describe_renderable(view: ObjectView, extra: Sequence[Text] = ()) -> RenderableType:
    """The describe text, warnings coloured, with `extra` (the Talos facts of a node) after the fields."""
    if view.object is None:
        return Text(view.error or "not read yet", style=BAD if view.error else MUTED)
    lines = describe_lines(view.object, view.events)
    events_at = lines.index("Events:") if "Events:" in lines else len(lines)
    parts: list[RenderableType] = []
    for index, line in enumerate(lines):
        if index == events_at and extra:
            parts.extend(extra)
        style = WARN if index > events_at and line.lstrip().startswith("Warning") else ""
        if line.endswith(":") and not line.startswith(" "):
            style = "bold"
        parts.append(indented(line, style))
    return Group(*parts)


def indented(line: str, style: str) -> Text:
    """The indentation as a run of its own (styled, invisible): SVG renderers trim the leading
    spaces of a run, which flattened the screenshots (the terminal was fine)."""
    text = line.lstrip(" ")
    indent = len(line) - len(text)
    return Text.assemble((" " * indent, "dim"), (text, style)) if indent else Text(line, style=style)


def yaml_renderable(view: ObjectView, dark: bool) -> RenderableType:
    if view.object is None:
        return Text(view.error or "not read yet", style=BAD if view.error else MUTED)
    return Syntax(
        object_yaml(view.object).rstrip("\n"),
        "yaml",
        theme="ansi_dark" if dark else "ansi_light",
        background_color="default",
        word_wrap=True,
    )


TITLE_CSS = """
    #object-title, #log-title {
        height: 1;
        background: $panel;
    }
"""


class ObjectScreen(Screen[None]):
    """`d` (describe) or `y` (YAML) of one object; the other key switches, `r` reads it again."""

    DEFAULT_CSS = (
        TITLE_CSS
        + """
    #object-scroll {
        height: 1fr;
        padding: 0 1;
    }
    """
    )

    BINDINGS = [
        Binding("escape,q", "close", "Back"),
        Binding("d", "show('describe')", "Describe"),
        Binding("y", "show('yaml')", "YAML"),
        Binding("r", "reload", "Read again"),
    ]

    def __init__(
        self,
        ref: ObjectRef,
        reader: ObjectReader | None,
        view: str = "yaml",
        *,
        extra: Sequence[Text] = (),
    ):
        super().__init__()
        self.ref = ref
        self.reader = reader
        self.view_name = view
        self.extra = tuple(extra)
        self.object_view: ObjectView | None = None
        self.body: RenderableType = Text("")
        """What the view shows (kept for tests to read as text)."""

    def compose(self) -> ComposeResult:
        yield Static("", id="object-title")
        with VerticalScroll(id="object-scroll"):
            yield Static(Text("reading…", style=MUTED), id="object-body")
        yield Footer()

    def on_mount(self) -> None:
        self.show_title()
        self.action_reload()

    def show_title(self) -> None:
        name = "Describe" if self.view_name == "describe" else "YAML"
        self.query_one("#object-title", Static).update(
            Text.assemble((f" {name} ", "bold reverse"), " ", (self.ref.label + "  ", "bold"), ("(read-only)", MUTED))
        )

    def action_reload(self) -> None:
        if self.reader is None:
            self.show_view(ObjectView(self.ref, error=NO_CLUSTER))
        else:
            self.load()

    @work(exclusive=True)
    async def load(self) -> None:
        assert self.reader is not None, "action_reload starts this only with a reader"
        try:
            view = await self.reader.view(self.ref)
        except Exception as error:  # noqa: BLE001 - shown in place
            view = ObjectView(self.ref, error=f"could not read {self.ref.label}: {str(error) or type(error).__name__}")
        self.show_view(view)

    def show_view(self, view: ObjectView) -> None:
        self.object_view = view
        if self.view_name == "describe":
            self.body = describe_renderable(view, self.extra)
        else:
            self.body = yaml_renderable(view, self.app.current_theme.dark)
        self.query_one("#object-body", Static).update(self.body)

    def action_show(self, view: str) -> None:
        self.view_name = view
        self.show_title()
        if self.object_view is not None:
            self.show_view(self.object_view)

    def action_close(self) -> None:
        self.dismiss(None)


class ContainerChooser(ModalScreen[str | None]):
    """Which container's log, for a pod with more than one (init containers first)."""

    DEFAULT_CSS = """
    ContainerChooser {
        align: center middle;
    }
    #containers {
        width: auto;
        min-width: 50;
        max-width: 90%;
        height: auto;
        max-height: 80%;
        border: thick $accent;
        background: $panel;
    }
    """
    BINDINGS = [Binding("escape,q", "cancel", "Cancel")]

    def __init__(self, pod: str, containers: Sequence[ContainerInfo], current: str = ""):
        super().__init__()
        self.pod = pod
        self.containers = tuple(containers)
        self.current = current

    def compose(self) -> ComposeResult:
        options = OptionList(*(Option(container_label(c), id=c.name) for c in self.containers), id="containers")
        options.border_title = f"Log of which container of {self.pod}?"
        options.border_subtitle = "Enter: read its log  Esc: cancel"
        yield options

    def on_mount(self) -> None:
        names = [c.name for c in self.containers]
        options = self.query_one(OptionList)
        options.highlighted = names.index(self.current) if self.current in names else preferred(self.containers)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


def container_label(container: ContainerInfo) -> Text:
    # Each part ends with its separator (none starts with a space: SVG renderers trim those).
    parts = [(container.name + "  ", "bold")]
    if container.init:
        parts.append(("(init)  ", MUTED))
    parts.append((container.state + "  ", BAD if "BackOff" in container.state or "Err" in container.state else ""))
    if container.restarts:
        parts.append((f"{container.restarts:,} restarts  ", WARN))
    if container.has_previous:
        parts.append(("(p: the previous instance's log)", MUTED))
    return Text.assemble(*parts)


def preferred(containers: Sequence[ContainerInfo]) -> int:
    """The container a user most likely wants: the first one in trouble, else the first app container."""
    for index, container in enumerate(containers):
        if container.restarts or "BackOff" in container.state:
            return index
    return next((i for i, c in enumerate(containers) if not c.init), 0)


@dataclass
class LogLinesArrived(Message):
    lines: list[str]
    error: str
    ended: bool
    generation: int
    """Which stream they belong to: lines of a stream already replaced are dropped."""


class LogScreen(Screen[None]):
    """`l`: a pod's container log, followed as it grows (`kubectl logs -f --tail`)."""

    DEFAULT_CSS = (
        TITLE_CSS
        + """
    #log-lines {
        height: 1fr;
    }
    #log-search {
        dock: bottom;
        margin-bottom: 1;
    }
    """
    )

    BINDINGS = [
        Binding("escape,q", "close", "Back"),
        Binding("p", "toggle_previous", "Previous instance"),
        Binding("c", "choose_container", "Container"),
        Binding("slash", "search", "Search"),
        Binding("G,end", "follow", "Follow end", show=False),
        Binding("g,home", "top", "Top", show=False),
    ]

    def __init__(self, namespace: str, name: str, reader: ObjectReader | None, container: str = ""):
        super().__init__()
        self.namespace = namespace
        self.pod_name = name
        self.reader = reader
        self.container = container
        self.containers: tuple[ContainerInfo, ...] = ()
        self.previous = False
        self.lines: list[str] = []
        self.search = ""
        self.state = "reading…"
        self._stream: Future[Any] | None = None
        self._generation = 0

    def compose(self) -> ComposeResult:
        yield Static("", id="log-title")
        yield Log(id="log-lines", highlight=False)
        search = Input(placeholder="search the log: lines containing this (Enter), empty for all", id="log-search")
        search.display = False
        yield search
        yield Footer()

    def on_mount(self) -> None:
        self.show_title()
        self.query_one(Log).focus()
        if self.reader is None:
            self.state = NO_CLUSTER
            self.show_title()
            return
        self.read_containers()

    @work(exclusive=True, group="containers")
    async def read_containers(self) -> None:
        assert self.reader is not None, "on_mount starts this only with a reader"
        try:
            view = await self.reader.view(pod_ref(self.namespace, self.pod_name))
        except Exception as error:  # noqa: BLE001 - shown in place
            view = ObjectView(pod_ref(self.namespace, self.pod_name), error=str(error) or type(error).__name__)
        if view.object is None:
            self.state = view.error
            self.show_title()
            return
        self.containers = containers_of(view.object)
        names = [c.name for c in self.containers]
        if self.container not in names:
            self.container = ""
        if not self.container and len(self.containers) > 1:
            self.action_choose_container()
            return
        if not self.container and self.containers:
            self.container = self.containers[0].name
        self.start()

    def start(self) -> None:
        """(Re)start the stream for the current container and instance."""
        self.stop()
        self._generation += 1
        generation = self._generation
        self.lines = []
        self.query_one(Log).clear()
        self.state = "reading…"
        self.show_title()
        if self.reader is None:
            return

        def deliver(lines: list[str], error: str, ended: bool) -> None:
            self.post_message(LogLinesArrived(lines, error, ended, generation))

        self._stream = self.reader.follow_log(
            self.namespace, self.pod_name, self.container, previous=self.previous, deliver=deliver
        )

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.cancel()
            self._stream = None

    def on_unmount(self) -> None:
        self.stop()

    def on_log_lines_arrived(self, message: LogLinesArrived) -> None:
        if message.generation != self._generation:
            return
        if message.lines:
            self.lines.extend(message.lines)
            if len(self.lines) > MAX_LOG_LINES:
                del self.lines[: len(self.lines) - MAX_LOG_LINES]
                self.redraw_lines()
            else:
                self.query_one(Log).write_lines(line for line in message.lines if self.shows(line))
        if message.error:
            self.state = f"✗ {message.error}"
        elif message.ended:
            self.state = "the end (the instance is gone)" if self.previous else "ended: the container stopped"
        else:
            self.state = "following" if not self.previous else "reading"
        self.show_title()

    def shows(self, line: str) -> bool:
        return not self.search or self.search.lower() in line.lower()

    def redraw_lines(self) -> None:
        log = self.query_one(Log)
        log.clear()
        log.write_lines(line for line in self.lines if self.shows(line))

    def show_title(self) -> None:
        # Each part ends with its separator (none starts with a space: SVG renderers trim those).
        parts = [(" Logs ", "bold reverse"), (" ", ""), (f"{self.namespace}/{self.pod_name} ", "bold")]
        if self.container:
            parts.append((f"[{self.container}]  ", ""))
        if self.previous:
            parts.append(("previous instance  ", f"bold {WARN}"))
        parts.append((f"{self.state}  ", BAD if self.state.startswith("✗") else MUTED))
        parts.append((f"{len(self.lines):,} lines  ", MUTED))
        if self.search:
            shown = sum(1 for line in self.lines if self.shows(line))
            parts.append((f"search: {self.search} ({shown:,} match)  ", "italic"))
        crashed = next((c for c in self.containers if c.name == self.container and c.has_previous), None)
        if crashed is not None and not self.previous:
            parts.append((f"● {crashed.restarts:,} restarts: p shows the previous instance", WARN))
        self.query_one("#log-title", Static).update(Text.assemble(*parts))

    def action_toggle_previous(self) -> None:
        if self.reader is None:
            return
        self.previous = not self.previous
        self.start()

    def action_choose_container(self) -> None:
        if len(self.containers) < 2:
            self.notify("this pod has one container", severity="information")
            return

        def chosen(name: str | None) -> None:
            if name is None:
                if not self.container:
                    self.dismiss(None)  # nothing chosen at all: back to the dashboard
                return
            self.container = name
            self.start()

        self.app.push_screen(
            ContainerChooser(f"{self.namespace}/{self.pod_name}", self.containers, self.container), chosen
        )

    def action_search(self) -> None:
        box = self.query_one("#log-search", Input)
        box.value = self.search
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "log-search":
            return
        self.search = event.value.strip()
        event.input.display = False
        self.redraw_lines()
        self.show_title()
        self.query_one(Log).focus()

    def action_follow(self) -> None:
        log = self.query_one(Log)
        log.auto_scroll = True
        log.scroll_end(animate=False)

    def action_top(self) -> None:
        log = self.query_one(Log)
        log.auto_scroll = False
        log.scroll_home(animate=False)

    def action_close(self) -> None:
        box = self.query_one("#log-search", Input)
        if box.display:
            box.display = False
            self.query_one(Log).focus()
            return
        self.dismiss(None)
