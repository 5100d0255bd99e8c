"""DESIGN.md's hardening matrix: one test per row, raw sockets against the engine."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time

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
    wait_for_condition,
)
from zeroserve.capacity.lease import Endpoint
from zeroserve.clock import FakeClock
from zeroserve.proxy import framing
from zeroserve.proxy.limits import ProxyLimits
from zeroserve.proxy.routing import Route


def error_of(body: bytes) -> str:
    doc = json.loads(body)
    assert list(doc) == ["error"]
    return str(doc["error"])


async def refused(proxy_port: int, raw: bytes, status: int) -> str:
    """Send ``raw``; expect ``status`` with Connection: close, then the close."""
    c = await Client.connect(proxy_port)
    await c.send(raw)
    resp = await c.response()
    assert resp.status == status, (raw[:80], resp.status, resp.body)
    assert resp.header(b"connection") == b"close"
    assert await c.is_closed()
    return error_of(resp.body)


async def test_matrix_oversized_head(make_proxy: ProxyFactory, upstream: Upstream) -> None:
    proxy = await make_proxy(upstream)
    long_line = b"GET /" + b"a" * (8 * 1024) + b" HTTP/1.1\r\nHost: " + HOST + b"\r\n\r\n"
    assert "request line" in await refused(proxy.port, long_line, 414)
    big = b"".join(b"X-Big-%d: %s\r\n" % (i, b"v" * 1000) for i in range(33))
    assert "larger than" in await refused(proxy.port, get(extra=big), 431)
    many = b"".join(b"X-Many-%d: v\r\n" % i for i in range(100))  # + Host = 101 fields
    assert "more than 100" in await refused(proxy.port, get(extra=many), 431)
    # One header line that never ends is bounded by the bytes read, not by memory.
    endless = b"GET / HTTP/1.1\r\nHost: " + HOST + b"\r\nX-Endless: " + b"x" * 100_000
    await refused(proxy.port, endless, 431)
    # Right at the limits is fine.
    c = await proxy.client()
    await c.send(get(extra=b"".join(b"X-Many-%d: v\r\n" % i for i in range(99))))
    assert (await c.response()).status == 200
    assert len(upstream.requests) == 1


async def test_matrix_body_too_large(
    make_proxy: ProxyFactory, make_upstream: UpstreamFactory
) -> None:
    assert ProxyLimits().max_body == 100 * 1024 * 1024
    up = await make_upstream()
    default = await make_proxy(up)
    declared = b"POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n" % (
        HOST,
        100 * 1024 * 1024 + 1,
    )
    assert "larger than 104857600" in await refused(default.port, declared, 413)

    proxy = await make_proxy(up, limits=ProxyLimits(max_body=64 * 1024))
    # Chunked: counted while streaming, the 413 comes once the count passes the limit.
    c = await proxy.client()
    await c.send(b"POST / HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n" % HOST)
    chunk = b"%x\r\n%s\r\n" % (16 * 1024, b"c" * 16 * 1024)
    for _ in range(5):
        await c.send(chunk)
    resp = await c.response()
    assert resp.status == 413 and resp.header(b"connection") == b"close"
    assert await c.is_closed()
    assert up.requests == []  # the upstream never saw a complete request
    # Within the limit is fine (and counted the same way).
    c = await proxy.client()
    await c.send(post(b"x" * 64 * 1024))
    assert (await c.response()).status == 200


SMUGGLING = {
    "cl_and_te": b"POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: 5\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "two_cl": b"POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
    "te_gzip": b"POST / HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: gzip\r\n\r\nxx",
    "te_not_final_chunked": b"POST / HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked, gzip"
    b"\r\n\r\n0\r\n\r\n",
    "te_gzip_chunked": b"POST / HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: gzip, chunked"
    b"\r\n\r\n0\r\n\r\n",
    "two_te": b"POST / HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "bad_chunk_size": b"POST / HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"zz\r\nhello\r\n0\r\n\r\n",
    "chunk_size_overflow": b"POST / HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"fffffffffffffffff\r\n",
    "obs_fold": b"GET / HTTP/1.1\r\nHost: %s\r\nX-Folded: a\r\n b\r\n\r\n",
    "bare_lf_line": b"GET / HTTP/1.1\nHost: %s\r\n\r\n",
    "bare_lf_header": b"GET / HTTP/1.1\r\nHost: %s\nX: 1\r\n\r\n",
    "nul_in_value": b"GET / HTTP/1.1\r\nHost: %s\r\nX: a\x00b\r\n\r\n",
    "nul_in_target": b"GET /\x00 HTTP/1.1\r\nHost: %s\r\n\r\n",
    "space_before_colon": b"GET / HTTP/1.1\r\nHost: %s\r\nX-Y : 1\r\n\r\n",
    "negative_cl": b"POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: -1\r\n\r\n",
}


async def test_matrix_smuggling_shapes(make_proxy: ProxyFactory, upstream: Upstream) -> None:
    proxy = await make_proxy(upstream)
    for name, template in SMUGGLING.items():
        raw = template.replace(b"%s", HOST)
        message = await refused(proxy.port, raw, 400)
        assert message, name
    # The same shapes split over reads (head first, then the bad part) on a warm pool.
    c = await proxy.client()
    await c.send(get())
    assert (await c.response()).status == 200
    await c.send(
        b"POST / HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n" % HOST
    )
    await asyncio.sleep(0.05)
    await c.send(b"zz\r\n")
    resp = await c.response()
    assert resp.status == 400 and await c.is_closed()
    assert [r.method for r in upstream.requests] == [b"GET"]  # nothing smuggled through


async def test_matrix_host_rules(make_proxy: ProxyFactory, upstream: Upstream) -> None:
    proxy = await make_proxy(upstream)
    two = b"GET / HTTP/1.1\r\nHost: %s\r\nHost: other.example.com\r\n\r\n" % HOST
    assert "two Host" in await refused(proxy.port, two, 400)
    assert "without Host" in await refused(proxy.port, b"GET / HTTP/1.1\r\n\r\n", 400)
    absolute = b"GET http://other.example.com/x HTTP/1.1\r\nHost: %s\r\n\r\n" % HOST
    assert "another host" in await refused(proxy.port, absolute, 400)
    # Absolute-form naming the same host is served, as origin-form upstream.
    c = await proxy.client()
    await c.send(b"GET http://%s:80/x?y=1 HTTP/1.1\r\nHost: %s:80\r\n\r\n" % (HOST, HOST))
    assert (await c.response()).status == 200
    assert upstream.requests[-1].target == b"/x?y=1"
    # Host is routed lower-case with the port stripped; unknown hosts get a JSON 404.
    await c.send(get(host=b"SVC.Example.COM:8080"))
    assert (await c.response()).status == 200
    await c.send(get(host=b"nobody.example.com"))
    resp = await c.response()
    assert resp.status == 404 and "nobody.example.com" in error_of(resp.body)
    await c.send(get())
    assert (await c.response()).status == 200  # 404 keeps the connection
    assert len(upstream.requests) == 3
    assert proxy.server.stats.unrouted.responses_4xx == 4


async def test_matrix_connect_trace_h2c(make_proxy: ProxyFactory, upstream: Upstream) -> None:
    proxy = await make_proxy(upstream)
    connect = b"CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n" % (HOST, HOST)
    c = await proxy.client()
    await c.send(connect)
    resp = await c.response()
    assert resp.status == 405 and "CONNECT" in error_of(resp.body)
    assert await c.is_closed()
    c = await proxy.client()
    await c.send(b"TRACE / HTTP/1.1\r\nHost: %s\r\n\r\n" % HOST)
    resp = await c.response()
    assert resp.status == 405 and "TRACE" in error_of(resp.body)
    # h2c upgrade: stripped, answered as plain HTTP/1.1 on the same connection.
    h2c = b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQ\r\n"
    await c.send(get(b"/h2c", extra=h2c))
    resp = await c.response()
    assert resp.status == 200
    seen = upstream.requests[-1]
    assert seen.target == b"/h2c"
    for name in (b"upgrade", b"http2-settings", b"connection"):
        assert seen.header(name) is None, name
    # ... also with a body (llhttp skips an upgrade request's body; the engine does not).
    await c.send(post(b"payload", b"/h2c-body", extra=h2c))
    assert (await c.response()).status == 200
    assert upstream.requests[-1].body == b"payload"
    await c.send(get(b"/after"))
    assert (await c.response()).status == 200
    assert [r.target for r in upstream.requests] == [b"/h2c", b"/h2c-body", b"/after"]


async def test_matrix_header_and_idle_timeouts(
    make_proxy: ProxyFactory, upstream: Upstream
) -> None:
    assert (ProxyLimits().header_timeout, ProxyLimits().idle_timeout) == (10.0, 60.0)
    limits = ProxyLimits(header_timeout=0.3, idle_timeout=0.6)
    proxy = await make_proxy(upstream, limits=limits)
    slow = await proxy.client()
    started = time.monotonic()
    await slow.send(b"GET / HTTP/1.1\r\nHost: ")  # and nothing more
    resp = await slow.response()
    assert resp.status == 408 and resp.header(b"connection") == b"close"
    assert await slow.is_closed()
    assert 0.25 < time.monotonic() - started < 2.0
    # Idle keep-alive: closed quietly after idle_timeout, not after header_timeout.
    idle = await proxy.client()
    await idle.send(get())
    assert (await idle.response()).status == 200
    started = time.monotonic()
    assert await idle.read_to_close() == b""
    assert 0.5 < time.monotonic() - started < 2.0
    # A connection that never sends a byte is closed quietly too.
    mute = await proxy.client()
    assert await mute.read_to_close() == b""
    assert upstream.requests[0].target == b"/"


async def test_matrix_connect_failure(make_proxy: ProxyFactory, upstream: Upstream) -> None:
    dead = Endpoint("127.0.0.1", closed_port(), "dead-replica")
    proxy = await make_proxy(dead, upstream)
    for _ in range(6):  # whichever the tracker picks first, the live one answers
        c = await proxy.client()
        await c.send(get())
        assert (await c.response()).status == 200
    lone = await make_proxy(dead)
    c = await lone.client()
    await c.send(get())
    resp = await c.response()
    assert resp.status == 502 and "dead-replica" in error_of(resp.body)
    assert resp.header(b"connection") is None  # the client connection is still good
    # A replica that never completes the handshake: the 1 s (here 0.2 s) connect timeout.
    with blackhole() as port:
        slow = await make_proxy(
            Endpoint("127.0.0.1", port, "stuck-replica"),
            limits=ProxyLimits(connect_timeout=0.2),
        )
        c = await slow.client()
        started = time.monotonic()
        await c.send(get())
        resp = await c.response()
        assert resp.status == 502
        assert "stuck-replica" in error_of(resp.body) and "timed out" in error_of(resp.body)
        assert time.monotonic() - started < 2.0
    assert ProxyLimits().connect_timeout == 1.0


async def test_matrix_response_timeout(
    make_proxy: ProxyFactory, make_upstream: UpstreamFactory
) -> None:
    async def never(req: Seen, w: asyncio.StreamWriter, conn: UpstreamConn) -> bool:
        await conn.reader.read()  # no answer, until the proxy gives up on the connection
        return True

    up = await make_upstream(never)
    clock = FakeClock()
    proxy = await make_proxy(up, clock=clock, route_timeout=30.0)
    c = await proxy.client()
    await c.send(get())
    await up.wait_requests(1)
    await clock.advance(29.0)
    await asyncio.sleep(0.05)
    assert proxy.counters.in_flight == 1  # not yet
    await clock.advance(1.1)
    resp = await c.response()
    assert resp.status == 504 and REVISION in error_of(resp.body)
    assert "30s" in error_of(resp.body)
    await asyncio.wait_for(up.conns[0].closed.wait(), 5)  # that upstream is not reused
    assert proxy.server.idle_upstream_connections() == 0
    await c.send(get())  # the client connection carries on (the request was complete)
    await up.wait_requests(2)
    assert proxy.counters.responses_5xx == 1


async def test_matrix_upstream_fails_after_head(
    make_proxy: ProxyFactory, make_upstream: UpstreamFactory
) -> None:
    async def half(req: Seen, w: asyncio.StreamWriter, conn: UpstreamConn) -> bool:
        if req.target == b"/chunked":
            w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        else:
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
        await w.drain()
        return True  # and close

    up = await make_upstream(half)
    proxy = await make_proxy(up)
    c = await proxy.client()
    await c.send(get(b"/chunked"))
    raw = await c.read_to_close()
    assert raw.startswith(b"HTTP/1.1 200 OK") and b"5\r\nhello\r\n" in raw
    assert not raw.endswith(b"0\r\n\r\n")  # never a clean end
    c = await proxy.client()
    await c.send(get(b"/length"))
    raw = await c.read_to_close()
    assert raw.endswith(b"only ten b")  # 10 of 100 bytes, then the close


async def test_matrix_client_disconnect(
    make_proxy: ProxyFactory, make_upstream: UpstreamFactory
) -> None:
    eofs: list[int] = []

    async def waits_for_eof(req: Seen, w: asyncio.StreamWriter, conn: UpstreamConn) -> bool:
        await asyncio.wait_for(conn.reader.read(), 5)  # returns when the proxy closes
        eofs.append(conn.conn_id)
        return True

    up = await make_upstream(waits_for_eof, read_body=True)
    proxy = await make_proxy(up)
    c = await proxy.client()
    await c.send(get())
    await up.wait_requests(1)
    await c.close()
    await wait_for_condition(lambda: eofs == [0])
    # Mid-body: the head went upstream, then the client resets.
    up.read_body = False
    c = await proxy.client()
    await c.send(b"POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000\r\n\r\n" % HOST + b"x" * 10)
    await up.wait_requests(2)
    c.reset()
    await wait_for_condition(lambda: eofs == [0, 1])
    await wait_for_condition(lambda: proxy.counters.in_flight == 0)
    assert proxy.server.idle_upstream_connections() == 0


async def test_matrix_stale_pooled_connection(
    make_proxy: ProxyFactory, make_upstream: UpstreamFactory
) -> None:
    served: dict[int, int] = {}

    async def second_request_dies(req: Seen, w: asyncio.StreamWriter, conn: UpstreamConn) -> bool:
        served[conn.conn_id] = served.get(conn.conn_id, 0) + 1
        if served[conn.conn_id] == 2:
            sock = w.get_extra_info("socket")
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            return True  # reset without a byte of response: the keep-alive race
        body = b"%s:%d" % (req.method, len(req.body))
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        return False

    up = await make_upstream(second_request_dies)
    proxy = await make_proxy(up)
    c = await proxy.client()
    for request, expected in (
        (get(), b"GET:0"),  # warms the pool
        (get(), b"GET:0"),  # stale: retried on a fresh connection
        (post(b"small"), b"POST:5"),  # stale again; the whole body is held: retried
    ):
        await c.send(request)
        resp = await c.response()
        assert (resp.status, resp.body) == (200, expected)
    assert len(up.conns) == 3
    await c.send(post(b"b" * (100 * 1024)))  # stale, and the body was not all kept
    resp = await c.response()
    assert resp.status == 502 and f"replica-{up.port}" in error_of(resp.body)


async def test_matrix_bodyless_responses(
    make_proxy: ProxyFactory, make_upstream: UpstreamFactory
) -> None:
    async def by_target(req: Seen, w: asyncio.StreamWriter, conn: UpstreamConn) -> None:
        if req.method == b"HEAD":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/plain\r\n\r\n")
        elif req.target == b"/early":
            w.write(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n")
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        elif req.target == b"/204":
            w.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        elif req.target == b"/304":
            w.write(b'HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\nETag: "e"\r\n\r\n')
        else:
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody")

    up = await make_upstream(by_target)
    proxy = await make_proxy(up)
    c = await proxy.client()
    await c.send(b"HEAD / HTTP/1.1\r\nHost: %s\r\n\r\n" % HOST)
    resp = await c.response(head_request=True)
    assert resp.status == 200 and resp.header(b"content-length") == b"1000"
    await c.send(get(b"/plain"))  # the same client and upstream connections stay in step
    resp = await c.response()
    assert (resp.status, resp.body) == (200, b"body")
    await c.send(get(b"/early"))
    interim, resp = await c.final_response()
    assert interim == [103] and (resp.status, resp.body) == (200, b"ok")
    await c.send(get(b"/204"))
    assert (await c.response()).status == 204
    await c.send(get(b"/304"))
    resp = await c.response()
    assert resp.status == 304 and resp.header(b"etag") == b'"e"'
    await c.send(get(b"/plain"))
    assert (await c.response()).body == b"body"
    assert len(up.conns) == 1  # all on one pooled upstream connection, HEAD included


async def test_matrix_close_delimited_response(
    make_proxy: ProxyFactory, make_upstream: UpstreamFactory
) -> None:
    async def until_close(req: Seen, w: asyncio.StreamWriter, conn: UpstreamConn) -> bool:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello, ")
        await w.drain()
        w.write(b"world")
        return True

    up = await make_upstream(until_close)
    proxy = await make_proxy(up)
    c = await proxy.client()
    await c.send(get())
    resp = await c.response()
    assert resp.chunked and resp.body == b"hello, world"  # re-framed for HTTP/1.1
    await c.send(get())  # keep-alive to the client goes on
    assert (await c.response()).body == b"hello, world"
    assert len(up.conns) == 2  # the upstream connection is never pooled
    old = await proxy.client()
    await old.send(b"GET / HTTP/1.0\r\nHost: %s\r\nConnection: keep-alive\r\n\r\n" % HOST)
    raw = await old.read_to_close()
    assert raw.endswith(b"\r\n\r\nhello, world")  # close-delimited for HTTP/1.0
    assert b"transfer-encoding" not in raw.lower() and b"connection: close" in raw.lower()


async def test_matrix_expect_continue(make_proxy: ProxyFactory, upstream: Upstream) -> None:
    proxy = await make_proxy(upstream, endpoints=False)
    proxy.tracker.set_endpoints(REVISION, [])  # known, at zero
    c = await proxy.client()
    await c.send(
        b"POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n" % HOST
    )
    try:
        early = await asyncio.wait_for(c.reader.read(1), 0.3)
    except TimeoutError:
        early = b""
    assert early == b""  # no 100 while no replica is leased
    proxy.tracker.set_endpoints(REVISION, [upstream.endpoint])
    resp = await c.response()
    assert resp.status == 100
    await c.send(b"hello")
    resp = await c.response()
    assert (resp.status, resp.body) == (200, b"POST / 5")
    assert upstream.requests[0].header(b"expect") is None and upstream.requests[0].body == b"hello"


async def test_matrix_websocket_upgrade(
    make_proxy: ProxyFactory, make_upstream: UpstreamFactory
) -> None:
    async def ws(req: Seen, w: asyncio.StreamWriter, conn: UpstreamConn) -> bool:
        w.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        )
        while data := await conn.reader.read(65536):
            w.write(data.upper())
            await w.drain()
        return True

    up = await make_upstream(ws)
    proxy = await make_proxy(up, endpoints=False)
    proxy.tracker.set_endpoints(REVISION, [])  # held at zero like any request
    c = await proxy.client()
    await c.send(
        get(
            b"/ws",
            extra=b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: "
            b"dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
        )
    )
    await asyncio.sleep(0.1)
    assert up.requests == [] and proxy.counters.held == 1
    proxy.tracker.set_endpoints(REVISION, [up.endpoint])
    resp = await c.response()
    assert resp.status == 101 and resp.header(b"upgrade") == b"websocket"
    seen = up.requests[0]
    assert seen.header(b"upgrade") == b"websocket" and seen.header(b"connection") == b"upgrade"
    for word in (b"hello", b"x" * 200_000):
        await c.send(word)
        got = await asyncio.wait_for(c.reader.readexactly(len(word)), 5)
        assert got == word.upper()
    assert proxy.counters.in_flight == 1
    await c.close()
    await wait_for_condition(lambda: proxy.counters.in_flight == 0)
    # 101 only when the client asked for it.
    rogue = await make_proxy(await make_upstream(ws))
    c = await rogue.client()
    await c.send(get(b"/plain"))
    resp = await c.response()
    assert resp.status == 502


async def test_matrix_pipelining(make_proxy: ProxyFactory, upstream: Upstream) -> None:
    proxy = await make_proxy(upstream)
    c = await proxy.client()
    batch = b"".join(
        post(b"b%d" % i, b"/%d" % i) if i % 3 == 0 else get(b"/%d" % i) for i in range(16)
    )
    await c.send(batch)
    for i in range(16):
        resp = await c.response()
        assert resp.status == 200
        assert resp.body.split(b" ")[1] == b"/%d" % i  # in order
    assert len(upstream.requests) == 16
    # Deeper than 16 in one read: the first 16 are answered, the 16th closes.
    c = await proxy.client()
    await c.send(b"".join(get(b"/deep%d" % i) for i in range(20)))
    for i in range(16):
        resp = await c.response()
        assert resp.body.split(b" ")[1] == b"/deep%d" % i
    assert resp.header(b"connection") == b"close"
    assert await c.is_closed()
    assert len(upstream.requests) == 32


async def test_matrix_many_clients(make_proxy: ProxyFactory, upstream: Upstream) -> None:
    assert ProxyLimits().backlog == 4096
    proxy = await make_proxy(upstream)

    async def one(i: int) -> bytes:
        c = await proxy.client()
        await c.send(get(b"/c%d" % i))
        resp = await c.response()
        await c.close()
        return resp.body

    bodies = await asyncio.gather(*(one(i) for i in range(300)))
    assert sorted(bodies) == sorted(b"GET /c%d 0" % i for i in range(300))
    assert proxy.counters.responses_2xx == 300


async def test_matrix_slow_reader_and_slow_upstream(
    make_proxy: ProxyFactory, make_upstream: UpstreamFactory
) -> None:
    size = 50 * 1024 * 1024
    block = b"z" * (1024 * 1024)

    async def big_or_slow(req: Seen, w: asyncio.StreamWriter, conn: UpstreamConn) -> None:
        if req.method == b"GET":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
            for _ in range(size // len(block)):
                w.write(block)
                await w.drain()
            return
        left = int(req.header(b"content-length") or 0)
        while left:  # a slow reader of the request body
            data = await conn.reader.read(min(left, 256 * 1024))
            left -= len(data)
            await asyncio.sleep(0.004)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")

    up = await make_upstream(big_or_slow, read_body=False)
    proxy = await make_proxy(up, route_timeout=60.0)
    high = ProxyLimits().high_watermark
    peak = 0

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, proxy.server.buffered_bytes())
            await asyncio.sleep(0.0005)

    sampler = asyncio.create_task(sample())
    try:
        # Slow reader: the client reads 256 KiB every 4 ms.
        c = await proxy.client()
        await c.send(get(b"/big"))
        head = await asyncio.wait_for(c.reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")
        got = 0
        while got < size:
            got += len(await asyncio.wait_for(c.reader.read(256 * 1024), 5))
            await asyncio.sleep(0.004)
        assert got == size
        reader_peak, peak = peak, 0
        # Slow upstream: the client sends 50 MB as fast as it can.
        c = await proxy.client()
        c.writer.write(
            b"POST /up HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n" % (HOST, size)
        )
        for _ in range(size // len(block)):
            c.writer.write(block)
            await asyncio.wait_for(c.writer.drain(), 10)
        resp = await c.response(within=20)
        assert resp.body == b"done"
        upstream_peak = peak
    finally:
        sampler.cancel()
    assert 16 * 1024 < reader_peak <= 2 * high, reader_peak  # it did fill, and no more
    assert 16 * 1024 < upstream_peak <= 2 * high, upstream_peak


async def test_matrix_hop_by_hop_and_forwarded(
    make_proxy: ProxyFactory, make_upstream: UpstreamFactory
) -> None:
    async def hoppy(req: Seen, w: asyncio.StreamWriter, conn: UpstreamConn) -> None:
        w.write(
            b"HTTP/1.1 200 OK\r\nConnection: X-Resp-Private, keep-alive\r\nX-Resp-Private: 1\r\n"
            b"Keep-Alive: timeout=30\r\nProxy-Connection: keep-alive\r\nX-Resp-Public: 2\r\n"
            b"Content-Length: 2\r\n\r\nok"
        )

    up = await make_upstream(hoppy)
    route = Route(
        REVISION,
        5.0,
        upstream_headers=b"KServe-Isvc-Name: svc\r\n",
        response_headers=b"Zeroserve-Revision: %s\r\n" % REVISION.encode(),
    )
    proxy = await make_proxy(up, route=route)
    c = await proxy.client()
    await c.send(
        get(
            extra=b"Connection: keep-alive, X-Private\r\nX-Private: secret\r\nKeep-Alive: 300\r\n"
            b"Proxy-Connection: keep-alive\r\nTE: trailers\r\nProxy-Authorization: Basic eA==\r\n"
            b"X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n"
            b"X-Forwarded-Host: evil.example.com\r\n"
            b"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
            b"X-Kept: yes\r\n"
        )
    )
    resp = await c.response()
    seen = up.requests[0]
    for dropped in (b"connection", b"x-private", b"keep-alive", b"proxy-connection", b"te"):
        assert seen.header(dropped) is None, dropped
    assert seen.header(b"proxy-authorization") is None
    assert seen.all(b"x-forwarded-for") == [b"203.0.113.7, 127.0.0.1"]
    assert seen.all(b"x-forwarded-proto") == [b"http"]
    assert seen.all(b"x-forwarded-host") == [HOST]
    assert seen.header(b"traceparent") == b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert seen.header(b"x-kept") == b"yes" and seen.header(b"kserve-isvc-name") == b"svc"
    assert seen.header(b"host") == HOST
    for dropped in (b"connection", b"x-resp-private", b"keep-alive", b"proxy-connection"):
        assert resp.header(dropped) is None, dropped
    assert resp.header(b"x-resp-public") == b"2"
    assert resp.header(b"zeroserve-revision") == REVISION.encode()


async def test_matrix_pool_idle(make_proxy: ProxyFactory, make_upstream: UpstreamFactory) -> None:
    assert ProxyLimits().pool_idle == 4.0
    assert framing.pool_idle_for(None, 4.0) == 4.0
    assert framing.pool_idle_for(b"timeout=5, max=100", 4.0) == 4.0
    assert framing.pool_idle_for(b"timeout=2", 4.0) == 1.0
    assert framing.pool_idle_for(b"timeout=1", 4.0) == 0.0

    async def keep_alive_header(req: Seen, w: asyncio.StreamWriter, conn: UpstreamConn) -> None:
        extra = b"Keep-Alive: timeout=1\r\n" if req.target == b"/short" else b""
        w.write(b"HTTP/1.1 200 OK\r\n%sContent-Length: 2\r\n\r\nok" % extra)

    up = await make_upstream(keep_alive_header)
    proxy = await make_proxy(up, limits=ProxyLimits(pool_idle=0.3))
    c = await proxy.client()
    await c.send(get())
    assert (await c.response()).status == 200
    assert proxy.server.idle_upstream_connections() == 1
    started = time.monotonic()
    await asyncio.wait_for(up.conns[0].closed.wait(), 3)  # the pool closed it
    assert 0.25 < time.monotonic() - started < 2.5
    await c.send(get(b"/short"))  # Keep-Alive: timeout=1 → too short to reuse safely
    assert (await c.response()).status == 200
    await asyncio.wait_for(up.conns[1].closed.wait(), 3)
    assert proxy.server.idle_upstream_connections() == 0


async def test_matrix_drain(make_proxy: ProxyFactory, make_upstream: UpstreamFactory) -> None:
    go = asyncio.Event()

    async def slow(req: Seen, w: asyncio.StreamWriter, conn: UpstreamConn) -> None:
        if req.target == b"/slow":
            await go.wait()
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    up = await make_upstream(slow)
    proxy = await make_proxy(up)
    idle = await proxy.client()
    await idle.send(get())
    assert (await idle.response()).status == 200
    busy = await proxy.client()
    await busy.send(get(b"/slow"))
    await up.wait_requests(2)
    closing = asyncio.create_task(proxy.server.close(drain_timeout=5.0))
    assert await idle.is_closed(within=2)  # idle keep-alives go at once
    try:
        await Client.connect(proxy.port)
        raise AssertionError("still accepting")
    except OSError:
        pass
    await asyncio.sleep(0.05)
    assert not closing.done()
    go.set()
    resp = await busy.response()
    assert resp.status == 200 and resp.header(b"connection") == b"close"
    assert await busy.is_closed()
    await asyncio.wait_for(closing, 3)
    # A drain that runs out of time cuts what is left.
    go2 = asyncio.Event()
    up2 = await make_upstream(slow)
    go = go2
    stuck = await make_proxy(up2)
    c = await stuck.client()
    await c.send(get(b"/slow"))
    await up2.wait_requests(1)
    started = time.monotonic()
    await stuck.server.close(drain_timeout=0.2)
    assert time.monotonic() - started < 2.0
    assert await c.is_closed()
    go2.set()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


class blackhole:  # a context manager read as a phrase: with blackhole() as port
    """A listening socket whose accept queue is full: connects to it hang."""

    def __enter__(self) -> int:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(0)
        self.fillers = []
        for _ in range(4):
            s = socket.socket()
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                s.connect(self.server.getsockname())
            self.fillers.append(s)
        port: int = self.server.getsockname()[1]
        return port

    def __exit__(self, *exc: object) -> None:
        for s in self.fillers:
            s.close()
        self.server.close()
