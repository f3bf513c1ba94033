"""Resume holes found in the kill -9 promise, each reproduced on the simulated platform: a kill
right after `talosctl bootstrap` (etcd not answering yet), and a node booting between the
preflight's two questions."""

from __future__ import annotations

import json
import math

from talos_platform.engine.layers import platform_steps
from talos_platform.engine.run.events import StepFailed, StepOutput
from talos_platform.engine.session import InstallSession
from talos_platform.engine.sim import simulated_platform
from talos_platform.engine.state import StateDirectory


def journal_changes(journal) -> list[str]:
    return [json.loads(line).get("change", "") for line in journal.read_text().splitlines()[1:]]


async def run(platform, state, *, only=None):
    session = InstallSession(platform.config, platform.secrets, state, platform.drivers, platform.clock, only=only)
    events = []
    session.subscribe(events.append)
    outcome = await session.run()
    platform.close()
    return outcome, events


async def install_up_to_bootstrap(tmp_path, *, including=True):
    """Layer 0 up to and including `talosctl bootstrap`, on a journalled simulated cluster: the
    journal then ends with the bootstrap, like a process killed a moment after it."""
    journal = tmp_path / "state" / "simulation.jsonl"
    state = StateDirectory(tmp_path / "state")
    platform = simulated_platform("default", speed=math.inf, journal=journal)
    left_out = {"L0.kubeconfig", "L0.kubernetes-api"} | (set() if including else {"L0.bootstrap"})
    upto = [s.id for s in platform_steps(platform.config) if s.layer == 0 and s.id not in left_out]
    outcome, _ = await run(platform, state, only=upto)
    assert outcome == "succeeded"
    assert (journal_changes(journal)[-1] == "bootstrap") == including
    return journal, state


def mark_bootstrap_as_being_sent(state) -> None:
    """The marker as a run killed while `talosctl bootstrap` was on its way leaves it."""
    marker = state.bootstrap_marker
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"address": "192.168.10.11", "state": "sending", "at": "earlier"}))


async def test_a_kill_during_the_bootstrap_call_waits_for_etcd_instead_of_calling_again(tmp_path):
    journal, state = await install_up_to_bootstrap(tmp_path)
    mark_bootstrap_as_being_sent(state)
    resumed = simulated_platform("default", speed=math.inf, journal=journal)
    outcome, events = await run(resumed, state, only=["L0.bootstrap"])
    assert outcome == "succeeded", [e.error for e in events if isinstance(e, StepFailed)]
    assert journal_changes(journal).count("bootstrap") == 1 and "bootstrap_refused" not in journal_changes(journal)
    assert json.loads(state.bootstrap_marker.read_text())["state"] == "bootstrapped"


async def test_a_kill_before_the_bootstrap_call_went_out_bootstraps_after_waiting(tmp_path):
    journal, state = await install_up_to_bootstrap(tmp_path, including=False)
    mark_bootstrap_as_being_sent(state)
    resumed = simulated_platform("default", speed=math.inf, journal=journal)
    started = resumed.clock.now()
    # The resumed cluster is as of the last change: its nodes still install, so layer 0 waits first.
    upto = [
        s.id
        for s in platform_steps(resumed.config)
        if s.layer == 0 and s.id not in ("L0.kubeconfig", "L0.kubernetes-api")
    ]
    outcome, events = await run(resumed, state, only=upto)
    assert outcome == "succeeded", [e.error for e in events if isinstance(e, StepFailed)]
    assert journal_changes(journal).count("bootstrap") == 1
    assert resumed.clock.now() - started >= 120  # it waited for etcd before asking


async def test_a_kill_right_after_bootstrap_resumes_without_bootstrapping_again(tmp_path):
    journal, state = await install_up_to_bootstrap(tmp_path)
    resumed = simulated_platform("default", speed=math.inf, journal=journal)
    assert resumed.model.etcd_bootstrapped_on and not resumed.model.etcd_members  # etcd not answering yet
    outcome, events = await run(resumed, state, only=["L0.bootstrap"])
    assert outcome == "succeeded", [e.error for e in events if isinstance(e, StepFailed)]
    assert journal_changes(journal).count("bootstrap") == 1
    assert "bootstrap_refused" not in journal_changes(journal)  # the marker kept it from even asking
    said = " ".join(e.line for e in events if isinstance(e, StepOutput))
    assert "waiting for etcd" in said


