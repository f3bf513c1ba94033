"""The real talosctl driver's restore calls through the real process runner, with a stand-in
`talosctl` on PATH that logs its argv and answers as talosctl does: the exact command lines of
the reset, the etcd service state and the bootstrap from a snapshot, and how failures are told."""

import json
from pathlib import Path

import pytest
from support.stand_ins import StandIns

from talos_platform.engine.drivers.protocols import AlreadyBootstrapped
from talos_platform.engine.drivers.talosctl import TalosctlDriver
from talos_platform.engine.errors import PermanentError, TransientError

FIXTURES = Path(__file__).parent / "fixtures"
NODE = "127.0.0.2"

TALOSCTL = """\
    def fail(message):
        sys.stderr.write(message + "\\n")
        sys.exit(1)
    if mode == "down":
        fail('rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: '
             'dial tcp 127.0.0.2:50000: connect: connection refused"')
    if "service" in args:
        sys.stdout.write(open(os.path.join(os.environ["FAKE_FIXTURES"], "talosctl-service-etcd-preparing.txt")).read())
    if "bootstrap" in args and mode == "bootstrapped":
        fail("error executing bootstrap: rpc error: code = AlreadyExists desc = etcd data directory is not empty")
    if "bootstrap" in args and mode == "integrity":
        fail("error executing bootstrap: rpc error: code = Unknown desc = snapshot file integrity check failed")
    sys.exit(0)
    """


@pytest.fixture
def stand_in(tmp_path):
    tools = StandIns(tmp_path, {"talosctl": TALOSCTL}, fixtures=FIXTURES)

    def driver(mode: str) -> tuple[TalosctlDriver, Path]:
        return TalosctlDriver(tools.runner(mode), tmp_path / "talosconfig"), tools.log

    return driver


def logged(log: Path) -> list[list[str]]:
    return [json.loads(line)[7:] for line in log.read_text().splitlines()]  # after talosctl --talosconfig/-e/-n


async def test_the_reset_wipes_ephemeral_reboots_and_does_not_wait(stand_in):
    driver, log = stand_in("ok")
    await driver.reset_ephemeral(NODE, driver.talosconfig)
    assert logged(log) == [
        ["reset", "--system-labels-to-wipe", "EPHEMERAL", "--reboot", "--graceful=false", "--wait=false"]
    ]
    assert json.loads(log.read_text().splitlines()[0])[3:7] == ["--endpoints", NODE, "--nodes", NODE]


async def test_the_etcd_service_state(stand_in):
    driver, log = stand_in("ok")
    assert await driver.etcd_service_state(NODE, driver.talosconfig) == "Preparing"
    assert logged(log) == [["service", "etcd"]]


async def test_a_node_that_does_not_answer_is_a_transient_error(stand_in):
    driver, _ = stand_in("down")
    with pytest.raises(TransientError, match="connection refused"):
        await driver.etcd_service_state(NODE, driver.talosconfig)
    with pytest.raises(TransientError, match="talosctl reset of 127.0.0.2 failed"):
        await driver.reset_ephemeral(NODE, driver.talosconfig)


async def test_the_bootstrap_from_a_snapshot(stand_in, tmp_path):
    driver, log = stand_in("ok")
    await driver.bootstrap_recover(NODE, driver.talosconfig, tmp_path / "a.db", skip_hash_check=False)
    await driver.bootstrap_recover(NODE, driver.talosconfig, tmp_path / "db", skip_hash_check=True)
    assert logged(log) == [
        ["bootstrap", "--recover-from", str(tmp_path / "a.db")],
        ["bootstrap", "--recover-from", str(tmp_path / "db"), "--recover-skip-hash-check"],
    ]


async def test_a_bootstrap_refused_as_already_done_or_for_its_snapshot(stand_in, tmp_path):
    driver, _ = stand_in("bootstrapped")
    with pytest.raises(AlreadyBootstrapped):
        await driver.bootstrap_recover(NODE, driver.talosconfig, tmp_path / "a.db", skip_hash_check=False)
    driver, _ = stand_in("integrity")
    with pytest.raises(PermanentError, match="integrity check failed") as refused:
        await driver.bootstrap_recover(NODE, driver.talosconfig, tmp_path / "a.db", skip_hash_check=False)
    assert not isinstance(refused.value, AlreadyBootstrapped)
