"""The listening side: accept connections, sweep socket timeouts, drain on close.

Socket timeouts (header read, idle keep-alive, pool idle) are checked by one periodic
sweep on the loop's real-time timer instead of a timer per request; the per-request
timeout that users configure runs on the injected Clock (see ``exchange.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from types import TracebackType

from zeroserve.capacity.lease import CapacityProvider
from zeroserve.clock import Clock
from zeroserve.proxy.client import ClientConnection
from zeroserve.proxy.engine import Engine, HeldHeaders
from zeroserve.proxy.limits import ProxyLimits
from zeroserve.proxy.routing import Router
from zeroserve.proxy.stats import ProxyStats


class ProxyServer:
    def __init__(
        self,
        router: Router,
        capacity: CapacityProvider,
        clock: Clock,
        limits: ProxyLimits = ProxyLimits(),  # noqa: B008 - frozen, so sharing is safe
        held_response_headers: HeldHeaders | None = None,
    ) -> None:
        """``held_response_headers(revision, queued_at, leased_at)`` (``time.monotonic()``
        seconds) is called while the response head of a request that waited for capacity
        is written, and returns extra header lines for it (the cold-start phases); it
        costs the warm path nothing."""
        self.router = router
        self.capacity = capacity
        self.clock = clock
        self.limits = limits
        self.held_response_headers = held_response_headers
        self.stats = ProxyStats()
        self.port = 0
        self._engine: Engine | None = None
        self._server: asyncio.AbstractServer | None = None
        self._sweep: asyncio.TimerHandle | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the proxy server is not started")
        return self._engine

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen; returns the bound port."""
        loop = asyncio.get_running_loop()
        engine = self._engine = Engine(
            self.router,
            self.capacity,
            self.clock,
            self.limits,
            loop,
            self.stats,
            self.held_response_headers,
        )
        self._server = await loop.create_server(
            lambda: ClientConnection(engine),
            host,
            port,
            backlog=self.limits.backlog,
            reuse_address=True,
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._sweep = loop.call_later(self.limits.sweep_interval, self._tick)
        return self.port

    def _tick(self) -> None:
        engine = self.engine
        now = engine.loop.time()
        for conn in list(engine.connections):
            conn.check_deadline(now)
        engine.pool.sweep(now)
        self._sweep = engine.loop.call_later(self.limits.sweep_interval, self._tick)

    async def close(self, drain_timeout: float = 0.0) -> None:
        """Stop accepting, close idle keep-alives, let in-flight exchanges finish with
        ``Connection: close`` for up to ``drain_timeout`` seconds, then cut the rest."""
        engine, server = self._engine, self._server
        if engine is None or server is None:
            return
        self._server = None  # a second close returns at once
        server.close()
        engine.draining = True
        for conn in list(engine.connections):
            conn.begin_drain()
        if engine.connections and drain_timeout > 0:
            event = engine.idle_event = asyncio.Event()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(event.wait(), drain_timeout)
        for conn in list(engine.connections):
            conn.abort()
        engine.pool.close()
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        await server.wait_closed()
        await asyncio.sleep(0)  # let connection_lost callbacks of the aborts run

    async def __aenter__(self) -> ProxyServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- observation (cheap, for collectors and tests) ----------------------------------

    def buffered_bytes(self) -> int:
        """Bytes the engine holds right now: held bodies and unsent write buffers."""
        if self._engine is None:
            return 0
        return sum(conn.buffered() for conn in self._engine.connections)

    def sample_buffered(self) -> int:
        """Refresh each revision's ``buffered_bytes`` gauge; returns the total."""
        for counters in self.stats.revisions.values():
            counters.buffered_bytes = 0
        total = 0
        if self._engine is None:
            return 0
        for conn in self._engine.connections:
            held = conn.buffered()
            total += held
            ex = conn.queue[0] if conn.queue else None
            if held and ex is not None and ex.route is not None:
                ex.counters.buffered_bytes += held
        return total

    def idle_upstream_connections(self) -> int:
        return 0 if self._engine is None else self._engine.pool.idle()

    @property
    def connections(self) -> int:
        return 0 if self._engine is None else len(self._engine.connections)


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop's loop when installed (the server process should use it), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.new_event_loop
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory
