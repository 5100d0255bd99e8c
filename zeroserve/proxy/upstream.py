"""The upstream protocol: one keep-alive connection to a replica, parsing its responses.

The response head is rebuilt as bytes for the client (hop-by-hop dropped, framing
decided here: kept Content-Length, re-chunked, or close-delimited to HTTP/1.0), the body
is appended to the client's pending output, and the client connection writes it all at
the end of this read.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, cast

import httptools

from zeroserve.capacity.lease import Endpoint
from zeroserve.proxy import framing

if TYPE_CHECKING:
    from zeroserve.proxy.engine import Engine
    from zeroserve.proxy.exchange import Exchange
    from zeroserve.proxy.tunnel import Tunnel

log = logging.getLogger(__name__)

_RESPONSE_HEADERS = framing.RESPONSE_HEADERS
_CONTENT_LENGTH = framing.RESP_CONTENT_LENGTH
_TRANSFER_ENCODING = framing.RESP_TRANSFER_ENCODING
_CONNECTION = framing.RESP_CONNECTION
_KEEP_ALIVE = framing.RESP_KEEP_ALIVE
_UPGRADE = framing.RESP_UPGRADE

M_NONE = 0  # no body (HEAD, 204, 304)
M_LENGTH = 1
M_CHUNKED = 2
M_EOF = 3  # delimited by the upstream closing


class _HeadDone(Exception):
    """Raised after a HEAD response's head: httptools would wait for a body (issue #47)."""


class _Unsolicited(Exception):
    """A second response where none was asked for."""


class _BadResponse(Exception):
    pass


