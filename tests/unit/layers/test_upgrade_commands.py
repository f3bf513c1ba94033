"""The real talosctl driver's upgrade and snapshot calls through the real process runner, with a
stand-in `talosctl` on PATH that logs its argv and answers as talosctl does: the exact command
lines (the node as its own endpoint), the upgrade's streamed progress reaching the step's output,
the snapshot's two lines parsed, each failure told as what it means, and what a dry run runs."""

from pathlib import Path

import pytest
from support.stand_ins import StandIns

from talos_platform.engine.drivers.talosctl import TalosctlDriver
from talos_platform.engine.errors import PermanentError, TransientError

NODE = "127.0.0.2"
IMAGE = "factory.talos.dev/metal-installer/2d61dd07b200:v1.14.2"

TALOSCTL = """\
def fail(message):
    sys.stderr.write(message + "\\n")
    sys.exit(1)
if "upgrade" in args:
    if mode == "budget":
        fail('error during upgrade: failed to drain node cp-2: error when evicting pod "apps/web-0": '
             "Cannot evict pod as it would violate the pod's disruption budget.")
    if mode == "down":
        fail("error during upgrade: rpc error: code = Unavailable desc = connection refused")
    print("watching nodes: [127.0.0.2]")
    print("    * 127.0.0.2: post check passed")
elif "upgrade-k8s" in args:
    import time
    if mode == "down":
        fail("error updating kube-apiserver: timed out waiting for the static pod")
    dry = "--dry-run" in args
    say = lambda line: print(line, flush=True)
    say("automatically detected the lowest Kubernetes version 1.37.2")
    say('discovered controlplane nodes ["127.0.0.2"]')
    say("discovered worker nodes []")
    for component in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        say(f'updating "{component}" to version "1.37.3"')
        say(' > "127.0.0.2": starting update')
        say(f" > update {component}: v1.37.2 -> 1.37.3")
        if dry:
            say(" > skipped in dry-run")
            continue
        say(' > "127.0.0.2": machine configuration patched')
        say(f' > "127.0.0.2": waiting for {component} pod update')
        say(' < "127.0.0.2": successfully updated')
    say('updating kube-proxy to version "1.37.3"')
    say(' > "127.0.0.2": starting update')
    if dry:
        say(" > skipped in dry-run")
    say('updating kubelet to version "1.37.3"')
    say(' > "127.0.0.2": starting update')
    say(" > update kubelet: 1.37.2 -> 1.37.3")
    if dry:
        say(" > skipped in dry-run")
        sys.exit(0)
    say(' > "127.0.0.2": machine configuration patched')
    say(' > "127.0.0.2": waiting for kubelet restart')
    if mode == "kubelet-hangs":
        time.sleep(60)  # the restart is never seen (siderolabs/talos#6976)
    say(' > "127.0.0.2": waiting for node update')
    if mode == "kubelet-behind":
        fail('error: failed upgrading kubelet: error updating node "127.0.0.2": '
             'node version mismatch: got "v1.37.2", expected "v1.37.3"')
    say(' < "127.0.0.2": successfully updated')
elif args[-2:-1] == ["snapshot"]:
    if mode == "down":
        fail("error: rpc error: code = Unavailable desc = etcd is not running on this node")
    if mode == "garbled":
        print("snapshot written")
        sys.exit(0)
    with open(args[-1], "wb") as snapshot:
        snapshot.write(b"\\0" * 3690528)
    print(f'etcd snapshot saved to "{args[-1]}" (3690528 bytes)')
    print("snapshot info: hash 4c0b1f1e, revision 51866, total keys 1204, total size 3690496")
"""


@pytest.fixture
def tools(tmp_path):
    return StandIns(tmp_path, {"talosctl": TALOSCTL})


def secure(talosconfig: Path) -> list[str]:
    return ["talosctl", "--talosconfig", str(talosconfig), "--endpoints", NODE, "--nodes", NODE]


async def test_the_upgrade_names_the_node_as_its_endpoint_and_streams_talosctls_progress(tools, tmp_path):
    lines: list[str] = []
    talosconfig = tmp_path / "talosconfig"
    driver = TalosctlDriver(tools.runner(output=lambda line, stream: lines.append(line)), talosconfig)

    await driver.upgrade_talos(NODE, talosconfig, IMAGE)

    assert tools.logged() == [[*secure(talosconfig), "upgrade", "--image", IMAGE]]
    assert lines == ["watching nodes: [127.0.0.2]", "    * 127.0.0.2: post check passed"]


