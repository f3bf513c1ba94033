"""`status --live`'s verdict: pods only starting within their grace (and a wave waiting only for
them) make the cluster `starting`, not unhealthy: counted as starting, and not a failure exit."""

from support.cluster_data import early_cluster_snapshot, starting_pods_snapshot

from talos_platform.commands.dashboard import HEALTHY, NOT_HEALTHY, STARTING, _status_text, live_state


def test_a_cluster_with_nothing_wrong_is_healthy():
    snapshot = early_cluster_snapshot()
    assert live_state(snapshot) == HEALTHY
    assert _status_text(snapshot, HEALTHY, note="").splitlines()[-1] == "healthy"


def test_pods_within_their_start_grace_are_counted_as_starting_not_as_unhealthy():
    snapshot = starting_pods_snapshot(seconds_since_scheduled=20)

    assert live_state(snapshot) == STARTING
    text = _status_text(snapshot, STARTING, note="")
    assert "NOT healthy" not in text
    assert f"/{snapshot.pod_total} healthy, 3 starting" in text
    assert "  cert-manager/cert-manager-7d9f-2xq: starting: " in text
    assert "wave -98 waits for cert-manager" in text
    assert text.splitlines()[-1] == "starting: 3 pod(s) within their start grace, nothing unhealthy"


def test_pods_still_pending_past_their_grace_are_unhealthy_and_block_their_wave():
    snapshot = starting_pods_snapshot(seconds_since_scheduled=300)

    assert live_state(snapshot) == NOT_HEALTHY
    text = _status_text(snapshot, NOT_HEALTHY, note="")
    assert "starting" not in text.split("pods:")[1].splitlines()[0]
    assert "wave -98 is blocked by cert-manager" in text and text.splitlines()[-1] == "NOT healthy"
