"""The install screen driven with Pilot over a real InstallSession (scripted steps): the
checklist, live output, the failure view with its hint, retry, and confirming before quitting."""

from __future__ import annotations

import asyncio
import functools
import hashlib
from pathlib import Path

from support.waits import wait_for
from textual.widgets import Static

from talos_platform.engine.config.loading import load_config
from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.drivers.protocols import Drivers
from talos_platform.engine.errors import PermanentError
from talos_platform.engine.plan.step import Action, CheckResult
from talos_platform.engine.run.runner import RetryPolicy
from talos_platform.engine.session import InstallSession
from talos_platform.engine.state import StateDirectory
from talos_platform.tui.app import create_app
from talos_platform.tui.screens.confirm import ConfirmScreen
from talos_platform.tui.screens.install import InstallScreen

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "metal-3cp-3w.yaml"
SIZE = (180, 50)


class ScriptedStep:
    """Applies once (remembered in `world`), printing lines; can be told to fail or to block."""

    def __init__(self, id: str, layer: int, title: str, world: dict, needs: tuple[str, ...] = ()):
        self.id, self.layer, self.title, self.needs, self.timeout = id, layer, title, needs, 30.0
        self.world = world

    def input_digest(self) -> str:
        return hashlib.sha256(self.id.encode()).hexdigest()[:8]

    async def check(self, ctx) -> CheckResult:
        if self.world.get(self.id) == "done":
            return CheckResult(reason="already done")
        return CheckResult(actions=(Action(f"do {self.title}"),))

    async def apply(self, ctx, check) -> None:
        ctx.output(f"starting {self.title}")
        if self.world.get("block") == self.id:
            await asyncio.Event().wait()
        if self.world.get("fail") == self.id:
            raise PermanentError(
                "Talos API on 192.168.10.21 refused the config",
                hint="check that worker-1 booted the Talos ISO, then retry",
            )
        ctx.output(f"finished {self.title}")
        self.world[self.id] = "done"

    async def wait(self, ctx) -> None:
        return None


def make_app(tmp_path: Path, world: dict, grace: float = 0.5):
    config = load_config(EXAMPLE)

    def session_factory() -> InstallSession:
        steps = [
            ScriptedStep("L0.apply-config", 0, "apply machine configs", world),
            ScriptedStep("L0.bootstrap", 0, "bootstrap etcd", world, needs=("L0.apply-config",)),
            ScriptedStep("L1.cilium", 1, "install Cilium", world, needs=("L0.bootstrap",)),
        ]
        return InstallSession(
            config,
            Secrets(),
            StateDirectory(tmp_path / "state"),
            Drivers(talos=None, kube=None),
            steps=steps,
            retry=RetryPolicy(max_attempts=1),
            interrupt_grace=grace,
        )

    return create_app("install", session_factory=session_factory)


async def test_failure_shows_the_hint_and_retry_finishes_the_install(tmp_path):
    world = {"fail": "L0.bootstrap"}
    app = make_app(tmp_path, world)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.progress.outcome == "failed")
        screen = app.screen
        assert isinstance(screen, InstallScreen)
        states = {sid: s.state for sid, s in app.progress.steps.items()}
        assert states == {"L0.apply-config": "succeeded", "L0.bootstrap": "failed", "L1.cilium": "pending"}
        failure = screen.query_one("#failure")
        assert failure.display
        assert app.progress.steps["L0.bootstrap"].hint == "check that worker-1 booted the Talos ISO, then retry"
        # The failed step is selected and its output is on screen.
        assert screen.steps_pane.selected_key() == "step:L0.bootstrap"
        assert screen.query_one("#output").step_id == "L0.bootstrap"

        world.pop("fail")
        await pilot.press("r")
        await wait_for(pilot, lambda: app.progress.outcome == "succeeded")
        assert not failure.display
        assert app.progress.steps["L0.apply-config"].state == "skipped"  # re-checked, not redone
        assert [s.state for s in app.progress.steps.values()][1:] == ["succeeded", "succeeded"]


