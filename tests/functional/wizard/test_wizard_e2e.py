"""End to end: the installed `talos-platform` under a pseudo-terminal, answered as a person
would, through the files, the plan and the question whether to install."""

from __future__ import annotations

import os
import re
import stat
import sys
import time
from pathlib import Path

import pexpect
import pyte
from conftest import EXPECTED
from wizard_script import happy_path
from wizard_terminal import CTRL_C, Step, expect, plain

TALOS_PLATFORM = Path(sys.executable).parent / "talos-platform"
COLUMNS, ROWS = 140, 50


class Person:
    """Reads the terminal (a pyte screen that also answers cursor position requests, as a
    terminal does) and types keys when the expected text shows."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]):
        self.child = pexpect.spawn(
            argv[0], argv[1:], cwd=str(cwd), env=env, dimensions=(ROWS, COLUMNS), encoding="utf-8"
        )
        self.screen = pyte.Screen(COLUMNS, ROWS)
        self.screen.set_mode(pyte.modes.LNM)
        self.screen.write_process_input = self.child.send
        self.stream = pyte.Stream(self.screen)
        self.transcript = ""
        self.cursor = 0

    def _read(self) -> None:
        try:
            data = self.child.read_nonblocking(65536, timeout=0.05)
        except pexpect.TIMEOUT:
            return
        self.transcript += data
        self.stream.feed(data)

    def follow(self, step: Step, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if step.on_screen:
                if step.wait_for in "\n".join(self.screen.display):
                    break
            else:
                found = plain(self.transcript).find(step.wait_for, self.cursor)
                if found >= 0:
                    self.cursor = found + len(step.wait_for)
                    break
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"waited for {step.wait_for!r}; the terminal shows:\n" + "\n".join(self.screen.display)
                )
            self._read()
        time.sleep(0.05)
        if step.keys:
            self.child.send(step.keys)

    def exit_code(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while self.child.isalive() and time.monotonic() < deadline:
            try:
                self._read()
            except pexpect.EOF:
                break
        self.child.close()
        return self.child.exitstatus


def test_a_person_runs_the_wizard_and_declines_the_install(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    person = Person([str(TALOS_PLATFORM)], work, _environment(tmp_path))
    for step in [*happy_path(), expect("Install plan", ""), expect("? Start the install now?", "n")]:
        person.follow(step)

    assert person.exit_code() == 0
    secrets = tmp_path / "state-home" / "talos-platform" / "homelab" / "secrets.yaml"
    assert (work / "platform.yaml").read_bytes() == (EXPECTED / "happy-path.yaml").read_bytes()
    assert secrets.read_bytes() == (EXPECTED / "happy-path.secrets.yaml").read_bytes()
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    transcript = plain(person.transcript)
    assert "install not started" in transcript
    assert f"talos-platform install --yes --config platform.yaml --secrets {secrets}" in re.sub(
        r"\s*\n\s*", " ", transcript
    )
    assert "cf-api-token-0123456789" not in person.transcript  # typed at a password prompt


def _environment(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path / "home"),
        "XDG_STATE_HOME": str(tmp_path / "state-home"),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "TALOS_PLATFORM_LOOPBACK_ONLY": "1",
    }


def _accept_every_default_of_the_simulated_scenario() -> list[Step]:
    steps = [
        expect("SIMULATION", ""),
        expect("? Cluster name"),
        expect("? Platform"),
        expect("? Talos version"),
        expect("? Kubernetes version"),
        expect("? Add system extensions"),
    ]
    for number in range(1, 7):  # the default scenario: 3 control planes, 3 workers
        steps += [expect(f"? Node {number}: {question}") for question in ("role", "name", "IP address", "install disk")]
        steps.append(expect(f"? Node {number}: network interface"))
    steps += [expect("? Add another node?", "n")]
    questions = [
        "Virtual IP",
        "Default gateway",
        "Change the pod and service networks?",
        "Extra names",
        "Load-balancer addresses",
        "Base domain",
        "E-mail for Let's Encrypt",
        "GitOps repository URL",
        "Branch",
        "Folder",
        "Is the repository private",
        "Components to install",
        "Change the pinned component versions?",
        "ArgoCD admin group",
        "Storage for persistent volumes",
        "Git user name",
        "Git access token",
        "Cloudflare API token",
        "Cloudflare Tunnel token",
        "Grafana admin password",
        "ArgoCD admin password",
        "What next?",
        "Save the config as",
    ]
    return steps + [expect(f"? {question}") for question in questions]


def test_a_simulated_guided_install_runs_in_the_dashboard_to_the_end(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    person = Person([str(TALOS_PLATFORM), "--simulate", "--speed", "1000"], work, _environment(tmp_path))
    for step in [
        *_accept_every_default_of_the_simulated_scenario(),
        expect("SIMULATION: these steps run on the simulator", ""),
        expect("? Start the simulated install now?"),  # default yes
        expect("SIMULATED PLATFORM", ""),
        Step("install succeeded", "q", on_screen=True),
    ]:
        person.follow(step, timeout=120)

    assert person.exit_code() == 0
    config = (work / "platform-simulated.yaml").read_text()
    assert "cluster:\n  name: homelab\n" in config and "192.168.10.11/24" in config
    secrets = tmp_path / "state-home" / "talos-platform" / "simulated" / "homelab" / "secrets.yaml"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600


def test_ctrl_c_in_the_terminal_cancels_and_leaves_no_file(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    person = Person([str(TALOS_PLATFORM)], work, _environment(tmp_path))
    script = happy_path()
    stop = next(i for i, step in enumerate(script) if step.wait_for == "? Base domain")
    for step in [*script[:stop], expect("? Base domain", "home" + CTRL_C)]:
        person.follow(step)

    assert person.exit_code() == 130
    assert "cancelled, nothing written" in plain(person.transcript)
    assert list(work.iterdir()) == []
    assert not (tmp_path / "state-home").exists()
