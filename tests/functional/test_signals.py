"""Ctrl-C and SIGTERM through the real command line (issue 17, item 6): at any moment, start-up
included, the install ends with exit 130 and the exact command that resumes it, and the grace
period given to the steps in flight is said while it runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

ENVIRONMENT = {**os.environ, "TALOS_PLATFORM_LOOPBACK_ONLY": "1"}


def install(state: Path, *extra: str) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "talos_platform",
        "install",
        "--simulate",
        "--speed",
        "4",
        "--state-dir",
        str(state),
        "--output",
        "json",
        *extra,
    ]
    return subprocess.Popen(
        command, env=ENVIRONMENT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for_a_started_step(process: subprocess.Popen) -> None:
    """Read JSON events until a step has started (the run is under way)."""
    assert process.stdout is not None
    for line in process.stdout:
        if json.loads(line)["type"] == "StepStarted":
            return
    raise AssertionError(f"the install ended before any step started: {process.stderr.read()}")


def test_ctrl_c_mid_run_says_the_grace_period_and_ends_with_the_exact_resume_command(tmp_path):
    state = tmp_path / "state dir"
    process = install(state, "--seed", "5")
    wait_for_a_started_step(process)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Ctrl-C: stopping. No new step starts; steps in flight get up to 10 s to finish" in stderr
    last = stderr.strip().splitlines()[-1]
    expected = f"resume with: talos-platform install --state-dir '{state}' --simulate --seed 5 --speed 4 --output json"
    assert last == expected


def test_sigterm_mid_run_ends_like_ctrl_c(tmp_path):
    state = tmp_path / "s"
    process = install(state)
    wait_for_a_started_step(process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "SIGTERM: stopping." in stderr
    assert (
        stderr.strip().splitlines()[-1]
        == f"resume with: talos-platform install --state-dir {state} --simulate --speed 4 --output json"
    )


STARTUP = """
import os, signal, sys, time
import talos_platform.commands.install as install

# As from a terminal: a suite started in the background (`cmd &` in a script) hands its children
# SIGINT ignored, and an ignored Ctrl-C is never a KeyboardInterrupt.
signal.signal(signal.SIGINT, signal.default_int_handler)

def prepare(*args, **kwargs):  # the signal arrives while the install is still getting ready
    os.kill(os.getpid(), signal.{name})
    time.sleep(10)
    raise AssertionError("the signal was not acted on")

install.prepare = prepare
from talos_platform.main import main
sys.exit(main(sys.argv[1:]))
"""


def start_up_then(signal_name: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            STARTUP.format(name=signal_name),
            "install",
            "--yes",
            "--config",
            "platform.yaml",
            "--state-dir",
            str(tmp_path / "s"),
        ],
        env=ENVIRONMENT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_sigterm_during_start_up_ends_like_ctrl_c_with_the_resume_command(tmp_path):
    finished = start_up_then("SIGTERM", tmp_path)
    assert finished.returncode == 130, finished.stderr
    assert "interrupted before the install got under way" in finished.stderr
    assert finished.stderr.strip().splitlines()[-1] == (
        f"resume with: talos-platform install --config platform.yaml --state-dir {tmp_path / 's'} --yes"
    )


def test_ctrl_c_during_start_up_gives_the_resume_command_too(tmp_path):
    finished = start_up_then("SIGINT", tmp_path)
    assert finished.returncode == 130, finished.stderr
    assert "Traceback" not in finished.stderr
    assert (
        finished.stderr.strip()
        .splitlines()[-1]
        .startswith("resume with: talos-platform install --config platform.yaml")
    )
