"""The real talosctl driver through the real process runner, with a stand-in `talosctl` on PATH
that prints the tools' real output formats and logs its argv: the exact command lines, the
parsing, and the loopback-only guard."""

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from talos_platform.engine.drivers.git import GitDriver
from talos_platform.engine.drivers.process import ProcessRunner
from talos_platform.engine.drivers.protocols import AlreadyBootstrapped
from talos_platform.engine.drivers.talosctl import TalosctlDriver
from talos_platform.engine.errors import PermanentError, TransientError

FIXTURES = Path(__file__).parent / "fixtures"
NODE = "127.0.0.2"

STAND_IN = textwrap.dedent(
    """\
    #!@PYTHON@
    import json, os, sys
    args = sys.argv[1:]
    with open(os.environ["FAKE_LOG"], "a") as log:
        log.write(json.dumps(args) + "\\n")
    mode = os.environ.get("FAKE_MODE", "maintenance")
    fixtures = os.environ["FAKE_FIXTURES"]
    def show(name):
        sys.stdout.write(open(os.path.join(fixtures, name)).read())
        sys.exit(0)
    def fail(message, code=1):
        sys.stderr.write(message + "\\n")
        sys.exit(code)
    insecure = "--insecure" in args
    if args[:2] == ["version", "--client"]:
        show("talosctl-version-client.txt")
    if "get" in args:
        kind = args[args.index("get") + 1]
        if mode == "down":
            fail('error getting: rpc error: code = Unavailable desc = connection error: desc = '
                 '"transport: Error while dialing: dial tcp 127.0.0.2:50000: connect: connection refused"')
        if insecure and mode != "maintenance":
            # As talosctl prints it when a configured node wants a client certificate.
            fail('rpc error: code = Unavailable desc = connection error: desc = '
                 '"error reading server preface: remote error: tls: certificate required"')
        if not insecure and mode == "maintenance":
            fail('rpc error: code = Unavailable desc = connection error: desc = '
                 '"transport: authentication handshake failed: remote error: tls: certificate required"')
        if kind == "cpustats":
            # Talos refreshes the resource every 30 s: the first two asks see the same sample.
            asked = sum('"cpustats"' in line for line in open(os.environ["FAKE_LOG"]))
            if mode == "cpu-denied":
                fail("rpc error: code = PermissionDenied desc = not authorized")
            show("talosctl-get-cpustats-1.json" if asked <= 2 else "talosctl-get-cpustats-2.json")
        if kind == "machinestatus" and insecure:
            show("talosctl-get-machinestatus-maintenance.json")
        show(
            {
                "disks": "talosctl-get-disks.json",
                "machinestatus": "talosctl-get-machinestatus.json",
                "info": "talosctl-get-info.json",
            }[kind]
        )
    if args[-1] == "memory":
        show("talosctl-memory.txt")
    if args[-1] == "version":
        show("talosctl-version-server.txt")
    if "service" in args:
        show("talosctl-service-etcd-preparing.txt")
    if "etcd" in args:
        if mode == "bootstrapped":
            show("talosctl-etcd-members.txt")
        fail("error getting members: rpc error: code = Unknown desc = etcd is not running")
    if "bootstrap" in args and mode == "bootstrapped":
        fail(open(os.path.join(fixtures, "talosctl-bootstrap-already-exists.txt")).read().strip())
    if "bootstrap" in args and mode == "bootstrap-broken":
        fail("error executing bootstrap: rpc error: code = FailedPrecondition desc = time is not in sync yet")
    sys.exit(0)
    """
)