async def test_an_upgrade_a_disruption_budget_blocks_says_what_to_change(tools, tmp_path):
    driver = TalosctlDriver(tools.runner("budget"), tmp_path / "talosconfig")
    with pytest.raises(PermanentError, match="talosctl upgrade of 127.0.0.2 failed: .*failed to drain") as blocked:
        await driver.upgrade_talos(NODE, driver.talosconfig, IMAGE)
    assert "PodDisruptionBudget" in blocked.value.hint and "relax the budget" in blocked.value.hint


async def test_a_failed_upgrade_says_the_node_keeps_its_version(tools, tmp_path):
    driver = TalosctlDriver(tools.runner("down"), tmp_path / "talosconfig")
    with pytest.raises(PermanentError, match="connection refused") as failed:
        await driver.upgrade_talos(NODE, driver.talosconfig, IMAGE)
    assert "keeps its current version" in failed.value.hint


async def test_upgrade_k8s_takes_the_version_without_v_and_its_dry_run_first(tools, tmp_path):
    lines: list[str] = []
    talosconfig = tmp_path / "talosconfig"
    driver = TalosctlDriver(tools.runner(output=lambda line, stream: lines.append(line)), talosconfig)

    await driver.upgrade_kubernetes(NODE, talosconfig, "v1.37.3", dry_run=True)
    await driver.upgrade_kubernetes(NODE, talosconfig, "v1.37.3", dry_run=False)

    assert tools.logged() == [
        [*secure(talosconfig), "upgrade-k8s", "--to", "1.37.3", "--dry-run"],
        [*secure(talosconfig), "upgrade-k8s", "--to", "1.37.3"],
    ]
    end_of_dry_run = lines.index('updating kubelet to version "1.37.3"') + 4
    dry_run, upgrade = lines[:end_of_dry_run], lines[end_of_dry_run:]
    assert dry_run[-1] == " > skipped in dry-run" and dry_run.count(" > skipped in dry-run") == 5
    assert ' < "127.0.0.2": successfully updated' in upgrade and " > skipped in dry-run" not in upgrade


async def test_a_failed_upgrade_k8s_names_the_version_and_that_a_rerun_resumes(tools, tmp_path):
    driver = TalosctlDriver(tools.runner("down"), tmp_path / "talosconfig")
    with pytest.raises(PermanentError, match="upgrade-k8s to v1.37.3 failed: .*timed out") as failed:
        await driver.upgrade_kubernetes(NODE, driver.talosconfig, "v1.37.3", dry_run=False)
    assert "resumes" in failed.value.hint


async def test_a_dry_run_runs_only_upgrade_k8s_own_dry_run(tools, tmp_path):
    """The plan may run what changes nothing; the upgrades themselves are only recorded."""
    runner = tools.runner(dry_run=True)
    talosconfig = tmp_path / "talosconfig"
    driver = TalosctlDriver(runner, talosconfig)

    await driver.upgrade_talos(NODE, talosconfig, IMAGE)
    await driver.upgrade_kubernetes(NODE, talosconfig, "v1.37.3", dry_run=True)
    await driver.upgrade_kubernetes(NODE, talosconfig, "v1.37.3", dry_run=False)

    assert tools.logged() == [[*secure(talosconfig), "upgrade-k8s", "--to", "1.37.3", "--dry-run"]]
    assert len(runner.recorded) == 3


async def test_the_snapshot_is_streamed_to_the_file_and_its_two_lines_read(tools, tmp_path):
    talosconfig = tmp_path / "talosconfig"
    destination = tmp_path / "20261203T101500Z-cp-1.db"

    taken = await TalosctlDriver(tools.runner(), talosconfig).etcd_snapshot(NODE, talosconfig, destination)

    assert tools.logged() == [[*secure(talosconfig), "etcd", "snapshot", str(destination)]]
    assert (taken.size, taken.revision, taken.total_keys, taken.etcd_hash) == (3690528, 51866, 1204, "4c0b1f1e")
    assert destination.stat().st_size == taken.size


