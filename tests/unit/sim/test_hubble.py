"""The simulated Hubble Relay: flows between running pods, drops, lost events, bursts, scale."""

import time

import pytest

from talos_platform.engine.drivers.protocols import APPLICATIONS, PODS, Flow, FlowFilter, LostEvents
from talos_platform.engine.errors import TransientError

from .helpers import platform_for, wait_until


async def collect(platform, seconds: float, **options):
    items = []
    stream = platform.drivers.hubble.flows(**options)
    end = platform.clock.now() + seconds
    async for item in stream:
        items.append(item)
        if platform.clock.now() >= end:
            break
    await stream.aclose()
    return items


async def test_no_relay_before_cilium_runs():
    platform = platform_for()
    with pytest.raises(TransientError):
        async for _ in platform.drivers.hubble.flows():
            break


async def test_a_healthy_cluster_forwards_every_flow_and_loses_none():
    platform = platform_for(installed=True)
    items = await collect(platform, 130)
    flows = [i for i in items if isinstance(i, Flow)]
    assert len(flows) == pytest.approx(200 * 130, rel=0.05)  # default.yaml: 200 flows/s
    assert {f.verdict for f in flows} == {"FORWARDED"}  # faults belong to scenarios
    assert not any(isinstance(i, LostEvents) for i in items)
    running = {(p.namespace, p.name) for p in platform.model.workloads.running_pods()}
    assert all((f.source.namespace, f.source.pod_name) in running for f in flows)
    assert [f.time for f in flows] == sorted(f.time for f in flows)
    status = await platform.drivers.hubble.server_status()
    assert status.flows_rate == 200 and status.unavailable_nodes == 0 and status.connected_nodes == 6
    platform.close()


async def test_a_noisy_cluster_drops_with_reasons_and_its_agents_lose_perf_events(tmp_path):
    scenario = tmp_path / "noisy.yaml"
    scenario.write_text(
        "config: metal-3cp-3w.yaml\nworkloads: {applications: 0, dropRatio: 0.05, lostEventsEvery: 60}\n"
    )
    platform = platform_for(str(scenario), installed=True)
    items = await collect(platform, 130)
    dropped = [i for i in items if isinstance(i, Flow) and i.verdict == "DROPPED"]
    assert dropped and all(f.drop_reason for f in dropped)
    lost = [i for i in items if isinstance(i, LostEvents)]
    assert lost and {i.source for i in lost} == {"PERF_EVENT_RING_BUFFER"}
    platform.close()


async def test_relay_reports_a_node_without_power_as_unavailable_and_its_flows_go_missing():
    platform = platform_for("node-down", installed=True)
    hubble = platform.drivers.hubble
    await wait_until(platform, lambda: platform.model.machine_named("worker-3").lost, limit=300, step=1)
    status = await hubble.server_status()
    assert status.unavailable_nodes == 1 and status.unavailable_node_names == ("worker-3",)
    assert status.connected_nodes == 5 and 0 < status.flows_rate < 200
    flows = [i for i in await collect(platform, 20) if isinstance(i, Flow)]
    assert flows and not any(f.node_name == "worker-3" for f in flows)
    platform.close()


async def test_a_policy_drop_burst_overflows_the_ring_buffer_and_filters_apply():
    platform = platform_for("policy-drops", installed=True)
    hubble = platform.model.hubble
    wait = hubble.relay_ready_at + 30 - platform.clock.now()
    if wait > 0:
        await platform.clock.sleep(wait)
    items = await collect(platform, 10, flow_filter=FlowFilter(namespace="vault", verdict="DROPPED"))
    flows = [i for i in items if isinstance(i, Flow)]
    policy = [f for f in flows if f.drop_reason == "POLICY_DENY" and f.destination_port == 8200]
    assert len(policy) > 10_000
    assert {f.policy for f in policy} == {"vault/deny-tenant-namespaces"}  # the deny policy Hubble names
    assert all(f.verdict == "DROPPED" and "vault" in (f.source.namespace, f.destination.namespace) for f in flows)
    assert any(isinstance(i, LostEvents) and i.count > 0 for i in items)


async def test_the_same_seed_streams_the_same_flows():
    first = await collect(platform_for(installed=True, seed=5), 5)
    second = await collect(platform_for(installed=True, seed=5), 5)
    other = await collect(platform_for(installed=True, seed=6), 5)
    assert first == second
    assert first != other


async def test_large_scenario_builds_and_streams_five_thousand_flows_per_virtual_second():
    platform = platform_for("large", installed=True)
    model = platform.model
    assert sum(1 for m in model.machines.values() if m.ready) >= 200
    assert model.store.count(PODS) >= 10_000
    assert model.store.count(APPLICATIONS) >= 1_000
    started = time.monotonic()
    items = await collect(platform, 10)
    flows = [i for i in items if isinstance(i, Flow)]
    assert len(flows) == pytest.approx(50_000, rel=0.03)
    assert time.monotonic() - started < 60  # generous: the cost is the flows, not the 10,000 pods
    platform.close()


async def test_with_hubble_switched_off_there_is_no_relay_to_stream_from():
    from talos_platform.engine.sim.scenarios import load_scenario, scenario_config

    scenario, path = load_scenario("default")
    config = scenario_config(scenario, path)
    config.components.cilium.hubble = False
    platform = platform_for(installed=True, config=config)
    assert platform.model.workloads.workload("Deployment", "kube-system", "hubble-relay") is None
    with pytest.raises(TransientError):
        async for _ in platform.drivers.hubble.flows():
            break


