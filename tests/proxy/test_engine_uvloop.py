"""The same engine on uvloop, the loop the server process runs (its transports differ).

These tests run their own ``asyncio.Runner`` on uvloop rather than pytest-asyncio's loop,
so the rest of ``tests/proxy`` keeps the default loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import uvloop

from tests.proxy.conftest import (
    HOST,
    REVISION,
    Proxies,
    Seen,
    UpstreamConn,
    Upstreams,
    get,
    post,
    wait_for_condition,
)
from zeroserve.clock import FakeClock
from zeroserve.proxy.limits import ProxyLimits

Scenario = Callable[[Proxies, Upstreams], Awaitable[None]]


def on_uvloop(scenario: Scenario) -> Callable[[], None]:
    def test() -> None:
        async def main() -> None:
            assert type(asyncio.get_running_loop()).__module__.startswith("uvloop")
            proxies, upstreams = Proxies(), Upstreams()
            try:
                await asyncio.wait_for(scenario(proxies, upstreams), 30)
            finally:
                await proxies.close()
                await upstreams.close()

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main())

    test.__name__ = test.__qualname__ = scenario.__name__  # (not wraps: no fixtures wanted)
    return test


@on_uvloop
async def test_engine_uvloop_warm_path_and_pipelining(proxies: Proxies, ups: Upstreams) -> None:
    up = await ups.make()
    proxy = await proxies.make(up)
    c = await proxy.client()
    await c.send(b"".join(post(b"p%d" % i, b"/%d" % i) for i in range(16)))
    for i in range(16):
        assert (await c.response()).body == b"POST /%d %d" % (i, len(b"p%d" % i))
    assert len(up.conns) == 1


@on_uvloop
async def test_engine_uvloop_held_then_timeout(proxies: Proxies, ups: Upstreams) -> None:
    up = await ups.make()
    clock = FakeClock()
    proxy = await proxies.make(up, clock=clock, endpoints=False, route_timeout=10.0)
    proxy.tracker.set_endpoints(REVISION, [])
    a, b = await proxy.client(), await proxy.client()
    await a.send(get(b"/a"))
    await wait_for_condition(lambda: proxy.counters.held == 1)
    proxy.tracker.set_endpoints(REVISION, [up.endpoint])
    assert (await a.response()).status == 200
    proxy.tracker.set_endpoints(REVISION, [])
    await b.send(get(b"/b"))
    await wait_for_condition(lambda: proxy.counters.held == 1)
    await clock.advance(10.1)
    assert (await b.response()).status == 504


@on_uvloop
async def test_engine_uvloop_backpressure(proxies: Proxies, ups: Upstreams) -> None:
    size = 16 * 1024 * 1024

    async def big(req: Seen, w: asyncio.StreamWriter, conn: UpstreamConn) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        block = b"u" * (1 << 20)
        for _ in range(size >> 20):
            w.write(block)
            await w.drain()

    proxy = await proxies.make(await ups.make(big))
    c = await proxy.client()
    await c.send(get())
    await asyncio.wait_for(c.reader.readuntil(b"\r\n\r\n"), 5)
    peak, got = 0, 0
    while got < size:
        got += len(await asyncio.wait_for(c.reader.read(256 * 1024), 5))
        peak = max(peak, proxy.server.buffered_bytes())
        await asyncio.sleep(0.002)
    assert 0 < peak <= 2 * ProxyLimits().high_watermark


@on_uvloop
async def test_engine_uvloop_websocket_and_errors(proxies: Proxies, ups: Upstreams) -> None:
    async def ws(req: Seen, w: asyncio.StreamWriter, conn: UpstreamConn) -> bool:
        w.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        )
        while data := await conn.reader.read(65536):
            w.write(data[::-1])
        return True

    proxy = await proxies.make(await ups.make(ws))
    c = await proxy.client()
    await c.send(get(extra=b"Connection: upgrade\r\nUpgrade: websocket\r\n"))
    assert (await c.response()).status == 101
    await c.send(b"abc")
    assert await asyncio.wait_for(c.reader.readexactly(3), 5) == b"cba"
    bad = await proxy.client()
    await bad.send(
        b"POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx" % HOST
    )
    resp = await bad.response()
    assert resp.status == 400 and await bad.is_closed()
