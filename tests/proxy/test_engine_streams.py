"""Byte-level behaviour: partial reads, trailers, resets, pooling, streaming, websockets."""

from __future__ import annotations

import asyncio
import socket
import struct

import aiohttp
from aiohttp import web

from tests.proxy.conftest import (
    HOST,
    REVISION,
    Client,
    ProxyFactory,
    Seen,
    Upstream,
    UpstreamConn,
    UpstreamFactory,
    get,
    post,
    read_chunked,
    read_head,
    wait_for_condition,
)


async def send_bytewise(c: Client, data: bytes) -> None:
    sock = c.writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(len(data)):
        c.writer.write(data[i : i + 1])
        await c.writer.drain()
        await asyncio.sleep(0.0005)  # one segment per byte, so one read per byte


async def test_engine_partial_reads_byte_by_byte(
    make_proxy: ProxyFactory, make_upstream: UpstreamFactory
) -> None:
    async def bytewise(req: Seen, w: asyncio.StreamWriter, conn: UpstreamConn) -> None:
        body = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Slow: 1\r\n\r\n"
        body += b"5\r\nhello\r\n7\r\n, world\r\n0\r\nX-Sum: 12\r\n\r\n"
        for i in range(len(body)):
            w.write(body[i : i + 1])
            await w.drain()
            await asyncio.sleep(0.0005)

    up = await make_upstream(bytewise)
    proxy = await make_proxy(up)
    c = await proxy.client()
    request = (
        b"POST /bytes HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\nX-Kept: 1\r\n\r\n"
        b"3\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Checksum: 7\r\n\r\n" % HOST
    )
    await send_bytewise(c, request)
    resp = await c.response()
    assert (resp.status, resp.body, resp.trailers) == (200, b"hello, world", [(b"X-Sum", b"12")])
    seen = up.requests[0]
    assert (seen.target, seen.body) == (b"/bytes", b"abcdefg")
    assert seen.trailers == [(b"X-Checksum", b"7")] and seen.header(b"x-kept") == b"1"
    await send_bytewise(c, get(b"/again"))  # and the connection is still in step
    assert (await c.response()).status == 200


async def test_engine_chunked_with_trailers(
    make_proxy: ProxyFactory, make_upstream: UpstreamFactory
) -> None:
    async def trailing(req: Seen, w: asyncio.StreamWriter, conn: UpstreamConn) -> None:
        w.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: grpc-status\r\n\r\n"
            b"4;ext=1\r\ndata\r\n0\r\ngrpc-status: 0\r\nSet-Cookie: late=1\r\n\r\n"
        )

    up = await make_upstream(trailing)
    proxy = await make_proxy(up)
    c = await proxy.client()
    await c.send(
        b"POST / HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\nhi\r\n0\r\nX-Req-Trailer: yes\r\nHost: evil\r\n\r\n" % HOST
    )
    resp = await c.response()
    assert resp.body == b"data" and resp.header(b"trailer") == b"grpc-status"
    assert resp.trailers == [(b"grpc-status", b"0")]  # framing fields never pass as trailers
    assert up.requests[0].trailers == [(b"X-Req-Trailer", b"yes")]
    # HTTP/1.0 clients get the body close-delimited, without trailers.
    old = await proxy.client()
    await old.send(b"GET / HTTP/1.0\r\nHost: %s\r\n\r\n" % HOST)
    raw = await old.read_to_close()
    assert raw.endswith(b"\r\n\r\ndata") and b"grpc-status: 0" not in raw


async def test_engine_upstream_reset_mid_body(
    make_proxy: ProxyFactory, make_upstream: UpstreamFactory
) -> None:
    async def resets(req: Seen, w: asyncio.StreamWriter, conn: UpstreamConn) -> bool:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"r" * 1000)
        await w.drain()
        sock = w.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return True

    up = await make_upstream(resets)
    proxy = await make_proxy(up)
    c = await proxy.client()
    await c.send(get())
    head = await asyncio.wait_for(read_head(c.reader), 5)
    assert head.startswith(b"HTTP/1.1 200")
    try:
        rest = await c.read_to_close()
    except ConnectionResetError:
        rest = b""
    assert len(rest) < 1000000  # the client sees a broken response, never a complete one
    await wait_for_condition(lambda: proxy.counters.in_flight == 0)
    assert proxy.tracker.in_flight(REVISION) == 0


async def test_engine_pooled_connection_closed_before_reuse(
    make_proxy: ProxyFactory, make_upstream: UpstreamFactory
) -> None:
    async def then_close(req: Seen, w: asyncio.StreamWriter, conn: UpstreamConn) -> bool:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await w.drain()
        await asyncio.sleep(0.05)
        return True  # an idle close, as a server's keep-alive timeout does

    up = await make_upstream(then_close)
    proxy = await make_proxy(up)
    c = await proxy.client()
    await c.send(get())
    assert (await c.response()).status == 200
    await asyncio.wait_for(up.conns[0].closed.wait(), 5)
    await wait_for_condition(lambda: proxy.server.idle_upstream_connections() == 0)
    await c.send(get())
    assert (await c.response()).status == 200
    assert [r.conn_id for r in up.requests] == [0, 1]  # no retry was needed


