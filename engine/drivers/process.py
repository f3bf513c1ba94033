"""The one process runner: every talosctl, kubectl, helm and git call goes through here.

It gives each command a timeout, streams its output line by line to a callback (redacted first),
keeps a redacted copy of what it printed for error messages, and has a dry-run mode that records
the commands instead of running them (this is how `plan` shows exact commands).

Output goes to the callback passed to `run`, else to the one installed for the current task with
`output_to(...)`: steps run concurrently and share one runner, and a context variable keeps each
step's lines with that step.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from talos_platform.engine.errors import PermanentError, TransientError

if TYPE_CHECKING:
    from talos_platform.engine.drivers.protocols import GateResult

LineCallback = Callable[[str, str], None]
"""Called with (line, stream) where stream is `stdout` or `stderr`; the line is redacted."""

Redact = Callable[[str], str]

_T = TypeVar("_T")

_current_output: ContextVar[LineCallback | None] = ContextVar("talos_platform_process_output", default=None)

RECORDED_LIMIT = 10_000

# How much of a failed command's stderr goes into the error message.
_ERROR_TAIL_LINES = 12


@contextlib.contextmanager
def output_to(callback: LineCallback | None) -> Iterator[None]:
    """Send the output of commands run inside this block (in this task) to `callback`."""
    token = _current_output.set(callback)
    try:
        yield
    finally:
        _current_output.reset(token)


def current_output() -> Callable[[str], None]:
    """Where a stand-in for a command (the simulator) writes the lines the real command would
    print: the sink `output_to` set, as stdout; nowhere when none is set."""
    sink = _current_output.get()
    return (lambda line: sink(line, "stdout")) if sink is not None else (lambda line: None)


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    """As shown to people: already redacted."""
    returncode: int
    stdout: str
    """Raw standard output, for parsers. Never log it as is: use `redacted_stdout`."""
    stderr: str
    """Redacted standard error."""
    duration: float
    dry_run: bool = False


class CommandFailed(TransientError):
    """A command exited non-zero. Transient by default (a node still booting, an API not yet up);
    drivers turn the failures they recognise as permanent into PermanentError."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str, *, hint: str = ""):
        tail = "\n".join(stderr.strip().splitlines()[-_ERROR_TAIL_LINES:])
        message = f"`{' '.join(argv)}` exited with {returncode}"
        if tail:
            message += f": {tail}"
        super().__init__(message, hint=hint)
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stderr = stderr


class CommandTimedOut(TransientError):
    def __init__(self, argv: Sequence[str], timeout: float):
        super().__init__(f"`{' '.join(argv)}` did not finish within {timeout:g}s and was stopped")
        self.argv = tuple(argv)


class ToolMissing(PermanentError):
    def __init__(self, tool: str):
        super().__init__(
            f"`{tool}` is not installed or not on PATH",
            hint=f"install {tool} (the version matching your cluster) and make sure it is on PATH",
        )
        self.tool = tool


@dataclass
class ProcessRunner:
    """Runs commands; one instance is shared by every real driver of an install."""

    redact: Redact = field(default=lambda text: text)
    """Turns any secret value in a text into a placeholder; applied to argv, lines and errors."""
    dry_run: bool = False
    """Record commands in `recorded` and return an empty success instead of running them."""
    env: Mapping[str, str] | None = None
    """Extra environment for every command (e.g. KUBECONFIG, TALOSCONFIG)."""
    default_output: LineCallback | None = None
    """Where lines go when neither `run(on_line=...)` nor `output_to` names a callback."""
    recorded: deque[tuple[str, ...]] = field(default_factory=lambda: deque(maxlen=RECORDED_LIMIT))
    """The latest commands run or (in dry-run) not run, redacted, in order. Bounded: a dashboard
    polls nodes for hours."""

    def shown(self, argv: Sequence[str]) -> tuple[str, ...]:
        return tuple(self.redact(str(part)) for part in argv)

    async def run(
        self,
        argv: Sequence[str | Path],
        *,
        timeout: float,
        stdin: bytes | None = None,
        on_line: LineCallback | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        check: bool = True,
        quiet: bool = False,
        mutates: bool = True,
    ) -> CommandResult:
        """Run `argv` (no shell) and return its output.

        `stdin` is how secrets reach a command: never put them in argv. `quiet` keeps stdout
        from being streamed (machine-readable output, or output that may hold secrets: kubeconfig,
        Vault keys); stderr is always streamed. `mutates=False` marks a read-only command that
        also runs in dry-run mode (facts are still gathered; only changes are recorded).
        Raises ToolMissing, CommandTimedOut, or CommandFailed when `check` and the exit code is
        not 0.
        """
        args = [str(part) for part in argv]
        shown = self.shown(args)
        self.recorded.append(shown)
        if self.dry_run and mutates:
            return _not_run(shown)
        sink = on_line or _current_output.get() or self.default_output
        started = time.monotonic()
        process = await self._start(args, env=env, cwd=cwd, with_stdin=stdin is not None)
        stdout, stderr = await _stop_after(
            timeout,
            process,
            shown,
            _communicate(
                process,
                stdin,
                show_stdout=None if quiet else self._show_lines(sink, "stdout"),
                show_stderr=self._show_lines(sink, "stderr"),
            ),
        )
        result = CommandResult(
            argv=shown,
            returncode=process.returncode if process.returncode is not None else -1,
            stdout=stdout,
            stderr=self.redact(stderr),
            duration=time.monotonic() - started,
        )
        if check and result.returncode != 0:
            raise CommandFailed(shown, result.returncode, result.stderr)
        return result

    async def _start(
        self, args: list[str], *, env: Mapping[str, str] | None, cwd: Path | None, with_stdin: bool
    ) -> asyncio.subprocess.Process:
        """Start the command as the leader of its own process group (so a timeout can stop all of it)."""
        executable = shutil.which(args[0], path=(env or {}).get("PATH") or (self.env or {}).get("PATH"))
        if executable is None:
            raise ToolMissing(args[0])
        return await asyncio.create_subprocess_exec(
            executable,
            *args[1:],
            stdin=asyncio.subprocess.PIPE if with_stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **(self.env or {}), **(env or {})},
            cwd=str(cwd) if cwd else None,
            start_new_session=True,
        )

    def _show_lines(self, sink: LineCallback | None, stream: str) -> Callable[[str], None] | None:
        """What hands each raw line of `stream` to `sink`, redacted and without its newline."""
        if sink is None:
            return None
        return lambda line: sink(self.redact(line.rstrip("\n")), stream)


