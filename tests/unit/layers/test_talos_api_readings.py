"""The Talos API client's pure parts: the talosconfig's certificates, the readings of the resource
specs (the same figures talosctl's output gives), and errors in words."""

from __future__ import annotations

import base64

import grpc
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from support.talos_api import Pki, cpu_stats, machine_status, memory_stats

from talos_platform.engine.drivers import talos_api
from talos_platform.engine.drivers.proto import talos_specs_pb2 as specs
from talos_platform.engine.drivers.talosctl import parse_cpu_times, parse_memory_percent


def test_a_talos_ed25519_key_is_read_under_the_standard_label():
    key = Pki.make(("127.0.0.1",), ed25519_client=True).client_key
    assert b"ED25519 PRIVATE KEY" in key
    with pytest.raises(ValueError):
        load_pem_private_key(key, password=None)
    assert load_pem_private_key(talos_api.standard_key_pem(key), password=None) is not None


def test_credentials_name_the_missing_or_damaged_field_never_its_value(tmp_path):
    pki = Pki.make(("127.0.0.1",), ed25519_client=True)
    context = {
        "ca": base64.b64encode(pki.ca).decode(),
        "crt": base64.b64encode(pki.client_cert).decode(),
        "key": base64.b64encode(pki.client_key).decode(),
    }
    assert isinstance(talos_api.credentials_from(context, tmp_path / "tc"), grpc.ChannelCredentials)
    with pytest.raises(talos_api.TalosconfigProblem, match="has no `key`"):
        talos_api.credentials_from({**context, "key": ""}, tmp_path / "tc")
    with pytest.raises(talos_api.TalosconfigProblem, match="`crt` .* is not base64") as raised:
        talos_api.credentials_from({**context, "crt": "secret!!"}, tmp_path / "tc")
    assert "secret" not in str(raised.value)


@pytest.mark.parametrize(
    "stage, shown",
    [
        (specs.MACHINE_STAGE_RUNNING, "running"),
        (specs.MACHINE_STAGE_SHUTTING_DOWN, "shutting down"),
        (specs.MACHINE_STAGE_UNKNOWN, ""),
        (42, ""),  # a stage newer than our proto
    ],
)
def test_the_stage_reads_as_talosctl_prints_it(stage, shown):
    raw = specs.MachineStatusSpec(stage=stage).SerializeToString()
    assert talos_api.machine_stage(raw) == shown
    assert talos_api.machine_stage(None) == ""
    assert talos_api.machine_stage(machine_status()) == "running"


def test_memory_and_cpu_are_the_figures_of_the_talosctl_readings():
    # `talosctl memory` prints MB of the same /proc/meminfo: total 8000000 kB, free 1000000,
    # buffers 500000, cached 1500000 -> used 5000000 kB.
    table = (
        "NODE        TOTAL   USED    FREE    SHARED   BUFFERS   CACHE   AVAILABLE\n"
        "10.0.0.1    7812    4882    976     0        488       1464    5000\n"
    )
    raw = memory_stats(8_000_000, 7_000_000, buffers=500_000, cached=1_500_000)
    assert talos_api.memory_percent(raw) == parse_memory_percent(table) == 62.5
    assert talos_api.memory_percent(memory_stats(0, 0)) is None
    json_text = '{"spec": {"cpuTotal": {"user": 100, "idle": 300}}}'
    assert talos_api.cpu_times(cpu_stats(100.0, 300.0)) == parse_cpu_times(json_text) == (100.0, 400.0)
    assert talos_api.cpu_times(specs.CPUSpec().SerializeToString()) is None


def test_disks_leave_out_read_only_and_cd_rom_devices():
    items = {
        "sda": specs.DiskSpec(dev_path="/dev/sda").SerializeToString(),
        "nvme0n1": specs.DiskSpec().SerializeToString(),
        "sr0": specs.DiskSpec(dev_path="/dev/sr0", cdrom=True).SerializeToString(),
        "loop0": specs.DiskSpec(dev_path="/dev/loop0", readonly=True).SerializeToString(),
    }
    assert talos_api.disk_paths(items) == ("/dev/nvme0n1", "/dev/sda")


@pytest.mark.parametrize(
    "address, target",
    [
        ("10.0.0.1", "10.0.0.1:50000"),
        ("10.0.0.1:6000", "10.0.0.1:6000"),
        ("fd00::1", "[fd00::1]:50000"),
        ("[fd00::1]:6000", "[fd00::1]:6000"),
        ("node-1.example", "node-1.example:50000"),
    ],
)
def test_the_api_target_of_an_address(address, target):
    assert talos_api.api_target(address) == target


class Failed(grpc.aio.AioRpcError):
    def __init__(self, code: grpc.StatusCode, details: str):
        super().__init__(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details)


@pytest.mark.parametrize(
    "code, details, reachable, said",
    [
        (
            grpc.StatusCode.UNAVAILABLE,
            "failed to connect to all addresses; last error: UNKNOWN: ipv4:10.0.0.1:50000: Ssl handshake failed "
            "(TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: error:1000007d:SSL routines:OPENSSL_internal:"
            "CERTIFICATE_VERIFY_FAILED: unable to get local issuer certificate: OK",
            True,
            "certificate error: the Talos API at 10.0.0.1 and our talosconfig do not trust each other "
            "(CERTIFICATE_VERIFY_FAILED: unable to get local issuer certificate)",
        ),
        (
            grpc.StatusCode.UNAVAILABLE,
            "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:10.0.0.1:50000: Connection refused",
            False,
            "connection refused: nothing answers on 10.0.0.1:50000",
        ),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", False, "deadline exceeded: the Talos API at 10.0.0.1"),
        (
            grpc.StatusCode.UNAVAILABLE,
            "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:10.0.0.1:50000: No route to host",
            False,
            "unavailable: No route to host",
        ),
        (grpc.StatusCode.PERMISSION_DENIED, "not authorized", True, "permission denied: not authorized"),
    ],
)
def test_errors_are_said_in_words_with_whether_the_node_answered(code, details, reachable, said):
    error = talos_api.describe_rpc_error(Failed(code, details), "10.0.0.1", 10.0)
    assert error.reachable is reachable
    assert error.message.startswith(said)