class UpstreamConnection(asyncio.BufferedProtocol):
    __slots__ = (
        "chunk_out",
        "cl",
        "client_out",
        "closing",
        "endpoint",
        "engine",
        "exchange",
        "got_bytes",
        "head_sent",
        "idle_deadline",
        "idle_limit",
        "ka",
        "keep_alive",
        "mode",
        "msg_done",
        "out",
        "parser",
        "parts",
        "read_paused",
        "reason",
        "reused",
        "status",
        "te",
        "tokens",
        "trailers",
        "transport",
        "tunnel",
        "upgrade",
        "write_paused",
    )

    def __init__(self, engine: Engine, endpoint: Endpoint) -> None:
        self.engine = engine
        self.endpoint = endpoint
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.parser = httptools.HttpResponseParser(self)
        self.exchange: Exchange | None = None
        self.tunnel: Tunnel | None = None
        self.out: list[bytes] = []
        self.client_out: list[bytes] = []
        self.closing = False
        self.reused = False
        self.got_bytes = False
        self.read_paused = False
        self.write_paused = False
        self.idle_deadline = 0.0
        self.idle_limit = engine.limits.pool_idle
        self.status = 0
        self.reason = b""
        self.parts: list[bytes] = []
        self.tokens: list[bytes] | None = None
        self.cl: bytes | None = None
        self.te: bytes | None = None
        self.ka: bytes | None = None
        self.upgrade: bytes | None = None
        self.trailers: list[bytes] | None = None
        self.mode = M_NONE
        self.chunk_out = False
        self.head_sent = False
        self.msg_done = False
        self.keep_alive = False

    def bind(self, ex: Exchange) -> None:
        """Serve ``ex`` next (the rest of the response state resets per message)."""
        self.exchange = ex
        self.client_out = ex.conn.out
        self.got_bytes = self.msg_done = self.head_sent = False

    # -- transport callbacks ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)
        limits = self.engine.limits
        transport.set_write_buffer_limits(limits.high_watermark, limits.low_watermark)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.engine.read_view

    def buffer_updated(self, nbytes: int) -> None:
        data = self.engine.read_view[:nbytes]
        tunnel = self.tunnel
        if tunnel is not None:
            tunnel.from_upstream(bytes(data))
            return
        ex = self.exchange
        if ex is None:
            self.engine.pool.discard(self)  # bytes nobody asked for: never reuse this one
            self.close()
            return
        conn = ex.conn
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self._upgraded(ex, data, exc.args[0])
        except httptools.HttpParserCallbackError as exc:
            context = exc.__context__
            if isinstance(context, _HeadDone):
                self._head_done(data)
            elif isinstance(context, _Unsolicited) or self.msg_done:
                self.keep_alive = False
            else:
                if context is not None and not isinstance(context, _BadResponse):
                    log.error("proxy bug while relaying a response", exc_info=context)
                self._broken(ex, str(context or exc))
        except httptools.HttpParserError as exc:
            if self.msg_done:
                self.keep_alive = False
            else:
                self._broken(ex, f"invalid response: {exc}")
        if self.msg_done and self.exchange is ex:
            ex.response_done(self, self.keep_alive)
        conn.flush()

    def eof_received(self) -> bool | None:
        tunnel = self.tunnel
        if tunnel is not None:
            return tunnel.upstream_eof()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        tunnel = self.tunnel
        if tunnel is not None:
            tunnel.upstream_lost()
            return
        ex = self.exchange
        if ex is None:
            self.engine.pool.discard(self)
            return
        conn = ex.conn
        if self.msg_done:
            ex.response_done(self, False)
        elif not self.head_sent:
            why = (
                "connection closed before a response" if exc is None else f"connection lost: {exc}"
            )
            ex.upstream_failed(self, why, self.reused and not self.got_bytes)
        elif self.mode == M_EOF:
            if self.chunk_out:
                self.client_out.append(b"0\r\n\r\n")
            ex.response_done(self, False)
        else:
            ex.upstream_broken(self)
        conn.flush()

    def pause_writing(self) -> None:
        self.write_paused = True
        ex = self.exchange
        if ex is not None:
            ex.conn.upstream_write_paused(True)

    def resume_writing(self) -> None:
        self.write_paused = False
        ex = self.exchange
        if ex is not None:
            ex.conn.upstream_write_paused(False)

    # -- parser callbacks -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.msg_done:
            raise _Unsolicited
        self.status = 0
        self.reason = b""
        self.parts = []
        self.tokens = self.cl = self.te = self.ka = self.upgrade = self.trailers = None
        self.chunk_out = self.keep_alive = False

    def on_status(self, reason: bytes) -> None:
        self.reason = self.reason + reason if self.reason else reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if value and value[-1] in (32, 9):
            value = value.rstrip(b" \t")
        if self.head_sent:
            if self.trailers is None:
                self.trailers = []
            if len(self.trailers) < 200:
                self.trailers += (name, value)
            return
        code = _RESPONSE_HEADERS.get(name.lower())
        if code is None:
            self.parts += (name, b": ", value, b"\r\n")
        elif code == _CONTENT_LENGTH:
            self.cl = value
        elif code == _TRANSFER_ENCODING:
            self.te = value if self.te is None else self.te + b", " + value
        elif code == _CONNECTION:
            tokens = framing.connection_tokens(value)
            self.tokens = tokens if self.tokens is None else self.tokens + tokens
        elif code == _KEEP_ALIVE:
            self.ka = value
        elif code == _UPGRADE:
            self.upgrade = value

    def on_headers_complete(self) -> None:
        ex = self.exchange
        assert ex is not None
        status = self.status = self.parser.get_status_code()
        parts = self.parts
        if self.tokens:
            parts = framing.drop_named(parts, self.tokens)
        if status < 200:
            if status != 101:
                head = b"HTTP/1.1 %d %s\r\n%s\r\n" % (status, self.reason, b"".join(parts))
                ex.interim(status, head)
            return
        if ex.is_head or status == 204 or status == 304:
            mode = M_NONE
            if self.cl is not None and status != 204:
                parts += (b"Content-Length: ", self.cl, b"\r\n")
        elif self.te is not None:
            if not framing.is_chunked(self.te):
                raise _BadResponse(f"unsupported Transfer-Encoding {self.te!r}")
            mode = M_CHUNKED
        elif self.cl is not None:
            mode = M_LENGTH
            parts += (b"Content-Length: ", self.cl, b"\r\n")
        else:
            mode = M_EOF
        self.mode = mode
        if mode >= M_CHUNKED:
            if ex.http10:
                ex.close_after = True  # close-delimited to an HTTP/1.0 client
            else:
                parts.append(b"Transfer-Encoding: chunked\r\n")
                self.chunk_out = True
        self.keep_alive = mode != M_EOF and self.parser.should_keep_alive()
        if self.ka is not None:
            self.idle_limit = framing.pool_idle_for(self.ka, self.engine.limits.pool_idle)
        if ex.close_after or not ex.keep_alive or ex.conn.draining:
            parts.append(b"Connection: close\r\n")
        elif ex.http10:
            parts.append(b"Connection: keep-alive\r\n")
        route = ex.route
        if route is not None and route.response_headers:
            parts.append(route.response_headers)
        self.head_sent = True
        ex.response_head(
            status, b"HTTP/1.1 %d %s\r\n%s\r\n" % (status, self.reason, b"".join(parts))
        )
        if ex.is_head:
            raise _HeadDone

    def on_body(self, body: bytes) -> None:
        if self.chunk_out:
            self.client_out.append(b"%x\r\n%s\r\n" % (len(body), body))
        else:
            self.client_out.append(body)

    def on_message_complete(self) -> None:
        if self.status < 200:
            return
        self.keep_alive = self.keep_alive and self.parser.should_keep_alive()
        if self.chunk_out:
            self.client_out.append(framing.last_chunk(self.trailers))
        self.msg_done = True

    # -- endings ---------------------------------------------------------------------------

    def _head_done(self, data: memoryview) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.msg_done = True
        if bytes(data[-4:]) != b"\r\n\r\n":
            self.keep_alive = False  # more than a head arrived: do not trust this one

    def _upgraded(self, ex: Exchange, data: memoryview, offset: int) -> None:
        if self.status != 101:
            self._broken(ex, "unexpected upgrade")
            return
        parts = self.parts
        if self.tokens:
            parts = framing.drop_named(parts, self.tokens)
        parts.append(b"Connection: upgrade\r\n")
        if self.upgrade is not None:
            parts += (b"Upgrade: ", self.upgrade, b"\r\n")
        route = ex.route
        if route is not None and route.response_headers:
            parts.append(route.response_headers)
        head = b"HTTP/1.1 101 %s\r\n%s\r\n" % (self.reason, b"".join(parts))
        self.head_sent = True
        ex.upgraded(self, head, bytes(data[offset:]))

    def _broken(self, ex: Exchange, why: str) -> None:
        if self.head_sent:
            ex.upstream_broken(self)
        else:
            ex.upstream_failed(self, why, False)

    # -- used by the exchange and the pool ---------------------------------------------

    def flush(self) -> None:
        out = self.out
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        if not self.closing:
            self.transport.write(data)

    def release(self, reusable: bool) -> None:
        self.exchange = None
        if reusable and not self.closing and not self.transport.get_write_buffer_size():
            self.reused = True
            self.engine.pool.put(self)
        else:
            self.close()

    def pause_reading(self) -> None:
        if not self.read_paused and not self.closing:
            self.read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.read_paused:
            self.read_paused = False
            if not self.closing:
                self.transport.resume_reading()

    def buffered(self) -> int:
        return 0 if self.closing else self.transport.get_write_buffer_size()

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            self.exchange = None
            self.transport.close()

    def abort(self) -> None:
        self.exchange = None
        if not self.closing:
            self.closing = True
            self.transport.abort()
