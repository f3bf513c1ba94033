"""Stand-in command-line tools (`talosctl`, `kubectl`) on a PATH of their own, for testing the
real drivers through the real process runner where no Talos machine exists: each logs its argv
as a JSON line, then does what the test's script body says (print what the tool prints, fail
as it fails, write the file it writes). `FAKE_MODE` picks a behaviour per runner."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

from talos_platform.engine.drivers.process import LineCallback, ProcessRunner

_HEADER = textwrap.dedent(
    """\
    #!{python}
    import json, os, sys
    args = sys.argv[1:]
    with open(os.environ["FAKE_LOG"], "a") as log:
        log.write(json.dumps([os.path.basename(sys.argv[0]), *args]) + "\\n")
    mode = os.environ.get("FAKE_MODE", "")
    """
)


class StandIns:
    """Tools in `folder/bin`, their argv logged to `folder/argv.log`."""

    def __init__(self, folder: Path, scripts: dict[str, str], fixtures: Path | None = None):
        self.bin = folder / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.log = folder / "argv.log"
        self.fixtures = fixtures
        for name, body in scripts.items():
            path = self.bin / name
            path.write_text(_HEADER.format(python=sys.executable) + textwrap.dedent(body))
            path.chmod(0o755)

    def runner(self, mode: str = "", *, dry_run: bool = False, output: LineCallback | None = None) -> ProcessRunner:
        environment = {"PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}", "FAKE_LOG": str(self.log)}
        if self.fixtures is not None:
            environment["FAKE_FIXTURES"] = str(self.fixtures)
        return ProcessRunner(env={**environment, "FAKE_MODE": mode}, dry_run=dry_run, default_output=output)

    def logged(self) -> list[list[str]]:
        """Every call so far, as [tool, *args]."""
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []
