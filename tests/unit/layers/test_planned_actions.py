"""`planned_actions`: what each step would do on machines where nothing is done yet, told without
contacting anything, built by the same command builders `apply` uses (so they cannot drift)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support.drivers import FakeGit, FakeKube, FakeTalos, FakeTools, FakeVault, maintenance

from talos_platform.engine.config.loading import read_config
from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.drivers.clock import RealClock
from talos_platform.engine.drivers.git import GitDriver
from talos_platform.engine.drivers.kube_client import KubernetesDriver
from talos_platform.engine.drivers.process import CommandResult, ProcessRunner
from talos_platform.engine.drivers.protocols import Drivers
from talos_platform.engine.drivers.talosctl import TalosctlDriver
from talos_platform.engine.drivers.vault import VaultThroughKubernetes
from talos_platform.engine.layers import platform_steps
from talos_platform.engine.layers.git import TEMPORARY_CLONE
from talos_platform.engine.plan.context import StepContext
from talos_platform.engine.plan.preview import offline_drivers
from talos_platform.engine.plan.step import Action, CheckResult
from talos_platform.engine.state import StateDirectory

from .helpers import make_context, platform_config

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SECRETS_GIVEN = Secrets(
    git_username="robot",
    git_token="ghp-canary-token",
    cloudflare_api_token="cf-canary-api",
    cloudflare_tunnel_token="cf-canary-tunnel",
)


def example(tmp_path: Path, name: str, **replacements: str) -> PlatformConfig:
    """An example config, with text replaced (addresses moved to loopback, another Talos version)."""
    text = (EXAMPLES / name).read_text()
    for old, new in replacements.items():
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text)
    return read_config(path)


def on_talos(version: str) -> dict[str, str]:
    """Replacements that move an example to another Talos version, with a Kubernetes version
    every tested Talos minor supports."""
    return {
        "talosVersion: v1.14.1": f"talosVersion: {version}",
        "kubernetesVersion: v1.37.2": "kubernetesVersion: v1.34.1",
    }


def loopback_metal(tmp_path: Path, talos_version: str = "v1.11.5") -> PlatformConfig:
    """The metal example with its addresses on loopback: real drivers may then be built (their
    loopback guard passes), and in dry run they still send nothing."""
    return example(tmp_path, "metal-3cp-3w.yaml", **{"192.168.10.": "127.0.10.", **on_talos(talos_version)})


def offline_context(config: PlatformConfig, tmp_path: Path, secrets: Secrets = Secrets()) -> StepContext:
    return StepContext(
        config=config,
        secrets=secrets,
        state=StateDirectory(tmp_path / "state"),
        drivers=offline_drivers(),
        clock=RealClock(),
        step_id="plan",
        output=lambda line: None,
    )


def concrete(action: Action) -> bool:
    return bool(action.command or action.api_call)


# --- offline: every step, nothing contacted -----------------------------------------------------------


@pytest.mark.parametrize("name", ["metal-3cp-3w.yaml", "docker-single.yaml"])
async def test_every_step_plans_concrete_actions_without_any_driver_or_process(tmp_path, name, no_process_no_socket):
    config = example(tmp_path, name)
    ctx = offline_context(config, tmp_path)  # its drivers raise on any use
    steps = platform_steps(config, push=True)
    assert steps
    for step in steps:
        actions = step.planned_actions(ctx)
        assert isinstance(actions, tuple) and actions, step.id
        assert all(isinstance(action, Action) and action.description for action in actions), step.id
        if name == "docker-single.yaml" and step.id == "L1.bootstrap-secrets":
            # The docker example is given no secret: this step has nothing to do, and says so.
            # (L3.vault-secrets still writes Grafana's generated admin password.)
            assert len(actions) == 1 and actions[0].description.startswith("nothing to ") and not concrete(actions[0])
            continue
        assert any(concrete(action) for action in actions), step.id
    assert no_process_no_socket == []
    assert not (tmp_path / "state").exists()  # nothing written either


@pytest.mark.parametrize("version, contract", [("v1.11.5", "v1.11"), ("v1.12.0", "v1.12"), ("v1.14.0", "v1.14")])
async def test_the_nodes_talos_version_sets_the_talosctl_flags(tmp_path, version, contract):
    metal = loopback_metal(tmp_path, version)
    ctx = offline_context(metal, tmp_path)
    steps = {step.id: step for step in platform_steps(metal)}
    gen_config = next(a.command for a in steps["L0.machine-configs"].planned_actions(ctx) if a.command)
    assert gen_config[gen_config.index("--talos-version") + 1] == contract
    assert "talosctl version --client" in " ".join(steps["L0.preflight.tools"].planned_actions(ctx)[0].command)
    assert contract in steps["L0.preflight.tools"].planned_actions(ctx)[0].description

    docker = example(tmp_path, "docker-single.yaml", **on_talos(version))
    docker_steps = {step.id: step for step in platform_steps(docker)}
    create = docker_steps["L0.docker-cluster"].planned_actions(offline_context(docker, tmp_path))[-1].command
    assert f"ghcr.io/siderolabs/talos:{version}" in create
    if version == "v1.11.5":
        # talosctl before 1.12: the --provisioner flag, the classic flag names and --talos-version.
        assert create[:5] == ("talosctl", "cluster", "create", "--provisioner", "docker")
        assert create[create.index("--talos-version") + 1] == "v1.11"
        assert "--cidr" in create and "--config-patch-control-plane" in create
    else:
        # 1.12 made each provisioner a sub-command, renamed the flags and reads the version from the image.
        assert create[:4] == ("talosctl", "cluster", "create", "docker")
        assert "--talos-version" not in create and "--provisioner" not in create
        assert "--subnet" in create and "--config-patch-controlplanes" in create


async def test_secrets_never_appear_only_their_names(tmp_path):
    config = loopback_metal(tmp_path)
    ctx = offline_context(config, tmp_path, SECRETS_GIVEN)
    shown = []
    for step in platform_steps(config, push=True):
        for action in step.planned_actions(ctx):
            shown += [action.description, action.api_call, *action.command]
    text = "\n".join(shown)
    for value in SECRETS_GIVEN.values():
        assert value not in text
    assert "server-side apply Namespace argocd" in text and "Secret argocd/gitops-repository" in text
    assert "POST /v1/secret/data/platform/git" in text


# --- online on a fresh cluster: check says what the plan says -------------------------------------------


async def test_a_fresh_cluster_checks_to_the_same_actions_as_the_plan(tmp_path):
    from talos_platform.engine.render import render_repository

    config = platform_config(control_planes=3, workers=2, private=True)
    nodes = {config.node_ip(node): maintenance(config.node_ip(node)) for node in config.nodes}
    tools = FakeTools({"talosctl": "v1.11.5", "kubectl": "v1.34.1", "helm": "v3.19.0"})
    ctx, _ = make_context(
        config,
        tmp_path,
        talos=FakeTalos(insecure=nodes),
        kube=FakeKube(),
        vault=FakeVault(),
        git=FakeGit(),
        tools=tools,
        secrets=SECRETS_GIVEN,
    )
    render_repository(config, ctx.state.rendered)  # the root Application's check reads the rendered tree
    compared = []
    for step in platform_steps(config, push=True):
        result = await step.check(ctx)
        if not result.done:
            assert result.actions == step.planned_actions(ctx), step.id
            compared.append(step.id)
    # Every step that changes or waits for something needs work on a fresh cluster.
    assert {
        "L0.secrets",
        "L0.apply-config.cp-1",
        "L0.bootstrap",
        "L1.bootstrap",
        "L1.bootstrap-secrets",
        "L1.cilium",
        "L2.push",
        "L2.root-app",
        "L2.wave-100",
        "L3.vault-init",
        "L3.vault-secrets",
        "L4.applications",
    } <= set(compared)


async def test_a_fresh_docker_cluster_checks_to_the_same_actions_when_talosctl_matches_the_nodes(tmp_path):
    config = example(tmp_path, "docker-single.yaml")
    ctx, _ = make_context(config, tmp_path, talos=FakeTalos(version=config.cluster.talos_version))
    step = next(s for s in platform_steps(config) if s.id == "L0.docker-cluster")
    result = await step.check(ctx)
    assert [a.command for a in result.actions] == [a.command for a in step.planned_actions(ctx)]


# --- apply runs exactly the planned commands --------------------------------------------------------------


CRD_AND_DEPLOYMENT = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gateways.gateway.networking.k8s.io}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: argocd-server, namespace: argocd}
"""


