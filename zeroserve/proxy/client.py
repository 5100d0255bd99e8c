"""The client-facing protocol: one object per connection, parser callbacks synchronous.

Requests become ``Exchange`` objects queued in order (pipelining); only the first one
talks to an upstream. Everything produced while handling one read leaves in one
``transport.write`` per direction (``flush``). Reading pauses for as long as any reason
in ``pause_mask`` holds (an upstream that cannot keep up, a request waiting for
capacity, bodies held over the high watermark, pipelining depth).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, cast

import httptools

from zeroserve.proxy.errors import BadRequest, HeadersTooLarge, HeaderTimeout, ProxyError
from zeroserve.proxy.exchange import P_BUFFER, P_DEPTH, P_UPSTREAM, Exchange
from zeroserve.proxy.request import D_HEADER, D_IDLE, D_LINGER, D_NONE, RequestParsing, Stop

if TYPE_CHECKING:
    from zeroserve.proxy.engine import Engine
    from zeroserve.proxy.tunnel import Tunnel
    from zeroserve.proxy.upstream import UpstreamConnection

log = logging.getLogger(__name__)


class ClientConnection(RequestParsing, asyncio.BufferedProtocol):
    __slots__ = (
        "active_up",
        "closed",
        "draining",
        "engine",
        "forward_tail",
        "held_total",
        "limits",
        "out",
        "pause_mask",
        "peer",
        "queue",
        "transport",
        "tunnel",
        "write_paused",
    )

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.limits = engine.limits
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.peer = b""
        self.forward_tail = b""
        self.queue = deque()
        self.out: list[bytes] = []
        self.active_up: UpstreamConnection | None = None
        self.tunnel: Tunnel | None = None
        self.pause_mask = 0
        self.write_paused = False
        self.held_total = 0
        self.closed = False
        self.draining = False
        RequestParsing.__init__(self)

    # -- transport callbacks ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)
        limits = self.limits
        transport.set_write_buffer_limits(limits.high_watermark, limits.low_watermark)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and peer:
            self.peer = str(peer[0]).encode()
        self.forward_tail = b"X-Forwarded-For: %s\r\nX-Forwarded-Proto: http\r\n" % self.peer
        engine = self.engine
        engine.connections.add(self)
        engine.stats.connections_open += 1
        engine.stats.connections_total += 1
        self.deadline = engine.loop.time() + limits.header_timeout
        self.draining = engine.draining

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.engine.read_view

    def buffer_updated(self, nbytes: int) -> None:
        data = self.engine.read_view[:nbytes]
        if self.tunnel is not None:
            self.tunnel.from_client(bytes(data))
            return
        if self.discarding:
            return
        if self.raw_mode:
            if self.cur is not None:
                self.cur.raw_from_client(bytes(data))
            self.flush()
            return
        self.read_n = nbytes
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self._upgrade_pause(data, exc.args[0])
        except httptools.HttpParserError as exc:
            self._parse_error(exc)
        if self.in_head and not self.discarding:
            if self.head_raw is None:
                self.head_raw = bytearray(data)
            else:
                self.head_raw += data  # in place; bounded by the check below
            self.head_read += nbytes
            limits = self.limits
            if self.head_read > limits.max_request_line + limits.max_header_bytes + nbytes:
                self.refuse(HeadersTooLarge("request head too large"))
        self.flush()

    def _upgrade_pause(self, data: memoryview, offset: int) -> None:
        rest: memoryview | None = data
        while rest is not None:
            rest = self.after_upgrade(rest, offset)
            if rest is None:
                return
            try:
                self.parser.feed_data(rest)
                return
            except httptools.HttpParserUpgrade as exc:
                offset = exc.args[0]
            except httptools.HttpParserError as exc:
                self._parse_error(exc)
                return

    def _parse_error(self, exc: httptools.HttpParserError) -> None:
        context = exc.__context__
        if isinstance(context, Stop) or self.discarding:
            return
        if isinstance(context, ProxyError):
            self.refuse(context)
        elif isinstance(context, Exception):
            log.error("proxy bug while parsing a request", exc_info=context)
            self.refuse(ProxyError("internal error"))
        else:
            self.refuse(BadRequest(f"malformed request: {exc}"))

    def eof_received(self) -> bool | None:
        if self.tunnel is not None:
            return self.tunnel.client_eof()
        return None  # like nginx: a client that closes its side has given up

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.tunnel is not None:
            self.tunnel.client_lost()
        queue = self.queue
        while queue:
            queue.popleft().abort()
        self.held_total = 0
        self.active_up = None
        self.engine.connection_gone(self)

    def pause_writing(self) -> None:
        self.write_paused = True
        up = self.active_up
        if up is not None:
            up.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        up = self.active_up
        if up is not None:
            up.resume_reading()

    # -- the queue of exchanges -----------------------------------------------------------

    def exchange_done(self, ex: Exchange) -> None:
        """The first exchange is over: close, or start the next, or wait idle."""
        queue = self.queue
        if queue and queue[0] is ex:
            queue.popleft()
        if self.cur is ex and ex.req_done:
            self.cur = None
        if ex.close_after or self.draining or not ex.keep_alive:
            self.close()
            return
        if self.closed:
            return
        if self.pause_mask & P_DEPTH and len(queue) < self.limits.pipeline_depth:
            self.resume(P_DEPTH)
        if queue:
            queue[0].start()
        elif self.discarding:
            self.close()
        elif not self.in_head:
            self.deadline_kind = D_IDLE
            self.deadline = self.engine.loop.time() + self.limits.idle_timeout

    # -- output, flow control, closing ------------------------------------------------------

    def flush(self) -> None:
        out = self.out
        if out:
            data = out[0] if len(out) == 1 else b"".join(out)
            out.clear()
            if not self.closed:
                self.transport.write(data)
        up = self.active_up
        if up is not None and up.out:
            up.flush()

    def pause(self, reason: int) -> None:
        if not self.pause_mask and not self.closed:
            self.transport.pause_reading()
        self.pause_mask |= reason

    def resume(self, reason: int) -> None:
        if self.pause_mask & reason:
            self.pause_mask &= ~reason
            if not self.pause_mask and not self.closed and not self.transport.is_closing():
                self.transport.resume_reading()

    def held_changed(self, delta: int) -> None:
        total = self.held_total = self.held_total + delta
        if total >= self.limits.high_watermark:
            self.pause(P_BUFFER)
        elif total <= self.limits.low_watermark and self.pause_mask & P_BUFFER:
            self.resume(P_BUFFER)

    def upstream_write_paused(self, paused: bool) -> None:
        if paused:
            self.pause(P_UPSTREAM)
        else:
            self.resume(P_UPSTREAM)

    def buffered(self) -> int:
        """Bytes this connection holds in memory right now (the backpressure gauge)."""
        total = self.held_total
        if not self.closed:
            total += self.transport.get_write_buffer_size()
        up = self.active_up
        if up is not None:
            total += up.buffered()
        return total

    def close(self) -> None:
        """Close once what is written has left (the transport flushes first).

        When the client may still be sending (an error, a refused pipeline), close
        lingering: FIN after the answer, then drop input until the client closes or
        ``linger`` passes, since closing with unread bytes sends a reset that can
        destroy the answer before the client reads it."""
        if self.closed:
            return
        self.flush()
        self.closed = True
        transport = self.transport
        if (
            self.discarding
            and self.tunnel is None
            and self.limits.linger > 0
            and not transport.is_closing()
            and transport.can_write_eof()
        ):
            transport.write_eof()
            if self.pause_mask:
                self.pause_mask = 0
                transport.resume_reading()
            self.deadline_kind = D_LINGER
            self.deadline = self.engine.loop.time() + self.limits.linger
            return
        transport.close()

    def abort(self) -> None:
        self.closed = True
        self.transport.abort()

    def check_deadline(self, now: float) -> None:
        kind = self.deadline_kind
        if kind == D_NONE or now < self.deadline:
            return
        if kind == D_LINGER:
            self.transport.close()
        elif kind == D_HEADER:
            if self.pause_mask or self.discarding:
                self.deadline = now + self.limits.header_timeout  # not the client's fault
                return
            self.refuse(HeaderTimeout("request headers not received in time"))
            self.flush()
        elif not self.queue:
            self.close()

    def begin_drain(self) -> None:
        self.draining = True
        if not self.queue and not self.in_head and self.tunnel is None:
            self.close()
