"""Vault (init once, unseal by threshold), the Git remote (idempotent publish), scenario files."""

import pytest

from talos_platform.engine.errors import PermanentError, TransientError
from talos_platform.engine.sim import list_scenarios
from talos_platform.engine.sim.git import GitRemote, SimulatedGit
from talos_platform.engine.sim.scenarios import ScenarioInvalid, load_scenario, scenario_config

from .helpers import platform_for


async def test_vault_initialises_once_and_unseals_at_the_threshold():
    platform = platform_for("default")
    vault = platform.drivers.vault
    with pytest.raises(TransientError):  # no Vault pod yet
        await vault.status()
    platform = platform_for("default", installed=True)  # installed: already initialised
    assert (await platform.drivers.vault.status()).initialized
    with pytest.raises(PermanentError):
        await platform.drivers.vault.initialize(5, 3)

    state = platform.model.vault
    state.initialized = state.unsealed = False  # a fresh, sealed Vault on the running pod
    material = await platform.drivers.vault.initialize(5, 3)
    assert len(material["unseal_keys"]) == 5 and material["root_token"].startswith("SIMULATED")
    with pytest.raises(PermanentError):
        await platform.drivers.vault.unseal("not-a-key")
    statuses = [await platform.drivers.vault.unseal(key) for key in material["unseal_keys"][:3]]
    assert [s.sealed for s in statuses] == [True, True, False]
    with pytest.raises(PermanentError):
        await platform.drivers.vault.write_secret("wrong-token", "secret/x", {"a": "b"})
    await platform.drivers.vault.enable_kubernetes_auth(material["root_token"])
    await platform.drivers.vault.write_secret(material["root_token"], "secret/x", {"a": "b"})
    assert state.secrets["secret/x"] == {"a": "b"}
    # Read back as the real driver does: the role as configured, and values only as digests.
    from talos_platform.engine.drivers.protocols import secret_digest
    from talos_platform.engine.layers.platform import wanted_kubernetes_auth

    role = await platform.drivers.vault.kubernetes_auth(material["root_token"])
    assert {key: role[key] for key in wanted_kubernetes_auth()} == wanted_kubernetes_auth()
    assert await platform.drivers.vault.secret_digests(material["root_token"], "secret/x") == {"a": secret_digest("b")}
    assert await platform.drivers.vault.secret_digests(material["root_token"], "secret/never") is None
    with pytest.raises(PermanentError):
        await platform.drivers.vault.secret_digests("wrong-token", "secret/x")


def test_a_resumed_simulation_knows_vault_secrets_by_digest_only(tmp_path):
    import math

    from talos_platform.engine.drivers.protocols import secret_digest
    from talos_platform.engine.sim import simulated_platform

    journal = tmp_path / "simulation.jsonl"
    first = simulated_platform("default", speed=math.inf, journal=journal)
    first.model.changes.vault_write("platform/git", {"token": "very-secret-value"})
    first.close()
    assert "very-secret-value" not in journal.read_text()
    resumed = simulated_platform("default", speed=math.inf, journal=journal)
    assert resumed.model.vault.digests["platform/git"] == {"token": secret_digest("very-secret-value")}
    resumed.close()


async def test_publishing_an_unchanged_tree_makes_no_new_commit(tmp_path):
    from talos_platform.engine.sim.clock import SimulatedClock

    remote = GitRemote()
    git = SimulatedGit(remote, SimulatedClock())
    (tmp_path / "tree" / "apps").mkdir(parents=True)
    (tmp_path / "tree" / "apps" / "a.yaml").write_text("a: 1\n")
    first = await git.publish(tmp_path / "tree", "https://git.example.com/x.git", "main", "platform", "one")
    again = await git.publish(tmp_path / "tree", "https://git.example.com/x.git/", "main", "platform", "two")
    assert first == again and len(remote.branch("https://git.example.com/x", "main").history) == 1
    (tmp_path / "tree" / "apps" / "a.yaml").write_text("a: 2\n")
    changed = await git.publish(tmp_path / "tree", "https://git.example.com/x.git", "main", "platform", "three")
    assert changed != first
    assert remote.files_under("https://git.example.com/x.git", "main", "platform") == {"apps/a.yaml": b"a: 2\n"}
    with pytest.raises(PermanentError):
        await git.publish(tmp_path / "missing", "https://git.example.com/x.git", "main", ".", "m")


def test_every_shipped_scenario_loads_with_a_valid_config():
    names = list_scenarios()
    assert {
        "default",
        "large",
        "node-stuck-in-maintenance",
        "app-degraded",
        "crash-loop",
        "policy-drops",
        "api-outage",
        "pod-security-refused",
        "vault-pending",
        "no-load-balancer-pool",
        "extensions-outside-config",
        "upgrade-rolls-back",
        "upgrade-node-stays-away",
        "upgrade-drain-blocked",
    } <= set(names)
    for name in names:
        scenario, path = load_scenario(name)
        config = scenario_config(scenario, path)
        assert config.control_planes
    large, path = load_scenario("large")
    assert len(scenario_config(large, path).nodes) >= 200
    assert large.workloads.applications * large.workloads.pods_per_application >= 10_000
    assert large.workloads.flows_per_second >= 5_000


def test_a_malformed_scenario_is_refused_with_its_name(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("faults:\n  - type: meteorStrike\n")
    with pytest.raises(ScenarioInvalid) as raised:
        load_scenario(bad)
    assert "bad.yaml" in str(raised.value)