@dataclass
class RecordingRunner(ProcessRunner):
    """The real process runner in dry-run mode, whose read-only commands also answer like the tool
    would instead of running: no process starts, and every argv is kept in `recorded`."""

    client_version: str = "v1.11.5"
    gen_secrets_output: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.dry_run = True

    async def run(self, argv, *, timeout, mutates: bool = True, **kwargs) -> CommandResult:
        args = tuple(str(part) for part in argv)
        if mutates:
            result = await super().run(argv, timeout=timeout, mutates=True, **kwargs)  # recorded, not run
            assert result.dry_run
            if args[1:3] == ("gen", "secrets"):  # talosctl writes the bundle where it is told
                Path(args[-1]).write_text("cluster: {}\n")
            if args[1:3] == ("gen", "config"):  # and the control plane's config with the bundle's key
                output = Path(args[args.index("--output") + 1])
                output.mkdir(parents=True, exist_ok=True)
                (output / "controlplane.yaml").write_text("cluster: {secretboxEncryptionSecret: not-a-real-key}\n")
            return result
        self.recorded.append(args)
        if args[:2] == ("git", "init"):  # git makes the clone's folder
            Path(args[-1]).mkdir(parents=True, exist_ok=True)
        stdout = ""
        if args[1:3] == ("version", "--client"):
            stdout = f"Client:\n\tTag:         {self.client_version}\n"
        elif args[1:2] == ("kustomize",):
            stdout = CRD_AND_DEPLOYMENT
        return CommandResult(args, 0, stdout, "", 0.0)


