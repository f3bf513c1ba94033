"""Every implementation of every driver protocol (engine/drivers/protocols.py) keeps its contract:
the simulator's, the real drivers' and every test fake's. A protocol that grows or changes a method
shows up here, not as a fake that silently accepts calls the real driver would refuse.

Two kinds of check run over all of them: the signatures (every method with the protocol's
parameters, async where the protocol is), and the promises a caller relies on (an unreachable
node is a fact, never an exception; a missing object is None), each promise on the real driver
through a loopback stand-in for the program or server it talks to (and on the harness, with the
real talosctl: tests/harness/test_talosctl_driver.py)."""

from __future__ import annotations

import inspect
import json
import math
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support import drivers as fakes

from talos_platform.engine.config.loading import load_config
from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.drivers import protocols
from talos_platform.engine.drivers.alertmanager import AlertmanagerThroughKubernetes
from talos_platform.engine.drivers.git import GitDriver
from talos_platform.engine.drivers.hubble_grpc import HubbleRelay
from talos_platform.engine.drivers.kube_client import KubernetesDriver, annotate_node_argv
from talos_platform.engine.drivers.process import ProcessRunner
from talos_platform.engine.drivers.real import LocalTools, real_drivers
from talos_platform.engine.drivers.talos_grpc import TalosGrpcDriver
from talos_platform.engine.drivers.talosctl import TalosctlDriver
from talos_platform.engine.drivers.vault import VaultThroughKubernetes
from talos_platform.engine.errors import PermanentError
from talos_platform.engine.sim import SimulatedTools, simulated_platform
from talos_platform.engine.sim.alertmanager import SimulatedAlertmanager
from talos_platform.engine.sim.git import SimulatedGit
from talos_platform.engine.sim.hubble import SimulatedHubble
from talos_platform.engine.sim.kube import SimulatedKube
from talos_platform.engine.sim.talos import SimulatedTalos
from talos_platform.engine.sim.vault import SimulatedVault
from talos_platform.engine.state import StateDirectory

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "metal-3cp-3w.yaml"

SIMULATED = [
    (protocols.Kube, SimulatedKube),
    (protocols.Talos, SimulatedTalos),
    (protocols.Hubble, SimulatedHubble),
    (protocols.Git, SimulatedGit),
    (protocols.Vault, SimulatedVault),
    (protocols.Tools, SimulatedTools),
    (protocols.Alertmanager, SimulatedAlertmanager),
]
REAL = [
    (protocols.Kube, KubernetesDriver),
    (protocols.Talos, TalosctlDriver),
    (protocols.Hubble, HubbleRelay),
    (protocols.Git, GitDriver),
    (protocols.Vault, VaultThroughKubernetes),
    (protocols.Tools, LocalTools),
    (protocols.Alertmanager, AlertmanagerThroughKubernetes),
]
DASHBOARD = [
    # The dashboard's and `status --live`'s Talos driver: the Talos API first, talosctl for the rest.
    (protocols.Talos, TalosGrpcDriver),
]
FAKES = [
    (protocols.Talos, fakes.FakeTalos),
    (protocols.Talos, fakes.ChannelTalos),
    (protocols.Kube, fakes.FakeKube),
    (protocols.Vault, fakes.FakeVault),
    (protocols.Git, fakes.FakeGit),
    (protocols.Tools, fakes.FakeTools),
    (protocols.Hubble, fakes.ScriptedHubble),
    (protocols.Alertmanager, fakes.FakeAlertmanager),
]
PARTIAL_FAKES = [
    # Only the reads the live views use: what they have must still match the protocol.
    (protocols.Kube, fakes.ScriptedKube),
    (protocols.Talos, fakes.RaisingTalos),
]
WHOLE = SIMULATED + REAL + DASHBOARD + FAKES


def protocol_methods(protocol):
    return {
        name: member
        for name, member in vars(protocol).items()
        if inspect.isfunction(member) and not name.startswith("_")
    }


def assert_same_method(protocol, implementation, name):
    declared = protocol_methods(protocol)[name]
    implemented = getattr(implementation, name)
    wanted = [(p.name, p.kind, p.default) for p in inspect.signature(declared).parameters.values()]
    have = [(p.name, p.kind, p.default) for p in inspect.signature(implemented).parameters.values()]
    assert have == wanted, f"{implementation.__name__}.{name}"
    is_async = inspect.iscoroutinefunction(declared)
    is_stream = inspect.isasyncgenfunction(implemented)
    assert inspect.iscoroutinefunction(implemented) == is_async or (not is_async and is_stream), name