@pytest.fixture
def stand_in(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "talosctl"
    script.write_text(STAND_IN.replace("@PYTHON@", sys.executable))
    script.chmod(0o755)
    log = tmp_path / "argv.log"

    def driver(mode: str) -> tuple[TalosctlDriver, Path]:
        runner = ProcessRunner(
            env={
                "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                "FAKE_LOG": str(log),
                "FAKE_MODE": mode,
                "FAKE_FIXTURES": str(FIXTURES),
            }
        )
        talosconfig = tmp_path / "talosconfig"
        talosconfig.write_text("context: demo\n")
        return TalosctlDriver(runner, talosconfig), log

    return driver


def argv_log(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


async def test_a_node_in_maintenance_mode(stand_in):
    driver, log = stand_in("maintenance")
    facts = await driver.node_facts(NODE, insecure=True)
    assert facts.reachable and facts.maintenance and facts.disks == ("/dev/nvme0n1", "/dev/sda")
    # Why it is not ready is read from the maintenance API too (a failed install sends it back).
    assert facts.error == "install: disk /dev/nvme0n1 not found"
    assert argv_log(log) == [
        ["get", "disks", "--insecure", "--nodes", NODE, "--output", "json"],
        ["get", "machinestatus", "--insecure", "--nodes", NODE, "--output", "json"],
    ]


async def test_a_configured_node_is_asked_with_our_talosconfig_and_direct_endpoint(stand_in, tmp_path):
    driver, log = stand_in("configured")
    insecure = await driver.node_facts(NODE, insecure=True)
    assert insecure.reachable and not insecure.maintenance
    facts = await driver.node_facts(NODE, insecure=False)
    assert (facts.stage, facts.cluster_name, facts.talos_version, facts.memory_percent) == (
        "running",
        "demo",
        "v1.11.3",
        25.0,
    )
    secure = argv_log(log)[1]
    assert secure[:6] == ["--talosconfig", str(tmp_path / "talosconfig"), "--endpoints", NODE, "--nodes", NODE]
    assert secure[6:] == ["get", "machinestatus", "--output", "json"]


async def test_cpu_load_comes_from_two_samples_of_the_cpustats_resource(stand_in, tmp_path):
    driver, log = stand_in("configured")
    first = await driver.node_facts(NODE, insecure=False)
    second = await driver.node_facts(NODE, insecure=False)
    assert (first.cpu_percent, second.cpu_percent) == (None, None)  # one sample so far
    third = await driver.node_facts(NODE, insecure=False)
    # 21 of the 60 CPU seconds between the samples were busy.
    assert third.cpu_percent == 35.0 and third.memory_percent == 25.0
    # Until Talos writes the next sample, the last load stands...
    now = driver.monotonic()
    driver.monotonic = lambda: now + 60
    assert (await driver.node_facts(NODE, insecure=False)).cpu_percent == 35.0
    # ...but a sample that stopped changing for three refreshes says nothing any more.
    driver.monotonic = lambda: now + 120
    assert (await driver.node_facts(NODE, insecure=False)).cpu_percent is None
    asked = [a[6:] for a in argv_log(log) if "cpustats" in a]
    assert asked[0] == ["get", "cpustats", "--output", "json"] and len(asked) == 5


async def test_a_talosconfig_without_cpu_access_still_gives_version_and_memory(stand_in):
    driver, _ = stand_in("cpu-denied")
    facts = await driver.node_facts(NODE, insecure=False)
    assert facts.reachable and facts.cpu_percent is None
    assert (facts.talos_version, facts.memory_percent) == ("v1.11.3", 25.0)


async def test_an_unreachable_node_is_reported_not_raised(stand_in):
    driver, _ = stand_in("down")
    facts = await driver.node_facts(NODE, insecure=True)
    assert not facts.reachable and "connection refused" in facts.error


async def test_etcd_not_running_means_no_members_but_only_after_asking_the_service(stand_in):
    driver, log = stand_in("configured")
    assert await driver.etcd_members(NODE, driver.talosconfig) == []
    assert [a[6:] for a in argv_log(log)] == [["etcd", "members"], ["service", "etcd"]]


async def test_etcd_members_of_a_bootstrapped_cluster(stand_in):
    driver, _ = stand_in("bootstrapped")
    assert await driver.etcd_members(NODE, driver.talosconfig) == ["cp-1", "cp-2", "cp-3"]


async def test_a_second_bootstrap_refused_by_the_node_says_already_bootstrapped(stand_in):
    driver, log = stand_in("bootstrapped")
    with pytest.raises(AlreadyBootstrapped) as refused:
        await driver.bootstrap(NODE, driver.talosconfig)
    assert "AlreadyExists" in refused.value.message
    assert argv_log(log)[-1][-1] == "bootstrap"


async def test_any_other_bootstrap_failure_is_not_taken_for_done(stand_in):
    driver, _ = stand_in("bootstrap-broken")
    with pytest.raises(TransientError) as failed:
        await driver.bootstrap(NODE, driver.talosconfig)
    assert not isinstance(failed.value, AlreadyBootstrapped) and "FailedPrecondition" in failed.value.message


async def test_apply_config_insecure_with_a_node_patch(stand_in, tmp_path):
    driver, log = stand_in("maintenance")
    await driver.apply_config(NODE, tmp_path / "controlplane.yaml", insecure=True, patches=(tmp_path / "cp-1.yaml",))
    assert argv_log(log) == [
        [
            "apply-config",
            "--insecure",
            "--nodes",
            NODE,
            "--file",
            str(tmp_path / "controlplane.yaml"),
            "--config-patch",
            f"@{tmp_path / 'cp-1.yaml'}",
        ]
    ]


async def test_client_version(stand_in):
    driver, _ = stand_in("maintenance")
    assert await driver.client_version() == "v1.11.5"


@pytest.mark.parametrize("call", ["facts", "apply", "bootstrap", "answers"])
async def test_loopback_only_refuses_real_node_addresses_before_running_anything(stand_in, tmp_path, call):
    driver, log = stand_in("maintenance")
    with pytest.raises(PermanentError) as refused:
        if call == "facts":
            await driver.node_facts("10.0.0.11", insecure=True)
        elif call == "apply":
            await driver.apply_config("10.0.0.11", tmp_path / "c.yaml", insecure=True)
        elif call == "bootstrap":
            await driver.bootstrap("192.168.1.10", driver.talosconfig)
        else:
            await driver.address_answers("10.0.0.10")
    assert "only loopback" in refused.value.message
    assert argv_log(log) == []


async def test_address_answers_on_loopback():
    import asyncio

    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        from talos_platform.engine.drivers import talosctl as module

        original = module.TALOS_API_PORT
        module.TALOS_API_PORT = port
        try:
            driver = TalosctlDriver(ProcessRunner(), Path("/nonexistent"))
            assert await driver.address_answers("127.0.0.1") is True
        finally:
            module.TALOS_API_PORT = original
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    "url", ["https://git.example.com/platform.git", "git@github.com:me/platform.git", "ssh://git@10.0.0.5/repo.git"]
)
async def test_git_refuses_remote_urls_in_loopback_mode(tmp_path, url):
    with pytest.raises(PermanentError) as refused:
        await GitDriver(ProcessRunner()).publish(tmp_path, url, "main", ".", "msg")
    assert "only loopback" in refused.value.message


async def test_kube_driver_refuses_a_kubeconfig_pointing_away_from_loopback(tmp_path):
    from talos_platform.engine.drivers.kube_client import KubernetesDriver
    from talos_platform.engine.drivers.protocols import NODES

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        textwrap.dedent(
            """\
            apiVersion: v1
            kind: Config
            clusters: [{name: demo, cluster: {server: "https://10.0.0.10:6443", insecure-skip-tls-verify: true}}]
            users: [{name: admin, user: {token: abc}}]
            contexts: [{name: demo, context: {cluster: demo, user: admin}}]
            current-context: demo
            """
        )
    )
    with pytest.raises(PermanentError) as refused:
        await KubernetesDriver(kubeconfig, ProcessRunner()).list(NODES)
    assert "Kubernetes API server" in refused.value.message


