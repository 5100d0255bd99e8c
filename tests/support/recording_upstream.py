"""An in-process upstream that records exactly what a proxy forwarded to it.

Requests are parsed with h11 (a second, independent HTTP parser), so a test can compare
what the proxy forwarded with what h11 parses from the bytes the client sent. Responses
are written as raw bytes, so a handler can answer anything a real predictor might (no
framing at all, interim 1xx, a body cut short, an upgrade) without h11 tidying it.

The upstream, and the engine under test, run on a ``BackgroundLoop``: a uvloop event loop
in a daemon thread, as in production. Test code stays synchronous and talks to them over
real sockets (``tests.support.rawhttp``), sharing nothing but the kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import threading
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import h11

if TYPE_CHECKING:
    from zeroserve.capacity.tracker import CapacityTracker
    from zeroserve.proxy.limits import ProxyLimits
    from zeroserve.proxy.server import ProxyServer

T = TypeVar("T")
_MAX_HEAD = 1 << 20


class BackgroundLoop:
    """A uvloop loop running in a daemon thread (asyncio's own loop if uvloop is missing
    or ``ZEROSERVE_TEST_LOOP=asyncio``, to tell a loop-specific failure from others)."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop
        try:
            if os.environ.get("ZEROSERVE_TEST_LOOP") == "asyncio":
                raise ImportError("asyncio's loop asked for")
            import uvloop

            self.loop = uvloop.new_event_loop()
        except ImportError:
            self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="background-loop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run ``coro`` on the loop and wait (at most ``timeout``) for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call_soon(self, callback: Callable[[], object]) -> None:
        self.loop.call_soon_threadsafe(callback)

    def set_event(self, event: asyncio.Event) -> None:
        """Set an asyncio.Event that lives on this loop, from the test's thread."""
        self.loop.call_soon_threadsafe(event.set)

    def stop(self) -> None:
        async def cancel_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.run(cancel_rest(), timeout=5.0)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5.0)
        if not self._thread.is_alive():
            self.loop.close()


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the upstream parsed it. ``complete`` is False when the connection
    ended before the body did."""

    connection: int
    index: int
    method: bytes
    target: bytes
    http_version: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    raw_names: tuple[bytes, ...]
    body: bytes
    trailers: tuple[tuple[bytes, bytes], ...]
    complete: bool

    def header(self, name: bytes) -> bytes | None:
        wanted = name.lower()
        return next((v for n, v in self.headers if n == wanted), None)

    def header_values(self, name: bytes) -> list[bytes]:
        wanted = name.lower()
        return [v for n, v in self.headers if n == wanted]


class UpstreamExchange:
    """One request as a handler sees it: the head at once, the body on demand."""

    def __init__(
        self,
        upstream: RecordingUpstream,
        connection: int,
        index: int,
        request: h11.Request,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.upstream = upstream
        self.connection = connection
        self.index = index
        self.method = bytes(request.method)
        self.target = bytes(request.target)
        self.http_version = bytes(request.http_version)
        self.headers = tuple((bytes(n), bytes(v)) for n, v in request.headers)
        self.raw_names = tuple(bytes(n) for n, _ in request.headers.raw_items())
        self.body_received = 0
        self.keep_alive = self.http_version != b"1.0" and not any(
            n == b"connection" and b"close" in v.lower() for n, v in self.headers
        )
        self.taken_over = False
        self._conn = conn
        self._reader = reader
        self.writer = writer
        self._body = bytearray()
        self._trailers: tuple[tuple[bytes, bytes], ...] = ()
        self._ended = False
        self._recorded = False

    def header(self, name: bytes) -> bytes | None:
        wanted = name.lower()
        return next((v for n, v in self.headers if n == wanted), None)

    @property
    def body_complete(self) -> bool:
        return self._ended

    async def read_chunk(self) -> bytes:
        """The next piece of body as it arrives; b"" at its end."""
        while not self._ended:
            event = self._conn.next_event()
            if event is h11.NEED_DATA:
                data = await self._reader.read(65536)
                self._conn.receive_data(data)
                if not data:
                    self.record(complete=False)
                    raise ConnectionResetError("peer closed mid-body")
                continue
            if isinstance(event, h11.Data):
                piece = bytes(event.data)
                self._body += piece
                self.body_received += len(piece)
                return piece
            if isinstance(event, h11.EndOfMessage):
                self._trailers = tuple((bytes(n), bytes(v)) for n, v in event.headers)
                self._ended = True
                self.record(complete=True)
                return b""
            if isinstance(event, h11.ConnectionClosed):
                self.record(complete=False)
                raise ConnectionResetError("peer closed mid-body")
            raise AssertionError(f"unexpected h11 event {event!r}")
        return b""

    async def read_body(self) -> bytes:
        while await self.read_chunk():
            pass
        return bytes(self._body)

    def record(self, *, complete: bool) -> None:
        if self._recorded:
            return
        self._recorded = True
        self.upstream.requests.append(
            RecordedRequest(
                connection=self.connection,
                index=self.index,
                method=self.method,
                target=self.target,
                http_version=self.http_version,
                headers=self.headers,
                raw_names=self.raw_names,
                body=bytes(self._body),
                trailers=self._trailers,
                complete=complete,
            )
        )

    def write(self, data: bytes) -> None:
        self.writer.write(data)

    async def drain(self) -> None:
        await self.writer.drain()

    def reply(
        self,
        status: int = 200,
        headers: list[tuple[bytes, bytes]] | None = None,
        body: bytes = b"",
        *,
        reason: bytes = b"OK",
    ) -> None:
        """A Content-Length framed response (no body bytes after HEAD, 204 or 304)."""
        lines = [b"HTTP/1.1 %d %s" % (status, reason)]
        lines.extend(n + b": " + v for n, v in headers or [])
        if status not in (204, 304) and status >= 200:
            lines.append(b"Content-Length: %d" % len(body))
        if not self.keep_alive:
            lines.append(b"Connection: close")
        send_body = self.method != b"HEAD" and status not in (204, 304)
        self.writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + (body if send_body else b""))

    def take_over(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
        """The raw byte streams after this request (for an upgrade); ends HTTP here."""
        self.taken_over = True
        leftover, _ = self._conn.trailing_data
        return self._reader, self.writer, bytes(leftover)


Handler = Callable[[UpstreamExchange], Awaitable[None]]


async def echo_handler(exchange: UpstreamExchange) -> None:
    """Reads the body and answers 200 naming the request, so a client can tell which
    upstream request produced which response."""
    body = await exchange.read_body()
    case = exchange.header(b"x-case") or b"-"
    exchange.reply(
        200,
        [(b"Content-Type", b"text/plain"), (b"X-Upstream-Index", b"%d" % exchange.index)],
        b"index=%d case=%s len=%d" % (exchange.index, case, len(body)),
    )


def path_of(target: bytes) -> bytes:
    """The path of an origin-form or absolute-form target (query dropped)."""
    if b"://" in target:
        rest = target.split(b"://", 1)[1]
        slash = rest.find(b"/")
        target = rest[slash:] if slash >= 0 else b"/"
    return target.split(b"?", 1)[0]


class RecordingUpstream:
    """Records every request; answers with the handler registered for the longest
    matching path prefix (``echo_handler`` otherwise)."""

    def __init__(self, *, send_100_continue: bool = True) -> None:
        self.handlers: dict[bytes, Handler] = {}
        self.send_100_continue = send_100_continue
        self.requests: list[RecordedRequest] = []
        self.protocol_errors: list[tuple[int, str]] = []
        self.handler_errors: list[str] = []
        self.connections = 0
        self._index = itertools.count()
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._serve, host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def close(self) -> None:
        """Stop listening and end every connection (handlers still waiting are cancelled)."""
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def clear(self) -> None:
        self.requests.clear()
        self.protocol_errors.clear()
        self.handler_errors.clear()

    def route(self, prefix: bytes, handler: Handler) -> None:
        self.handlers[prefix] = handler

    def _handler_for(self, target: bytes) -> Handler:
        path = path_of(target)
        best = b""
        chosen: Handler = echo_handler
        for prefix, handler in self.handlers.items():
            if path.startswith(prefix) and len(prefix) > len(best):
                best, chosen = prefix, handler
        return chosen

    async def _next_request(
        self, conn: h11.Connection, reader: asyncio.StreamReader
    ) -> h11.Request | None:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                return event
            return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        connection = self.connections
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        leftover, closed = b"", False
        try:
            while True:
                conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD)
                if leftover:
                    conn.receive_data(leftover)
                if closed:
                    conn.receive_data(b"")
                try:
                    request = await self._next_request(conn, reader)
                except h11.RemoteProtocolError as exc:
                    self.protocol_errors.append((connection, str(exc)))
                    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    return
                if request is None:
                    return
                exchange = UpstreamExchange(
                    self, connection, next(self._index), request, conn, reader, writer
                )
                expect = (exchange.header(b"expect") or b"").lower()
                if self.send_100_continue and expect == b"100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                try:
                    await self._handler_for(exchange.target)(exchange)
                    if exchange.taken_over:
                        return
                    await exchange.read_body()
                    await writer.drain()
                except h11.RemoteProtocolError as exc:
                    exchange.record(complete=False)
                    self.protocol_errors.append((connection, str(exc)))
                    return
                except (ConnectionError, asyncio.IncompleteReadError):
                    exchange.record(complete=False)
                    return
                except Exception:
                    exchange.record(complete=False)
                    self.handler_errors.append(traceback.format_exc())
                    return
                if not exchange.keep_alive:
                    return
                data, closed = conn.trailing_data
                leftover = bytes(data)
        except asyncio.CancelledError:
            return  # close() ends the connection; nothing to report
        finally:
            self._tasks.discard(task)
            writer.close()


@dataclass(slots=True)
class EngineInFront:
    """The Zeroserve engine on a ``BackgroundLoop``, routing each Host to its own revision
    whose one endpoint is the given port (a port nobody listens on makes a dead replica).
    ``limits`` is a ``zeroserve.proxy.limits.ProxyLimits`` (defaults if None); ``timeouts``
    overrides the route's response timeout per Host."""

    bg: BackgroundLoop
    routes: dict[bytes, int]
    timeout: float = 5.0
    timeouts: dict[bytes, float] = field(default_factory=dict)
    limits: ProxyLimits | None = None
    upstream_headers: bytes = b""
    response_headers: bytes = b""
    port: int = 0
    server: ProxyServer | None = None
    tracker: CapacityTracker | None = None

    def start(self) -> int:
        self.port = self.bg.run(self._start())
        return self.port

    async def _start(self) -> int:
        from zeroserve.capacity.lease import Endpoint
        from zeroserve.capacity.tracker import CapacityTracker
        from zeroserve.clock import RealClock
        from zeroserve.proxy.limits import ProxyLimits
        from zeroserve.proxy.routing import Route, StaticRouter
        from zeroserve.proxy.server import ProxyServer

        clock = RealClock()
        tracker = self.tracker = CapacityTracker(clock)
        table = {}
        for i, (host, upstream_port) in enumerate(self.routes.items()):
            revision = f"rev-{i}-{host.decode()}"
            table[host] = Route(
                revision,
                self.timeouts.get(host, self.timeout),
                upstream_headers=self.upstream_headers,
                response_headers=self.response_headers,
            )
            tracker.set_endpoints(
                revision, [Endpoint("127.0.0.1", upstream_port, f"{revision}-replica-0")]
            )
        limits = self.limits if self.limits is not None else ProxyLimits()
        server = self.server = ProxyServer(StaticRouter(table), tracker, clock, limits=limits)
        return await server.start("127.0.0.1", 0)

    def close(self, drain_timeout: float = 1.0) -> None:
        if self.server is not None:
            self.bg.run(self.server.close(drain_timeout), timeout=drain_timeout + 5.0)
            self.server = None
