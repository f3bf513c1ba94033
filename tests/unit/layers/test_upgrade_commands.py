"""The real talosctl driver's upgrade and snapshot calls through the real process runner, with a
stand-in `talosctl` on PATH that logs its argv and answers as talosctl does: the exact command
lines (the node as its own endpoint), the upgrade's streamed progress reaching the step's output,
the snapshot's two lines parsed, each failure told as what it means, and what a dry run runs."""

from pathlib import Path

import pytest
from support.stand_ins import StandIns

from talos_platform.engine.drivers.talosctl import TalosctlDriver
from talos_platform.engine.errors import EvictionRefused, PermanentError, TransientError

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
    if mode == "down":
        fail("error updating kube-apiserver: timed out waiting for the static pod")
    print("automatically detected the lowest Kubernetes version 1.37.2")
    print('updating "kube-apiserver" to version "1.37.3"')
    print(' > "127.0.0.2": ' + ("dry run: skipped" if "--dry-run" in args else "starting update"))
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
    assert isinstance(blocked.value, EvictionRefused) and "--delete-if-eviction-fails" in blocked.value.hint


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
    assert ' > "127.0.0.2": dry run: skipped' in lines and ' > "127.0.0.2": starting update' in lines


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