async def test_kube_driver_without_a_kubeconfig_is_a_transient_error(tmp_path):
    from talos_platform.engine.drivers.kube_client import KubernetesDriver
    from talos_platform.engine.drivers.protocols import NODES

    with pytest.raises(TransientError):
        await KubernetesDriver(tmp_path / "missing", ProcessRunner()).list(NODES)


async def test_a_vip_that_only_answers_pings_is_in_use(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ping = bin_dir / "ping"
    ping.write_text('#!/bin/sh\n[ "$5" = "127.0.0.3" ]\n')
    ping.chmod(0o755)
    runner = ProcessRunner(env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    driver = TalosctlDriver(runner, tmp_path / "talosconfig")
    assert await driver.address_answers("127.0.0.3") is True  # nothing listens there; the ping answers
    assert await driver.address_answers("127.0.0.4") is False
    assert runner.recorded[-1] == ("ping", "-c", "1", "-W", "2", "127.0.0.4")


async def test_a_kustomization_that_would_download_charts_is_refused_in_loopback_mode(tmp_path):
    from talos_platform.engine.drivers.kube_client import KubernetesDriver, remote_sources

    (tmp_path / "sub").mkdir()
    (tmp_path / "kustomization.yaml").write_text(
        "resources:\n"
        "  - https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.3.0/standard-install.yaml\n"
        "  - sub\n"
        "helmCharts:\n  - name: cilium\n    repo: https://helm.cilium.io/\n    version: 1.18.3\n"
    )
    (tmp_path / "sub" / "kustomization.yaml").write_text(
        "helmCharts:\n  - name: local\n    repo: http://127.0.0.1:8879/charts\n"
    )
    assert remote_sources(tmp_path) == [
        "https://helm.cilium.io/",
        "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.3.0/standard-install.yaml",
        "http://127.0.0.1:8879/charts",
    ]
    runner = ProcessRunner()
    with pytest.raises(PermanentError) as refused:
        await KubernetesDriver(tmp_path / "kubeconfig", runner).apply_kustomization(tmp_path)
    assert "helm.cilium.io" in refused.value.message
    assert not runner.recorded
