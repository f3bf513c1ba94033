"""A scripted terminal for driving the real questionary prompts in-process.

Like a person at the keyboard: wait until a text shows, then type keys. The prompts read real
key sequences from a pipe (prompt_toolkit parses them exactly as from a tty) and render to a
real VT100 output captured in memory. That output is also played into a terminal emulator
(pyte), so a step can wait for what is on the screen right now: a validation message drawn
under the prompt while the wrong answer is still there.
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyte
from prompt_toolkit.application import create_app_session
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output
from rich.console import Console

ENTER = "\r"
ESC = "\x1b"
UP = "\x1b[A"
DOWN = "\x1b[B"
SPACE = " "
CTRL_C = "\x03"
CTRL_U = "\x15"  # erase the line typed so far
BACKSPACE = "\x7f"

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]|\r")


def plain(text: str) -> str:
    return _ANSI.sub("", text)


@dataclass
class Step:
    wait_for: str
    keys: str
    on_screen: bool = False
    """Wait for the text on the emulated screen now, instead of next in the output stream."""


def expect(wait_for: str, keys: str = ENTER) -> Step:
    """Wait until `wait_for` is printed (after what the previous step waited for), type `keys`."""
    return Step(wait_for, keys)


def shows(text: str, keys: str) -> Step:
    """Wait until the screen shows `text` right now (e.g. a validation message), type `keys`."""
    return Step(text, keys, on_screen=True)


class ScriptFailed(AssertionError):
    pass


class _TerminalOutput(Vt100_Output):
    """VT100 output into memory that, like a terminal, answers cursor position requests
    (prompt_toolkit draws bottom toolbars, e.g. a checkbox's validation message, only then)."""

    @property
    def responds_to_cpr(self) -> bool:
        return True


class _AnsweringScreen(pyte.Screen):
    """The emulated terminal; its replies (cursor position reports) go back into the input."""

    reply: Callable[[str], None] = staticmethod(lambda data: None)

    def write_process_input(self, data: str) -> None:
        self.reply(data)


class ScriptedTerminal:
    """Runs `function` with prompts bound to this terminal, feeding `steps` from a thread."""

    def __init__(self, steps: list[Step], timeout: float = 15.0, width: int = 140, rows: int = 60):
        self.rows = rows
        self.steps = steps
        self.timeout = timeout
        self.width = width
        self.screen = io.StringIO()
        self.console = Console(file=self.screen, width=width, force_terminal=False, color_system=None)
        self.failure: str | None = None
        self.finished_steps = 0
        self.emulated = _AnsweringScreen(width, self.rows)
        self.emulated.set_mode(pyte.modes.LNM)  # rich prints bare newlines
        self._emulator = pyte.Stream(self.emulated)
        self._played = 0
        self.matched_screens: list[str] = []
        """The emulated screen at the moment each `shows` step matched."""

    def text(self) -> str:
        return plain(self.screen.getvalue())

    def screen_now(self) -> str:
        """What the emulated terminal shows at this moment (only the feeder thread calls this:
        the emulator's replies are typed into the same pipe as the keys)."""
        written = self.screen.getvalue()
        self._emulator.feed(written[self._played :])
        self._played = len(written)
        return "\n".join(line.rstrip() for line in self.emulated.display)

    def _feed(self, pipe: Any, stop: threading.Event) -> None:
        self.emulated.reply = pipe.send_text
        cursor = 0
        for step in self.steps:
            deadline = time.monotonic() + self.timeout
            while True:
                if stop.is_set():
                    return
                now = self.screen_now()  # also answers the prompt's cursor position requests
                seen = self.text()
                if step.on_screen:
                    if step.wait_for in now:
                        self.matched_screens.append(now)
                        break
                else:
                    found = seen.find(step.wait_for, cursor)
                    if found >= 0:
                        cursor = found + len(step.wait_for)
                        break
                if time.monotonic() > deadline:
                    shown = self.screen_now() if step.on_screen else seen[-2500:]
                    self.failure = f"timed out waiting for {step.wait_for!r}; screen shows:\n{shown}"
                    pipe.close()
                    return
                time.sleep(0.01)
            time.sleep(0.02)  # let the prompt settle as a person would
            self.screen_now()
            if step.keys:
                pipe.send_text(step.keys)
            self.finished_steps += 1
        # The script is over: the wizard must end by itself, not wait for more keys.
        deadline = time.monotonic() + self.timeout
        while not stop.is_set():
            self.screen_now()
            if time.monotonic() > deadline:
                self.failure = (
                    f"the wizard still waits for input after the last step; screen shows:\n{self.screen_now()}"
                )
                pipe.close()
                return
            time.sleep(0.01)

    def run(self, function: Callable[[Console], Any]) -> Any:
        stop = threading.Event()
        with create_pipe_input() as pipe:
            output = _TerminalOutput(self.screen, lambda: Size(rows=self.rows, columns=self.width), term="xterm")
            feeder = threading.Thread(target=self._feed, args=(pipe, stop), daemon=True)
            with create_app_session(input=pipe, output=output):
                feeder.start()
                try:
                    result = function(self.console)
                except EOFError:
                    raise ScriptFailed(self.failure or f"input ran out after step {self.finished_steps}") from None
                finally:
                    stop.set()
                    feeder.join(timeout=5)
        if self.failure:
            raise ScriptFailed(self.failure)
        if self.finished_steps != len(self.steps):
            raise ScriptFailed(
                f"the wizard ended after {self.finished_steps} of {len(self.steps)} steps; screen ends "
                f"with:\n{self.text()[-2500:]}"
            )
        return result
