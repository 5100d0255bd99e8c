"""Request parsing: httptools callbacks that check a head against the hardening matrix and
turn it into the bytes sent upstream.

The head lives in a few fields of the connection (no dict, no Request object): headers
the engine does not act on go straight into a flat list ``[name, b": ", value, b"\\r\\n"]``
that becomes the upstream head with one join. Limits on fields and bytes are checked once
the head is complete; until then the connection bounds the bytes read.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, cast

import httptools

from zeroserve.proxy import framing
from zeroserve.proxy.engine import Engine
from zeroserve.proxy.errors import (
    BadRequest,
    BodyTooLarge,
    HeadersTooLarge,
    MethodNotAllowed,
    NoRoute,
    ProxyError,
    RequestLineTooLong,
    VersionNotSupported,
    error_response,
)
from zeroserve.proxy.exchange import BODY_CHUNKED, BODY_LENGTH, BODY_NONE, P_DEPTH, Exchange
from zeroserve.proxy.limits import ProxyLimits

if TYPE_CHECKING:
    from zeroserve.proxy.client import ClientConnection

_REQUEST_HEADERS = framing.REQUEST_HEADERS
_HOST = framing.REQ_HOST
_CONTENT_LENGTH = framing.REQ_CONTENT_LENGTH
_TRANSFER_ENCODING = framing.REQ_TRANSFER_ENCODING
_CONNECTION = framing.REQ_CONNECTION
_UPGRADE = framing.REQ_UPGRADE
_EXPECT = framing.REQ_EXPECT
_FORWARDED_FOR = framing.REQ_FORWARDED_FOR

D_NONE = 0  # no socket deadline (a request is being served)
D_FRESH = 1  # new connection, nothing received yet: close quietly
D_HEADER = 2  # a request head is arriving: 408 when late
D_IDLE = 3  # idle keep-alive: close quietly
D_LINGER = 4  # answered and half-closed, dropping input: close for good


class Stop(Exception):
    """Raised from a parser callback: read no further requests on this connection."""


class RequestParsing:
    """The parser callbacks and request-head state of ``ClientConnection``."""

    __slots__ = (
        "cl",
        "cur",
        "deadline",
        "deadline_kind",
        "discarding",
        "expect",
        "head_raw",
        "head_read",
        "host",
        "in_head",
        "nspecial",
        "parser",
        "parts",
        "raw_mode",
        "read_n",
        "sbytes",
        "synthetic",
        "te",
        "tokens",
        "upgrade",
        "url",
        "xff",
    )

    # Owned by ClientConnection.
    engine: Engine
    limits: ProxyLimits
    queue: deque[Exchange]
    draining: bool
    forward_tail: bytes
    peer: bytes

    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.cur: Exchange | None = None
        self.deadline = 0.0
        self.deadline_kind = D_FRESH
        self.discarding = False  # no further requests are read (bytes are dropped)
        self.raw_mode = False  # after an upgrade request: bytes go upstream unparsed
        self.synthetic = False  # parsing a primed body after an ignored upgrade
        self.in_head = False
        self.head_read = 0
        self.head_raw: bytearray | None = None  # earlier reads of a head that spans reads
        self.read_n = 0  # size of the read being parsed
        self.url = b""
        self.parts: list[bytes] = []
        self.nspecial = self.sbytes = 0
        self.host: bytes | None = None
        self.cl: bytes | None = None
        self.te: bytes | None = None
        self.upgrade: bytes | None = None
        self.xff: bytes | None = None
        self.tokens: list[bytes] | None = None
        self.expect = False

    def on_message_begin(self) -> None:
        if self.synthetic:
            return
        self.in_head = True
        self.head_read = 0
        self.head_raw = None
        self.url = b""
        self.parts = []
        self.nspecial = self.sbytes = 0
        self.host = self.cl = self.te = self.upgrade = self.xff = None
        self.tokens = None
        self.expect = False
        if self.deadline_kind != D_HEADER:
            self.deadline_kind = D_HEADER
            self.deadline = self.engine.loop.time() + self.limits.header_timeout

    def on_url(self, url: bytes) -> None:
        if self.synthetic:
            return
        if self.url:
            url = self.url + url  # a long target split over reads
        if len(url) > self.limits.max_request_line:
            raise RequestLineTooLong("request line too long")
        self.url = url

    def on_header(self, name: bytes, value: bytes) -> None:
        if value and value[-1] in (32, 9):
            value = value.rstrip(b" \t")  # llhttp keeps trailing whitespace; h11 does not
        if not self.in_head:
            self._trailer(name, value)
            return
        code = _REQUEST_HEADERS.get(name.lower())
        if code is None:
            self.parts += (name, b": ", value, b"\r\n")
            return
        self.nspecial += 1
        self.sbytes += len(name) + len(value) + 4
        if code == _HOST:
            if self.host is not None:
                raise BadRequest("two Host headers")
            self.host = value
        elif code == _CONTENT_LENGTH:
            if self.cl is not None:
                raise BadRequest("two Content-Length headers")
            self.cl = value
        elif code == _TRANSFER_ENCODING:
            if self.te is not None or not framing.is_chunked(value):
                raise BadRequest("Transfer-Encoding other than a single chunked")
            self.te = value
        elif code == _CONNECTION:
            tokens = framing.connection_tokens(value)
            self.tokens = tokens if self.tokens is None else self.tokens + tokens
        elif code == _UPGRADE:
            self.upgrade = value
        elif code == _EXPECT:
            if value.lower() == b"100-continue":
                self.expect = True
        elif code == _FORWARDED_FOR:
            self.xff = value if self.xff is None else self.xff + b", " + value

    def _trailer(self, name: bytes, value: bytes) -> None:
        if self.synthetic:
            return
        cur = self.cur
        if cur is not None:
            self.nspecial += 1
            self.sbytes += len(name) + len(value) + 4
            self._check_head_size()
            cur.add_trailer(name, value)

    def _check_head_size(self) -> None:
        limits = self.limits
        if (len(self.parts) >> 2) + self.nspecial > limits.max_header_fields:
            raise HeadersTooLarge(f"more than {limits.max_header_fields} header fields")
        if sum(map(len, self.parts)) + self.sbytes > limits.max_header_bytes:
            raise HeadersTooLarge(f"headers larger than {limits.max_header_bytes} bytes")

    def on_headers_complete(self) -> None:
        if self.synthetic:
            self.synthetic = False
            return
        self.in_head = False
        self.deadline_kind = D_NONE
        limits = self.limits
        if (
            (len(self.parts) >> 2) + self.nspecial > limits.max_header_fields
            or self.head_read + self.read_n > limits.max_header_bytes  # else: it is small
        ):
            self._check_head_size()
        parser = self.parser
        method: bytes = parser.get_method()
        tokens = self.tokens
        if tokens is None and parser.should_keep_alive():
            http10 = False  # llhttp says keep-alive without a Connection header: HTTP/1.1
        else:
            version = parser.get_http_version()
            http10 = version == "1.0"
            if not http10 and version != "1.1":
                raise VersionNotSupported(f"HTTP/{version} is not supported")
        if method == b"CONNECT" or method == b"TRACE":
            err: ProxyError = MethodNotAllowed(f"method {method.decode()} is not allowed")
            keep = method == b"TRACE" and self.te is None and self.cl is None and not http10
            self._local(err, method, http10, keep, BODY_NONE)
            return
        # llhttp lets "GET  /a" (two spaces) through; h11 does not, nor do we. The line
        # as it should be must be among the bytes read (found elsewhere is harmless: the
        # request line is rebuilt for the upstream anyway).
        line = b"%s %s HTTP/%s\r\n" % (method, self.url, b"1.0" if http10 else b"1.1")
        if self.engine.read_buffer.find(line, 0, self.read_n) < 0:
            raw = (self.head_raw or bytearray()) + self.engine.read_view[: self.read_n]
            if raw.find(line) < 0:
                raise BadRequest("malformed request line")
        host = self.host
        if host is None and not http10:
            raise BadRequest("HTTP/1.1 request without Host")
        target = self.url
        if target[:1] != b"/" and target != b"*":
            split = framing.split_absolute(target)
            if split is None:
                raise BadRequest("request target is not origin-form or absolute-form")
            authority, target = split
            if host is None:
                host = authority
            elif authority.lower() != host.lower():
                raise BadRequest("absolute-form target names another host than Host")
        if host is None:
            host = b""
        if tokens is None:
            keep_alive = not http10
        else:
            keep_alive = (b"keep-alive" in tokens) if http10 else (b"close" not in tokens)
        body_mode = BODY_NONE
        length = 0
        if self.te is not None:
            if self.cl is not None:
                raise BadRequest("both Content-Length and Transfer-Encoding")
            body_mode = BODY_CHUNKED
        elif self.cl is not None:
            length = int(self.cl)
            if length > limits.max_body:
                raise BodyTooLarge(f"request body larger than {limits.max_body} bytes")
            if length:
                body_mode = BODY_LENGTH
        tunnel: bytes | None = None
        if self.upgrade is not None and tokens and b"upgrade" in tokens:
            tunnel = _tunnel_protocols(self.upgrade)
            if tunnel is not None and body_mode != BODY_NONE:
                raise BadRequest("an Upgrade request cannot carry a body")
        key = host.lower()
        colon = key.find(b":")
        if colon >= 0 and key[:1] != b"[":
            key = key[:colon]
        elif key[:1] == b"[":
            key = framing.host_key(key)
        route = self.engine.router.route(key, target)
        if route is None:
            err = NoRoute(f"no service for host {host.decode('latin-1')}")
            self._local(err, method, http10, keep_alive, body_mode)
            return
        parts = self.parts
        if tokens:
            parts = framing.drop_named(parts, tokens)
        head = [method, b" ", target, b" HTTP/1.1\r\nHost: ", host, b"\r\n"]
        head += parts
        if body_mode == BODY_CHUNKED:
            head.append(b"Transfer-Encoding: chunked\r\n")
        elif self.cl is not None:
            head.append(b"Content-Length: %d\r\n" % length)  # as parsed ("05" → 5)
        if self.xff is None:
            head.append(self.forward_tail)
        else:
            head += (b"X-Forwarded-For: ", self.xff, b", ", self.peer, b"\r\n")
            head.append(b"X-Forwarded-Proto: http\r\n")
        head += (b"X-Forwarded-Host: ", host, b"\r\n", route.upstream_headers)
        if tunnel is not None:
            head += (b"Connection: upgrade\r\nUpgrade: ", tunnel, b"\r\n")
        head.append(b"\r\n")
        ex = Exchange(self, method, http10, keep_alive, route, b"".join(head), body_mode)  # type: ignore[arg-type]
        if body_mode == BODY_LENGTH:
            ex.body_length = length
        if self.expect and not http10:
            ex.expect = True
        if tunnel is not None:
            ex.upgrade = True
            ex.close_after = True  # a refused upgrade may have sent raw bytes upstream
        elif body_mode != BODY_NONE and parser.should_upgrade():
            ex.body_after_upgrade = True  # an ignored h2c upgrade: llhttp skips the body
        queue = self.queue
        if not queue:
            self.cur = ex
            queue.append(ex)
            ex.start()
        else:
            self._enqueue(ex)

    def on_body(self, body: bytes) -> None:
        cur = self.cur
        if cur is not None:
            cur.request_body(body)

    def on_message_complete(self) -> None:
        cur = self.cur
        if cur is None or cur.req_done or cur.body_after_upgrade:
            return  # (an ignored upgrade's body follows the upgrade pause)
        cur.request_complete()
        if cur.upgrade:
            self.raw_mode = True
        elif not cur.keep_alive or cur.close_after or self.draining:
            self.discarding = True
            raise Stop

    # -- requests in order ----------------------------------------------------------------

    @property
    def conn(self) -> ClientConnection:
        return cast("ClientConnection", self)

    def pause(self, reason: int) -> None:
        raise NotImplementedError  # ClientConnection's

    def _enqueue(self, ex: Exchange) -> None:
        queue = self.queue
        if len(queue) >= self.limits.pipeline_depth:
            # Deeper than allowed in one read: answer what is queued, then close.
            queue[-1].close_after = True
            self.discarding = True
            raise Stop
        self.cur = ex
        queue.append(ex)
        if len(queue) == 1:
            ex.start()
        elif len(queue) >= self.limits.pipeline_depth:
            self.pause(P_DEPTH)

    def _local(
        self, err: ProxyError, method: bytes, http10: bool, keep_alive: bool, body_mode: int
    ) -> None:
        close = err.close or not keep_alive or self.draining
        ex = Exchange(self.conn, method, http10, keep_alive, None, b"", body_mode)
        response = error_response(err.status, str(err), close=close, head_request=ex.is_head)
        ex.set_local(err.status, response, close)
        self._enqueue(ex)

    def refuse(self, err: ProxyError) -> None:
        """A request that cannot be parsed on: answer it in turn, then close."""
        in_head = self.in_head
        self.discarding = True
        self.in_head = False
        self.deadline_kind = D_NONE
        cur = self.cur
        if not in_head and cur is not None and cur.body_pending():
            cur.body_error(err)  # the error is in this request's body
            return
        ex = Exchange(self.conn, b"GET", False, False, None, b"", BODY_NONE)
        ex.req_done = True
        ex.set_local(err.status, error_response(err.status, str(err), close=True), True)
        queue = self.queue
        if len(queue) >= self.limits.pipeline_depth:
            queue[-1].close_after = True
            return
        self.cur = ex
        queue.append(ex)
        if len(queue) == 1:
            ex.start()

    def after_upgrade(self, data: memoryview, offset: int) -> memoryview | None:
        """llhttp paused after an upgrade (or CONNECT) head; decide what the rest is."""
        rest = data[offset:]
        cur = self.cur
        if self.discarding or cur is None or cur.local is not None:
            self.discarding = True
            return None
        if cur.upgrade:
            self.raw_mode = True
            if len(rest):
                cur.raw_from_client(bytes(rest))
            return None
        if cur.body_after_upgrade:
            # An ignored upgrade (h2c) with a body: llhttp skipped the body, so parse it
            # with a fresh parser primed by a head of the same framing (callbacks off).
            cur.body_after_upgrade = False
            parser = self.parser = httptools.HttpRequestParser(self)
            self.synthetic = True
            if cur.body_mode == BODY_CHUNKED:
                parser.feed_data(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
            else:
                parser.feed_data(b"POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % cur.body_left())
        return rest if len(rest) else None


def _tunnel_protocols(upgrade: bytes) -> bytes | None:
    """What to ask upstream for: the client's Upgrade minus h2c (which is stripped)."""
    protocols = [p for p in framing.connection_tokens(upgrade) if p != b"h2c"]
    if not protocols:
        return None
    if len(protocols) == 1 and upgrade.strip().lower() == protocols[0]:
        return upgrade.strip()
    return b", ".join(protocols)