class RecordingVaultApi:
    """Stands for the Kubernetes API server's pod proxy in front of Vault: records each call."""

    def __init__(self):
        self.calls: list[tuple[str, str]] = []
        self.unseal_calls = 0

    def _request_json(self, method: str, path: str, body: Any = None, headers: Any = None):
        api_path = path.split("/proxy", 1)[1]
        self.calls.append((method, api_path))
        if api_path == "/v1/sys/init":
            return 200, {"keys_base64": ["k1", "k2", "k3", "k4", "k5"], "root_token": "hvs.canary-root"}
        if api_path == "/v1/sys/unseal":
            self.unseal_calls += 1
            return 200, {"initialized": True, "sealed": self.unseal_calls < 3}
        return 200, {}


def real_context(config: PlatformConfig, tmp_path: Path, runner: RecordingRunner, vault_api=None) -> StepContext:
    state = StateDirectory(tmp_path / "state").ensure()
    # A kubeconfig on loopback: the driver builds its client from it, and the dry run sends nothing.
    state.kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
        "clusters: [{name: t, cluster: {server: 'https://127.0.0.1:6443', insecure-skip-tls-verify: true}}]\n"
        "contexts: [{name: t, context: {cluster: t, user: t}}]\nusers: [{name: t, user: {token: x}}]\n"
    )
    kube = KubernetesDriver(state.kubeconfig, runner)
    drivers = Drivers(
        talos=TalosctlDriver(runner, state.talosconfig, docker_network="10.5.0.0/24"),
        kube=kube,
        git=GitDriver(runner, username=SECRETS_GIVEN.git_username, token=SECRETS_GIVEN.git_token),
        vault=VaultThroughKubernetes(vault_api or kube),
    )
    return StepContext(config, SECRETS_GIVEN, state, drivers, RealClock(), "test", lambda line: None)


def planned_commands(actions: tuple[Action, ...]) -> list[tuple[str, ...]]:
    return [action.command for action in actions if action.command]


async def applied_commands(
    step, ctx: StepContext, runner: RecordingRunner, planned: tuple[Action, ...]
) -> list[tuple[str, ...]]:
    runner.recorded.clear()
    await step.apply(ctx, CheckResult(actions=planned))
    # The scratch clone of a Git publish has a random name; the plan names it by its role.
    return [
        tuple(TEMPORARY_CLONE if part.endswith("/work") and argv[0] == "git" else part for part in argv)
        for argv in runner.recorded
    ]


