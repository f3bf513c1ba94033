"""The install screen during a real dress rehearsal (`talos-platform rehearse`), for the README.

Unlike make_screenshots.py (the simulator), this runs the real thing: the docker example's layers
1-4 on the local Talos-shaped control plane with the real ArgoCD, and saves the screen once the
platform services are being followed. Needs the harness (scripts/build-harness.sh), root and the
offline chart repository (TALOS_PLATFORM_REHEARSAL_CHARTS, default ../shared/charts).

    .venv/bin/python screenshots/make_rehearsal_screenshot.py [OUT_DIR]
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

from talos_platform.engine.config.loading import load_config
from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.drivers.clock import RealClock
from talos_platform.engine.state import StateDirectory
from talos_platform.rehearsal.binaries import REPO_ROOT
from talos_platform.rehearsal.dress import DressRehearsal
from talos_platform.tui.app import create_app

CHARTS = Path(os.environ.get("TALOS_PLATFORM_REHEARSAL_CHARTS", REPO_ROOT.parent / "shared" / "charts"))
# The moment to show: layer 2 done, the platform services being followed.
SHOW_WHEN_RUNNING = "L3."
PATIENCE = 1200.0


async def main(out: Path) -> None:
    os.environ["TALOS_PLATFORM_LOOPBACK_ONLY"] = "1"
    config = load_config(REPO_ROOT / "examples" / "docker-single.yaml")
    work = Path(tempfile.mkdtemp(prefix="rehearsal-screenshot-"))
    with DressRehearsal(config, charts=CHARTS, workdir=work / "rehearsal") as rehearsal:
        session = rehearsal.session(Secrets(), StateDirectory(work / "state").ensure())
        sessions = iter([session])
        app = create_app(
            "install",
            drivers=session.drivers,
            clock=RealClock(),
            session_factory=lambda: next(sessions, None),
            rehearsal=True,
        )
        async with app.run_test(size=(160, 48)) as pilot:
            deadline = asyncio.get_running_loop().time() + PATIENCE
            while asyncio.get_running_loop().time() < deadline:
                progress = app.progress
                if progress is not None and (progress.last_started or "").startswith(SHOW_WHEN_RUNNING):
                    break
                await pilot.pause(2.0)
            await pilot.pause(5.0)  # let the panes catch up with the cluster
            app.save_screenshot(str(out / "rehearsal.svg"))
            session.interrupt()
            await pilot.pause(2.0)
    print(f"wrote {out / 'rehearsal.svg'}")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent))
