"""The dashboard's observe layer reads the simulator with the same code it uses on a real
cluster: nodes with Talos facts, pods with their problems, apps by wave, Hubble flows."""

import asyncio

from talos_platform.engine.observe.observer import Observer

from .helpers import platform_for


async def observe(platform, seconds: float):
    observer = Observer(platform.drivers, platform.clock, min_interval=1.0, talos_interval=5.0)
    snapshots = []
    observer.subscribe(snapshots.append)
    task = asyncio.ensure_future(observer.run())
    await platform.clock.sleep(seconds)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    platform.close()
    return snapshots[-1]


async def test_the_observer_sees_the_crash_looping_pod_and_the_oom_kill_behind_it():
    snapshot = await observe(platform_for("crash-loop", installed=True), 30)
    assert snapshot.simulated
    assert len(snapshot.nodes) == 6 and all(n.ready and n.reachable for n in snapshot.nodes)
    assert all(n.cpu_percent is not None for n in snapshot.nodes)
    oom = [p for p in snapshot.pod_problems if p.kind == "OOMKilled"]
    assert oom and oom[0].namespace == "monitoring" and oom[0].restarts >= 1
    assert oom[0].app == "monitoring"
    assert snapshot.flows.total_flows > 0


async def test_the_observer_shows_which_app_blocks_which_wave():
    snapshot = await observe(platform_for("app-degraded", installed=True), 10)
    assert snapshot.blocked.startswith("wave -98 is blocked by cert-manager")
    assert "exceeded its progress deadline" in snapshot.blocked


async def test_a_node_that_loses_power_shows_as_unreachable_and_the_rest_stays_visible():
    platform = platform_for("node-down", installed=True)
    address = platform.config.node_ip(platform.config.node_named("worker-3"))
    snapshot = await observe(platform, 150)
    down = next(n for n in snapshot.nodes if n.name == "worker-3")
    assert not down.reachable and down.ready is not True
    assert all(n.reachable and n.ready for n in snapshot.nodes if n.name != "worker-3")
    facts = await platform.drivers.talos.node_facts(address, insecure=False)
    assert not facts.reachable
    from talos_platform.engine.drivers.protocols import NODES

    node = await platform.drivers.kube.get(NODES, "worker-3")
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "Unknown" and ready["reason"] == "NodeStatusUnknown"
    assert {t["key"] for t in node["spec"]["taints"]} == {"node.kubernetes.io/unreachable"}


async def test_an_api_outage_shows_in_the_snapshot_and_the_watches_come_back():
    platform = platform_for("api-flap", installed=True)
    observer = Observer(platform.drivers, platform.clock, min_interval=1.0, talos_interval=5.0)
    snapshots = []
    observer.subscribe(snapshots.append)
    task = asyncio.ensure_future(observer.run())
    await platform.clock.sleep(80)
    during = snapshots[-1]
    await platform.clock.sleep(120)
    after = snapshots[-1]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    platform.close()
    assert during.kube_error and len(during.nodes) == 6  # the stores keep their last contents
    assert not after.kube_error and all(n.ready for n in after.nodes)


async def test_the_dashboard_says_in_plain_words_that_pod_security_refused_node_exporter():
    snapshot = await observe(platform_for("pod-security-refused", installed=True), 30)
    refused = [p for p in snapshot.pod_problems if p.kind == "PodSecurity"]
    assert [(p.namespace, p.name) for p in refused] == [
        ("monitoring", "kube-prometheus-stack-prometheus-node-exporter")
    ]
    assert 'PodSecurity level "baseline"' in refused[0].detail and "hostNetwork=true" in refused[0].detail
    assert "pod-security.kubernetes.io/enforce: privileged" in refused[0].detail
    monitoring = next(app for wave in snapshot.waves for app in wave.apps if app.name == "monitoring")
    assert monitoring.health == "Progressing" and "node-exporter" in monitoring.message


async def test_the_dashboard_shows_vault_pending_on_its_unbound_volume_claim():
    snapshot = await observe(platform_for("vault-pending", installed=True), 30)
    vault = next(p for p in snapshot.pod_problems if (p.namespace, p.name) == ("vault", "vault-0"))
    assert vault.kind == "Pending" and "unbound immediate PersistentVolumeClaims" in vault.detail


async def test_the_dashboard_shows_the_gateway_waiting_for_an_address_and_the_blocked_wave():
    snapshot = await observe(platform_for("no-load-balancer-pool", installed=True), 30)
    issuer = next(app for wave in snapshot.waves for app in wave.apps if app.name == "cert-manager-issuer")
    assert issuer.health == "Progressing" and issuer.message == "Address is not ready yet"
    assert snapshot.blocked, "a wave waits behind the Gateway"
    assert not [p for p in snapshot.pod_problems if p.kind == "PodSecurity"]


async def test_the_default_scenario_has_no_pod_security_or_storage_problem():
    snapshot = await observe(platform_for("default", installed=True), 30)
    assert not snapshot.pod_problems
    assert snapshot.blocked == ""
