"""A raw-socket HTTP/1.1 client for tests that must control every byte.

A real client library would normalise exactly what the proxy tests need to see: framing,
interim responses, half-written bodies, closes. This one sends bytes as given (whole,
or one ``send()`` per byte), parses responses itself and reports what it saw, and never
waits without a deadline. It is blocking on purpose: the servers under test run on their
own event loop in another thread, so the client shares nothing with them.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field

DEFAULT_TIMEOUT = 5.0
_NO_BODY_STATUSES = frozenset({204, 304})


class RawHttpError(Exception):
    """The exchange did not produce a well-formed response."""


class ResponseTimeout(RawHttpError):
    """The deadline passed before the response (or the close) arrived."""

    def __init__(self, message: str, received: bytes) -> None:
        super().__init__(message)
        self.received = received


class IncompleteResponse(RawHttpError):
    """The server closed (or reset) the connection in the middle of a response."""

    def __init__(self, message: str, received: bytes) -> None:
        super().__init__(message)
        self.received = received


class MalformedResponse(RawHttpError):
    """The bytes are not an HTTP/1.x response."""


@dataclass(frozen=True, slots=True)
class RawResponse:
    status: int
    reason: bytes
    http_version: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    chunked: bool
    close_delimited: bool
    raw: bytes
    trailers: tuple[tuple[bytes, bytes], ...] = ()

    def header(self, name: bytes) -> bytes | None:
        """The first value of ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def header_values(self, name: bytes) -> list[bytes]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    @property
    def wants_close(self) -> bool:
        tokens = b",".join(self.header_values(b"connection")).lower().split(b",")
        return b"close" in {t.strip() for t in tokens} or self.close_delimited


@dataclass(slots=True)
class _Need:
    """Sentinel: the buffer does not hold a complete response yet."""

    reason: str = "need more data"


def _split_head(buf: bytes) -> tuple[bytes, int] | None:
    """The head (without its blank line) and where the body starts, CRLF or bare LF."""
    crlf = buf.find(b"\r\n\r\n")
    lf = buf.find(b"\n\n")
    candidates = [(crlf, 4), (lf, 2)]
    found = [(pos, size) for pos, size in candidates if pos >= 0]
    if not found:
        return None
    pos, size = min(found)
    return buf[:pos], pos + size


def _parse_head(
    head: bytes,
) -> tuple[bytes, int, bytes, tuple[tuple[bytes, bytes], ...]]:
    lines = [line.rstrip(b"\r") for line in head.split(b"\n")]
    status_line = lines[0]
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise MalformedResponse(f"bad status line {status_line!r}")
    version = parts[0][5:]
    status = int(parts[1])
    reason = parts[2] if len(parts) == 3 else b""
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise MalformedResponse(f"bad header line {line!r}")
        headers.append((name, value.strip(b" \t")))
    return version, status, reason, tuple(headers)


def _parse_chunked(
    buf: bytes, start: int
) -> tuple[bytes, tuple[tuple[bytes, bytes], ...], int] | _Need:
    """Body, trailers and the end offset of a chunked body starting at ``start``."""
    body = bytearray()
    pos = start
    while True:
        eol = buf.find(b"\n", pos)
        if eol < 0:
            return _Need()
        size_line = buf[pos:eol].rstrip(b"\r").split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise MalformedResponse(f"bad chunk size line {buf[pos:eol]!r}") from None
        pos = eol + 1
        if size == 0:
            trailers: list[tuple[bytes, bytes]] = []
            while True:
                eol = buf.find(b"\n", pos)
                if eol < 0:
                    return _Need()
                line = buf[pos:eol].rstrip(b"\r")
                pos = eol + 1
                if not line:
                    return bytes(body), tuple(trailers), pos
                name, _, value = line.partition(b":")
                trailers.append((name, value.strip()))
        if len(buf) < pos + size + 2:
            return _Need()
        body += buf[pos : pos + size]
        pos += size
        if buf[pos : pos + 2] == b"\r\n":
            pos += 2
        elif buf[pos : pos + 1] == b"\n":
            pos += 1
        else:
            raise MalformedResponse("chunk data not followed by CRLF")


def parse_response(
    buf: bytes, method: bytes = b"GET", eof: bool = False
) -> tuple[RawResponse, int] | None:
    """One response from the front of ``buf`` and the bytes it used, or None if more is
    needed. ``method`` decides whether a body follows (HEAD never has one); ``eof`` says
    the peer has closed, which ends a close-delimited body."""
    split = _split_head(buf)
    if split is None:
        return None
    head, body_start = split
    version, status, reason, headers = _parse_head(head)
    lowered = [(name.lower(), value) for name, value in headers]
    te = b",".join(v for n, v in lowered if n == b"transfer-encoding").lower()
    cls = [v for n, v in lowered if n == b"content-length"]
    no_body = status < 200 or status in _NO_BODY_STATUSES or method.upper() == b"HEAD"

    def build(
        body: bytes,
        end: int,
        *,
        chunked: bool = False,
        close: bool = False,
        trailers: tuple[tuple[bytes, bytes], ...] = (),
    ) -> tuple[RawResponse, int]:
        response = RawResponse(
            status=status,
            reason=reason,
            http_version=version,
            headers=headers,
            body=body,
            chunked=chunked,
            close_delimited=close,
            raw=buf[:end],
            trailers=trailers,
        )
        return response, end

    if no_body:
        return build(b"", body_start)
    if te:
        if te.split(b",")[-1].strip() != b"chunked":
            raise MalformedResponse(f"unexpected Transfer-Encoding {te!r}")
        parsed = _parse_chunked(buf, body_start)
        if isinstance(parsed, _Need):
            return None
        body, trailers, end = parsed
        return build(body, end, chunked=True, trailers=trailers)
    if cls:
        if len(set(cls)) != 1 or not cls[0].strip().isdigit():
            raise MalformedResponse(f"bad Content-Length {cls!r}")
        length = int(cls[0])
        if len(buf) < body_start + length:
            return None
        return build(buf[body_start : body_start + length], body_start + length)
    if not eof:
        return None
    return build(buf[body_start:], len(buf), close=True)


