"""A day-2 operation followed on the run screen (`--tui`): the etcd snapshot of an installed
simulated cluster runs on the screen the guided install uses, titled by the operation, with the
cluster's panes beside it; `--tui` is refused where there is no terminal to draw on."""

from __future__ import annotations

import json

from support.commands import run_simulated_install, talos_platform
from support.waits import wait_for

from talos_platform.commands.install import prepare
from talos_platform.engine.operations import operation_named
from talos_platform.main import build_parser
from talos_platform.operation_command import command_for
from talos_platform.run_screen import run_screen_app
from talos_platform.tui.screens.install import InstallScreen

SIZE = (180, 50)


async def test_an_etcd_snapshot_runs_on_the_run_screen_titled_by_the_operation(tmp_path):
    state = tmp_path / "state"
    assert run_simulated_install(state, "--yes").returncode == 0
    argv = ["etcd-snapshot", "--simulate", "--speed", "inf", "--state-dir", str(state), "--tui"]
    args = build_parser().parse_args(argv)
    command = command_for(operation_named("etcd-snapshot"))
    target = prepare(args, operation=command.operation)
    try:
        session = command.session(args, target)
        app = run_screen_app(target, session, lambda: command.session(args, target), "simulated etcd-snapshot")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.progress is not None and app.progress.outcome == "succeeded")
            screen = app.screen
            assert isinstance(screen, InstallScreen)
            await wait_for(pilot, lambda: "Etcd snapshot steps" in str(screen.steps_pane.border_title))
            assert set(screen.pane_names()) >= {"steps", "nodes", "pods"}
    finally:
        target.release()
    (record_file,) = (state / "etcd-snapshots").glob("*.json")
    assert json.loads(record_file.read_text())["node"] == "cp-1"


def test_tui_without_a_terminal_is_refused_naming_the_option(tmp_path):
    refused = talos_platform("etcd-snapshot", "--simulate", "--state-dir", str(tmp_path), "--tui")

    assert refused.returncode == 2
    assert "--tui needs a terminal" in refused.stderr and "Traceback" not in refused.stderr


def test_tui_with_json_output_is_refused(tmp_path):
    refused = talos_platform("etcd-snapshot", "--simulate", "--state-dir", str(tmp_path), "--tui", "--output", "json")

    assert refused.returncode == 2
    assert "--tui and --output json" in refused.stderr
