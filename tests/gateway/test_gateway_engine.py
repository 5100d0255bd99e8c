"""The engine routing through a RoutingState: KServe headers upstream, the revision header
downstream, and a table swap between two requests on one keep-alive connection."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest

from gateway.routing_state import RoutingState
from tests.proxy.conftest import Client, Upstream, get
from zeroserve.capacity.tracker import CapacityTracker
from zeroserve.clock import RealClock
from zeroserve.config.scaling import RouteMode
from zeroserve.proxy.server import ProxyServer
from zeroserve.store.routes import RevisionRoute, RouteTable, ServiceRoute, TrafficTarget

V1, V2 = "iris-predictor-00001", "iris-predictor-00002"


def table(version: int, revision: str) -> RouteTable:
    return RouteTable(
        version,
        (ServiceRoute("default", "iris", (), (TrafficTarget(revision, 100),)),),
        tuple(
            RevisionRoute(r, 30.0, 0, RouteMode.SERVE, service="iris", namespace="default")
            for r in (V1, V2)
        ),
    )


@pytest.fixture
async def upstreams() -> AsyncIterator[tuple[Upstream, Upstream]]:
    a, b = await Upstream().start(), await Upstream().start()
    yield a, b
    await a.close()
    await b.close()


async def test_gateway_routes_with_the_current_table(
    upstreams: tuple[Upstream, Upstream],
) -> None:
    up1, up2 = upstreams
    clock = RealClock()
    tracker = CapacityTracker(clock)
    tracker.set_endpoints(V1, [up1.endpoint])
    tracker.set_endpoints(V2, [up2.endpoint])
    state = RoutingState(rng=random.Random(1))
    state.apply(table(1, V1))
    server = ProxyServer(state, tracker, clock)
    port = await server.start()
    client = await Client.connect(port)
    try:
        await client.send(get(b"/v1/models/iris:predict", b"iris.default.localhost:8080"))
        first = await client.response()
        assert first.status == 200
        assert first.header(b"zeroserve-revision") == V1.encode()
        seen = up1.requests[0]
        assert seen.header(b"KServe-Isvc-Name") == b"iris"
        assert seen.header(b"KServe-Isvc-Namespace") == b"default"

        state.apply(table(2, V2))  # the same engine, the same connection, a new table
        await client.send(get(b"/", b"IRIS-predictor.default.example.com"))
        second = await client.response()
        assert second.header(b"zeroserve-revision") == V2.encode()
        assert len(up2.requests) == 1 and len(up1.requests) == 1

        await client.send(get(b"/", b"nobody.default.example.com"))
        assert (await client.response()).status == 404
    finally:
        await client.close()
        await server.close()
