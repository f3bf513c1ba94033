"""Layer 0 steps: given what the Talos API reports, the exact commands a step makes, or none."""

import json
import stat

import pytest
from support.drivers import FakeKube, FakeTalos, FakeTools, configured, maintenance

from talos_platform.engine.drivers.protocols import TalosNodeFacts
from talos_platform.engine.errors import PermanentError, TransientError
from talos_platform.engine.layers import bootstrap, talos
from talos_platform.engine.layers.base import BaseStep

from .helpers import make_context, platform_config

CP, WORKER = "10.0.0.11", "10.0.0.21"


async def run_step(step: BaseStep, ctx):
    """check, then apply and wait when there is work: what the runner does."""
    result = await step.check(ctx)
    if not result.done:
        await step.apply(ctx, result)
        await step.wait(ctx)
    return result


# --- preflight --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "insecure, secure, node, outcome",
    [
        ({CP: maintenance(CP)}, {}, "cp-1", "waits in maintenance mode; disk /dev/sda present"),
        ({WORKER: maintenance(WORKER, ("/dev/sda",))}, {}, "w-1", PermanentError("has no disk /dev/nvme0n1")),
        ({}, {}, "cp-1", TransientError("does not answer on the Talos API")),
        ({}, {CP: configured(CP)}, "cp-1", "already configured for cluster demo"),
        ({}, {CP: configured(CP, cluster="lab")}, "cp-1", PermanentError("belongs to cluster 'lab', not 'demo'")),
        # Answers, but refuses our certificates: configured by another cluster's PKI.
        (
            {CP: TalosNodeFacts(CP, reachable=True, error="tls: certificate required")},
            {CP: TalosNodeFacts(CP, reachable=True, error="x509: certificate signed by unknown authority")},
            "cp-1",
            PermanentError("not with this cluster's keys"),
        ),
        # Silent on the maintenance question, answering the certificate one: the node changes
        # state while asked (it boots). Never a "foreign" verdict: asked again, then retried.
        (
            {},
            {CP: TalosNodeFacts(CP, reachable=True, error="x509: certificate signed by unknown authority")},
            "cp-1",
            TransientError("its answers changed while it was asked 3 times"),
        ),
    ],
    ids=["maintenance", "wrong-disk", "unreachable", "configured-here", "other-cluster", "foreign-pki", "changing"],
)
async def test_node_preflight(tmp_path, insecure, secure, node, outcome):
    config = platform_config()
    fake = FakeTalos(insecure=insecure, secure=secure)
    ctx, _ = make_context(config, tmp_path, talos=fake)
    step = talos.NodePreflight(config, config.node_named(node))
    if isinstance(outcome, Exception):
        with pytest.raises(type(outcome)) as failure:
            await step.check(ctx)
        assert str(outcome) in failure.value.message
        assert failure.value.hint
    else:
        result = await step.check(ctx)
        assert result.done and outcome in result.reason
    assert fake.changes() == []  # a preflight never changes anything


async def test_wrong_disk_hint_lists_the_disks_the_node_has(tmp_path):
    config = platform_config()
    ctx, _ = make_context(
        config, tmp_path, talos=FakeTalos(insecure={WORKER: maintenance(WORKER, ("/dev/sda", "/dev/sdb"))})
    )
    with pytest.raises(PermanentError) as failure:
        await talos.NodePreflight(config, config.node_named("w-1")).check(ctx)
    assert "installDisk" in failure.value.hint and "/dev/sda, /dev/sdb" in failure.value.hint


