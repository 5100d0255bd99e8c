"""The pieces together as the all-in-one process wires them: one store, one tracker, one
engine; a first request to a revision at zero is held, poked, answered with its revision
and cold-start headers once endpoints arrive, and reported once."""

from __future__ import annotations

import asyncio
import random
import re
import time

from activator.poker import Poker
from gateway.routing_state import RoutingState
from tests.proxy.conftest import Client, Upstream, get, wait_for_condition
from zeroserve.capacity.tracker import CapacityTracker
from zeroserve.clock import FakeClock
from zeroserve.config.scaling import RouteMode
from zeroserve.dataplane.cold_start import ColdStartRecorder
from zeroserve.dataplane.endpoints_feed import EndpointsFeed
from zeroserve.dataplane.reporter import StatsReporter, tracker_in_flight
from zeroserve.proxy.server import ProxyServer
from zeroserve.runtime.base import ReplicaEvent
from zeroserve.store import EndpointSet, MemoryStore, RevisionRoute, RouteTable, ServiceRoute

REV = "iris-predictor-00001"


async def test_first_request_to_a_revision_at_zero() -> None:
    clock = FakeClock(2000.0)
    store = MemoryStore()
    pokes = await store.pokes()
    upstream = await Upstream().start()
    routing = RoutingState(rng=random.Random(1))
    cold = ColdStartRecorder()
    await store.publish_routes(
        RouteTable(
            1,
            (ServiceRoute("default", "iris", (), ()),),  # first deploy: nothing ready, 0 %
            (RevisionRoute(REV, 60.0, 0, RouteMode.PROXY, service="iris", namespace="default"),),
        )
    )
    await store.publish_endpoints(EndpointSet(REV, 1))  # known, zero replicas
    async with Poker(store, clock) as poker:
        tracker = CapacityTracker(clock, on_wait=poker)
        server = ProxyServer(routing, tracker, clock, held_response_headers=cold.header)
        async with EndpointsFeed(store, tracker, clock, route_sinks=[routing.apply]) as feed:
            assert routing.version == 1
            await server.start()
            async with StatsReporter(
                store,
                server.stats,
                clock,
                "all-in-one",
                lambda: feed.version,
                in_flight_of=tracker_in_flight(tracker),
            ):
                client = await Client.connect(server.port)
                await client.send(get(b"/v1/models/iris:predict", b"iris.default.localhost"))
                poke = await asyncio.wait_for(pokes.__anext__(), 5.0)
                assert poke.revision == REV
                # what the controller and the runtime would do next
                cold.decided(REV)
                cold.on_replica_event(ReplicaEvent("spawned", REV, f"{REV}-1", time.monotonic()))
                cold.on_replica_event(ReplicaEvent("ready", REV, f"{REV}-1", time.monotonic()))
                await store.publish_endpoints(EndpointSet(REV, 2, ready=(upstream.endpoint,)))
                response = await client.response()
                assert response.status == 200
                assert response.header(b"zeroserve-revision") == REV.encode()
                phases = response.header(b"zeroserve-cold-start") or b""
                assert re.fullmatch(
                    rb"queued=0\.0ms; decision=[\d.]+ms; spawn=[\d.]+ms; ready=[\d.]+ms; "
                    rb"first-byte=[\d.]+ms",
                    phases,
                ), phases
                assert upstream.requests[0].header(b"kserve-isvc-name") == b"iris"
                await wait_for_condition(lambda: server.stats.revision(REV).in_flight == 0)
                await clock.advance(1.0)
                await client.close()
            await server.close()
    batch, _ = await store.read_stats()
    (sample,) = batch.samples
    assert (sample.revision, sample.stats.requests, sample.stats.status_2xx) == (REV, 1, 1)
    assert [h.route_version for h in batch.heartbeats] == [1, 1]
    assert batch.heartbeats[-1].leaving
    assert poker.sent == 1
    await upstream.close()
    await store.close()
