"""Details of one row in a modal; from a pod, jump to its flows, its ArgoCD app or its node."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from talos_platform.engine.observe import ClusterSnapshot
from talos_platform.tui.details import describe, healthy_pod
from talos_platform.tui.feed import LiveFeed, ObjectDetails

Jump = tuple[str, str]
"""(target, value): ("flows", "ns/pod"), ("app", name) or ("node", name)."""


class DetailScreen(ModalScreen[Jump | None]):
    BINDINGS = [
        Binding("escape,q", "close", "Back"),
        Binding("f", "jump('flows')", "Flows"),
        Binding("a", "jump('app')", "ArgoCD app"),
        Binding("n", "jump('node')", "Node"),
    ]

    def __init__(
        self, key: str, snapshot: ClusterSnapshot, feed: LiveFeed | None = None, details: ObjectDetails | None = None
    ):
        super().__init__()
        self.key = key
        self.snapshot = snapshot
        self.feed = feed
        self.details = details
        self.title_text, _, self.jumps = describe(key, snapshot, details)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-body", classes="modal-body") as body:
            body.border_title = self.title_text
            body.border_subtitle = (
                "  ".join(f"{k[0]}: {k}" for k in self.jumps) + "  Esc: back" if self.jumps else "Esc: back"
            )
            yield Static(describe(self.key, self.snapshot, self.details)[1], id="detail-content")
        yield Footer()

    def on_mount(self) -> None:
        if self.key.startswith("pod:") and self.details is None:
            if self.feed is not None:
                self.load_pod_details()
            else:
                self.show_details(ObjectDetails(error="no live cluster connection"))

    @work(exclusive=True)
    async def load_pod_details(self) -> None:
        namespace, _, name = self.key[4:].partition("/")
        assert self.feed is not None, "on_mount starts this only with a live feed"
        try:
            details = await self.feed.pod_details(namespace, name)
        except Exception as error:  # noqa: BLE001 - shown in place
            details = ObjectDetails(error=f"could not read the pod: {str(error) or type(error).__name__}")
        self.show_details(details)

    def show_details(self, details: ObjectDetails) -> None:
        self.details = details
        self.query_one("#detail-content", Static).update(describe(self.key, self.snapshot, details)[1])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "jump":
            return parameters[0] in self.jumps
        return True

    def action_close(self) -> None:
        self.dismiss(None)

    def action_jump(self, target: str) -> None:
        pod = self.key.partition(":")[2]
        problem = next((p for p in self.snapshot.pod_problems if f"{p.namespace}/{p.name}" == pod), None)
        found = problem or healthy_pod(self.snapshot, pod)
        value = {"flows": pod, "app": found.app if found else "", "node": found.node if found else ""}[target]
        self.dismiss((target, value))
