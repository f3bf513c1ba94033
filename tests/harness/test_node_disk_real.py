"""Node disk through the real kube-apiserver's node proxy, as the dashboard reads it: the
observer (drivers built by the dashboard's `cluster_source` from a kubeconfig) asks for
`/api/v1/nodes/NAME/proxy/stats/summary` and the API server dials the node's kubelet.

kwok nodes have no kubelet, so the Nodes here are registered without kwok's annotation (kwok
manages only annotated nodes, rehearsal/cluster.py) and their status points at a stand-in
kubelet (rehearsal/kubelet_stand_in.py) serving a stats summary in the kubelet's format.

The API server proxies only to global unicast node addresses (kube-apiserver v1.34
pkg/registry/core/node/strategy.go `isProxyableHostname`: any 127.x is "address not allowed",
whatever --kubelet-* flags say). So the stand-in listens on an address of the cluster's pod
network, which is routed into the cluster's own network namespace (rehearsal/netns.py): the
proxied connection never leaves this machine. The loopback refusal is checked too.
"""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client

from talos_platform.engine.drivers.kube_client import KubernetesDriver
from talos_platform.engine.drivers.process import ProcessRunner
from talos_platform.engine.errors import PermanentError, TransientError
from talos_platform.engine.observe import ClusterSnapshot, Observer
from talos_platform.engine.observe.node_disk import stats_summary_path
from talos_platform.rehearsal.pki import create_ca, issue_serving_certificate
from talos_platform.rehearsal.processes import ManagedProcess
from talos_platform.tui.widgets.nodes import nodes_content

GIB = 1024**3
USED, CAPACITY = 37 * GIB, 100 * GIB
# The top of the pod network: kwok hands pod addresses out from the bottom of the range.
KUBELET_ADDRESS = "10.244.255.254"
REFUSING_ADDRESS = "10.244.255.253"  # in the namespace too, where nothing listens
PATIENCE = 60.0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def stand_in_kubelet(rehearsal_cluster, tmp_path) -> Iterator[int]:
    """The stand-in kubelet on KUBELET_ADDRESS inside the cluster's network namespace; its port."""
    ca_cert, ca_key = create_ca(tmp_path / "ca", "stand-in-kubelet-ca")
    cert, key = issue_serving_certificate(tmp_path, "kubelet", "kubelet", f"IP:{KUBELET_ADDRESS}", ca_cert, ca_key)
    process = ManagedProcess(
        "kubelet-stand-in",
        [
            *rehearsal_cluster.network.exec_prefix,
            sys.executable,
            "-m",
            "talos_platform.rehearsal.kubelet_stand_in",
            KUBELET_ADDRESS,
            str(cert),
            str(key),
            "disk-node",
            str(USED),
            str(CAPACITY),
        ],
        tmp_path / "kubelet.log",
    )
    process.start()
    try:
        listening = re.compile(rf"listening on {re.escape(KUBELET_ADDRESS)}:(\d+)")
        process.wait_until(lambda: listening.search(process.log_tail()) is not None, "the stand-in kubelet", 30)
        match = listening.search(process.log_tail())
        assert match is not None
        yield int(match.group(1))
    finally:
        process.stop()


@pytest.fixture
def kubelet_nodes(rehearsal_cluster, stand_in_kubelet) -> Iterator[dict[str, str]]:
    """Nodes by role: `served` (its kubelet answers), `refusing` (nothing listens at its
    address) and `loopback` (a kubelet address the API server will not dial)."""
    core = client.CoreV1Api(rehearsal_cluster.api_client())
    names = {role: unique(f"disk-{role}") for role in ("served", "refusing", "loopback")}
    addresses = {"served": KUBELET_ADDRESS, "refusing": REFUSING_ADDRESS, "loopback": "127.0.0.1"}
    for role, name in names.items():
        # No kwok annotation: kwok leaves these nodes' status alone.
        core.create_node(
            client.V1Node(metadata=client.V1ObjectMeta(name=name, labels={"kubernetes.io/hostname": name}))
        )
        core.patch_node_status(
            name,
            {
                "status": {
                    "addresses": [{"type": "InternalIP", "address": addresses[role]}],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": stand_in_kubelet}},
                }
            },
        )
    try:
        yield names
    finally:
        for name in names.values():
            core.delete_node(name)


def test_the_api_server_proxies_to_the_kubelet_and_refuses_a_loopback_node(
    rehearsal_cluster, kubelet_nodes, stand_in_kubelet
):
    kube = KubernetesDriver(rehearsal_cluster.kubeconfig, ProcessRunner())
    text = asyncio.run(kube.read_path(stats_summary_path(kubelet_nodes["served"])))
    assert f'"usedBytes": {USED}' in text and f'"capacityBytes": {CAPACITY}' in text
    # Refused by the API server before any dial (a 400), and by the network namespace (a 5xx).
    with pytest.raises(PermanentError, match="400: address not allowed"):
        asyncio.run(kube.read_path(stats_summary_path(kubelet_nodes["loopback"])))
    with pytest.raises(TransientError, match="connection refused"):
        asyncio.run(kube.read_path(stats_summary_path(kubelet_nodes["refusing"])))


async def test_the_dashboards_observer_shows_the_kubelets_disk_and_unknown_where_it_does_not_answer(
    kubelet_nodes, dashboard_source
):
    source = dashboard_source
    observer = Observer(
        source.drivers, source.clock, talos_targets=source.targets, min_interval=0.05, stats_interval=1.0
    )
    published: list[ClusterSnapshot] = []
    observer.subscribe(published.append)
    task = asyncio.create_task(observer.run())
    served = kubelet_nodes["served"]

    def disk_read(snapshot: ClusterSnapshot) -> bool:
        return any(n.name == served and n.disk_percent is not None for n in snapshot.nodes)

    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PATIENCE
        while not (published and disk_read(published[-1])):
            assert loop.time() < deadline, f"no disk figure for {served} within {PATIENCE:.0f}s"
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        source.close()

    nodes = {n.name: n for n in published[-1].nodes}
    assert (nodes[served].disk_used_bytes, nodes[served].disk_capacity_bytes) == (USED, CAPACITY)
    assert nodes[served].disk_percent == pytest.approx(37.0)
    for role in ("refusing", "loopback"):
        node = nodes[kubelet_nodes[role]]
        assert node.disk_percent is None and node.disk_used_bytes is None, role
    cells = {row.key: row.cells[4].plain for row in nodes_content(published[-1]).rows}
    assert cells[f"node:{served}"] == " 37% 37/100 GiB"
    assert cells[f"node:{kubelet_nodes['refusing']}"] == "-"
    assert cells[f"node:{kubelet_nodes['loopback']}"] == "-"