def _not_run(shown: tuple[str, ...]) -> CommandResult:
    """The empty success a dry run returns for a command that would change something."""
    return CommandResult(shown, 0, "", "", 0.0, dry_run=True)


async def _communicate(
    process: asyncio.subprocess.Process,
    stdin: bytes | None,
    *,
    show_stdout: Callable[[str], None] | None,
    show_stderr: Callable[[str], None] | None,
) -> tuple[str, str]:
    """Feed `stdin`, read both outputs to their end and wait for the exit: (stdout, stderr), raw."""
    stdout: list[str] = []
    stderr: list[str] = []
    await asyncio.gather(
        _feed(process, stdin),
        _read_lines(process.stdout, stdout, show_stdout),
        _read_lines(process.stderr, stderr, show_stderr),
        process.wait(),
    )
    return "".join(stdout), "".join(stderr)


async def _feed(process: asyncio.subprocess.Process, stdin: bytes | None) -> None:
    """Write `stdin` and close it; a command that exits without reading it is not an error."""
    if stdin is None or process.stdin is None:
        return
    try:
        process.stdin.write(stdin)
        await process.stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        process.stdin.close()


async def _read_lines(stream: asyncio.StreamReader | None, into: list[str], show: Callable[[str], None] | None) -> None:
    """Read `stream` to its end into `into`, handing each line to `show` as it arrives."""
    if stream is None:
        return
    while raw := await stream.readline():
        line = raw.decode("utf-8", errors="replace")
        into.append(line)
        if show is not None:
            show(line)


async def _stop_after(
    timeout: float, process: asyncio.subprocess.Process, shown: tuple[str, ...], work: Awaitable[_T]
) -> _T:
    """`work` if it finishes within `timeout`; else, or when cancelled, the command is stopped."""
    try:
        return await asyncio.wait_for(work, timeout)
    except (TimeoutError, asyncio.CancelledError) as error:
        _stop(process)
        await process.wait()
        if isinstance(error, asyncio.CancelledError):
            raise
        raise CommandTimedOut(shown, timeout) from None


def _stop(process: asyncio.subprocess.Process) -> None:
    """Kill the command and anything it started (it leads its own process group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, 9)


async def run_gate(runner: ProcessRunner, command: str, env: Mapping[str, str], timeout: float) -> GateResult:
    """A user's gate command (`sh -c`), as `Tools.gate` describes it."""
    from talos_platform.engine.drivers.protocols import GateResult

    try:
        result = await runner.run(
            ["sh", "-c", command], timeout=timeout, env={**os.environ, **env}, check=False, quiet=True, mutates=False
        )
    except CommandTimedOut:
        return GateResult(False, f"did not finish within {timeout:g} s")
    lines = [line for line in (result.stderr + "\n" + runner.redact(result.stdout)).splitlines() if line.strip()]
    said = lines[-1].strip() if lines else f"exit code {result.returncode}"
    return GateResult(result.returncode == 0, said)