@pytest.mark.parametrize(
    "insecure, answering, outcome, asked_vip",
    [
        ({CP: maintenance(CP)}, set(), "nothing answers on the VIP", True),
        ({CP: maintenance(CP)}, {"10.0.0.10"}, PermanentError("the VIP 10.0.0.10 is already in use"), True),
        ({}, {"10.0.0.10"}, "already configured; the VIP 10.0.0.10 may answer", False),
    ],
    ids=["free", "taken", "cluster-exists"],
)
async def test_vip_preflight(tmp_path, insecure, answering, outcome, asked_vip):
    config = platform_config()
    fake = FakeTalos(insecure=insecure, answering=answering)
    ctx, _ = make_context(config, tmp_path, talos=fake)
    step = talos.VipPreflight(config)
    if isinstance(outcome, Exception):
        with pytest.raises(PermanentError) as failure:
            await step.check(ctx)
        assert str(outcome) in failure.value.message and "cluster.vip" in failure.value.hint
    else:
        assert outcome in (await step.check(ctx)).reason
    assert (("address_answers", "10.0.0.10") in fake.calls) is asked_vip


async def test_tools_preflight_names_every_missing_tool(tmp_path):
    config = platform_config()
    ctx, _ = make_context(config, tmp_path, tools=FakeTools({"kubectl": "v1.34.1"}))
    with pytest.raises(PermanentError) as failure:
        await talos.ToolsPreflight(config).check(ctx)
    assert failure.value.message == "missing tools: helm"


async def test_tools_preflight_reports_versions(tmp_path):
    config = platform_config()
    ctx, lines = make_context(config, tmp_path, tools=FakeTools({"kubectl": "v1.34.1", "helm": "v3.19.0"}))
    result = await talos.ToolsPreflight(config).check(ctx)
    assert result.done and result.reason == "talosctl v1.11.5, kubectl v1.34.1, helm v3.19.0"


# --- secrets bundle and machine configs -------------------------------------------------------------


async def test_secrets_bundle_is_generated_once_0600_and_never_again(tmp_path):
    config = platform_config()
    fake = FakeTalos()
    ctx, _ = make_context(config, tmp_path, talos=fake)
    step = talos.SecretsBundle(config)
    first = await step.check(ctx)
    assert [a.command for a in first.actions] == [
        ("talosctl", "gen", "secrets", "--output-file", str(talos.bundle_scratch(ctx.state.talos_secrets)))
    ]
    await step.apply(ctx, first)
    assert stat.S_IMODE(ctx.state.talos_secrets.stat().st_mode) == 0o600
    fake.calls.clear()
    again = await step.check(ctx)
    assert again.done and "kept" in again.reason
    assert fake.calls == []


@pytest.mark.parametrize(
    "talos_version, contract, documents",
    [
        ("v1.11.5", "v1.11", {"nodes/cp-1.yaml": "vip:", "all.yaml": "proxy:"}),
        ("v1.12.0", "v1.12", {"nodes/cp-1.yaml": "kind: Layer2VIPConfig", "all.yaml": "proxy:"}),
        (
            "v1.14.0",
            "v1.14",
            {"nodes/cp-1.yaml": "kind: Layer2VIPConfig", "controlplane.yaml": "kind: KubeProxyConfig"},
        ),
    ],
)
async def test_machine_configs_get_the_patches_and_talos_version_of_the_nodes(
    tmp_path, talos_version, contract, documents
):
    config = platform_config(talos_version=talos_version)
    fake = FakeTalos()
    ctx, _ = make_context(config, tmp_path, talos=fake)
    step = talos.MachineConfigs(config)
    result = await step.check(ctx)
    command = result.actions[-1].command
    assert command[:5] == ("talosctl", "gen", "config", "demo", "https://10.0.0.10:6443")
    assert command[command.index("--talos-version") + 1] == contract
    assert command[command.index("--with-secrets") + 1] == str(ctx.state.talos_secrets)
    await step.apply(ctx, result)
    [(name, arguments)] = fake.changes()
    assert name == "generate_config" and arguments["talos_version"] == talos_version
    patches = ctx.state.talos_dir / "patches"
    for file, marker in documents.items():
        assert marker in (patches / file).read_text()
    if talos_version != "v1.11.5":
        assert "vip:" not in (patches / "nodes/cp-1.yaml").read_text().split("kind: Layer2VIPConfig")[0]
    # Unchanged inputs: nothing to do on the next check.
    assert (await step.check(ctx)).done


