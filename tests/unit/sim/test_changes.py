"""The journal of outside changes: replayed to the same cluster, cut lines dropped, another
scenario or seed starts afresh, no secret values on disk."""

import json

from talos_platform.engine.drivers.protocols import SECRETS

from .helpers import bring_up_kubernetes, platform_for


async def test_replaying_the_journal_rebuilds_the_same_cluster(tmp_path):
    journal = tmp_path / "simulation.jsonl"
    first = platform_for(journal=journal)
    await bring_up_kubernetes(first, tmp_path)
    await first.drivers.kube.apply_objects(
        [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "token", "namespace": "default"},
                "stringData": {"token": "very-secret-value"},
            }
        ]
    )
    assert "very-secret-value" not in journal.read_text()

    second = platform_for(journal=journal)
    assert second.model.etcd_bootstrapped_on == "cp-1" and second.model.api_up
    assert [m.stage for m in second.model.machines.values()] == [m.stage for m in first.model.machines.values()]
    secret = second.model.store.get_entry(SECRETS, "default", "token")
    assert (
        secret is not None
        and secret["data"]["token"] != first.model.store.get_entry(SECRETS, "default", "token")["data"]["token"]
    )


async def test_a_line_cut_short_by_a_kill_is_dropped_before_new_changes(tmp_path):
    journal = tmp_path / "simulation.jsonl"
    first = platform_for(journal=journal)
    await bring_up_kubernetes(first, tmp_path)
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join(lines) + "\n" + lines[-1][: len(lines[-1]) // 2])  # the kill hit mid-write
    second = platform_for(journal=journal)
    assert journal.read_text().splitlines() == lines
    assert second.model.etcd_bootstrapped_on == "cp-1"


async def test_a_journal_of_another_seed_is_another_cluster(tmp_path):
    journal = tmp_path / "simulation.jsonl"
    first = platform_for(journal=journal)
    await bring_up_kubernetes(first, tmp_path)
    other = platform_for(journal=journal, seed=99)
    assert other.model.etcd_bootstrapped_on is None
    assert len(journal.read_text().splitlines()) == 1 and json.loads(journal.read_text())["seed"] == 99


async def test_a_change_that_failed_is_not_journalled(tmp_path):
    import pytest

    journal = tmp_path / "simulation.jsonl"
    platform = platform_for(journal=journal)
    await bring_up_kubernetes(platform, tmp_path)
    good = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "good", "namespace": "default"}}
    from talos_platform.engine.errors import PermanentError

    with pytest.raises(PermanentError, match="resource name may not be empty"):
        await platform.drivers.kube.apply_objects([good, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}])
    applied = [json.loads(line) for line in journal.read_text().splitlines() if '"change":"apply"' in line]
    assert [[o["metadata"]["name"] for o in entry["objects"]] for entry in applied] == [["good"]]
    platform_for(journal=journal)  # and the journal still replays