@dataclass(slots=True)
class Exchange:
    """Every response a request produced: interim (1xx) ones, then the final one."""

    interim: list[RawResponse] = field(default_factory=list)
    final: RawResponse | None = None

    @property
    def statuses(self) -> list[int]:
        out = [r.status for r in self.interim]
        if self.final is not None:
            out.append(self.final.status)
        return out


class RawClient:
    """One TCP connection to ``127.0.0.1:port`` and what has been received on it."""

    def __init__(
        self, port: int, host: str = "127.0.0.1", timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.eof = False
        self.reset = False

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        """Send ``data``; a peer that has already closed is not an error here (the test
        reads what the peer answered before it closed)."""
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.reset = True

    def send_bytewise(self, data: bytes) -> None:
        """One ``send()`` per byte (Nagle off), so the peer sees every split point."""
        for i in range(len(data)):
            self.send(data[i : i + 1])

    def shutdown_write(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    def _deadline(self, timeout: float | None) -> float:
        return time.monotonic() + (self.timeout if timeout is None else timeout)

    def _recv(self, deadline: float) -> bool:
        """Receive once into the buffer; False at EOF (or reset)."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ResponseTimeout("deadline passed", self.buffer)
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            raise ResponseTimeout("deadline passed", self.buffer) from None
        except ConnectionResetError:
            self.reset = True
            data = b""
        if not data:
            self.eof = True
            return False
        self.buffer += data
        return True

    def read_response(self, method: bytes = b"GET", timeout: float | None = None) -> RawResponse:
        """The next response on the connection (interim 1xx responses included)."""
        deadline = self._deadline(timeout)
        while True:
            parsed = parse_response(self.buffer, method, eof=self.eof)
            if parsed is not None:
                response, used = parsed
                self.buffer = self.buffer[used:]
                return response
            if not self._recv(deadline):
                parsed = parse_response(self.buffer, method, eof=True)
                if parsed is not None:
                    response, used = parsed
                    self.buffer = self.buffer[used:]
                    return response
                raise IncompleteResponse(
                    "connection " + ("reset" if self.reset else "closed") + " mid-response",
                    self.buffer,
                )

    def read_exchange(self, method: bytes = b"GET", timeout: float | None = None) -> Exchange:
        """Interim responses up to and including the final one (101 counts as final)."""
        deadline = self._deadline(timeout)
        exchange = Exchange()
        while True:
            response = self.read_response(method, max(0.0, deadline - time.monotonic()))
            if 100 <= response.status < 200 and response.status != 101:
                exchange.interim.append(response)
                continue
            exchange.final = response
            return exchange

    def read_until_close(self, timeout: float | None = None) -> bytes:
        """Everything until the peer closes; what was already buffered comes first."""
        deadline = self._deadline(timeout)
        while self._recv(deadline):
            pass
        data, self.buffer = self.buffer, b""
        return data

    def read_some(self, timeout: float | None = None) -> bytes:
        """Whatever arrives next (b"" once the peer has closed)."""
        deadline = self._deadline(timeout)
        if not self.buffer:
            self._recv(deadline)
        data, self.buffer = self.buffer, b""
        return data

    def read_until(self, marker: bytes, timeout: float | None = None) -> bytes:
        """Bytes up to and including ``marker``; the rest stays buffered."""
        deadline = self._deadline(timeout)
        while marker not in self.buffer:
            if not self._recv(deadline):
                raise IncompleteResponse(f"closed before {marker!r}", self.buffer)
        end = self.buffer.index(marker) + len(marker)
        data, self.buffer = self.buffer[:end], self.buffer[end:]
        return data

    def closed_by_peer(self, timeout: float | None = None) -> bool:
        """True if the peer closes within ``timeout`` without sending more bytes first;
        False if it stays open (or sends something)."""
        if self.buffer:
            return False
        try:
            self._recv(self._deadline(timeout))
        except ResponseTimeout:
            return False
        return self.eof and not self.buffer


def request(
    method: bytes,
    target: bytes,
    host: bytes | None,
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
    *,
    version: bytes = b"HTTP/1.1",
    content_length: bool | None = None,
) -> bytes:
    """A well-formed request's bytes. ``content_length`` defaults to "when there is a
    body"; pass False to leave it out (the caller frames the body itself)."""
    lines = [method + b" " + target + b" " + version]
    if host is not None:
        lines.append(b"Host: " + host)
    lines.extend(name + b": " + value for name, value in headers or [])
    if content_length or (content_length is None and body):
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def chunked(*chunks: bytes, trailers: bytes = b"") -> bytes:
    """A chunked body with the given chunks (empty ones are skipped) and last-chunk."""
    out = bytearray()
    for chunk in chunks:
        if chunk:
            out += b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    return bytes(out) + b"0\r\n" + trailers + b"\r\n"