async def test_selecting_a_step_shows_its_output(tmp_path):
    app = make_app(tmp_path, {})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.progress.outcome == "succeeded")
        screen = app.screen
        screen.steps_pane.table.focus()
        screen.steps_pane.select_key("step:L0.apply-config")
        output = screen.query_one("#output")
        # The selection reaches the output pane through a posted message: on a busy machine that
        # takes more than one pause.
        await wait_for(pilot, lambda: output.step_id == "L0.apply-config")
        assert [str(line.text) for line in output.lines][:2] == [
            "starting apply machine configs",
            "finished apply machine configs",
        ]


async def test_quitting_a_running_install_asks_first(tmp_path):
    world = {"block": "L1.cilium"}
    app = make_app(tmp_path, world)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.progress.steps["L1.cilium"].state == "running")
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert isinstance(app.screen, InstallScreen) and app.is_running
        await pilot.press("ctrl+q")  # the app-wide quit asks too
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n", "q")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.return_value is not None)
    assert app.return_value == "interrupted"


async def test_confirming_quit_says_at_once_that_the_install_is_stopping(tmp_path):
    """Issue 14: `q`, `y` answers on screen before the steps in flight finish (here they get 3 s)."""
    world = {"block": "L1.cilium"}
    app = make_app(tmp_path, world, grace=3.0)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.progress.steps["L1.cilium"].state == "running")
        await pilot.press("q", "y")
        screen = app.screen
        assert isinstance(screen, InstallScreen)
        assert app.progress.steps["L1.cilium"].state == "running" and app.is_running  # still finishing
        summary = screen.steps_pane.content.summary.plain
        assert "stopping after the current step…" in summary
        assert "stopping after the current step…" in screen.sub_title
        await wait_for(pilot, lambda: app.return_value is not None)
    assert app.return_value == "interrupted"


async def test_a_finished_install_says_where_the_kubeconfig_is_and_how_to_open_the_dashboard(tmp_path):
    """Issue 14, item 9: the install screen's success message has the headless install's next steps."""
    app = make_app(tmp_path, {})
    state = StateDirectory(tmp_path / "state")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.progress.outcome == "succeeded")
        screen = app.screen
        success = screen.query_one("#success", Static)
        await wait_for(pilot, lambda: success.display and app.progress.notes)
        shown = str(success.render())
        assert shown.startswith("✓ install succeeded · q quit\n")
        assert f"kubeconfig:  {state.kubeconfig}" in shown and f"talosconfig: {state.talosconfig}" in shown
        assert f"talos-platform dashboard --kubeconfig {state.kubeconfig}" in shown
        assert not screen.query_one("#failure").display


def test_the_guided_install_prints_the_next_steps_once_the_install_screen_closes(tmp_path, monkeypatch, capsys):
    """The screen is gone after `q`: the terminal keeps where the kubeconfig is."""
    from talos_platform.commands import guided
    from talos_platform.commands.install import Target
    from talos_platform.tui import app as tui_app

    apps = []

    def headless_app(*args, **kwargs):
        app = create_app(*args, **kwargs)
        apps.append(app)

        async def quit_once_finished(pilot):
            await wait_for(pilot, lambda: app.progress.outcome == "succeeded")
            await pilot.press("q")

        app.run = functools.partial(app.run, headless=True, size=SIZE, auto_pilot=quit_once_finished)
        return app

    monkeypatch.setattr(tui_app, "create_app", headless_app)
    first = make_app(tmp_path, {}).session_factory
    state = StateDirectory(tmp_path / "state")
    target = Target(load_config(EXAMPLE), Secrets(), state, drivers=None, clock=None, simulated=False)

    code = guided._run_install(first(), first, target)

    assert code == 0 and apps
    printed = capsys.readouterr().out.splitlines()
    assert printed[:3] == [
        f"kubeconfig:  {state.kubeconfig}  (cluster-admin: keep it private; export KUBECONFIG={state.kubeconfig})",
        f"talosconfig: {state.talosconfig}  (export TALOSCONFIG={state.talosconfig})",
        f"dashboard:   talos-platform dashboard --kubeconfig {state.kubeconfig} --talosconfig {state.talosconfig}",
    ]