async def test_machine_configs_are_regenerated_when_the_config_changes(tmp_path):
    config = platform_config()
    ctx, _ = make_context(config, tmp_path, talos=FakeTalos())
    step = talos.MachineConfigs(config)
    await step.apply(ctx, await step.check(ctx))
    changed = platform_config(talos_version="v1.12.0")
    assert not (await talos.MachineConfigs(changed).check(ctx)).done


# --- applying configs -------------------------------------------------------------------------------


async def test_apply_config_to_a_node_in_maintenance_mode(tmp_path):
    config = platform_config()
    fake = FakeTalos(insecure={CP: maintenance(CP)}, secure={})
    ctx, _ = make_context(config, tmp_path, talos=fake)
    step = talos.ApplyConfig(config, config.node_named("cp-1"))
    result = await step.check(ctx)
    patch = ctx.state.talos_dir / "patches" / "nodes" / "cp-1.yaml"
    assert [a.command for a in result.actions][:1] == [
        (
            "talosctl",
            "apply-config",
            "--insecure",
            "--nodes",
            CP,
            "--file",
            str(ctx.state.talos_dir / "controlplane.yaml"),
            "--config-patch",
            f"@{patch}",
        )
    ]
    assert "get" in result.actions[1].command and "info" in result.actions[1].command  # then the wait's read
    await step.apply(ctx, result)
    assert fake.changes() == [("apply_config", CP, ctx.state.talos_dir / "controlplane.yaml", True, (patch,))]


async def test_apply_config_waits_until_the_node_answers_with_our_certificates(tmp_path):
    config = platform_config()
    fake = FakeTalos(secure={WORKER: configured(WORKER, stage="booting")})
    ctx, lines = make_context(config, tmp_path, talos=fake)
    await talos.ApplyConfig(config, config.node_named("w-1")).wait(ctx)
    assert any("w-1 is up with the new config" in line for line in lines)


@pytest.mark.parametrize(
    "insecure, secure, outcome",
    [
        ({}, {WORKER: configured(WORKER)}, "already runs this cluster's config"),
        ({}, {}, TransientError("does not answer")),
        (
            {WORKER: configured(WORKER, cluster="")},
            {WORKER: configured(WORKER, cluster="lab")},
            PermanentError("neither in maintenance"),
        ),
    ],
    ids=["done", "unreachable", "foreign"],
)
async def test_apply_config_makes_no_call_unless_the_node_waits_for_one(tmp_path, insecure, secure, outcome):
    config = platform_config()
    fake = FakeTalos(insecure=insecure, secure=secure)
    ctx, _ = make_context(config, tmp_path, talos=fake)
    step = talos.ApplyConfig(config, config.node_named("w-1"))
    if isinstance(outcome, Exception):
        with pytest.raises(type(outcome)):
            await step.check(ctx)
    else:
        assert outcome in (await step.check(ctx)).reason
    assert fake.changes() == []


async def test_a_node_that_took_its_config_and_went_silent_is_waited_for_not_sent_it_again(tmp_path):
    config = platform_config()
    fake = FakeTalos(insecure={CP: maintenance(CP)})
    ctx, _ = make_context(config, tmp_path, talos=fake)
    ctx.state.talos_dir.mkdir(parents=True, exist_ok=True)
    (ctx.state.talos_dir / "controlplane.yaml").write_text("# config\n")
    step = talos.ApplyConfig(config, config.node_named("cp-1"))
    await step.apply(ctx, await step.check(ctx))
    assert ctx.state.applied_config_marker("cp-1").stat().st_mode & 0o777 == 0o600
    sent = fake.changes()
    fake.insecure = {}  # installing: it answers nothing for minutes
    again = await step.check(ctx)
    assert not again.done and "waiting for it, not applying again" in again.reason
    await step.apply(ctx, again)
    assert fake.changes() == sent
    # The preflight lets it pass too, instead of calling it unreachable.
    assert (await talos.NodePreflight(config, config.node_named("cp-1")).check(ctx)).done
    # Another config since: a silent node is not assumed to have it.
    (ctx.state.talos_dir / "controlplane.yaml").write_text("# changed config\n")
    with pytest.raises(TransientError):
        await step.check(ctx)


