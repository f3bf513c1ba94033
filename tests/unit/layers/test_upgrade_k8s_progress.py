"""Progress per component from `talosctl upgrade-k8s` output (fixtures in talosctl 1.11's format)."""

from pathlib import Path

from talos_platform.engine.drivers.upgrade_k8s_progress import Progress, UpgradeProgress, failed_node

FIXTURES = Path(__file__).parent / "fixtures"


def progress_of(name: str) -> tuple[UpgradeProgress, list[Progress]]:
    progress = UpgradeProgress()
    moves = [moved for line in (FIXTURES / name).read_text().splitlines() if (moved := progress.feed(line))]
    return progress, moves


def test_the_nodes_come_from_the_discovered_lines():
    progress, _ = progress_of("talosctl-upgrade-k8s.txt")
    assert progress.control_planes == ["172.20.0.2", "172.20.0.3"]
    assert progress.workers == ["172.20.0.5"]


def test_every_component_counts_its_nodes_to_the_end():
    _, moves = progress_of("talosctl-upgrade-k8s.txt")
    last = {}
    for moved in moves:
        last[moved.component] = (moved.done, moved.total)
    assert last == {
        "kube-apiserver": (2, 2),
        "kube-controller-manager": (2, 2),
        "kube-scheduler": (2, 2),
        "kube-proxy": (2, 2),
        "kubelet": (3, 3),
        "manifests": (2, 0),
    }


def test_a_node_moves_through_its_states_and_is_counted_when_updated():
    _, moves = progress_of("talosctl-upgrade-k8s.txt")
    apiserver_first = [(m.node, m.state, m.done) for m in moves if m.component == "kube-apiserver"][:8]
    assert apiserver_first == [
        ("", "starting", 0),
        ("172.20.0.2", "starting update", 0),
        ("172.20.0.2", "update 1.33.4 -> 1.34.1", 0),
        ("172.20.0.2", "machine configuration patched", 0),
        ("172.20.0.2", "waiting for kube-apiserver pod update", 0),
        ("172.20.0.2", 'waiting, config version mismatch: got "1", expected "2"', 0),
        ("172.20.0.2", "pod is not ready, waiting", 0),
        ("172.20.0.2", "updated", 1),
    ]


def test_the_kubelet_waits_are_known_as_such():
    _, moves = progress_of("talosctl-upgrade-k8s.txt")
    waits = [(m.node, m.state) for m in moves if m.waiting_for_kubelet]
    assert waits[:2] == [("172.20.0.2", "waiting for kubelet restart"), ("172.20.0.2", "waiting for node update")]
    assert len(waits) == 6
    assert not any(m.waiting_for_kubelet for m in moves if m.component != "kubelet")


def test_a_dry_run_says_what_would_change_and_counts_nothing_as_done():
    _, moves = progress_of("talosctl-upgrade-k8s-dry-run.txt")
    would = [(m.component, m.node, m.state) for m in moves if m.state.startswith("would update")]
    assert ("kube-apiserver", "172.20.0.2", "would update (dry run): 1.33.4 -> 1.34.1") in would
    assert ("kubelet", "172.20.0.5", "would update (dry run): 1.33.4 -> 1.34.1") in would
    last = {m.component: m.done for m in moves}
    assert last == {c: 0 for c in last if c != "manifests"} | {"manifests": 2}


def test_a_hang_on_the_kubelet_restart_leaves_the_node_it_waits_on():
    progress, moves = progress_of("talosctl-upgrade-k8s-kubelet-hangs.txt")
    assert progress.kubelet_wait == "172.20.0.2"
    assert moves[-1].describe({"172.20.0.2": "cp-1"}) == "[kubelet 0/1] cp-1 (172.20.0.2): waiting for kubelet restart"


def test_nothing_is_waited_on_once_the_node_is_updated():
    progress, _ = progress_of("talosctl-upgrade-k8s.txt")
    assert progress.kubelet_wait == ""


def test_lines_it_does_not_know_move_nothing():
    progress = UpgradeProgress()
    assert progress.feed("WARNING: 172.20.0.2: server version 1.11.4 is older than client version 1.11.5") is None
    assert progress.feed('> "172.20.0.2": Talos version 1.11.5 is compatible with Kubernetes version 1.34.1') is None
    assert progress.current is None


def test_a_node_listed_twice_is_counted_once():
    progress = UpgradeProgress()
    progress.feed('discovered controlplane nodes ["10.0.1.139" "10.0.0.235" "10.0.1.139"]')
    assert progress.control_planes == ["10.0.1.139", "10.0.0.235"]


def test_the_node_an_error_names():
    error = 'error: failed upgrading kubelet: error updating node "172.20.0.5": node version mismatch: got "v1.33.4"'
    assert failed_node(error) == "172.20.0.5"
    assert failed_node("error: context deadline exceeded") == ""


def test_newer_talosctls_server_side_manifest_lines_count_each_object():
    progress = UpgradeProgress()
    progress.feed("updating manifests")
    progress.feed(" > skipped ConfigMap/kube-system/coredns: no changes")
    moved = progress.feed(" < configured Deployment/kube-system/coredns")
    assert moved == Progress("manifests", "", "configured Deployment/kube-system/coredns", 2, 0)
    assert progress.feed("waiting for kubernetes objects to be fully reconciled").state.startswith("waiting for")
    dry = UpgradeProgress()
    assert dry.feed("updating manifests (dry run)") == Progress("manifests", "", "applying", 0, 0)
