"""The real drivers' node-change commands through the real process runner, with stand-in
`talosctl` and `kubectl` on PATH that log their argv and answer as the tools do: the exact
command lines, the etcd member table parsed, a PodDisruptionBudget that blocks a drain named."""

from pathlib import Path

import pytest
from support.stand_ins import StandIns

from talos_platform.engine.drivers.kube_client import KubernetesDriver
from talos_platform.engine.drivers.talosctl import TalosctlDriver
from talos_platform.engine.errors import EvictionRefused, PermanentError, TransientError

FIXTURES = Path(__file__).parent / "fixtures"
NODE = "127.0.0.2"

STAND_IN = """\
if args[-2:] == ["etcd", "members"]:
    sys.stdout.write(open(os.path.join(os.environ["FAKE_FIXTURES"], "talosctl-etcd-members.txt")).read())
elif "reset" in args and mode == "reset-fails":
    sys.stderr.write("error executing reset: rpc error: code = Unknown desc = failed to leave etcd\\n")
    sys.exit(1)
elif "drain" in args and mode == "budget" and "--disable-eviction" not in args:
    sys.stderr.write(
        'error when evicting pods/"web-1" -n "apps" (will retry after 5s): Cannot evict pod as it would '
        "violate the pod's disruption budget.\\n"
        "error: unable to drain node \\"w-1\\" due to error: global timeout reached: 600s, continuing\\n"
    )
    sys.exit(1)
"""


@pytest.fixture
def tools(tmp_path):
    stand_ins = StandIns(tmp_path, {"talosctl": STAND_IN, "kubectl": STAND_IN}, fixtures=FIXTURES)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
        "current-context: c\n"
    )
    talosconfig = tmp_path / "talosconfig"
    talosconfig.write_text("context: demo\n")
    return stand_ins.runner, talosconfig, kubeconfig, stand_ins.logged


async def test_members_reset_and_member_removal_are_talosctls_own_command_lines(tools):
    runner, talosconfig, _, logged = tools
    driver = TalosctlDriver(runner(), talosconfig)
    secure = ["--talosconfig", str(talosconfig), "--endpoints", NODE, "--nodes", NODE]

    members = await driver.etcd_member_list(NODE, talosconfig)
    await driver.reset_node(NODE, talosconfig)
    await driver.etcd_remove_member(NODE, talosconfig, "c2e8a4196d0b3f75")

    assert (members[2].member_id, members[2].hostname, members[2].learner) == ("c2e8a4196d0b3f75", "cp-3", False)
    assert logged() == [
        ["talosctl", *secure, "etcd", "members"],
        ["talosctl", *secure, "reset", "--graceful=true", "--reboot=false"],
        ["talosctl", *secure, "etcd", "remove-member", "c2e8a4196d0b3f75"],
    ]


async def test_a_failed_reset_is_a_permanent_error_with_what_talosctl_said(tools):
    runner, talosconfig, _, _ = tools
    with pytest.raises(PermanentError, match="failed to leave etcd"):
        await TalosctlDriver(runner("reset-fails"), talosconfig).reset_node(NODE, talosconfig)


async def test_a_node_outside_loopback_is_never_reset_in_tests(tools):
    runner, talosconfig, _, logged = tools
    with pytest.raises((PermanentError, TransientError)):
        await TalosctlDriver(runner(), talosconfig).reset_node("192.168.10.14", talosconfig)
    assert logged() == []


async def test_cordon_drain_and_delete_are_kubectls_own_command_lines(tools):
    runner, _, kubeconfig, logged = tools
    driver = KubernetesDriver(kubeconfig, runner())

    await driver.cordon_node("w-1")
    await driver.drain_node("w-1", 600)
    await driver.delete_node("w-1")

    kube = ["kubectl", "--kubeconfig", str(kubeconfig)]
    assert logged() == [
        [*kube, "cordon", "w-1"],
        [*kube, "drain", "w-1", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=600s"],
        [*kube, "delete", "node", "w-1", "--ignore-not-found"],
    ]


async def test_a_drain_a_disruption_budget_blocks_says_so_and_what_to_do(tools):
    runner, _, kubeconfig, _ = tools
    with pytest.raises(EvictionRefused, match="global timeout reached") as blocked:
        await KubernetesDriver(kubeconfig, runner("budget")).drain_node("w-1", 600)
    assert "PodDisruptionBudget" in blocked.value.hint and "kubectl get pdb -A" in blocked.value.hint
    assert "--delete-if-eviction-fails" in blocked.value.hint  # the escape, named


async def test_the_deleting_drain_and_the_uncordon_are_kubectls_own_command_lines(tools):
    """`--disable-eviction` (kubectl drain --help: "Force drain to use delete, even if eviction is
    supported. This will bypass checking PodDisruptionBudgets"): the stand-in refuses an eviction
    drain in mode `budget` and lets the deleting one through, as kubectl does."""
    runner, _, kubeconfig, logged = tools
    driver = KubernetesDriver(kubeconfig, runner("budget"))

    await driver.drain_node("w-1", 600, disable_eviction=True)
    await driver.uncordon_node("w-1")

    kube = ["kubectl", "--kubeconfig", str(kubeconfig)]
    assert logged() == [
        [
            *kube,
            "drain",
            "w-1",
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--disable-eviction",
            "--timeout=600s",
        ],
        [*kube, "uncordon", "w-1"],
    ]
