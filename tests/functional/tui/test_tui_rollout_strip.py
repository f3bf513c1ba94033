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

from talos_platform.engine.run.events import RunStarted, StepOutput, StepSkipped, StepStarted
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


async def test_at_80_columns_the_strip_keeps_two_lines_each_cut_with_an_ellipsis(tmp_path):
    """A batch of two workers, one waiting on a user's gate with a long answer: the nodes share the
    second line, which is cut where the screen ends rather than wrapped."""
    state = StateDirectory(tmp_path).ensure()
    steps = ("T.preflight", "T.upgrade.worker-1", "T.upgrade.worker-2", "T.config")
    with state.lock(holder="upgrade-talos"), Journal(state.runs) as journal:
        resume = "talos-platform upgrade-talos --to v1.14.1 --max-parallel 2"
        journal.append(RunStarted(run_id=journal.run_id, steps=steps, operation="upgrade-talos", resume_command=resume))
        journal.append(StepSkipped(step_id="T.preflight", reason="nodes run v1.14.0 on worker-1, worker-2"))
        for node in ("worker-1", "worker-2"):
            journal.append(StepStarted(step_id=f"T.upgrade.{node}", layer=2, title=f"Upgrade {node}"))
        journal.append(StepOutput(step_id="T.upgrade.worker-1", line="worker-1: rebooting into v1.14.1"))
        gate = "waiting: gate `ceph health` has not passed: HEALTH_WARN 1 osds down; Degraded data redundancy"
        journal.append(StepOutput(step_id="T.upgrade.worker-2", line=gate))
        app = create_app(snapshot=cluster_snapshot(), rollout=RolloutReader(StateDirectory(tmp_path)))
        async with app.run_test(size=(80, 24)) as pilot:
            strip = app.screen.query_one(RolloutStrip)
            await wait_for(pilot, lambda: strip.display)
            await pilot.pause()
            rows = ["".join(segment.text for segment in strip.render_line(y)).rstrip() for y in (0, 1)]
            height = strip.region.height
    assert height == 2
    assert rows[0].startswith("▶ upgrade-talos · 0/2 nodes done · started ") and rows[0].endswith("…")
    assert rows[1].startswith("  worker-1 · rebooting · v1.14.0 → v1.14.1 │ worker-2 · gates · ")
    assert rows[1].endswith("…") and len(rows[1]) <= 80


def test_the_simulated_upgrades_own_journal_cut_mid_node_reads_as_that_nodes_phase(tmp_path):
    """The journal the real command line wrote, as far as it got when cp-2 was rebooting and then
    when cp-2 was back and gated: what a dashboard beside the run reads at those moments."""
    state = simulated_talos_upgrade(tmp_path)
    journal = sorted((state / "runs").iterdir())[-1] / "events.jsonl"
    lines = journal.read_text().splitlines(keepends=True)

    def cut_after(text: str) -> tuple[str, ...]:
        at = next(i for i, line in enumerate(lines) if text in line)
        beside = StateDirectory(tmp_path / f"beside-{at}").ensure()
        (beside.runs / journal.parent.name).mkdir(parents=True)
        (beside.runs / journal.parent.name / journal.name).write_text("".join(lines[: at + 1]))
        with beside.lock(holder="upgrade-talos"):
            summary = RolloutReader(StateDirectory(beside.root)).read()
        assert summary is not None and summary.live
        return summary.lines()

    headline, node = cut_after("cp-2: rebooting into v1.14.1")
    assert " · 1/6 nodes done · started " in headline
    assert node == "cp-2 · rebooting · v1.14.0 → v1.14.1"
    _, node = cut_after("cp-2: back, uncordoned")
    assert node == "cp-2 · gates · v1.14.0 → v1.14.1"
