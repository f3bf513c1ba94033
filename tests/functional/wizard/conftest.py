"""Fixtures for the wizard tests: a scratch working folder and state directory, and a runner
that drives `run_guided` through a scripted terminal."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pytest
from wizard_terminal import ScriptedTerminal, Step

from talos_platform.wizards.guided import GuidedOptions, run_guided

EXPECTED = Path(__file__).parent / "expected"


@dataclass
class WizardRun:
    code: int
    screen: str
    folder: Path
    state: Path
    matched_screens: list[str] = dataclasses.field(default_factory=list)
    """The emulated screen when each `shows` step matched."""

    @property
    def config_file(self) -> Path:
        return self.folder / "platform.yaml"

    @property
    def secrets_file(self) -> Path:
        return self.state / "secrets.yaml"

    def files(self) -> list[str]:
        """Every file left behind in the working folder and the state directory."""
        found = []
        for root in (self.folder, self.state):
            if root.exists():
                found += [str(p.relative_to(root.parent)) for p in sorted(root.rglob("*")) if p.is_file()]
        return found


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def drive(folder: Path, tmp_path: Path):
    """drive(steps, config_path=None, hand_over=None) -> WizardRun"""

    def run(
        steps: list[Step],
        *,
        config_path: Path | None = None,
        hand_over=None,
        simulate: bool = False,
        speed: float = 1.0,
    ) -> WizardRun:
        state = tmp_path / "state"
        options = GuidedOptions(config_path=config_path, state_dir=state, simulate=simulate, speed=speed)
        terminal = ScriptedTerminal(steps)
        code = terminal.run(lambda console: run_guided(options, console, hand_over=hand_over))
        return WizardRun(code, terminal.text(), folder, state, terminal.matched_screens)

    return run
