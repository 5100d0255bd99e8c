"""A proxy on a FakeClock in front of an in-process upstream whose answers a test releases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from tests.proxy.conftest import Client, Seen, Upstream, UpstreamConn
from zeroserve.capacity.tracker import CapacityTracker
from zeroserve.clock import FakeClock
from zeroserve.proxy.engine import HeldHeaders
from zeroserve.proxy.routing import Route, StaticRouter
from zeroserve.proxy.server import ProxyServer
from zeroserve.proxy.stats import RevisionCounters

HOST = b"svc.example.com"
REVISION = "svc-00001"


class Gate:
    """Upstream handler that answers each request only once the test opens the gate."""

    def __init__(self) -> None:
        self.open = asyncio.Event()

    async def __call__(self, req: Seen, w: asyncio.StreamWriter, conn: UpstreamConn) -> None:
        await self.open.wait()
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


@dataclass
class Rig:
    server: ProxyServer
    tracker: CapacityTracker
    clock: FakeClock
    upstream: Upstream
    clients: list[Client]

    @property
    def counters(self) -> RevisionCounters:
        return self.server.stats.revision(REVISION)

    async def client(self) -> Client:
        client = await Client.connect(self.server.port)
        self.clients.append(client)
        return client


@asynccontextmanager
async def rig(
    *,
    gate: Gate | None = None,
    ready: bool = True,
    hook: HeldHeaders | None = None,
    clock: FakeClock | None = None,
    tracker: CapacityTracker | None = None,
) -> AsyncIterator[Rig]:
    clock = clock or FakeClock()
    upstream = await (Upstream(gate) if gate is not None else Upstream()).start()
    tracker = tracker or CapacityTracker(clock)
    tracker.set_endpoints(REVISION, [upstream.endpoint] if ready else [])
    server = ProxyServer(
        StaticRouter({HOST: Route(REVISION, 60.0)}),
        tracker,
        clock,
        held_response_headers=hook,
    )
    await server.start()
    r = Rig(server, tracker, clock, upstream, [])
    try:
        yield r
    finally:
        if gate is not None:
            gate.open.set()
        for client in r.clients:
            await client.close()
        await server.close()
        await upstream.close()
