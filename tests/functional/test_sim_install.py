"""The real install steps (engine.layers.platform_steps) run through InstallSession against the
simulated platform: a full install, each fault scenario's outcome, and determinism."""

from __future__ import annotations

import math
import time
from pathlib import Path

from talos_platform.engine.drivers.protocols import APPLICATIONS, EVENTS, PODS, Resource
from talos_platform.engine.run.events import StepFailed, StepOutput, StepRetrying, StepSucceeded
from talos_platform.engine.session import InstallSession
from talos_platform.engine.sim import simulated_platform
from talos_platform.engine.state import StateDirectory

REPOSITORY = Path(__file__).resolve().parents[2]


async def install(tmp_path, scenario: str, *, seed: int | None = None):
    platform = simulated_platform(scenario, seed=seed, speed=math.inf)
    session = InstallSession(
        platform.config, platform.secrets, StateDirectory(tmp_path / scenario), platform.drivers, platform.clock
    )
    events = []
    session.subscribe(events.append)
    outcome = await session.run()
    return platform, outcome, events


def outputs(events, step_id: str) -> str:
    return "\n".join(e.line for e in events if isinstance(e, StepOutput) and e.step_id == step_id)


def failed(events) -> dict[str, StepFailed]:
    return {e.step_id: e for e in events if isinstance(e, StepFailed)}


async def test_full_install_of_all_five_layers_on_the_default_scenario(tmp_path):
    from talos_platform.engine.layers import platform_steps

    started = time.monotonic()
    platform, outcome, events = await install(tmp_path, "default")
    # The run considered exactly the real install's steps: the same code as on real machines.
    planned = next(e for e in events if e.type == "RunStarted").steps
    assert sorted(planned) == sorted(s.id for s in platform_steps(platform.config))
    assert outcome == "succeeded", failed(events)
    assert time.monotonic() - started < 30  # seconds of real time for ~7 virtual minutes
    succeeded = {e.step_id for e in events if isinstance(e, StepSucceeded)}
    assert {"L0.bootstrap", "L1.cilium", "L2.wave-100", "L2.wave-96", "L3.vault-unseal"} <= succeeded
    assert {e.layer for e in events if hasattr(e, "layer")} == {0, 1, 2, 3, 4}
    assert all(e.simulated for e in events if e.type == "RunStarted")
    # The cluster the engine left behind: every app Synced and Healthy once ArgoCD's next
    # refresh has re-assessed the parents, Vault unsealed.
    await platform.clock.sleep(30)
    apps = await platform.drivers.kube.list(APPLICATIONS, "argocd")
    assert apps.items and all(
        a["status"]["sync"]["status"] == "Synced" and a["status"]["health"]["status"] == "Healthy" for a in apps.items
    )
    assert platform.model.vault.unsealed and platform.model.etcd_members


async def test_a_node_stuck_in_maintenance_fails_its_apply_config_step(tmp_path):
    _, outcome, events = await install(tmp_path, "node-stuck-in-maintenance")
    assert outcome == "failed"
    stuck = failed(events)["L0.apply-config.worker-2"]
    assert "worker-2" in stuck.error and "install disk" in stuck.hint
    assert "L0.apply-config.worker-1" not in failed(events)


async def test_a_degraded_app_blocks_its_wave_and_the_install_names_it(tmp_path):
    _, outcome, events = await install(tmp_path, "app-degraded")
    assert outcome == "failed"
    assert set(failed(events)) == {"L2.wave-98"}
    assert "wave -98 is blocked by cert-manager" in failed(events)["L2.wave-98"].error
    assert "Degraded" in failed(events)["L2.wave-98"].error and failed(events)["L2.wave-98"].hint
    assert "cert-manager" in outputs(events, "L2.wave-98")
    assert "exceeded its progress deadline" in outputs(events, "L2.wave-98")
    started = {e.step_id for e in events if e.type == "StepStarted"}
    assert "L2.wave-97" not in started  # later waves never start


