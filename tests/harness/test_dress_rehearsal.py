"""The dress rehearsal of both examples: the engine's layers 1-4 through the real drivers, the
real kubectl and helm in layer 1, the real ArgoCD syncing the rendered repository from a Git
server on loopback and every chart from the offline chart repository (shared/charts, served on
loopback through the config's `mirrors`), on a control plane that enforces PodSecurity as Talos
does and has no storage provisioner. Every Application must end Synced and Healthy, in wave
order by ArgoCD's own clock. See rehearsal/dress.py for what is real and what stands in.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from talos_platform.engine.config.loading import load_config
from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.state import StateDirectory
from talos_platform.rehearsal.binaries import ARGOCD_BINARIES, REPO_ROOT, cilium_crds_dir
from talos_platform.rehearsal.dress import DressRehearsal

CHARTS = Path(os.environ.get("TALOS_PLATFORM_REHEARSAL_CHARTS", REPO_ROOT.parent / "shared" / "charts"))
EXAMPLES = {"metal": REPO_ROOT / "examples" / "metal-3cp-3w.yaml", "docker": REPO_ROOT / "examples" / "docker-single.yaml"}
# Stand-in tokens: nothing in the rehearsal calls Cloudflare or a Git host.
SECRETS = Secrets(cloudflare_api_token="rehearsal-cloudflare-api-token", cloudflare_tunnel_token="rehearsal-tunnel-token")


@pytest.fixture
def charts(harness_bin) -> Path:
    for name in ARGOCD_BINARIES:
        harness_bin(name)
    if not (CHARTS / "index.yaml").is_file():
        pytest.fail(f"the offline chart repository is not at {CHARTS} (set TALOS_PLATFORM_REHEARSAL_CHARTS)")
    return CHARTS


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_dress_rehearsal_brings_every_application_up_in_wave_order(example: str, charts: Path, tmp_path: Path, request):
    config = load_config(EXAMPLES[example])
    cilium_crds_dir(config.components.cilium.version)
    with DressRehearsal(config, charts=charts, workdir=tmp_path / "rehearsal") as rehearsal:
        request.node.rehearsal = rehearsal
        state = StateDirectory(tmp_path / "state").ensure()
        session = rehearsal.session(SECRETS, state)
        events: list = []
        session.subscribe(events.append)
        outcome = asyncio.run(session.run())
        report = rehearsal.report()
        summary = "\n".join(f"{a.wave:>5} {a.name}: {a.sync}/{a.health} {a.message}" for a in report.applications)
        failures = [f"{e.step_id}: {e.error}" for e in events if type(e).__name__ == "StepFailed"]
        assert outcome == "succeeded", f"{failures}\n{summary}\n{rehearsal.log_tails()}"
        assert not report.blocked, summary
        names = {app.name for app in report.applications}
        assert {"layer-0", "gateway-api-crds", "cilium", "cert-manager", "argocd", "platform", "apps", "hello"} <= names
        # Waves in order, by the cluster's own clock: the root Application's sync creates a
        # wave's Applications only once every earlier wave is healthy (health may change later
        # again, so creation times are what is compared).
        layer0 = {app.name for app in report.applications if app.wave < 0 or app.name in ("platform", "apps")}
        by_wave: dict[int, list] = {}
        for app in report.applications:
            if app.name in layer0:
                by_wave.setdefault(app.wave, []).append(app)
        waves = sorted(by_wave)
        assert len(waves) >= 6, summary
        for earlier, later in zip(waves, waves[1:]):
            before = max(app.created_at for app in by_wave[earlier])
            after = min(app.created_at for app in by_wave[later])
            assert before and after and before <= after, f"wave {later} was created before wave {earlier}\n{summary}"
