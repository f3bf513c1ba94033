"""The rollout strip (issue 15, item 5): a simulated Talos upgrade run by the real command line,
then read back from its journal by the reader the dashboard polls, and shown by the dashboard; a
run that starts while the dashboard is open (another terminal) appears on its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.cluster_data import cluster_snapshot
from support.commands import ENVIRONMENT, run_simulated_install
from support.waits import wait_for

from talos_platform.engine.run.events import RunStarted, StepOutput, StepStarted
from talos_platform.engine.run.journal import Journal
from talos_platform.engine.run.rollout import RolloutReader
from talos_platform.engine.state import StateDirectory
from talos_platform.tui.app import create_app
from talos_platform.tui.widgets.rollout_strip import RolloutStrip

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "metal-3cp-3w.yaml"
SIZE = (180, 50)


def simulated_talos_upgrade(tmp_path: Path) -> Path:
    config, state = tmp_path / "platform.yaml", tmp_path / "state"
    config.write_text(EXAMPLE.read_text().replace("talosVersion: v1.14.1", "talosVersion: v1.14.0"))
    assert run_simulated_install(state, "--yes", "--config", str(config)).returncode == 0
    upgraded = subprocess.run(
        [sys.executable, "-m", "talos_platform", "upgrade-talos", "--to", "v1.14.1", "--simulate", "--speed", "inf"]
        + ["--yes", "--config", str(config), "--state-dir", str(state)],
        env=ENVIRONMENT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    return state


async def test_a_finished_simulated_upgrade_is_read_from_its_journal_and_shown(tmp_path):
    state = simulated_talos_upgrade(tmp_path)
    run_id = sorted(p.name for p in (state / "runs").iterdir())[-1]

    text = RolloutReader(StateDirectory(state)).read().text()
    assert text.startswith("upgrade-talos (simulated) · succeeded · 6/6 nodes done · v1.14.0 → v1.14.1 · ended ")
    assert text.endswith(f" s ago · run {run_id}")

    app = create_app(snapshot=cluster_snapshot(), rollout=RolloutReader(StateDirectory(state)))
    async with app.run_test(size=SIZE) as pilot:
        strip = app.screen.query_one(RolloutStrip)
        await wait_for(pilot, lambda: strip.display)
        shown = str(strip.render())
        assert "✓ upgrade-talos (simulated) · succeeded · 6/6 nodes done · v1.14.0 → v1.14.1" in shown


async def test_a_run_started_in_another_terminal_appears_while_the_dashboard_is_open(tmp_path):
    state = StateDirectory(tmp_path).ensure()
    app = create_app(snapshot=cluster_snapshot(), rollout=RolloutReader(StateDirectory(tmp_path)))
    async with app.run_test(size=SIZE) as pilot:
        strip = app.screen.query_one(RolloutStrip)
        await pilot.pause(0.3)
        assert not strip.display  # no run yet: no strip

        with state.lock(holder="node-add"), Journal(state.runs) as journal:
            steps = ("N.preflight", "N.join.worker-4")
            journal.append(RunStarted(run_id=journal.run_id, steps=steps, operation="node-add"))
            journal.append(StepStarted(step_id="N.join.worker-4", layer=1, title="Wait for worker-4 to join"))
            journal.append(StepOutput(step_id="N.join.worker-4", line="waiting: worker-4 is not Ready"))
            await wait_for(pilot, lambda: strip.display)
            assert str(strip.render()).startswith(
                "▶ node-add · worker-4 joining → waiting: worker-4 is not Ready · 0/2 steps done · started "
            )
        await wait_for(pilot, lambda: "killed" in str(strip.render()))  # its lock was let go without an end