def named(value):
    return getattr(value, "__name__", "")


@pytest.mark.parametrize("protocol, implementation", WHOLE, ids=named)
def test_every_method_is_implemented_with_the_same_parameters(protocol, implementation):
    for name in protocol_methods(protocol):
        assert getattr(implementation, name, None) is not None, f"{implementation.__name__} lacks {name}"
        assert_same_method(protocol, implementation, name)


@pytest.mark.parametrize("protocol, implementation", PARTIAL_FAKES, ids=named)
def test_a_partial_fake_has_only_methods_of_the_protocol_with_the_same_parameters(protocol, implementation):
    implemented = [name for name in protocol_methods(protocol) if hasattr(implementation, name)]
    assert implemented, f"{implementation.__name__} implements nothing of {protocol.__name__}"
    for name in implemented:
        assert_same_method(protocol, implementation, name)


def test_every_fake_of_the_test_support_is_checked():
    defined = {cls for _, cls in inspect.getmembers(fakes, inspect.isclass) if cls.__module__ == fakes.__name__}
    assert defined == {cls for _, cls in FAKES + PARTIAL_FAKES}


def checked(drivers: protocols.Drivers, pairs) -> None:
    for protocol, implementation in pairs:
        field = protocol.__name__.lower()
        assert type(getattr(drivers, field)) is implementation, field


def test_the_drivers_of_a_real_install_are_the_checked_ones(tmp_path):
    config = load_config(EXAMPLE)
    drivers = real_drivers(config, StateDirectory(tmp_path), Secrets(), redactor=None, hubble_address="127.0.0.1:4245")
    assert not drivers.simulated
    checked(drivers, REAL)


def test_the_drivers_of_a_simulated_platform_are_the_checked_ones_and_labelled():
    drivers = simulated_platform("default").drivers
    assert drivers.simulated
    checked(drivers, SIMULATED)


# --- promises ------------------------------------------------------------------------------------

UNREACHABLE = "127.0.0.2"

TALOSCTL_CANNOT_DIAL = """#!@PYTHON@
import sys
if sys.argv[1:3] == ["version", "--client"]:
    print("Client:\\n\\tTag:         v1.11.5")
    sys.exit(0)
sys.stderr.write('rpc error: code = Unavailable desc = connection error: desc = "transport: Error while '
                 'dialing: dial tcp 127.0.0.2:50000: connect: connection refused"\\n')
sys.exit(1)
"""


def real_talos(tmp_path: Path) -> TalosctlDriver:
    """The real driver, with a stand-in talosctl on PATH that can reach no node."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    talosctl = bin_dir / "talosctl"
    talosctl.write_text(TALOSCTL_CANNOT_DIAL.replace("@PYTHON@", sys.executable))
    talosctl.chmod(0o755)
    talosconfig = tmp_path / "talosconfig"
    talosconfig.write_text("context: demo\n")
    return TalosctlDriver(ProcessRunner(env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}), talosconfig)


def grpc_talos(tmp_path: Path) -> TalosGrpcDriver:
    """The dashboard's driver with a valid talosconfig, and the same stand-in talosctl."""
    from support.talos_api import Pki

    talosctl = real_talos(tmp_path)
    talosconfig = Pki.make((UNREACHABLE,)).talosconfig(tmp_path / "talosconfig-grpc")
    return TalosGrpcDriver(talosctl.runner, talosconfig, connect_timeout=5)


def simulated_talos(tmp_path: Path) -> SimulatedTalos:
    return simulated_platform("default", speed=math.inf).drivers.talos


TALOS_MAKERS = {
    "simulated": simulated_talos,
    "real": real_talos,
    "grpc": grpc_talos,
    "FakeTalos": lambda tmp_path: fakes.FakeTalos(),
}


@pytest.mark.parametrize("make", TALOS_MAKERS.values(), ids=TALOS_MAKERS.keys())
@pytest.mark.parametrize("insecure", [True, False], ids=["maintenance", "configured"])
async def test_an_unreachable_node_is_a_fact_never_an_exception(make, insecure, tmp_path):
    facts = await make(tmp_path).node_facts(UNREACHABLE, insecure=insecure)
    assert isinstance(facts, protocols.TalosNodeFacts)
    assert (facts.address, facts.reachable) == (UNREACHABLE, False)
    assert facts.error