async def test_a_control_plane_without_etcd_is_transient_the_next_one_is_asked(tools, tmp_path):
    driver = TalosctlDriver(tools.runner("down"), tmp_path / "talosconfig")
    with pytest.raises(TransientError, match="no etcd snapshot from 127.0.0.2: .*etcd is not running"):
        await driver.etcd_snapshot(NODE, driver.talosconfig, tmp_path / "s.db")


async def test_snapshot_output_this_driver_cannot_read_is_permanent_and_names_the_client(tools, tmp_path):
    driver = TalosctlDriver(tools.runner("garbled"), tmp_path / "talosconfig")
    with pytest.raises(PermanentError, match="unexpected `talosctl etcd snapshot` output") as garbled:
        await driver.etcd_snapshot(NODE, driver.talosconfig, tmp_path / "s.db")
    assert "talosctl version --client" in garbled.value.hint


@pytest.mark.parametrize("call", ["upgrade", "upgrade-k8s", "snapshot"])
async def test_a_node_outside_loopback_is_never_called_in_tests(tools, tmp_path, call):
    driver = TalosctlDriver(tools.runner(), tmp_path / "talosconfig")
    far = "192.168.10.12"
    with pytest.raises((PermanentError, TransientError)):
        if call == "upgrade":
            await driver.upgrade_talos(far, driver.talosconfig, IMAGE)
        elif call == "upgrade-k8s":
            await driver.upgrade_kubernetes(far, driver.talosconfig, "v1.37.3", dry_run=True)
        else:
            await driver.etcd_snapshot(far, driver.talosconfig, tmp_path / "s.db")
    assert tools.logged() == []


def loopback_config():
    """One control plane on a loopback address: the real driver may reach nothing else in tests."""
    from .helpers import platform_config

    config = platform_config(workers=0)
    config.nodes[0].address = f"{NODE}/24"
    return config


async def test_the_steps_own_dry_run_is_what_talosctl_printed(tools, tmp_path):
    from talos_platform.engine.layers.kubernetes_upgrade import KubernetesUpgrade

    from .helpers import make_context

    config = loopback_config()
    ctx, step_lines = make_context(config, tmp_path, talos=TalosctlDriver(tools.runner(), tmp_path / "talosconfig"))

    lines = await KubernetesUpgrade(config, "v1.37.3").own_dry_run(ctx)

    assert lines[0] == "automatically detected the lowest Kubernetes version 1.37.2"
    assert " > update kubelet: 1.37.2 -> 1.37.3" in lines and lines[-1] == " > skipped in dry-run"
    assert step_lines == []  # returned, not shown as the step's output
    assert tools.logged()[0][-1] == "--dry-run"


@pytest.mark.parametrize("mode", ["kubelet-hangs", "kubelet-behind"])
async def test_a_kubelet_upgrade_k8s_waits_on_is_named_with_where_to_look(tools, tmp_path, monkeypatch, mode):
    """Hanging in silence (stopped after the stall time), or talosctl giving up on it: either way
    the node and the commands to look with."""
    from talos_platform.engine.layers import kubernetes_upgrade
    from talos_platform.engine.layers.kubernetes_upgrade import KubernetesUpgrade

    from .helpers import make_context

    monkeypatch.setattr(kubernetes_upgrade, "KUBELET_STALL_SECONDS", 1.0)
    monkeypatch.setattr(kubernetes_upgrade, "_POLL_SECONDS", 0.2)
    config = loopback_config()
    ctx, lines = make_context(config, tmp_path, talos=TalosctlDriver(tools.runner(mode), tmp_path / "talosconfig"))
    step = KubernetesUpgrade(config, "v1.37.3")

    with pytest.raises(PermanentError) as failed:
        await step._upgrade_watched(ctx)

    expected = (
        "stalled on cp-1 (127.0.0.2)" if mode == "kubelet-hangs" else "gave up on the kubelet of cp-1 (127.0.0.2)"
    )
    assert expected in failed.value.message
    assert "`talosctl -n 127.0.0.2 service kubelet`" in failed.value.hint
    assert "`kubectl get node cp-1 -o wide`" in failed.value.hint
    assert "progress [kubelet 0/1] cp-1 (127.0.0.2): waiting for kubelet restart" in lines