async def test_an_oom_killed_crash_loop_keeps_monitoring_from_converging(tmp_path):
    platform, outcome, events = await install(tmp_path, "crash-loop")
    assert outcome == "failed"
    assert "Waiting for 1 pods to be ready" in failed(events)["L3.app.monitoring"].error
    # Gating is transitive: the platform app-of-apps stops at monitoring's wave (2, after the
    # Vault Secrets Operator that brings Grafana's login), so layer 4's apps are never created.
    assert "L3.app.vault-secrets-operator" not in failed(events)
    assert "apps to be created" in failed(events)["L4.applications"].error
    pods = await platform.drivers.kube.list(PODS, "monitoring")
    prometheus = next(p for p in pods.items if p["metadata"]["name"].startswith("prometheus-"))
    container = prometheus["status"]["containerStatuses"][0]
    assert container["state"]["waiting"]["reason"] == "CrashLoopBackOff" or container["restartCount"] >= 1
    assert container["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert container["restartCount"] >= 3
    assert prometheus["spec"]["containers"][0]["resources"]["limits"]["memory"] == "2Gi"  # crash-loop.yaml


async def test_an_api_outage_is_retried_then_the_install_succeeds(tmp_path):
    _, outcome, events = await install(tmp_path, "api-outage")
    assert outcome == "succeeded", failed(events)
    retries = [e for e in events if isinstance(e, StepRetrying)]
    assert any(e.step_id == "L1.bootstrap" and "unreachable" in e.error for e in retries)


def signature(events, state_dir) -> list[tuple[str, str, str, str]]:
    """What must repeat exactly: event types, step ids, output lines and errors (the state
    directory, which differs between the runs, left out)."""
    return [
        (
            e.type,
            getattr(e, "step_id", ""),
            getattr(e, "line", "").replace(str(state_dir), "STATE"),
            getattr(e, "error", ""),
        )
        for e in events
        if e.type not in ("RunStarted", "RunFinished")
    ]


async def test_same_seed_gives_the_same_event_sequence(tmp_path):
    _, first_outcome, first = await install(tmp_path / "a", "api-outage", seed=11)
    _, second_outcome, second = await install(tmp_path / "b", "api-outage", seed=11)
    assert first_outcome == second_outcome == "succeeded"
    assert signature(first, tmp_path / "a" / "api-outage") == signature(second, tmp_path / "b" / "api-outage")
    # Even the virtual times agree: nothing depends on how fast this machine is.
    assert [e.at for e in first if e.type != "RunStarted"] == [e.at for e in second if e.type != "RunStarted"]


async def test_a_different_seed_changes_the_timeline(tmp_path):
    _, _, first = await install(tmp_path / "a", "default", seed=1)
    _, _, second = await install(tmp_path / "b", "default", seed=2)
    assert [e.at for e in first] != [e.at for e in second]


async def test_a_local_docker_cluster_installs_on_the_simulator(tmp_path):
    platform, outcome, events = await install(tmp_path, "docker")
    assert outcome == "succeeded", failed(events)
    assert "L0.docker-cluster" in {e.step_id for e in events if isinstance(e, StepSucceeded)}
    assert [(m.name, m.address) for m in platform.model.machines.values()] == [("local-controlplane-1", "10.5.0.2")]


async def test_a_users_own_config_can_be_simulated(tmp_path):
    from talos_platform.engine.sim.scenarios import ClusterShape, config_from_shape

    config = config_from_shape(ClusterShape(name="mine", control_planes=1, workers=2, subnet="192.168.50.0/24"))
    platform = simulated_platform("default", speed=math.inf, config=config)
    assert platform.config is config
    assert sorted(m.name for m in platform.model.machines.values()) == ["cp-1", "worker-1", "worker-2"]


async def test_an_interrupted_install_resumes_on_the_same_platform_without_applying_twice(tmp_path):
    platform = simulated_platform("default", speed=math.inf)
    state = StateDirectory(tmp_path / "state")
    first = InstallSession(platform.config, platform.secrets, state, platform.drivers, platform.clock)

    def interrupt_after_bootstrap(event):
        if isinstance(event, StepSucceeded) and event.step_id == "L1.cilium":
            first.interrupt()

    first.subscribe(interrupt_after_bootstrap)
    assert await first.run() == "interrupted"
    assert platform.model.etcd_bootstrapped_on is not None

    second = InstallSession(platform.config, platform.secrets, state, platform.drivers, platform.clock)
    events = []
    second.subscribe(events.append)
    # A second `talosctl bootstrap` would fail with AlreadyExists: resuming must skip it.
    assert await second.run() == "succeeded", failed(events)
    skipped = {e.step_id for e in events if e.type == "StepSkipped"}
    assert {"L0.bootstrap", "L0.apply-config.cp-1", "L1.bootstrap"} <= skipped


async def test_no_secret_value_reaches_any_event(tmp_path):
    platform, outcome, events = await install(tmp_path, "default")
    assert outcome == "succeeded"
    text = "\n".join(repr(e.to_record()) for e in events)
    for value in platform.secrets.values():
        assert value not in text
    assert platform.model.vault.root_token not in text


async def test_a_pending_vault_pod_fails_with_the_storage_hint(tmp_path):
    # No rule says "vault is pending": the repository lacks the local-path storage, so the
    # claim of Vault's StatefulSet finds no StorageClass and no provisioner.
    platform, outcome, events = await install(tmp_path, "vault-pending")
    assert outcome == "failed"
    assert not platform.model.scenario.faults
    vault = failed(events)["L3.vault-running"]
    assert "Pending" in vault.error and "PersistentVolumeClaim" in vault.hint
    pod = await platform.drivers.kube.get(PODS, "vault-0", "vault")
    scheduled = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert scheduled["reason"] == "Unschedulable" and "unbound immediate PersistentVolumeClaims" in scheduled["message"]


async def test_with_its_local_path_storage_the_same_cluster_binds_vaults_volume(tmp_path):
    platform, outcome, events = await install(tmp_path, "default")
    assert outcome == "succeeded", failed(events)
    vault = await platform.drivers.kube.get(Resource("apps", "v1", "statefulsets", "StatefulSet"), "vault", "vault")
    assert vault["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "local-path"
    assert "L3.app.local-path-storage" in {e.step_id for e in events if isinstance(e, StepSucceeded)}


async def test_pod_security_refuses_node_exporter_without_its_namespace_label(tmp_path):
    platform, outcome, events = await install(tmp_path, "pod-security-refused")
    assert outcome == "failed"
    monitoring = failed(events)["L3.app.monitoring"]
    assert "node-exporter" in monitoring.error and "Progressing" in monitoring.error
    # Vault, in a namespace whose pods need no more than baseline, is fine.
    assert "L3.vault-unseal" in {e.step_id for e in events if isinstance(e, StepSucceeded)}
    refusals = [
        e for e in (await platform.drivers.kube.list(EVENTS, "monitoring")).items if e["reason"] == "FailedCreate"
    ]
    assert refusals and refusals[0]["involvedObject"]["kind"] == "DaemonSet"
    assert (
        'violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true, hostPID=true)'
        in refusals[0]["message"]
    )
    assert not [
        p
        for p in (await platform.drivers.kube.list(PODS, "monitoring")).items
        if "node-exporter" in p["metadata"]["name"]
    ]


async def test_without_a_load_balancer_pool_the_gateway_is_never_programmed_and_blocks_its_waves(tmp_path):
    platform, outcome, events = await install(tmp_path, "no-load-balancer-pool")
    assert outcome == "failed"
    issuer = failed(events)["L3.app.cert-manager-issuer"]
    assert "Address is not ready yet" in issuer.error
    assert "L4.applications" in failed(events), "the apps wave waits behind the platform"
    gateway = await platform.drivers.kube.get(
        Resource("gateway.networking.k8s.io", "v1", "gateways", "Gateway"), "platform", "platform-gateway"
    )
    programmed = next(c for c in gateway["status"]["conditions"] if c["type"] == "Programmed")
    assert programmed["status"] == "False" and programmed["reason"] == "AddressNotAssigned"


async def test_with_its_pool_the_docker_gateway_gets_an_address(tmp_path):
    import yaml

    from talos_platform.engine.config.models import PlatformConfig

    config = PlatformConfig.model_validate(yaml.safe_load((REPOSITORY / "examples" / "docker-single.yaml").read_text()))
    platform = simulated_platform("docker", speed=math.inf, config=config)
    session = InstallSession(
        platform.config, platform.secrets, StateDirectory(tmp_path / "docker"), platform.drivers, platform.clock
    )
    events = []
    session.subscribe(events.append)
    assert await session.run() == "succeeded", failed(events)
    gateway = await platform.drivers.kube.get(
        Resource("gateway.networking.k8s.io", "v1", "gateways", "Gateway"), "platform", "platform-gateway"
    )
    assert gateway["status"]["addresses"] == [{"type": "IPAddress", "value": "10.5.0.240"}]


_FINGERPRINT = """
import asyncio, hashlib, math, sys, tempfile
from talos_platform.engine.drivers.protocols import PODS
from talos_platform.engine.session import InstallSession
from talos_platform.engine.sim import simulated_platform
from talos_platform.engine.state import StateDirectory

async def main():
    platform = simulated_platform("policy-drops", seed=4, speed=math.inf)
    with tempfile.TemporaryDirectory() as state:
        session = InstallSession(
            platform.config, platform.secrets, StateDirectory(state), platform.drivers, platform.clock
        )
        events = []
        session.subscribe(events.append)
        await session.run()
        story = [(e.type, getattr(e, "step_id", ""), getattr(e, "line", "").replace(state, "STATE"), e.at)
                 for e in events if e.type not in ("RunStarted", "RunFinished")]
    flows = []
    async for flow in platform.drivers.hubble.flows():
        flows.append(repr(flow))
        if len(flows) >= 2000:
            break
    listed = (await platform.drivers.kube.list(PODS)).items
    pods = sorted((p["metadata"]["name"], p["spec"].get("nodeName", "")) for p in listed)
    print(hashlib.sha256(repr((story, flows, pods)).encode()).hexdigest())

asyncio.run(main())
"""


def test_runs_in_separate_processes_with_different_hash_seeds_tell_the_same_story():
    import os
    import subprocess
    import sys

    def fingerprint(hash_seed: str) -> str:
        environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", _FINGERPRINT], capture_output=True, text=True, env=environment, timeout=300
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert fingerprint("1") == fingerprint("2")


async def test_a_journalled_simulated_cluster_survives_its_process(tmp_path):
    """A second platform built from the journal is the same cluster: the resumed install finds
    etcd bootstrapped (a second bootstrap would fail) and the Secrets' values never hit disk."""
    journal = tmp_path / "state" / "simulation.jsonl"
    state = StateDirectory(tmp_path / "state")
    first_platform = simulated_platform("default", speed=math.inf, journal=journal)
    first = InstallSession(
        first_platform.config, first_platform.secrets, state, first_platform.drivers, first_platform.clock
    )

    def interrupt_after_argocd(event):
        if isinstance(event, StepSucceeded) and event.step_id == "L1.argocd":
            first.interrupt()

    first.subscribe(interrupt_after_argocd)
    assert await first.run() == "interrupted"
    first_platform.close()
    assert journal.stat().st_mode & 0o077 == 0
    text = journal.read_text()
    for value in first_platform.secrets.values():
        assert value not in text

    second_platform = simulated_platform("default", speed=math.inf, journal=journal)
    model = second_platform.model
    assert model.etcd_bootstrapped_on == first_platform.model.etcd_bootstrapped_on
    assert model.clock.now() <= first_platform.clock.now()
    assert model.store.count(PODS) > 0 and all(m.stage == "running" for m in model.machines.values())

    second = InstallSession(
        second_platform.config, second_platform.secrets, state, second_platform.drivers, second_platform.clock
    )
    events = []
    second.subscribe(events.append)
    assert await second.run() == "succeeded", failed(events)
    skipped = {e.step_id for e in events if e.type == "StepSkipped"}
    assert {"L0.bootstrap", "L0.apply-config.cp-1", "L1.bootstrap"} <= skipped


_KILLABLE = """
import asyncio, sys
from pathlib import Path
from talos_platform.engine.session import InstallSession
from talos_platform.engine.sim import simulated_platform
from talos_platform.engine.state import StateDirectory

root = Path(sys.argv[1])
platform = simulated_platform("default", speed=float(sys.argv[2]), journal=root / "simulation.jsonl")
session = InstallSession(platform.config, platform.secrets, StateDirectory(root), platform.drivers, platform.clock)
failures = []
session.subscribe(lambda e: failures.append(e) if e.type == "StepFailed" else None)
outcome = asyncio.run(session.run())
print(outcome, len(failures))
"""


def test_a_simulated_install_killed_mid_layer_one_finishes_when_run_again(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time as real_time

    environment = {**os.environ, "TALOS_PLATFORM_LOOPBACK_ONLY": "1"}
    command = [sys.executable, "-c", _KILLABLE, str(tmp_path)]
    journal = tmp_path / "simulation.jsonl"
    # Paced (about 450 virtual seconds at 150x: 3 real seconds) and killed with SIGKILL once the
    # bootstrap manifests went in: no chance to clean up, like pulling the plug.
    process = subprocess.Popen([*command, "150"], env=environment, stdout=subprocess.PIPE, text=True)
    deadline = real_time.monotonic() + 60
    while '"change":"apply"' not in (journal.read_text() if journal.exists() else ""):
        assert process.poll() is None and real_time.monotonic() < deadline, "the install ended before layer 1"
        real_time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    resumed = subprocess.run([*command, "inf"], env=environment, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.split() == ["succeeded", "0"]  # nothing failed: nothing was applied twice
