"""The Hubble client over real gRPC, against an Observer server on loopback that speaks the same
proto: follow, filters, lost events, node status, the deny policy of a drop, ServerStatus, and the
server going away and coming back."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from talos_platform.engine.drivers.backoff import Backoff
from talos_platform.engine.drivers.hubble_grpc import HubbleRelay, HubbleUnavailable
from talos_platform.engine.drivers.proto import observer_pb2 as pb
from talos_platform.engine.drivers.protocols import Flow, FlowFilter, LostEvents
from talos_platform.engine.errors import PermanentError


def make_flow(second: int, src: str, dst: str, verdict=pb.FORWARDED, reason=pb.DROP_REASON_UNKNOWN) -> pb.Flow:
    flow = pb.Flow(verdict=verdict, drop_reason_desc=reason, node_name="worker-1")
    flow.time.seconds = 1_700_000_000 + second
    flow.source.namespace, flow.source.pod_name = src.split("/")
    flow.destination.namespace, flow.destination.pod_name = dst.split("/")
    flow.IP.source, flow.IP.destination = "10.244.0.5", "10.244.1.7"
    flow.l4.TCP.destination_port = 8080
    return flow


def _matches_one(flow: pb.Flow, flow_filter: pb.FlowFilter) -> bool:
    def pod_ok(prefixes, endpoint):
        return not prefixes or any(f"{endpoint.namespace}/{endpoint.pod_name}".startswith(p) for p in prefixes)

    return (
        pod_ok(flow_filter.source_pod, flow.source)
        and pod_ok(flow_filter.destination_pod, flow.destination)
        and (not flow_filter.verdict or flow.verdict in flow_filter.verdict)
    )


def matches(flow: pb.Flow, request: pb.GetFlowsRequest) -> bool:
    allowed = not request.whitelist or any(_matches_one(flow, f) for f in request.whitelist)
    return allowed and not any(_matches_one(flow, f) for f in request.blacklist)


class ObserverServer:
    """A small Observer: a store of flows, plus live items pushed by the test while following."""

    def __init__(self, stored: list[pb.Flow]):
        self.stored = stored
        self.live: asyncio.Queue[pb.GetFlowsResponse] = asyncio.Queue()
        self.requests: list[pb.GetFlowsRequest] = []
        self.server: grpc.aio.Server | None = None
        self.port = 0
        self.connected = asyncio.Event()
        self.status = pb.ServerStatusResponse(num_flows=4, max_flows=4095, seen_flows=4)

    async def server_status(self, request: pb.ServerStatusRequest, context) -> pb.ServerStatusResponse:
        return self.status

    async def get_flows(self, request: pb.GetFlowsRequest, context):
        self.requests.append(request)
        self.connected.set()
        history = [f for f in self.stored if matches(f, request)]
        if request.HasField("since"):
            since = (request.since.seconds, request.since.nanos)
            history = [f for f in history if (f.time.seconds, f.time.nanos) >= since]
        elif request.number:
            history = history[: request.number] if request.first else history[-request.number :]
        elif request.follow:
            history = []
        for flow in history:
            yield pb.GetFlowsResponse(flow=flow, node_name=flow.node_name)
        while request.follow:
            response = await self.live.get()
            if response.WhichOneof("response_types") != "flow" or matches(response.flow, request):
                yield response

    async def start(self, port: int = 0) -> int:
        self.server = grpc.aio.server()
        handler = grpc.unary_stream_rpc_method_handler(
            self.get_flows,
            request_deserializer=pb.GetFlowsRequest.FromString,
            response_serializer=pb.GetFlowsResponse.SerializeToString,
        )
        status = grpc.unary_unary_rpc_method_handler(
            self.server_status,
            request_deserializer=pb.ServerStatusRequest.FromString,
            response_serializer=pb.ServerStatusResponse.SerializeToString,
        )
        self.server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler("observer.Observer", {"GetFlows": handler, "ServerStatus": status})]
        )
        self.port = self.server.add_insecure_port(f"127.0.0.1:{port}")
        await self.server.start()
        return self.port

    async def stop(self) -> None:
        assert self.server is not None
        await self.server.stop(grace=None)


@pytest.fixture
async def server():
    stored = [
        make_flow(1, "shop/web-1", "shop/db-0"),
        make_flow(2, "shop/web-1", "payments/api-0", pb.DROPPED, pb.POLICY_DENIED),
        make_flow(3, "monitoring/prometheus-0", "shop/web-1"),
        make_flow(4, "kube-system/coredns-1", "kube-system/etcd-0"),
    ]
    observer = ObserverServer(stored)
    await observer.start()
    yield observer
    await observer.stop()


def client(server: ObserverServer, **kwargs) -> HubbleRelay:
    return HubbleRelay(f"127.0.0.1:{server.port}", backoff=Backoff(initial=0.05, maximum=0.2), **kwargs)


async def collect(stream, count: int, timeout: float = 5.0) -> list:
    items = []

    async def take():
        async for item in stream:
            items.append(item)
            if len(items) == count:
                return

    await asyncio.wait_for(take(), timeout)
    return items


async def test_first_flows_without_follow_end_when_the_server_is_done(server):
    items = [item async for item in client(server).flows(follow=False, first=2)]
    assert [(f.source.pod_name, f.destination.pod_name) for f in items] == [("web-1", "db-0"), ("web-1", "api-0")]
    assert items[1].verdict == "DROPPED" and items[1].drop_reason == "POLICY_DENIED"
    assert items[0].protocol == "TCP" and items[0].destination_port == 8080 and items[0].source_ip == "10.244.0.5"
    assert items[0].time == 1_700_000_001.0
    assert server.requests[0].number == 2 and server.requests[0].first and not server.requests[0].follow


async def test_namespace_and_verdict_filters_are_sent_as_a_whitelist(server):
    relay = client(server)
    items = [i async for i in relay.flows(follow=False, first=10, flow_filter=FlowFilter(namespace="shop"))]
    assert len(items) == 3  # shop on either side; kube-system left out
    dropped = [
        i
        async for i in relay.flows(follow=False, first=10, flow_filter=FlowFilter(namespace="shop", verdict="DROPPED"))
    ]
    assert [(d.source.pod_name, d.destination.namespace) for d in dropped] == [("web-1", "payments")]
    request = server.requests[-1]
    assert [list(f.source_pod) for f in request.whitelist] == [["shop/"], []]
    assert [list(f.destination_pod) for f in request.whitelist] == [[], ["shop/"]]
    assert all(list(f.verdict) == [pb.DROPPED] for f in request.whitelist)


async def test_server_status_gives_the_flow_rate_and_the_nodes_relay_cannot_reach(server):
    server.status.flows_rate = 1234.5
    server.status.num_connected_nodes.value = 5
    server.status.num_unavailable_nodes.value = 2
    server.status.unavailable_nodes.append("worker-3")  # Relay may name fewer than it counts
    server.status.version = "1.20.0"
    status = await client(server).server_status()
    assert status.flows_rate == 1234.5 and status.seen_flows == 4 and status.max_flows == 4095
    assert (status.connected_nodes, status.unavailable_nodes) == (5, 2)
    assert status.unavailable_node_names == ("worker-3",) and status.version == "1.20.0"


async def test_server_status_of_a_relay_that_does_not_fill_the_node_counts_says_unknown(server):
    status = await client(server).server_status()
    assert status.connected_nodes is None and status.unavailable_nodes is None


async def test_server_status_when_relay_is_gone_is_an_unavailable_error(server):
    relay = client(server)
    await server.stop()
    with pytest.raises(HubbleUnavailable, match="UNAVAILABLE"):
        await relay.server_status()
    await server.start(server.port)


async def test_a_drop_names_the_deny_policy_from_egress_or_ingress_denied_by(server):
    egress = make_flow(30, "shop/web-1", "vault/vault-0", pb.DROPPED, pb.POLICY_DENY)
    egress.egress_denied_by.add(name="no-vault", namespace="shop", kind="CiliumNetworkPolicy")
    ingress = make_flow(31, "blog/blog-0", "vault/vault-0", pb.DROPPED, pb.POLICY_DENY)
    ingress.ingress_denied_by.add(name="deny-all-tenants", kind="CiliumClusterwideNetworkPolicy")
    server.stored[:] = [egress, ingress, make_flow(32, "shop/web-1", "shop/db-0")]
    items = [item async for item in client(server).flows(follow=False, first=3)]
    assert [(f.drop_reason, f.policy) for f in items] == [
        ("POLICY_DENY", "shop/no-vault"),
        ("POLICY_DENY", "deny-all-tenants"),  # clusterwide: no namespace
        ("", ""),
    ]


async def test_follow_streams_new_flows_lost_events_and_node_status(server):
    seen_status = []
    relay = client(server, on_node_status=lambda node, state, message: seen_status.append((node, state, message)))
    stream = relay.flows(follow=True)

    async def feed():
        await server.connected.wait()
        await server.live.put(pb.GetFlowsResponse(flow=make_flow(10, "shop/web-2", "shop/db-0")))
        await server.live.put(
            pb.GetFlowsResponse(
                node_status=pb.NodeStatusEvent(
                    state_change=pb.NODE_UNAVAILABLE, node_names=["worker-3"], message="connection refused"
                )
            )
        )
        lost = pb.GetFlowsResponse(lost_events=pb.LostEvent(source=pb.HUBBLE_RING_BUFFER, num_events_lost=42))
        lost.time.seconds = 1_700_000_011
        await server.live.put(lost)
        await server.live.put(pb.GetFlowsResponse(flow=make_flow(12, "shop/web-2", "shop/db-0")))

    feeder = asyncio.create_task(feed())
    items = await collect(stream, 3)
    await stream.aclose()
    await feeder
    assert isinstance(items[0], Flow) and items[0].source.pod_name == "web-2"
    assert items[1] == LostEvents(count=42, source="HUBBLE_RING_BUFFER", time=1_700_000_011.0)
    assert isinstance(items[2], Flow) and items[2].time == 1_700_000_012.0
    assert relay.node_states == {"worker-3": "NODE_UNAVAILABLE"}
    assert seen_status == [("worker-3", "NODE_UNAVAILABLE", "connection refused")]
    assert server.requests[0].follow and server.requests[0].number == 0


async def test_server_going_away_and_coming_back_resumes_after_the_last_flow(server):
    relay = client(server)
    stream = relay.flows(follow=True)
    await server.live.put(pb.GetFlowsResponse(flow=make_flow(20, "shop/web-1", "shop/db-0")))
    first = await collect(stream, 1)
    assert first[0].time == 1_700_000_020.0

    port = server.port
    await server.stop()
    # While it is gone, the new server gets flows the client must not miss, and old ones it must not repeat.
    replacement = ObserverServer(
        [
            make_flow(20, "shop/web-1", "shop/db-0"),
            make_flow(21, "shop/web-1", "shop/db-0"),
            make_flow(22, "shop/api-0", "shop/db-0"),
        ]
    )
    restart = asyncio.get_running_loop().call_later(0.3, lambda: asyncio.ensure_future(replacement.start(port)))
    try:
        resumed = await collect(stream, 2, timeout=10)
    finally:
        restart.cancel()
        await stream.aclose()
        if replacement.server:
            await replacement.stop()
    assert [f.time for f in resumed] == [1_700_000_021.0, 1_700_000_022.0]
    assert relay.reconnects >= 1
    resume_request = replacement.requests[-1]
    assert resume_request.HasField("since") and resume_request.follow


async def test_not_following_and_no_server_is_a_clear_error(server):
    port = server.port
    await server.stop()
    relay = HubbleRelay(f"127.0.0.1:{port}")
    with pytest.raises(HubbleUnavailable, match="UNAVAILABLE"):
        [i async for i in relay.flows(follow=False, first=5)]
    await server.start(port)  # the fixture stops it again


async def test_following_gives_up_after_max_attempts(server):
    port = server.port
    await server.stop()
    relay = HubbleRelay(f"127.0.0.1:{port}", backoff=Backoff(initial=0.01, maximum=0.02), max_attempts=2)
    with pytest.raises(HubbleUnavailable, match="after 2 attempts"):
        [i async for i in relay.flows(follow=True)]
    assert relay.reconnects == 2
    await server.start(port)


def test_non_loopback_relay_is_refused_in_loopback_only_mode():
    with pytest.raises(PermanentError, match="only loopback"):
        HubbleRelay("10.0.0.5:4245")