async def test_a_refused_config_leaves_no_record_of_being_sent(tmp_path):
    config = platform_config()

    class Refusing(FakeTalos):
        async def apply_config(self, *args, **kwargs):
            raise PermanentError("the node refused the config")

    ctx, _ = make_context(config, tmp_path, talos=Refusing(insecure={CP: maintenance(CP)}))
    step = talos.ApplyConfig(config, config.node_named("cp-1"))
    with pytest.raises(PermanentError):
        await step.apply(ctx, await step.check(ctx))
    assert not ctx.state.applied_config_marker("cp-1").exists()


async def test_talosctl_endpoints_are_the_control_plane_ips_never_the_vip(tmp_path):
    config = platform_config(control_planes=3)
    fake = FakeTalos()
    ctx, _ = make_context(config, tmp_path, talos=fake)
    step = talos.TalosconfigEndpoints(config)
    result = await step.check(ctx)
    ips = ["10.0.0.11", "10.0.0.12", "10.0.0.13"]
    assert result.actions[0].command[-4:] == ("endpoint", *ips)
    assert "10.0.0.10" not in result.actions[0].command
    await step.apply(ctx, result)
    assert fake.changes() == [("set_endpoints", ctx.state.talosconfig, ips, ips)]
    ctx.state.talosconfig.parent.mkdir(parents=True, exist_ok=True)
    ctx.state.talosconfig.write_text(f"context: demo\ncontexts:\n  demo:\n    endpoints: {ips}\n")
    assert (await step.check(ctx)).done


# --- bootstrap and after ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "etcd, bootstraps",
    [
        ({}, [("bootstrap", "10.0.0.11")]),
        ({"10.0.0.12": ["cp-2"]}, []),  # any control plane running etcd: never again
        ({"10.0.0.11": ["cp-1", "cp-2", "cp-3"]}, []),
    ],
    ids=["fresh", "etcd-on-another-cp", "already-bootstrapped"],
)
async def test_bootstrap_happens_exactly_once(tmp_path, etcd, bootstraps):
    config = platform_config(control_planes=3)
    fake = FakeTalos(etcd=dict(etcd))
    ctx, _ = make_context(config, tmp_path, talos=fake)
    step = bootstrap.Bootstrap(config)
    result = await run_step(step, ctx)
    assert fake.changes() == bootstraps
    if not bootstraps:
        assert "not bootstrapping again" in result.reason
    else:
        assert result.actions[0].command[-2:] == ("--nodes", "10.0.0.11") or "bootstrap" in result.actions[0].command
        # Run again (a resume): etcd now runs, so the step is done and makes no call.
        fake.calls.clear()
        assert (await step.check(ctx)).done and fake.changes() == []


async def test_a_failed_bootstrap_call_leaves_no_record_and_a_refused_one_counts_as_done(tmp_path):
    from talos_platform.engine.drivers.protocols import AlreadyBootstrapped

    config = platform_config(control_planes=3)

    class Answering(FakeTalos):
        answer: Exception | None = None

        async def bootstrap(self, address, talosconfig):
            self.calls.append(("bootstrap", address))  # and etcd stays silent
            raise self.answer

    fake = Answering()
    ctx, lines = make_context(config, tmp_path, talos=fake)
    step = bootstrap.Bootstrap(config)
    fake.answer = TransientError("connection refused")
    with pytest.raises(TransientError):
        await step.apply(ctx, await step.check(ctx))
    assert not ctx.state.bootstrap_marker.exists()  # it did not happen: the retry may bootstrap
    fake.answer = AlreadyBootstrapped("10.0.0.11 is already bootstrapped: rpc error: code = AlreadyExists")
    await step.apply(ctx, await step.check(ctx))
    assert json.loads(ctx.state.bootstrap_marker.read_text())["state"] == "bootstrapped"
    assert any("already bootstrapped" in line for line in lines)
    calls = len(fake.changes())
    again = await step.check(ctx)  # etcd still silent: waits, never a third call
    await step.apply(ctx, again)
    assert len(fake.changes()) == calls and again.facts.get("bootstrapped")


