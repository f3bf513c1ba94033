"""Layer 0's offline part with the real talosctl through our driver and steps: the secrets
bundle, machine configs from the rendered v1.11 patches (every flag we pass must exist), the
per-node patches applied on top validate for metal, and the Docker command line uses only flags
this talosctl knows. Nothing here contacts a node."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.drivers import talosctl
from talos_platform.engine.drivers.clock import RealClock
from talos_platform.engine.drivers.process import ProcessRunner
from talos_platform.engine.drivers.protocols import Drivers
from talos_platform.engine.layers import talos
from talos_platform.engine.plan.context import StepContext
from talos_platform.engine.state import StateDirectory

VERSIONS_FILE = Path(__file__).parent / "versions.env"


def pinned_talos_version() -> str:
    for line in VERSIONS_FILE.read_text().splitlines():
        if line.startswith("TALOS_VERSION="):
            return line.split("=", 1)[1].strip()
    raise KeyError("TALOS_VERSION")


@pytest.fixture
def setup(harness_bin, tmp_path):
    binary = Path(harness_bin("talosctl"))
    home = tmp_path / "home"
    home.mkdir()
    runner = ProcessRunner(env={"PATH": f"{binary.parent}{os.pathsep}{os.environ['PATH']}", "HOME": str(home)})
    state = StateDirectory(tmp_path / "state").ensure()
    config = PlatformConfig.model_validate(
        {
            # Documentation addresses (TEST-NET-1): written into configs, never dialed.
            "cluster": {
                "name": "rehearsal",
                "vip": "192.0.2.10",
                "talosVersion": pinned_talos_version(),
                "kubernetesVersion": "v1.34.1",
                "network": {"gateway": "192.0.2.1"},
            },
            "nodes": [
                {"name": "cp-1", "address": "192.0.2.11/24", "role": "control-plane", "link": "eth0"},
                {"name": "w-1", "address": "192.0.2.21/24", "installDisk": "/dev/nvme0n1"},
            ],
            "domain": {"base": "example.com", "acmeEmail": "ops@example.com"},
            "gitops": {"repoUrl": "https://git.example.com/platform.git"},
        }
    )
    driver = talosctl.TalosctlDriver(runner, state.talosconfig)
    lines: list[str] = []
    ctx = StepContext(
        config=config,
        secrets=Secrets(),
        state=state,
        drivers=Drivers(talos=driver, kube=None),  # type: ignore[arg-type]
        clock=RealClock(),
        step_id="harness",
        output=lines.append,
    )
    return ctx, binary, runner


def run_talosctl(binary: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=120)


async def test_secrets_bundle_and_machine_configs_with_the_real_talosctl(setup):
    ctx, binary, runner = setup
    secrets_step, configs_step = talos.SecretsBundle(ctx.config), talos.MachineConfigs(ctx.config)
    await secrets_step.apply(ctx, await secrets_step.check(ctx))
    assert stat.S_IMODE(ctx.state.talos_secrets.stat().st_mode) == 0o600
    bundle = ctx.state.talos_secrets.read_bytes()

    check = await configs_step.check(ctx)
    await configs_step.apply(ctx, check)
    folder = ctx.state.talos_dir
    for name in ("controlplane.yaml", "worker.yaml", "talosconfig"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    assert (await configs_step.check(ctx)).done
    assert ctx.state.talos_secrets.read_bytes() == bundle  # never regenerated

    # What apply-config --config-patch does on the way to the node, done offline here.
    for node, role in (("cp-1", "controlplane"), ("w-1", "worker")):
        patched = folder / f"{node}.yaml"
        result = run_talosctl(
            binary,
            "machineconfig",
            "patch",
            str(folder / f"{role}.yaml"),
            "--patch",
            f"@{folder / 'patches' / 'nodes' / f'{node}.yaml'}",
            "--output",
            str(patched),
        )
        assert result.returncode == 0, result.stderr
        validated = run_talosctl(binary, "validate", "--config", str(patched), "--mode", "metal")
        assert validated.returncode == 0, validated.stderr
    controlplane = (folder / "cp-1.yaml").read_text()
    assert "192.0.2.10" in controlplane and "https://192.0.2.10:6443" in controlplane

    # The talosconfig gets the control planes as endpoints, never the VIP.
    endpoints = talos.TalosconfigEndpoints(ctx.config)
    await endpoints.apply(ctx, await endpoints.check(ctx))
    assert talosctl.read_talosconfig_endpoints(ctx.state.talosconfig) == ["192.0.2.11"]
    assert (await endpoints.check(ctx)).done


def flags_of(help_text: str) -> set[str]:
    return set(re.findall(r"(--[a-z0-9-]+)", help_text))


def test_every_flag_we_pass_exists_in_this_talosctl(setup, tmp_path):
    _, binary, _ = setup
    version = talosctl.parse_client_version(run_talosctl(binary, "version", "--client").stdout)
    path = tmp_path / "p.yaml"
    commands = {
        ("gen", "secrets"): talosctl.gen_secrets_argv(path),
        ("gen", "config"): talosctl.gen_config_argv(
            cluster_name="c",
            endpoint="https://192.0.2.10:6443",
            secrets=path,
            talos_version="v1.11.5",
            kubernetes_version="v1.34.1",
            patches_all=path,
            patches_control_plane=path,
            patches_worker=path,
            output_dir=tmp_path,
        ),
        ("apply-config",): talosctl.apply_config_argv(
            "192.0.2.11", path, insecure=False, talosconfig=path, patches=(path,)
        ),
        ("bootstrap",): talosctl.bootstrap_argv("192.0.2.11", path)
        + talosctl.bootstrap_recover_argv("192.0.2.11", path, path, skip_hash_check=True),
        ("reset",): talosctl.reset_ephemeral_argv("192.0.2.11", path) + talosctl.reset_argv("192.0.2.11", path),
        ("service",): talosctl.service_argv("192.0.2.11", path, "etcd"),
        ("kubeconfig",): talosctl.kubeconfig_argv("192.0.2.11", path, path),
        ("etcd", "members"): talosctl.etcd_members_argv("192.0.2.11", path),
        ("etcd", "snapshot"): talosctl.etcd_snapshot_argv("192.0.2.11", path, path),
        ("etcd", "remove-member"): talosctl.etcd_remove_member_argv("192.0.2.11", path, "c2e8a4196d0b3f75"),
        ("upgrade",): talosctl.upgrade_argv(
            "192.0.2.11", path, "factory.talos.dev/metal-installer/0123abcd:" + pinned_talos_version()
        ),
        ("upgrade-k8s",): talosctl.upgrade_k8s_argv("192.0.2.11", path, "v1.34.2", dry_run=True)
        + talosctl.upgrade_k8s_argv("192.0.2.11", path, "v1.34.2", dry_run=False),
        ("get",): talosctl.get_argv("disks", "192.0.2.11", insecure=True, talosconfig=None),
        ("cluster", "create"): talosctl.docker_cluster_argv(
            client_version=version,
            cluster_name="c",
            talos_version="v1.11.5",
            kubernetes_version="v1.34.1",
            workers=0,
            patches_all=path,
            patches_control_plane=path,
            patches_worker=path,
            talosconfig=path,
            network="10.5.0.0/24",
        ),
    }
    global_flags = flags_of(run_talosctl(binary, "--help").stdout)
    for subcommand, argv in commands.items():
        known = flags_of(run_talosctl(binary, *subcommand, "--help").stdout) | global_flags
        used = {part.split("=")[0] for part in argv if part.startswith("--")}
        assert used <= known, f"{' '.join(subcommand)}: unknown flags {used - known}"


@pytest.mark.parametrize("insecure", [True, False], ids=["maintenance", "configured"])
async def test_a_node_nobody_answers_for_is_a_fact_with_the_real_talosctl(setup, insecure):
    """The promise of `Talos.node_facts` (tests/unit/test_protocol_conformance.py), kept by the
    real binary's own error output: loopback 127.0.0.2 runs no Talos API."""
    ctx, _, _ = setup
    facts = await ctx.drivers.talos.node_facts("127.0.0.2", insecure=insecure)
    assert (facts.address, facts.reachable) == ("127.0.0.2", False)
    assert facts.error