async def test_first_reads_the_oldest_flows_the_ring_buffer_still_holds():
    platform = platform_for(installed=True)
    now = platform.clock.now()
    stored = [i async for i in platform.drivers.hubble.flows(follow=False, first=100)]
    assert len(stored) == 100 and all(isinstance(i, Flow) for i in stored)
    held = 4095 / 200  # default.yaml: ring buffer of 4095 flows at 200 flows/s
    assert now - held - 0.1 <= stored[0].time < stored[-1].time < now


async def test_an_app_namespace_is_closed_to_other_namespaces_by_its_default_policy():
    from talos_platform.engine.sim.policies import POLICIES

    platform = platform_for(installed=True)
    # The apps' ApplicationSet synced app-defaults/ into the example app's namespace.
    policies = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in platform.model.store.entries(POLICIES)]
    assert ("hello", "app-namespace-default") in policies
    judge = platform.model.hubble.policies
    assert judge.denies("blog", "hello") and not judge.denies("monitoring", "hello")
    assert not judge.denies("hello", "hello") and not judge.denies("hello", "blog")
    # A healthy cluster's workloads call only what their policies admit: nothing is dropped.
    flows = [i for i in await collect(platform, 120) if isinstance(i, Flow)]
    into_app = [f for f in flows if f.destination.namespace == "hello"]
    assert into_app and {f.source.namespace for f in into_app} <= {"hello", "monitoring"}
    assert all(f.verdict == "FORWARDED" for f in into_app)


async def test_the_platform_namespaces_policies_admit_every_call_the_platform_makes():
    from talos_platform.engine.sim.platform_flows import platform_flows
    from talos_platform.engine.sim.policies import POLICIES

    platform = platform_for(installed=True)
    policies = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in platform.model.store.entries(POLICIES)}
    policed = {"vault", "monitoring", "cloudflare-tunnel"}
    assert {(namespace, "platform-namespace-default") for namespace in policed} <= policies
    assert all(platform.model.hubble.policies.restricted(namespace) for namespace in policed), "all judged"
    expected = platform_flows(platform.config)
    flows = [i for i in await collect(platform, 130) if isinstance(i, Flow)]
    assert {f.verdict for f in flows} == {"FORWARDED"}, "a healthy platform drops nothing"
    seen = {(f.source.namespace, f.destination.namespace, f.destination_port) for f in flows}
    missing = [e for e in expected if (e.source_namespace, e.destination_namespace, e.port) not in seen]
    assert expected and not missing, "each of the platform's own calls is in the flows"
    into_policed = [
        f for f in flows if f.destination.namespace in policed and f.source.namespace != f.destination.namespace
    ]
    assert into_policed and {(f.source.namespace, f.destination.namespace) for f in into_policed} <= {
        ("vault-secrets-operator", "vault"),
        ("monitoring", "vault"),
        ("cloudflare-tunnel", "vault"),
        ("cloudflare-tunnel", "monitoring"),
    }
    platform.close()


async def unexpected_calls(platform, until: float) -> list[Flow]:
    flows = [i for i in await collect(platform, until) if isinstance(i, Flow)]
    return [f for f in flows if f.source.namespace == "hello" and f.destination.namespace in ("vault", "monitoring")]


async def test_an_app_calling_vaults_cluster_port_or_prometheus_is_dropped_by_the_platform_policies():
    platform = platform_for("platform-policy-drops", installed=True)
    calls = await unexpected_calls(platform, 110)
    to_vault = [f for f in calls if f.destination_port == 8201]
    to_prometheus = [f for f in calls if f.destination_port == 9090]
    assert len(to_vault) > 1000 and len(to_prometheus) > 1000
    # Vault's cluster port is denied explicitly: Hubble names the deny policy.
    assert {(f.verdict, f.drop_reason, f.policy) for f in to_vault} == {
        ("DROPPED", "POLICY_DENY", "vault/platform-namespace-default")
    }
    # No rule admits the app to Prometheus: the default deny, which names no policy.
    assert {(f.verdict, f.drop_reason, f.policy) for f in to_prometheus} == {("DROPPED", "POLICY_DENIED", "")}
    platform.close()


async def test_without_the_platform_policies_the_same_calls_are_forwarded(tmp_path):
    from pathlib import Path

    import yaml

    examples = Path(__file__).resolve().parents[3] / "examples"
    config = yaml.safe_load((examples / "metal-3cp-3w.yaml").read_text())
    config["components"].setdefault("cilium", {})["platformNetworkPolicy"] = False
    (tmp_path / "open.yaml").write_text(yaml.safe_dump(config))
    scenario = yaml.safe_load((examples.parent / "engine/sim/scenario_files/platform-policy-drops.yaml").read_text())
    scenario["config"] = "open.yaml"
    (tmp_path / "scenario.yaml").write_text(yaml.safe_dump(scenario))
    platform = platform_for(str(tmp_path / "scenario.yaml"), installed=True)
    calls = await unexpected_calls(platform, 110)
    assert calls and {f.verdict for f in calls} == {"FORWARDED"}, "the verdict is the policies', not the scenario's"
    platform.close()