async def test_bootstrap_command_targets_one_control_plane_directly(tmp_path):
    config = platform_config(control_planes=3)
    ctx, _ = make_context(config, tmp_path, talos=FakeTalos())
    result = await bootstrap.Bootstrap(config).check(ctx)
    command = result.actions[0].command
    assert command[command.index("--endpoints") + 1] == "10.0.0.11"
    assert command[command.index("--nodes") + 1] == "10.0.0.11"
    assert command[-1] == "bootstrap"


async def test_kubeconfig_is_fetched_once(tmp_path):
    config = platform_config()
    fake = FakeTalos()
    ctx, _ = make_context(config, tmp_path, talos=fake)
    step = bootstrap.Kubeconfig(config)
    await run_step(step, ctx)
    assert fake.changes() == [("kubeconfig", CP, ctx.state.kubeconfig)]
    assert (await step.check(ctx)).done


def node(name, ready):
    return {
        "metadata": {"name": name},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


async def test_kubernetes_api_waits_for_every_node_to_register_not_to_be_ready(tmp_path):
    from talos_platform.engine.drivers.protocols import NODES

    config = platform_config(workers=2)
    kube = FakeKube().put(NODES, node("cp-1", False)).later(NODES, node("w-1", False), node("w-2", False), type="ADDED")
    ctx, lines = make_context(config, tmp_path, kube=kube)
    step = bootstrap.KubernetesApi(config)
    result = await step.check(ctx)
    assert not result.done and result.reason.startswith("1/3 nodes registered")
    await step.wait(ctx)
    assert lines[-1] == "3/3 nodes registered: cp-1, w-1, w-2"
    assert (await step.check(ctx)).done


async def test_docker_cluster_is_created_once_with_the_patches(tmp_path):
    config = platform_config(vip=None, workers=0)
    config.cluster.platform = "docker"
    fake = FakeTalos(version="v1.12.1")
    ctx, _ = make_context(config, tmp_path, talos=fake)
    step = bootstrap.DockerCluster(config)
    result = await step.check(ctx)
    command = result.actions[-1].command
    assert command[:4] == ("talosctl", "cluster", "create", "docker")
    assert command[command.index("--config-patch") + 1].endswith("patches/all.yaml")
    assert command[command.index("--config-patch-controlplanes") + 1].endswith("patches/controlplane.yaml")
    assert command[command.index("--subnet") + 1] == "10.0.0.0/24"
    await step.apply(ctx, result)
    assert [call[0] for call in fake.changes()] == ["create_docker_cluster"]
    fake.secure["10.0.0.2"] = configured("10.0.0.2")  # talosctl gives the control plane .2
    assert (await step.check(ctx)).done


async def test_docker_on_an_older_talosctl_uses_the_provisioner_flag_and_talos_version(tmp_path):
    config = platform_config(vip=None, workers=0)
    config.cluster.platform = "docker"
    ctx, _ = make_context(config, tmp_path, talos=FakeTalos(version="v1.11.5"))
    command = (await bootstrap.DockerCluster(config).check(ctx)).actions[-1].command
    assert command[3:5] == ("--provisioner", "docker")
    assert command[command.index("--talos-version") + 1] == "v1.11"
    assert command[command.index("--cidr") + 1] == "10.0.0.0/24"


# --- resume after a config change -------------------------------------------------------------------


async def test_a_changed_config_never_bootstraps_again(tmp_path):
    config = platform_config()
    fake = FakeTalos(etcd={CP: ["cp-1"]})
    ctx, lines = make_context(config, tmp_path, talos=fake)
    step = bootstrap.Bootstrap(config)
    check = await step.check(ctx)
    await step.apply(ctx, check)  # what the runner does when the inputs' digest changed
    assert fake.changes() == []
    assert lines[-1].startswith("nothing to change: etcd already runs")


async def test_a_changed_config_is_applied_securely_to_a_configured_node(tmp_path):
    config = platform_config()
    fake = FakeTalos(secure={WORKER: configured(WORKER)})
    ctx, _ = make_context(config, tmp_path, talos=fake)
    step = talos.ApplyConfig(config, config.node_named("w-1"))
    check = await step.check(ctx)
    assert check.done
    await step.apply(ctx, check)
    patch = ctx.state.talos_dir / "patches" / "nodes" / "w-1.yaml"
    assert fake.changes() == [("apply_config", WORKER, ctx.state.talos_dir / "worker.yaml", False, (patch,))]


@pytest.mark.parametrize(
    "client, nodes, fails",
    [
        ("v1.11.5", "v1.11.5", False),
        ("v1.12.0", "v1.11.5", False),
        ("v1.11.5", "v1.12.1", True),
        ("v1.12.0-alpha.1", "v1.12.0", False),
    ],
)
async def test_talosctl_older_than_the_nodes_is_refused(tmp_path, client, nodes, fails):
    config = platform_config(talos_version=nodes)
    ctx, _ = make_context(
        config, tmp_path, talos=FakeTalos(version=client), tools=FakeTools({"kubectl": "v1.34.1", "helm": "v3.19.0"})
    )
    step = talos.ToolsPreflight(config)
    if fails:
        with pytest.raises(PermanentError) as failure:
            await step.check(ctx)
        assert "older than the nodes' Talos v1.12.1" in failure.value.message and "v1.12 or newer" in failure.value.hint
    else:
        assert (await step.check(ctx)).done


# --- Secrets encrypted at rest ---------------------------------------------------------------------


class DroppingTheKey(FakeTalos):
    """A talosctl (or a patch) that leaves the encryption key out of the control-plane config."""

    async def generate_config(self, **kwargs):
        await super().generate_config(**kwargs)
        (kwargs["output_dir"] / "controlplane.yaml").write_text("cluster: {clusterName: demo}\n")


@pytest.mark.parametrize("bundle_has_key, hint", [(True, "dropped it"), (False, "head -c 32 /dev/urandom")])
async def test_a_control_plane_config_without_the_encryption_key_is_refused(tmp_path, bundle_has_key, hint):
    config = platform_config()
    fake = DroppingTheKey()
    ctx, _ = make_context(config, tmp_path, talos=fake)
    await talos.SecretsBundle(config).apply(ctx, await talos.SecretsBundle(config).check(ctx))
    if not bundle_has_key:
        bundle = ctx.state.talos_secrets.read_text().replace(", secretboxencryptionsecret: fake", "")
        ctx.state.talos_secrets.write_text(bundle)
    step = talos.MachineConfigs(config)
    with pytest.raises(PermanentError) as refused:
        await step.apply(ctx, await step.check(ctx))
    assert "would leave Secrets unencrypted" in refused.value.message
    assert "cluster.secretboxEncryptionSecret" in refused.value.message and hint in refused.value.hint
    assert not (ctx.state.talos_dir / step.digest_file).exists(), "a refused config is not recorded as done"


async def test_up_to_date_configs_without_the_key_are_generated_again(tmp_path):
    config = platform_config()
    ctx, _ = make_context(config, tmp_path, talos=FakeTalos())
    step = talos.MachineConfigs(config)
    await step.apply(ctx, await step.check(ctx))
    assert (await step.check(ctx)).done
    (ctx.state.talos_dir / "controlplane.yaml").write_text("cluster: {}\n")  # e.g. made by an older release
    again = await step.check(ctx)
    assert not again.done and "generating it again" in again.reason
    await step.apply(ctx, again)
    assert (await step.check(ctx)).done
