"""What every connection of one proxy shares: plug-ins, limits, pool, counters, buffer.

One read buffer serves every socket of the engine: a read is parsed (and copied where
kept) before the loop reads another socket, so no connection holds a buffer while idle.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from zeroserve.capacity.lease import CapacityProvider
from zeroserve.clock import Clock, RealClock
from zeroserve.proxy.deadlines import Deadlines
from zeroserve.proxy.limits import ProxyLimits
from zeroserve.proxy.pool import UpstreamPool
from zeroserve.proxy.routing import Router
from zeroserve.proxy.stats import ProxyStats

if TYPE_CHECKING:
    from zeroserve.proxy.client import ClientConnection

# (revision, queued_at, leased_at) in time.monotonic() seconds → complete header lines
# b"Name: value\r\n" added to the response head of a request that waited for capacity.
HeldHeaders = Callable[[str, float, float], bytes]


class Engine:
    __slots__ = (
        "capacity",
        "clock",
        "connections",
        "deadlines",
        "draining",
        "held_headers",
        "idle_event",
        "limits",
        "loop",
        "now",
        "pool",
        "read_buffer",
        "read_view",
        "router",
        "stats",
    )

    def __init__(
        self,
        router: Router,
        capacity: CapacityProvider,
        clock: Clock,
        limits: ProxyLimits,
        loop: asyncio.AbstractEventLoop,
        stats: ProxyStats,
        held_headers: HeldHeaders | None = None,
    ) -> None:
        self.router = router
        self.capacity = capacity
        self.clock = clock
        # The Clock's now, read on the hot path where in_flight changes: RealClock.now is
        # time.time, so call that directly and save a Python frame per read.
        self.now: Callable[[], float] = time.time if type(clock) is RealClock else clock.now
        self.limits = limits
        self.loop = loop
        self.stats = stats
        self.pool = UpstreamPool(loop)
        self.deadlines = Deadlines(clock)
        self.read_buffer = bytearray(limits.read_size)
        self.read_view = memoryview(self.read_buffer)
        self.connections: set[ClientConnection] = set()
        self.draining = False
        self.idle_event: asyncio.Event | None = None  # set when the last connection goes
        self.held_headers = held_headers

    def connection_gone(self, conn: ClientConnection) -> None:
        self.connections.discard(conn)
        self.stats.connections_open -= 1
        if not self.connections and self.idle_event is not None:
            self.idle_event.set()
