"""Raw-socket clients, scriptable in-process upstreams and a proxy factory for engine tests.

The upstream parses requests with its own few lines (not httptools), so what it records
is an independent view of what the engine forwarded. Every read has a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from zeroserve.capacity.lease import Endpoint
from zeroserve.capacity.tracker import CapacityTracker
from zeroserve.clock import Clock, RealClock
from zeroserve.proxy.limits import ProxyLimits
from zeroserve.proxy.routing import Route, StaticRouter
from zeroserve.proxy.server import ProxyServer

DEADLINE = 5.0
HOST = b"svc.example.com"
REVISION = "svc-00001"


# -- the upstream -------------------------------------------------------------------------


@dataclass
class Seen:
    """One request as the upstream received it."""

    method: bytes
    target: bytes
    version: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    conn_id: int
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)

    def header(self, name: bytes) -> bytes | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: bytes) -> list[bytes]:
        return [v for n, v in self.headers if n.lower() == name.lower()]


Handler = Callable[[Seen, asyncio.StreamWriter, "UpstreamConn"], Awaitable[bool | None]]


@dataclass
class UpstreamConn:
    conn_id: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    closed: asyncio.Event = field(default_factory=asyncio.Event)


async def read_head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


def parse_head(head: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    lines = head[:-4].split(b"\r\n")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers.append((name, value.strip()))
    return lines[0], headers


async def read_chunked(reader: asyncio.StreamReader) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    body = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            break
        body += await reader.readexactly(size)
        assert await reader.readexactly(2) == b"\r\n"
    trailers = []
    while True:
        line = await reader.readuntil(b"\r\n")
        if line == b"\r\n":
            break
        name, _, value = line[:-2].partition(b":")
        trailers.append((name, value.strip()))
    return bytes(body), trailers


async def ok_handler(req: Seen, w: asyncio.StreamWriter, conn: UpstreamConn) -> None:
    """200 with a small body naming the request."""
    body = b"%s %s %d" % (req.method, req.target, len(req.body))
    w.write(
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Upstream: yes\r\n\r\n%s" % (len(body), body)
    )


class Upstream:
    """An HTTP/1.1 server for one test. ``handler`` writes the raw response; it returns
    True to close the connection afterwards."""

    def __init__(self, handler: Handler = ok_handler, read_body: bool = True) -> None:
        self.handler = handler
        self.read_body = read_body
        self.requests: list[Seen] = []
        self.conns: list[UpstreamConn] = []
        self.port = 0
        self.arrived = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> Upstream:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=4096)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint("127.0.0.1", self.port, f"replica-{self.port}")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        conn = UpstreamConn(len(self.conns), reader, writer)
        self.conns.append(conn)
        try:
            while True:
                try:
                    head = await read_head(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                line, headers = parse_head(head)
                method, target, version = line.split(b" ")
                req = Seen(method, target, version, headers, b"", conn.conn_id)
                names = {n.lower() for n, _ in headers}
                if self.read_body:
                    if b"transfer-encoding" in names:
                        req.body, req.trailers = await read_chunked(reader)
                    elif b"content-length" in names:
                        req.body = await reader.readexactly(int(req.header(b"content-length") or 0))
                self.requests.append(req)
                self.arrived.set()
                close = await self.handler(req, writer, conn)
                await writer.drain()
                if close:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # (cancelled: the test is over)
        finally:
            conn.closed.set()
            writer.close()
            self._tasks.discard(task)  # type: ignore[arg-type]

    async def wait_requests(self, n: int) -> None:
        async def until() -> None:
            while len(self.requests) < n:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(until(), DEADLINE)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in self.conns:
            conn.writer.close()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), 2)


# -- the client ---------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    trailers: list[tuple[bytes, bytes]]
    chunked: bool

    def header(self, name: bytes) -> bytes | None:
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None

    def all(self, name: bytes) -> list[bytes]:
        return [v for n, v in self.headers if n.lower() == name.lower()]


class Client:
    """A raw connection to the proxy with deadline-bound reads."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int) -> Client:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, limit=1 << 20), DEADLINE
        )
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await asyncio.wait_for(self.writer.drain(), DEADLINE)

    async def response(self, head_request: bool = False, within: float = DEADLINE) -> Response:
        return await asyncio.wait_for(self._response(head_request), within)

    async def _response(self, head_request: bool) -> Response:
        head = await read_head(self.reader)
        line, headers = parse_head(head)
        _, status, *reason = line.split(b" ", 2)
        code = int(status)
        resp = Response(code, reason[0] if reason else b"", headers, b"", [], False)
        if head_request or code in (204, 304) or 100 <= code < 200:
            return resp
        te = resp.header(b"transfer-encoding")
        if te is not None:
            assert te.lower() == b"chunked"
            resp.chunked = True
            resp.body, resp.trailers = await read_chunked(self.reader)
        elif resp.header(b"content-length") is not None:
            resp.body = await self.reader.readexactly(int(resp.header(b"content-length") or 0))
        else:
            resp.body = await self.reader.read()
        return resp

    async def final_response(self, head_request: bool = False) -> tuple[list[int], Response]:
        """Skip (and list) interim 1xx responses."""
        interim = []
        while True:
            resp = await self.response(head_request)
            if resp.status >= 200 or resp.status == 101:
                return interim, resp
            interim.append(resp.status)

    async def read_to_close(self, within: float = DEADLINE) -> bytes:
        return await asyncio.wait_for(self.reader.read(), within)

    async def is_closed(self, within: float = DEADLINE) -> bool:
        """True once the proxy closed (EOF or reset) with nothing more to read."""
        try:
            data = await asyncio.wait_for(self.reader.read(1), within)
        except TimeoutError:
            return False
        return data == b""

    def reset(self) -> None:
        """Close with RST instead of FIN."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.close()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), 1)


def get(target: bytes = b"/", host: bytes = HOST, extra: bytes = b"") -> bytes:
    return b"GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (target, host, extra)


def post(body: bytes, target: bytes = b"/", host: bytes = HOST, extra: bytes = b"") -> bytes:
    return b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n%s\r\n%s" % (
        target,
        host,
        len(body),
        extra,
        body,
    )


async def wait_for_condition(predicate: Callable[[], bool], within: float = DEADLINE) -> None:
    """Poll engine state (plain counters, which have no event to wait on), with a deadline."""

    async def until() -> None:
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.005)

    await asyncio.wait_for(until(), within)


# -- the proxy ----------------------------------------------------------------------------


@dataclass
class Proxy:
    server: ProxyServer
    tracker: CapacityTracker
    clock: Clock
    port: int

    async def client(self) -> Client:
        return await Client.connect(self.port)

    @property
    def counters(self):  # type: ignore[no-untyped-def]
        return self.server.stats.revision(REVISION)


ProxyFactory = Callable[..., Awaitable[Proxy]]
UpstreamFactory = Callable[..., Awaitable[Upstream]]


class Proxies:
    """Starts proxies and closes them all at the end (the ``make_proxy`` fixture)."""

    def __init__(self) -> None:
        self.made: list[Proxy] = []

    async def make(
        self,
        *upstreams: Upstream | Endpoint,
        limits: ProxyLimits | None = None,
        clock: Clock | None = None,
        route_timeout: float = 5.0,
        tracker: CapacityTracker | None = None,
        route: Route | None = None,
        endpoints: bool = True,
    ) -> Proxy:
        clock = clock or RealClock()
        tracker = tracker or CapacityTracker(clock)
        if endpoints:
            eps = [u.endpoint if isinstance(u, Upstream) else u for u in upstreams]
            tracker.set_endpoints(REVISION, eps)
        route = route or Route(REVISION, route_timeout)
        server = ProxyServer(StaticRouter({HOST: route}), tracker, clock, limits or ProxyLimits())
        port = await server.start()
        proxy = Proxy(server, tracker, clock, port)
        self.made.append(proxy)
        return proxy

    async def close(self) -> None:
        for proxy in self.made:
            await proxy.server.close()


@pytest.fixture
async def make_proxy() -> AsyncIterator[ProxyFactory]:
    proxies = Proxies()
    yield proxies.make
    await proxies.close()


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    up = await Upstream().start()
    yield up
    await up.close()


class Upstreams:
    def __init__(self) -> None:
        self.made: list[Upstream] = []

    async def make(self, handler: Handler = ok_handler, read_body: bool = True) -> Upstream:
        up = await Upstream(handler, read_body).start()
        self.made.append(up)
        return up

    async def close(self) -> None:
        for up in self.made:
            await up.close()


@pytest.fixture
async def make_upstream() -> AsyncIterator[UpstreamFactory]:
    upstreams = Upstreams()
    yield upstreams.make
    await upstreams.close()