@pytest.mark.parametrize("version", ["v1.11.5", "v1.12.0", "v1.14.0"])
async def test_apply_runs_the_planned_talosctl_and_kubectl_commands_on_metal(tmp_path, version, no_process_no_socket):
    from talos_platform.engine.render import render_tree

    config = loopback_metal(tmp_path, version)
    runner = RecordingRunner(client_version=version)
    ctx = real_context(config, tmp_path, runner)
    ctx.state.rendered.mkdir(parents=True)
    (ctx.state.rendered / "bootstrap-app.yaml").write_bytes(render_tree(config)["bootstrap-app.yaml"])
    checked = []
    for step in platform_steps(config):
        if step.id.startswith("L0.preflight") or step.layer > 2 or step.id == "L1.render":
            continue
        planned = step.planned_actions(ctx)
        commands = planned_commands(planned)
        if not commands:
            continue
        ran = await applied_commands(step, ctx, runner, planned)
        assert ran, step.id
        # What apply runs is what the plan lists, in order; what follows are the wait's reads.
        assert ran == commands[: len(ran)], step.id
        checked.append(step.id)
    assert {
        "L0.secrets",
        "L0.machine-configs",
        "L0.apply-config.cp-1",
        "L0.apply-config.worker-3",
        "L0.talosconfig-endpoints",
        "L0.bootstrap",
        "L0.kubeconfig",
        "L1.bootstrap",
        "L1.bootstrap-secrets",
        "L2.root-app",
    } <= set(checked)
    assert no_process_no_socket == []


@pytest.mark.parametrize("version", ["v1.11.5", "v1.12.0", "v1.14.0"])
async def test_apply_creates_the_docker_cluster_with_the_planned_command(tmp_path, version, no_process_no_socket):
    config = example(tmp_path, "docker-single.yaml", **on_talos(version))
    runner = RecordingRunner(client_version=version)  # talosctl of the nodes' version, as the plan assumes
    ctx = real_context(config, tmp_path, runner)
    step = next(s for s in platform_steps(config) if s.id == "L0.docker-cluster")
    planned = step.planned_actions(ctx)
    ran = await applied_commands(step, ctx, runner, planned)
    assert ran == [("talosctl", "version", "--client"), *planned_commands(planned)]
    assert no_process_no_socket == []


async def test_apply_pushes_with_the_planned_git_commands(tmp_path, no_process_no_socket):
    config = example(tmp_path, "docker-single.yaml")
    runner = RecordingRunner()
    ctx = real_context(config, tmp_path, runner)
    (ctx.state.rendered / "layer-0").mkdir(parents=True)
    (ctx.state.rendered / "layer-0" / "app.yaml").write_text("kind: Application\n")
    config.gitops.repo_url = "file:///srv/git/platform.git"
    step = next(s for s in platform_steps(config, push=True) if s.id == "L2.push")
    planned = step.planned_actions(ctx)
    ran = await applied_commands(step, ctx, runner, planned)
    commands = planned_commands(planned)
    assert commands[0] in ran and commands[-1] in ran
    assert ran.index(commands[0]) < ran.index(commands[-1])
    assert not any(SECRETS_GIVEN.git_token in " ".join(argv) for argv in ran)


async def test_vault_steps_make_the_planned_api_calls(tmp_path):
    config = loopback_metal(tmp_path)
    api = RecordingVaultApi()
    ctx = real_context(config, tmp_path, RecordingRunner(), vault_api=api)
    for step in platform_steps(config):
        if not step.id.startswith(("L3.vault-init", "L3.vault-unseal", "L3.vault-kubernetes-auth", "L3.vault-secrets")):
            continue
        planned = [
            re.match(r"(\w+) (\S+) \(", action.api_call).groups()
            for action in step.planned_actions(ctx)
            if action.api_call
        ]  # generating Grafana's password calls nothing
        api.calls.clear()
        await step.apply(ctx, CheckResult(actions=step.planned_actions(ctx)))
        changes = [call for call in api.calls if call[0] != "GET"]
        # Unsealing repeats one call per key; the plan names the call once.
        distinct = [call for i, call in enumerate(changes) if i == 0 or call != changes[i - 1]]
        assert distinct == planned, step.id


@pytest.mark.parametrize("private", [True, False])
def test_the_planned_bootstrap_objects_are_the_ones_apply_sends(tmp_path, private):
    from talos_platform.engine.layers.cluster_bootstrap import bootstrap_object_names, bootstrap_secret_objects

    config = platform_config(private=private)
    sent = bootstrap_secret_objects(config, SECRETS_GIVEN)
    assert bootstrap_object_names(config) == [
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in sent
    ]
