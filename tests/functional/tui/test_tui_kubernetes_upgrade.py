"""`upgrade-kubernetes --tui`: upgrade-k8s's progress per component and node reaches the run
screen's step output beside its raw lines, the dry run before them."""

from __future__ import annotations

import shutil
from pathlib import Path

from support.commands import run_simulated_install
from support.waits import wait_for

from talos_platform.commands.install import prepare
from talos_platform.engine.operations import operation_named
from talos_platform.main import build_parser
from talos_platform.operation_command import command_for
from talos_platform.run_screen import run_screen_app

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "metal-3cp-3w.yaml"


async def test_the_run_screen_shows_progress_per_component_and_node(tmp_path):
    config, state = tmp_path / "platform.yaml", tmp_path / "state"
    shutil.copy(EXAMPLE, config)
    assert run_simulated_install(state, "--yes", "--config", str(config)).returncode == 0
    argv = ["upgrade-kubernetes", "--to", "v1.37.3", "--simulate", "--speed", "inf", "--tui"]
    args = build_parser().parse_args([*argv, "--config", str(config), "--state-dir", str(state)])
    command = command_for(operation_named("upgrade-kubernetes"))
    target = prepare(args, operation=command.operation)
    try:
        session = command.session(args, target)
        app = run_screen_app(target, session, lambda: command.session(args, target), "simulated upgrade-kubernetes")
        async with app.run_test(size=(180, 50)) as pilot:
            await wait_for(pilot, lambda: app.progress is not None and app.progress.outcome == "succeeded")
            output = list(app.progress.steps["K.upgrade"].output)
    finally:
        target.release()
    assert output.index(" > skipped in dry-run") < output.index("talosctl upgrade-k8s --to v1.37.3: upgrading")
    assert "progress [kube-controller-manager 2/3] cp-2 (192.168.10.12): updated" in output
    assert "progress [kubelet 6/6] worker-3 (192.168.10.23): updated" in output
    assert ' < "192.168.10.23": successfully updated' in output