async def test_engine_head_then_get_on_one_upstream_connection(
    make_proxy: ProxyFactory, make_upstream: UpstreamFactory
) -> None:
    async def head_aware(req: Seen, w: asyncio.StreamWriter, conn: UpstreamConn) -> None:
        if req.method == b"HEAD" and req.target == b"/rude":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nrude")  # a body it must not send
        elif req.method == b"HEAD":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n")
        else:
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody")

    up = await make_upstream(head_aware)
    proxy = await make_proxy(up)
    c = await proxy.client()
    await c.send(b"HEAD / HTTP/1.1\r\nHost: %s\r\n\r\n" % HOST + get())
    first = await c.response(head_request=True)
    second = await c.response()
    assert (first.status, first.header(b"content-length"), first.body) == (200, b"4", b"")
    assert second.body == b"body"
    assert [r.conn_id for r in up.requests] == [0, 0]
    await c.send(b"HEAD /rude HTTP/1.1\r\nHost: %s\r\n\r\n" % HOST)
    assert (await c.response(head_request=True)).status == 200
    await c.send(get())
    assert (await c.response()).body == b"body"  # the rude connection was not reused
    assert up.requests[-1].conn_id != up.requests[-2].conn_id


async def test_engine_streams_without_buffering(
    make_proxy: ProxyFactory, make_upstream: UpstreamFactory
) -> None:
    step = asyncio.Event()
    got_part = asyncio.Event()

    async def drip(req: Seen, w: asyncio.StreamWriter, conn: UpstreamConn) -> bool:
        if req.method == b"POST":
            first = await conn.reader.readexactly(5)
            got_part.set()
            rest = await conn.reader.readexactly(5)
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" + first + rest)
            return False
        w.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\n")
        await w.drain()
        await step.wait()
        w.write(b"data: 2\n\n")
        return True  # the end of a close-delimited stream

    up = await make_upstream(drip, read_body=False)
    proxy = await make_proxy(up)
    c = await proxy.client()
    await c.send(get(b"/events"))
    head = await asyncio.wait_for(read_head(c.reader), 5)
    assert b"transfer-encoding: chunked" in head.lower()
    first = await asyncio.wait_for(c.reader.readuntil(b"data: 1\n\n\r\n"), 5)
    assert first.endswith(b"data: 1\n\n\r\n")  # relayed before the next event exists
    step.set()
    body, _ = await asyncio.wait_for(read_chunked(c.reader), 5)
    assert body == b"data: 2\n\n"
    c = await proxy.client()
    await c.send(b"POST /up HTTP/1.1\r\nHost: %s\r\nContent-Length: 10\r\n\r\nfirst" % HOST)
    await asyncio.wait_for(got_part.wait(), 5)  # the upstream has half before the rest exists
    await c.send(b"after")
    assert (await c.response()).body == b"firstafter"


async def test_engine_early_response_drops_the_rest_of_the_body(
    make_proxy: ProxyFactory, make_upstream: UpstreamFactory
) -> None:
    async def early(req: Seen, w: asyncio.StreamWriter, conn: UpstreamConn) -> None:
        w.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno")

    up = await make_upstream(early, read_body=False)
    proxy = await make_proxy(up)
    c = await proxy.client()
    await c.send(b"POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: 100000\r\n\r\n" % HOST)
    resp = await c.response()
    assert (resp.status, resp.body) == (403, b"no")
    await c.send(b"x" * 100000)  # the rest of that body is read and dropped
    await c.send(get(b"/next"))
    assert (await c.response()).status == 403
    assert proxy.counters.responses_4xx == 2


async def test_engine_http10_keep_alive_and_stats(
    make_proxy: ProxyFactory, upstream: Upstream
) -> None:
    proxy = await make_proxy(upstream)
    c = await proxy.client()
    await c.send(b"GET / HTTP/1.0\r\nHost: %s\r\nConnection: keep-alive\r\n\r\n" % HOST)
    resp = await c.response()
    assert resp.header(b"connection") == b"keep-alive"
    await c.send(b"GET / HTTP/1.0\r\nHost: %s\r\n\r\n" % HOST)
    resp = await c.response()
    assert resp.header(b"connection") == b"close" and await c.is_closed()
    counters = proxy.counters
    assert (counters.requests, counters.responses_2xx, counters.in_flight) == (2, 2, 0)
    assert proxy.server.stats.connections_total >= 1
    assert proxy.server.sample_buffered() == 0 and counters.buffered_bytes == 0


async def test_engine_websocket_with_aiohttp(make_proxy: ProxyFactory) -> None:
    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str(msg.data[::-1])
            elif msg.type == aiohttp.WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/ws", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        from zeroserve.capacity.lease import Endpoint

        proxy = await make_proxy(Endpoint("127.0.0.1", port, "ws-replica"))
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{proxy.port}/ws"
            async with session.ws_connect(url, headers={"Host": HOST.decode()}) as ws:
                await ws.send_str("hello")
                assert (await asyncio.wait_for(ws.receive_str(), 5)) == "olleh"
                blob = bytes(range(256)) * 2000
                await ws.send_bytes(blob)
                assert (await asyncio.wait_for(ws.receive_bytes(), 5)) == blob
                assert proxy.counters.in_flight == 1
        await wait_for_condition(lambda: proxy.counters.in_flight == 0)
        assert proxy.tracker.in_flight(REVISION) == 0
    finally:
        await runner.cleanup()


async def test_engine_pipelined_bodies_are_held_in_order(
    make_proxy: ProxyFactory, upstream: Upstream
) -> None:
    proxy = await make_proxy(upstream)
    c = await proxy.client()
    chunked = (
        b"POST /c HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\n" % HOST
    )
    await c.send(post(b"x" * 100_000, b"/a") + chunked + post(b"yz", b"/b") + get(b"/d"))
    bodies = [(await c.response()).body for _ in range(4)]
    assert bodies == [b"POST /a 100000", b"POST /c 3", b"POST /b 2", b"GET /d 0"]
    assert [r.body[:3] for r in upstream.requests] == [b"xxx", b"abc", b"yz", b""]