@pytest.mark.parametrize("make", TALOS_MAKERS.values(), ids=TALOS_MAKERS.keys())
async def test_an_etcd_that_does_not_answer_is_a_fact_never_an_exception(make, tmp_path):
    health = await make(tmp_path).etcd_health(UNREACHABLE)
    assert isinstance(health, protocols.EtcdHealth)
    assert (health.address, health.status) == (UNREACHABLE, None)
    assert health.error


class NothingHere(BaseHTTPRequestHandler):
    """An API server that holds no objects: every read is the API's 404 Status."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404}).encode()
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def empty_api_server(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), NothingHere)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{server.server_address[1]}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
        "current-context: c\n"
    )
    yield kubeconfig
    server.shutdown()
    server.server_close()


KUBE_MAKERS = {
    "simulated": lambda kubeconfig: simulated_platform("default", speed=math.inf, installed=True).drivers.kube,
    "real": lambda kubeconfig: KubernetesDriver(kubeconfig, ProcessRunner()),
    "FakeKube": lambda kubeconfig: fakes.FakeKube(),
    "ScriptedKube": lambda kubeconfig: fakes.ScriptedKube(),
}


@pytest.mark.parametrize("make", KUBE_MAKERS.values(), ids=KUBE_MAKERS.keys())
async def test_a_missing_object_is_none(make, empty_api_server):
    kube = make(empty_api_server)
    assert await kube.get(protocols.PODS, "no-such-pod", "default") is None
    assert await kube.get(protocols.NAMESPACES, "no-such-namespace") is None


@pytest.mark.parametrize("make", KUBE_MAKERS.values(), ids=KUBE_MAKERS.keys())
async def test_a_path_that_is_not_served_raises_a_permanent_error(make, empty_api_server):
    kube = make(empty_api_server)
    with pytest.raises(PermanentError) as raised:
        await kube.read_path("/no/such/path")
    assert not isinstance(raised.value, protocols.AccessDenied)


class MetricsRefused(BaseHTTPRequestHandler):
    """An API server whose RBAC refuses `/metrics` (403 Status) and serves `/version` as text."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/metrics":
            status, body = 403, json.dumps({"kind": "Status", "code": 403, "message": 'cannot get path "/metrics"'})
        else:
            status, body = 200, "plain text\n"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body.encode())))
        self.end_headers()
        self.wfile.write(body.encode())


async def test_the_real_driver_reads_a_path_as_text_and_a_403_as_access_denied(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), MetricsRefused)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{server.server_address[1]}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
        "current-context: c\n"
    )
    try:
        kube = KubernetesDriver(kubeconfig, ProcessRunner())
        assert await kube.read_path("/version") == "plain text\n"
        with pytest.raises(protocols.AccessDenied, match='403.*cannot get path "/metrics"'):
            await kube.read_path("/metrics")
    finally:
        server.shutdown()
        server.server_close()


ANNOTATING_KUBES = {
    "simulated": lambda: simulated_platform("default", speed=math.inf, installed=True).drivers.kube,
    "FakeKube": lambda: fakes.FakeKube(),
}


@pytest.mark.parametrize("make", ANNOTATING_KUBES.values(), ids=ANNOTATING_KUBES.keys())
async def test_a_node_annotation_is_set_removed_and_removing_it_again_is_no_error(make):
    kube = make()
    if isinstance(kube, fakes.FakeKube):
        kube.put(protocols.NODES, {"metadata": {"name": "worker-1"}})
    name = (await kube.list(protocols.NODES)).items[0]["metadata"]["name"]

    await kube.annotate_node(name, "example.dev/mark", "true")
    node = await kube.get(protocols.NODES, name)
    assert node is not None and node["metadata"]["annotations"]["example.dev/mark"] == "true"
    await kube.annotate_node(name, "example.dev/mark", None)
    await kube.annotate_node(name, "example.dev/mark", None)
    node = await kube.get(protocols.NODES, name)
    assert node is not None and "example.dev/mark" not in (node["metadata"].get("annotations") or {})


def test_the_real_driver_annotates_a_node_with_kubectl_and_removes_with_a_trailing_dash(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    assert annotate_node_argv(kubeconfig, "w-1", "example.dev/mark", "true")[-5:] == [
        "annotate",
        "node",
        "w-1",
        "example.dev/mark=true",
        "--overwrite",
    ]
    assert annotate_node_argv(kubeconfig, "w-1", "example.dev/mark", None)[-2:] == ["example.dev/mark-", "--overwrite"]
