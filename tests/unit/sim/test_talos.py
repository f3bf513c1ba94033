"""The simulated Talos API: maintenance mode, apply-config, bootstrap exactly once."""

import pytest

from talos_platform.engine.errors import PermanentError, TransientError

from .helpers import bring_up_kubernetes, generate_configs, platform_for, wait_until


async def test_a_node_takes_its_config_installs_reboots_and_runs(tmp_path):
    platform = platform_for()
    talos = platform.drivers.talos
    node = platform.config.control_planes[0]
    address = platform.config.node_ip(node)
    out = await generate_configs(platform, tmp_path)
    await wait_until(platform, lambda: platform.model.machine(address).stage == "maintenance")
    secure = await talos.node_facts(address, insecure=False)
    assert (
        secure.reachable and not secure.maintenance and "x509" in secure.error
    )  # maintenance mode only answers --insecure
    insecure = await talos.node_facts(address, insecure=True)
    assert insecure.maintenance and insecure.stage == "maintenance" and insecure.disks
    with pytest.raises(TransientError) as refused:
        await talos.apply_config(address, out / "controlplane.yaml", insecure=False)
    assert "certificate required" in str(refused.value)

    await talos.apply_config(address, out / "controlplane.yaml", insecure=True)
    stages = set()
    for _ in range(60):
        facts = await talos.node_facts(address, insecure=False)
        stages.add(facts.stage)
        if facts.stage == "running":
            break
        await platform.clock.sleep(2)
    assert {"installing", "running"} <= stages
    assert facts.reachable and not facts.maintenance and facts.cluster_name == platform.config.cluster.name
    assert facts.cpu_percent is not None and 0 < facts.memory_percent < 100
    configured = await talos.node_facts(address, insecure=True)
    assert configured.reachable and not configured.maintenance and "certificate required" in configured.error
    assert await talos.etcd_members(address, out / "talosconfig") == []  # not bootstrapped yet


async def test_bootstrap_happens_once_and_a_second_one_fails_like_talosctl(tmp_path):
    platform = platform_for()
    await bring_up_kubernetes(platform, tmp_path)
    talos = platform.drivers.talos
    first = platform.config.node_ip(platform.config.control_planes[0])
    await wait_until(platform, lambda: len(platform.model.etcd_members) == 3)
    members = await talos.etcd_members(first, tmp_path / "out" / "talosconfig")
    assert members == ["cp-1", "cp-2", "cp-3"]
    with pytest.raises(PermanentError) as again:
        await talos.bootstrap(first, tmp_path / "out" / "talosconfig")
    assert "AlreadyExists" in str(again.value) and "etcd data directory is not empty" in str(again.value)
    await talos.kubeconfig(first, tmp_path / "out" / "talosconfig", tmp_path / "kubeconfig")
    text = (tmp_path / "kubeconfig").read_text()
    assert "simulated" in text and f"https://{platform.config.cluster.vip}:6443" in text
    assert await talos.address_answers(platform.config.cluster.vip)


async def test_the_vip_does_not_answer_before_bootstrap_and_unknown_nodes_time_out():
    platform = platform_for()
    talos = platform.drivers.talos
    assert not await talos.address_answers(platform.config.cluster.vip)
    facts = await talos.node_facts("192.168.99.99", insecure=True)
    assert facts.reachable is False and "i/o timeout" in facts.error


async def test_a_node_stuck_in_maintenance_drops_back_after_taking_its_config(tmp_path):
    platform = platform_for("node-stuck-in-maintenance")
    out = await generate_configs(platform, tmp_path)
    address = platform.config.node_ip(platform.config.node_named("worker-2"))
    await wait_until(platform, lambda: platform.model.machine(address).stage == "maintenance")
    await platform.drivers.talos.apply_config(address, out / "worker.yaml", insecure=True)
    await platform.clock.sleep(300)
    facts = await platform.drivers.talos.node_facts(address, insecure=True)
    assert facts.maintenance and "disk" in facts.error


async def test_secrets_bundle_is_never_overwritten_and_holds_no_real_keys(tmp_path):
    platform = platform_for()
    await platform.drivers.talos.generate_secrets(tmp_path / "secrets.yaml")
    assert "SIMULATED" in (tmp_path / "secrets.yaml").read_text()
    assert (tmp_path / "secrets.yaml").stat().st_mode & 0o077 == 0
    with pytest.raises(PermanentError):
        await platform.drivers.talos.generate_secrets(tmp_path / "secrets.yaml")