async def test_a_kill_before_the_marker_was_written_takes_the_nodes_refusal_as_done(tmp_path):
    """The one window the marker cannot close (killed between the call and the marker): the
    node's AlreadyExists answer counts as bootstrapped."""
    journal, state = await install_up_to_bootstrap(tmp_path)
    for marker in state.talos_dir.glob("bootstrapped*"):
        marker.unlink()
    resumed = simulated_platform("default", speed=math.inf, journal=journal)
    outcome, events = await run(resumed, state, only=["L0.bootstrap"])
    assert outcome == "succeeded", [e.error for e in events if isinstance(e, StepFailed)]
    assert journal_changes(journal).count("bootstrap") == 1
    said = " ".join(e.line for e in events if isinstance(e, StepOutput))
    assert "already bootstrapped" in said


# --- a node booting between the preflight's two questions -----------------------------------------

SLOW_BOOT = """\
description: The default cluster, but the machines are powered on as the install starts.
cluster:
  name: homelab
  controlPlanes: 3
  workers: 3
timings:
  nodeBoot: 20
  jitter: 0
seed: 1
"""


class Context:
    def __init__(self, drivers):
        self.drivers = drivers


async def test_a_node_booting_between_the_two_questions_is_not_taken_for_a_foreign_one(tmp_path):
    from talos_platform.engine.layers.talos import maintenance_or_configured

    scenario = tmp_path / "slow-boot.yaml"
    scenario.write_text(SLOW_BOOT)
    platform = simulated_platform(scenario, speed=math.inf)
    address = platform.config.node_ip(platform.config.nodes[0])
    # Ask at 12s: the maintenance question finds the machine off and times out (10s) while it
    # boots at 20s, so the certificate question then meets a node in maintenance mode.
    await platform.clock.sleep(12)
    facts = await maintenance_or_configured(Context(platform.drivers), address)
    platform.close()
    assert facts.reachable and facts.maintenance, facts


async def test_an_install_on_machines_still_booting_passes_the_preflight(tmp_path):
    scenario = tmp_path / "slow-boot.yaml"
    scenario.write_text(SLOW_BOOT.replace("jitter: 0", "jitter: 0.3"))
    for seed in (1, 2, 3):
        platform = simulated_platform(scenario, seed=seed, speed=math.inf)
        preflight = [s.id for s in platform_steps(platform.config) if s.id.startswith("L0.preflight")]
        outcome, events = await run(platform, StateDirectory(tmp_path / f"state-{seed}"), only=preflight)
        assert outcome == "succeeded", (seed, [e.error for e in events if isinstance(e, StepFailed)])


# --- a kill while nodes install their config ------------------------------------------------------


def test_a_kill_while_nodes_install_their_config_waits_for_them_on_resume(tmp_path):
    """Nodes that took their config install and reboot for a minute or more without answering:
    the resumed install waits for them instead of giving up on them or applying again."""
    import os
    import signal
    import subprocess
    import sys
    import time

    state = tmp_path / "state"
    command = [
        sys.executable,
        "-m",
        "talos_platform",
        "install",
        "--yes",
        "--simulate",
        "--state-dir",
        str(state),
        "--output",
        "json",
    ]
    environment = {**os.environ, "TALOS_PLATFORM_LOOPBACK_ONLY": "1"}
    process = subprocess.Popen(
        [*command, "--speed", "150"], env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    journal = state / "simulation.jsonl"
    deadline = time.monotonic() + 60
    while journal_changes(journal).count("configure") < 6 if journal.exists() else True:
        assert process.poll() is None and time.monotonic() < deadline, (
            "the install ended before the nodes took their configs"
        )
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    resumed = subprocess.run([*command, "--speed", "inf"], env=environment, capture_output=True, text=True, timeout=300)
    records = [json.loads(line) for line in resumed.stdout.splitlines()]
    assert resumed.returncode == 0, [
        r for r in records if r["type"] in ("StepFailed", "StepRetrying")
    ] or resumed.stderr[-2000:]
    assert not [r for r in records if r["type"] == "StepRetrying" and r["step_id"].startswith("L0.preflight.node")]
    assert journal_changes(journal).count("configure") == 6  # each node once
