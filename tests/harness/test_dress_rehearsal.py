"""The dress rehearsal of both examples: the engine's layers 1-4 through the real drivers, the
real kubectl and helm in layer 1, the real ArgoCD syncing the rendered repository from a Git
server on loopback and every chart from the offline chart repository (shared/charts, served on
loopback through the config's `mirrors`), on a control plane that enforces PodSecurity as Talos
does and has no storage provisioner. Every Application must end Synced and Healthy, in wave
order by ArgoCD's own clock. See rehearsal/dress.py for what is real and what stands in.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from pathlib import Path

import pytest
from kubernetes import client

from talos_platform.engine.config.loading import load_config
from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.render.platform_network_policy import (
    POLICY_NAME,
    platform_network_policy,
    policed_namespaces,
)
from talos_platform.engine.state import StateDirectory
from talos_platform.rehearsal.binaries import ARGOCD_BINARIES, REPO_ROOT, cilium_crds_dir
from talos_platform.rehearsal.dress import DressRehearsal, RehearsalReport

CHARTS = Path(os.environ.get("TALOS_PLATFORM_REHEARSAL_CHARTS", REPO_ROOT.parent / "shared" / "charts"))
EXAMPLES = {
    "metal": REPO_ROOT / "examples" / "metal-3cp-3w.yaml",
    "docker": REPO_ROOT / "examples" / "docker-single.yaml",
}
# Stand-in tokens: nothing in the rehearsal calls Cloudflare or a Git host.
SECRETS = Secrets(
    cloudflare_api_token="rehearsal-cloudflare-api-token", cloudflare_tunnel_token="rehearsal-tunnel-token"
)


def summary_of(report: RehearsalReport) -> str:
    return "\n".join(f"{a.wave:>5} {a.name}: {a.sync}/{a.health} {a.message}" for a in report.applications)


@pytest.fixture
def charts(harness_bin) -> Path:
    for name in ARGOCD_BINARIES:
        harness_bin(name)
    if not (CHARTS / "index.yaml").is_file():
        pytest.fail(f"the offline chart repository is not at {CHARTS} (set TALOS_PLATFORM_REHEARSAL_CHARTS)")
    return CHARTS


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_dress_rehearsal_brings_every_application_up_in_wave_order(example: str, charts: Path, tmp_path: Path):
    config = load_config(EXAMPLES[example])
    cilium_crds_dir(config.components.cilium.version)
    with DressRehearsal(config, charts=charts, workdir=tmp_path / "rehearsal") as rehearsal:
        state = StateDirectory(tmp_path / "state").ensure()
        session = rehearsal.session(SECRETS, state)
        events: list = []
        session.subscribe(events.append)
        outcome = asyncio.run(session.run())
        failures = [f"{e.step_id}: {e.error}" for e in events if type(e).__name__ == "StepFailed"]
        assert outcome == "succeeded", f"{failures}\n{summary_of(rehearsal.report())}\n{rehearsal.log_tails()}"
        report = rehearsal.settled_report()
        if report.blocked:
            pytest.fail(f"not every Application is Synced and Healthy:\n{summary_of(report)}")
        summary = summary_of(report)
        names = {app.name for app in report.applications}
        assert {"layer-0", "gateway-api-crds", "cilium", "cert-manager", "argocd", "platform", "apps", "hello"} <= names
        # The platform namespaces' policies arrived with their components, as rendered.
        policies = client.CustomObjectsApi(rehearsal.cluster.api_client())
        for namespace in policed_namespaces(rehearsal.config):
            rendered = platform_network_policy(rehearsal.config, namespace)
            stored = policies.get_namespaced_custom_object(
                "cilium.io", "v2", namespace, "ciliumnetworkpolicies", POLICY_NAME
            )
            assert stored["spec"] == rendered["spec"], f"{namespace}: the policy ArgoCD applied differs"
        # Waves in order, by the cluster's own clock: a parent's sync creates a wave's
        # Applications only once every earlier wave is healthy (health may change later again,
        # so creation times are what is compared), for layer-0 and for platform.
        for parent, least_waves in (("layer-0", 6), ("platform", 2)):
            by_wave: dict[int, list] = {}
            for app in report.applications:
                if app.parent == parent:
                    by_wave.setdefault(app.wave, []).append(app)
            waves = sorted(by_wave)
            assert len(waves) >= least_waves, f"{parent}: {waves}\n{summary}"
            for earlier, later in itertools.pairwise(waves):
                before = max(app.created_at for app in by_wave[earlier])
                after = min(app.created_at for app in by_wave[later])
                assert before and after and before <= after, (
                    f"{parent}: wave {later} was created before wave {earlier}\n{summary}"
                )
