"""A scripted terminal for driving the real questionary prompts in-process.

Like a person at the keyboard: wait until a text shows on the screen, then type keys. The
prompts read real key sequences from a pipe (prompt_toolkit parses them exactly as from a tty)
and render to a real VT100 output captured in memory, so validation messages are really drawn.
"""

from __future__ import annotations

import io
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

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


def expect(wait_for: str, keys: str = ENTER) -> Step:
    return Step(wait_for, keys)


class ScriptFailed(AssertionError):
    pass


class ScriptedTerminal:
    """Runs `function` with prompts bound to this terminal, feeding `steps` from a thread."""

    def __init__(self, steps: list[Step], timeout: float = 15.0, width: int = 140):
        self.steps = steps
        self.timeout = timeout
        self.width = width
        self.screen = io.StringIO()
        self.console = Console(file=self.screen, width=width, force_terminal=False, color_system=None)
        self.failure: str | None = None
        self.finished_steps = 0

    def text(self) -> str:
        return plain(self.screen.getvalue())

    def _feed(self, pipe: Any, stop: threading.Event) -> None:
        cursor = 0
        for step in self.steps:
            deadline = time.monotonic() + self.timeout
            while True:
                if stop.is_set():
                    return
                seen = self.text()
                found = seen.find(step.wait_for, cursor)
                if found >= 0:
                    cursor = found + len(step.wait_for)
                    break
                if time.monotonic() > deadline:
                    self.failure = f"timed out waiting for {step.wait_for!r}; screen ends with:\n{seen[-2500:]}"
                    pipe.close()
                    return
                time.sleep(0.01)
            time.sleep(0.02)  # let the prompt settle as a person would
            pipe.send_text(step.keys)
            self.finished_steps += 1

    def run(self, function: Callable[[Console], Any]) -> Any:
        stop = threading.Event()
        with create_pipe_input() as pipe:
            output = Vt100_Output(self.screen, lambda: Size(rows=50, columns=self.width), term="xterm")
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
                f"the wizard ended after {self.finished_steps} of {len(self.steps)} steps; screen ends with:\n{self.text()[-2500:]}"
            )
        return result
