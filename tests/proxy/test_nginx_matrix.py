"""DESIGN.md's hardening matrix, sent as bytes through the engine and through nginx.

Both proxies stand in front of the same recording upstream in the same run. Each case
asserts our outcome exactly and nginx's by status class against the checked-in table
``nginx_expected_differences.yaml`` (which says why, where they differ), plus what only
the engine promises (closing after a rejection, not forwarding, stripping hop-by-hop
headers, piping an upgrade). The side-by-side table is written to
``loadtests/results/matrix.md`` for the design note.

Limits that would take long to reach with the defaults are configured equally small on
both sides (body limit 1 MiB, a 0.5 s response timeout for one host), and nginx's
lingering close after an error is cut to 200 ms.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import select
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.support.nginx import NginxConfig, NginxProcess, require_nginx
from tests.support.ports import free_port
from tests.support.rawhttp import (
    IncompleteResponse,
    RawClient,
    RawHttpError,
    ResponseTimeout,
    chunked,
    request,
)
from tests.support.recording_upstream import (
    BackgroundLoop,
    EngineInFront,
    RecordedRequest,
    RecordingUpstream,
    UpstreamExchange,
)

HOST = b"m.example.com"
DEAD = b"dead.example.com"
SLOW = b"slow.example.com"
ALT = b"alt.example.com"
SLOW_TIMEOUT = 0.5
MAX_BODY = 1 << 20
TIMEOUT = 5.0
TABLE = Path(__file__).with_name("nginx_expected_differences.yaml")
RESULTS = Path(__file__).resolve().parents[2] / "loadtests" / "results" / "matrix.md"
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# -- the upstream's behaviours, by path ----------------------------------------------


async def head_handler(ex: UpstreamExchange) -> None:
    await ex.read_body()
    ex.reply(200, [(b"Content-Type", b"text/plain")], b"head-body!!")


async def early_hints_handler(ex: UpstreamExchange) -> None:
    await ex.read_body()
    ex.write(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
    await ex.drain()
    ex.reply(200, [], b"after hints")


async def no_content_handler(ex: UpstreamExchange) -> None:
    await ex.read_body()
    ex.reply(204, [(b"X-Kind", b"no-content")])


async def not_modified_handler(ex: UpstreamExchange) -> None:
    await ex.read_body()
    ex.reply(304, [(b"ETag", b'"v1"')], reason=b"Not Modified")


async def no_length_handler(ex: UpstreamExchange) -> None:
    await ex.read_body()
    ex.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nno framing at all, ")
    await ex.drain()
    ex.write(b"ended by the close")
    ex.keep_alive = False


async def dies_handler(ex: UpstreamExchange) -> None:
    await ex.read_body()
    ex.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
    await ex.drain()
    ex.keep_alive = False


async def slow_handler(ex: UpstreamExchange) -> None:
    """Answers only after the proxy gave up (it closes the connection) or 5 s."""
    await ex.read_body()
    reader, _, _ = ex.take_over()
    try:
        await asyncio.wait_for(reader.read(1), 5.0)
    except TimeoutError:
        ex.reply(200, [], b"too late")


async def websocket_handler(ex: UpstreamExchange) -> None:
    await ex.read_body()
    key = ex.header(b"sec-websocket-key")
    if (ex.header(b"upgrade") or b"").lower() != b"websocket" or key is None:
        ex.reply(200, [], b"no upgrade reached the upstream")
        return
    accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
    ex.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )
    reader, writer, leftover = ex.take_over()
    if leftover:
        writer.write(leftover)
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()


HANDLERS = {
    b"/head": head_handler,
    b"/early-hints": early_hints_handler,
    b"/no-content": no_content_handler,
    b"/not-modified": not_modified_handler,
    b"/no-length": no_length_handler,
    b"/dies": dies_handler,
    b"/slow": slow_handler,
    b"/ws": websocket_handler,
}


# -- the rig: one upstream, the engine and nginx in front of it -----------------------


@dataclass(slots=True)
class Side:
    name: str
    port: int
    is_engine: bool


@dataclass(slots=True)
class Rig:
    upstream: RecordingUpstream
    engine: Side
    nginx: Side
    table: dict[str, dict[str, object]]
    rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    tags: Iterator[int] = field(default_factory=itertools.count)

    def tag(self) -> bytes:
        return b"t%05d" % next(self.tags)

    def seen(self, tag: bytes) -> list[RecordedRequest]:
        return [r for r in self.upstream.requests if r.header(b"x-case") == tag]


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    binary = require_nginx()
    from zeroserve.proxy.limits import ProxyLimits

    table = yaml.safe_load(TABLE.read_text())["cases"]
    bg = BackgroundLoop()
    upstream = RecordingUpstream()
    for prefix, handler in HANDLERS.items():
        upstream.route(prefix, handler)
    up_port = bg.run(upstream.start())
    dead_port = free_port()
    routes = {HOST: up_port, DEAD: dead_port, SLOW: up_port, ALT: up_port}
    engine = EngineInFront(
        bg, routes, limits=ProxyLimits(max_body=MAX_BODY), timeouts={SLOW: SLOW_TIMEOUT}
    )
    nginx = NginxProcess(
        NginxConfig(
            routes={h.decode(): p for h, p in routes.items()},
            client_max_body_size="1m",
            read_timeouts={SLOW.decode(): SLOW_TIMEOUT},
            extra_http="lingering_timeout 200ms;",  # do not wait 5 s to close after a 413
        ),
        binary=binary,
    )
    try:
        engine.start()
        nginx.start()
        rig = Rig(
            upstream, Side("engine", engine.port, True), Side("nginx", nginx.port, False), table
        )
        yield rig
        write_table(rig.rows)
    finally:
        nginx.cleanup()
        engine.close()
        bg.run(upstream.close())
        bg.stop()


def write_table(rows: list[tuple[str, str, str, str, str]]) -> None:
    lines = [
        "| case | Zeroserve | nginx 1 worker | same class | note |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {c} | {o} | {n} | {s} | {r} |" for c, o, n, s, r in rows]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        "# Hardening matrix: Zeroserve engine vs nginx (same upstream, same run)\n\n"
        + "\n".join(lines)
        + "\n"
    )
    print("\n" + "\n".join(lines))


# -- outcomes ------------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    """The statuses the client saw (interim ones included), then how it ended: ``open``
    (connection still usable), ``closed``, ``aborted`` (cut inside a response) or
    ``timeout``; plus a free-form detail for the table."""

    statuses: list[int] = field(default_factory=list)
    end: str = "open"
    detail: str = ""

    def tokens(self) -> list[str]:
        out = [str(s) for s in self.statuses]
        if self.end != "open":
            out.append(self.end)
        return out

    def __str__(self) -> str:
        return " ".join(self.tokens()) or "-"


def status_class(token: str) -> str:
    return token[0] + "xx" if token.isdigit() else token


def exchange(
    client: RawClient, outcome: Outcome, method: bytes = b"GET", timeout: float = TIMEOUT
) -> bytes | None:
    """Read one exchange into ``outcome``; the final body, or None if it ended badly."""
    try:
        ex = client.read_exchange(method, timeout)
    except IncompleteResponse as exc:
        outcome.end = "aborted" if exc.received else "closed"
        return None
    except ResponseTimeout:
        outcome.end = "timeout"
        return None
    outcome.statuses += ex.statuses
    assert ex.final is not None
    if ex.final.wants_close:
        outcome.end = "closed" if client.closed_by_peer(TIMEOUT) else "open"
    return ex.final.body


def finish(client: RawClient, outcome: Outcome) -> Outcome:
    """After the last expected response: does the peer close now (without more bytes)?"""
    if outcome.end == "open" and outcome.statuses and outcome.statuses[-1] >= 400:
        outcome.end = "closed" if client.closed_by_peer(0.2) else "open"
    return outcome


def simple(side: Side, data: bytes, method: bytes = b"GET") -> Outcome:
    outcome = Outcome()
    with RawClient(side.port, timeout=TIMEOUT) as client:
        client.send(data)
        exchange(client, outcome, method)
        return finish(client, outcome)


def send_until_answered(client: RawClient, pieces: list[bytes]) -> None:
    """Send piece by piece, stopping as soon as the peer has answered (so a proxy that
    refuses mid-body is not reset by our further writes before we read its answer)."""
    for piece in pieces:
        readable, _, _ = select.select([client.sock], [], [], 0)
        if readable:
            return
        client.send(piece)


# -- the cases -----------------------------------------------------------------------

Case = Callable[[Rig, Side], Outcome]
CASES: dict[str, Case] = {}


def case(fn: Case) -> Case:
    CASES[fn.__name__.removeprefix("case_")] = fn
    return fn


def rejected(rig: Rig, side: Side, data: bytes, tag: bytes, method: bytes = b"GET") -> Outcome:
    """A request the engine must refuse: 4xx, close, and nothing complete upstream."""
    outcome = simple(side, data, method)
    forwarded = [r for r in rig.seen(tag) if r.complete]
    outcome.detail = f"forwarded {len(forwarded)}" if forwarded else ""
    if side.is_engine:
        assert outcome.end == "closed", f"engine did not close after refusing: {outcome}"
        assert not forwarded, f"engine forwarded a refused request: {forwarded!r}"
    return outcome


def get(tag: bytes, target: bytes = b"/", *extra: tuple[bytes, bytes]) -> bytes:
    return request(b"GET", target, HOST, [(b"X-Case", tag), *extra])


@case
def case_request_line_too_long(rig: Rig, side: Side) -> Outcome:
    tag = rig.tag()
    return rejected(rig, side, get(tag, b"/" + b"a" * 9000), tag)


@case
def case_headers_too_large(rig: Rig, side: Side) -> Outcome:
    tag = rig.tag()
    big = [(b"X-Big-%d" % i, b"v" * 7000) for i in range(5)]
    return rejected(rig, side, get(tag, b"/", *big), tag)


@case
def case_too_many_header_fields(rig: Rig, side: Side) -> Outcome:
    tag = rig.tag()
    many = [(b"X-F-%d" % i, b"v") for i in range(101)]
    if side.is_engine:
        return rejected(rig, side, get(tag, b"/", *many), tag)
    return simple(side, get(tag, b"/", *many))


@case
def case_body_too_large_content_length(rig: Rig, side: Side) -> Outcome:
    tag = rig.tag()
    head = request(
        b"POST", b"/", HOST, [(b"X-Case", tag), (b"Content-Length", b"%d" % (MAX_BODY + 1))]
    )
    return rejected(rig, side, head, tag)


@case
def case_body_too_large_chunked(rig: Rig, side: Side) -> Outcome:
    tag = rig.tag()
    head = request(b"POST", b"/", HOST, [(b"X-Case", tag), (b"Transfer-Encoding", b"chunked")])
    piece = b"%x\r\n" % 65536 + b"x" * 65536 + b"\r\n"
    outcome = Outcome()
    with RawClient(side.port, timeout=TIMEOUT) as client:
        client.send(head)
        send_until_answered(client, [piece] * (MAX_BODY // 65536 + 2) + [b"0\r\n\r\n"])
        exchange(client, outcome, b"POST")
        finish(client, outcome)
    if side.is_engine:
        assert outcome.end == "closed", outcome
        assert not [r for r in rig.seen(tag) if r.complete]
    return outcome


@case
def case_content_length_and_transfer_encoding(rig: Rig, side: Side) -> Outcome:
    tag = rig.tag()
    data = request(
        b"POST",
        b"/",
        HOST,
        [(b"X-Case", tag), (b"Content-Length", b"5"), (b"Transfer-Encoding", b"chunked")],
        chunked(b"hello"),
        content_length=False,
    )
    return rejected(rig, side, data, tag)


@case
def case_two_content_lengths(rig: Rig, side: Side) -> Outcome:
    tag = rig.tag()
    data = request(
        b"POST",
        b"/",
        HOST,
        [(b"X-Case", tag), (b"Content-Length", b"5"), (b"Content-Length", b"6")],
        b"hello!",
        content_length=False,
    )
    return rejected(rig, side, data, tag)


@case
def case_transfer_encoding_not_chunked(rig: Rig, side: Side) -> Outcome:
    tag = rig.tag()
    data = request(
        b"POST",
        b"/",
        HOST,
        [(b"X-Case", tag), (b"Transfer-Encoding", b"gzip, chunked")],
        chunked(b"hello"),
        content_length=False,
    )
    return rejected(rig, side, data, tag)


@case
def case_bad_chunk_size(rig: Rig, side: Side) -> Outcome:
    tag = rig.tag()
    data = request(
        b"POST",
        b"/",
        HOST,
        [(b"X-Case", tag), (b"Transfer-Encoding", b"chunked")],
        b"zz\r\nhello\r\n0\r\n\r\n",
        content_length=False,
    )
    return rejected(rig, side, data, tag)


@case
def case_obs_fold(rig: Rig, side: Side) -> Outcome:
    tag = rig.tag()
    data = get(tag, b"/", (b"X-Folded", b"first\r\n  second"))
    if side.is_engine:
        return rejected(rig, side, data, tag)
    return simple(side, data)


@case
def case_bare_lf(rig: Rig, side: Side) -> Outcome:
    tag = rig.tag()
    data = get(tag).replace(b"\r\n", b"\n")
    if side.is_engine:
        return rejected(rig, side, data, tag)
    return simple(side, data)


@case
def case_nul_in_header(rig: Rig, side: Side) -> Outcome:
    tag = rig.tag()
    return rejected(rig, side, get(tag, b"/", (b"X-Nul", b"a\x00b")), tag)


@case
def case_two_hosts(rig: Rig, side: Side) -> Outcome:
    tag = rig.tag()
    return rejected(rig, side, get(tag, b"/", (b"Host", b"evil.example.com")), tag)


@case
def case_missing_host(rig: Rig, side: Side) -> Outcome:
    tag = rig.tag()
    return rejected(rig, side, request(b"GET", b"/", None, [(b"X-Case", tag)]), tag)


@case
def case_absolute_form_mismatch(rig: Rig, side: Side) -> Outcome:
    tag = rig.tag()
    data = request(b"GET", b"http://" + ALT + b"/abs", HOST, [(b"X-Case", tag)])
    if side.is_engine:
        return rejected(rig, side, data, tag)
    outcome = simple(side, data)
    outcome.detail = "routed by the target's authority"
    return outcome


@case
def case_connect(rig: Rig, side: Side) -> Outcome:
    tag = rig.tag()
    data = request(b"CONNECT", HOST + b":443", HOST + b":443", [(b"X-Case", tag)])
    outcome = simple(side, data)
    if side.is_engine:
        assert not rig.seen(tag)
    return outcome


@case
def case_trace(rig: Rig, side: Side) -> Outcome:
    tag = rig.tag()
    outcome = simple(side, request(b"TRACE", b"/", HOST, [(b"X-Case", tag)]))
    if side.is_engine:
        assert not rig.seen(tag)
    return outcome


@case
def case_h2c_upgrade(rig: Rig, side: Side) -> Outcome:
    tag = rig.tag()
    data = get(
        tag,
        b"/",
        (b"Connection", b"Upgrade, HTTP2-Settings"),
        (b"Upgrade", b"h2c"),
        (b"HTTP2-Settings", b"AAMAAABkAARAAAAAAAIAAAAA"),
    )
    outcome = simple(side, data)
    seen = rig.seen(tag)
    leaked = sorted(
        {n.decode() for r in seen for n, _ in r.headers} & {"upgrade", "http2-settings"}
    )
    outcome.detail = f"upstream saw {', '.join(leaked)}" if leaked else "upgrade stripped"
    if side.is_engine:
        assert len(seen) == 1 and not leaked, seen
    return outcome


def then_get(rig: Rig, client: RawClient, outcome: Outcome) -> None:
    """A second request on the same connection: proves the first one's framing was right."""
    tag = rig.tag()
    client.send(get(tag))
    body = exchange(client, outcome)
    if body is not None and not (body.startswith(b"index=") and tag in body):
        outcome.detail = f"second response was {body[:60]!r}"


@case
def case_head(rig: Rig, side: Side) -> Outcome:
    outcome = Outcome()
    with RawClient(side.port, timeout=TIMEOUT) as client:
        client.send(request(b"HEAD", b"/head", HOST, [(b"X-Case", rig.tag())]))
        exchange(client, outcome, b"HEAD")
        then_get(rig, client, outcome)
    return outcome


@case
def case_interim_1xx(rig: Rig, side: Side) -> Outcome:
    outcome = Outcome()
    with RawClient(side.port, timeout=TIMEOUT) as client:
        client.send(get(rig.tag(), b"/early-hints"))
        # nginx 1.22 holds a 103 until its read timeout: do not wait the full deadline.
        try:
            first = client.read_response(b"GET", 1.5)
        except ResponseTimeout:
            outcome.end = "timeout"
            return outcome
        outcome.statuses.append(first.status)
        body = exchange(client, outcome, timeout=1.5) if first.status < 200 else first.body
        if body is not None and body != b"after hints":
            outcome.detail = f"body {body!r}"
    return outcome


@case
def case_no_content_204(rig: Rig, side: Side) -> Outcome:
    outcome = Outcome()
    with RawClient(side.port, timeout=TIMEOUT) as client:
        client.send(get(rig.tag(), b"/no-content"))
        exchange(client, outcome)
        then_get(rig, client, outcome)
    return outcome


@case
def case_not_modified_304(rig: Rig, side: Side) -> Outcome:
    outcome = Outcome()
    with RawClient(side.port, timeout=TIMEOUT) as client:
        client.send(get(rig.tag(), b"/not-modified", (b"If-None-Match", b'"v1"')))
        exchange(client, outcome)
        then_get(rig, client, outcome)
    return outcome


@case
def case_response_without_length(rig: Rig, side: Side) -> Outcome:
    outcome = Outcome()
    with RawClient(side.port, timeout=TIMEOUT) as client:
        client.send(get(rig.tag(), b"/no-length"))
        try:
            ex = client.read_exchange(b"GET", TIMEOUT)
        except RawHttpError as exc:
            outcome.end = "aborted"
            outcome.detail = str(exc)
            return outcome
        assert ex.final is not None
        outcome.statuses += ex.statuses
        framing = (
            "chunked"
            if ex.final.chunked
            else "close-delimited"
            if ex.final.close_delimited
            else "length"
        )
        outcome.detail = framing
        if ex.final.body != b"no framing at all, ended by the close":
            outcome.detail += f", body {ex.final.body!r}"
        if not ex.final.close_delimited:
            then_get(rig, client, outcome)
    if side.is_engine:
        assert outcome.detail == "chunked", outcome
    return outcome


@case
def case_response_without_length_http10_client(rig: Rig, side: Side) -> Outcome:
    outcome = Outcome()
    with RawClient(side.port, timeout=TIMEOUT) as client:
        client.send(
            request(b"GET", b"/no-length", HOST, [(b"X-Case", rig.tag())], version=b"HTTP/1.0")
        )
        body = exchange(client, outcome)
        if body != b"no framing at all, ended by the close":
            outcome.detail = f"body {body!r}"
        if outcome.end == "open":
            outcome.end = "closed" if client.closed_by_peer(TIMEOUT) else "open"
    return outcome


@case
def case_expect_100_continue(rig: Rig, side: Side) -> Outcome:
    tag = rig.tag()
    outcome = Outcome()
    head = request(
        b"POST",
        b"/",
        HOST,
        [(b"X-Case", tag), (b"Expect", b"100-continue"), (b"Content-Length", b"5")],
    )
    with RawClient(side.port, timeout=TIMEOUT) as client:
        client.send(head)
        try:
            interim = client.read_response(b"POST", TIMEOUT)
        except RawHttpError as exc:
            outcome.end = "timeout" if isinstance(exc, ResponseTimeout) else "closed"
            outcome.detail = "no 100 before the body"
            return outcome
        outcome.statuses.append(interim.status)
        if interim.status != 100:
            return finish(client, outcome)
        client.send(b"hello")
        body = exchange(client, outcome, b"POST")
        if body is not None and b"len=5" not in body:
            outcome.detail = f"body {body!r}"
    return outcome


@case
def case_websocket_upgrade(rig: Rig, side: Side) -> Outcome:
    outcome = Outcome()
    data = get(
        rig.tag(),
        b"/ws",
        (b"Connection", b"Upgrade"),
        (b"Upgrade", b"websocket"),
        (b"Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
        (b"Sec-WebSocket-Version", b"13"),
    )
    with RawClient(side.port, timeout=TIMEOUT) as client:
        client.send(data)
        body = exchange(client, outcome)
        if outcome.statuses[-1:] == [101]:
            client.send(b"ping through the tunnel")
            echoed = client.read_until(b"tunnel", TIMEOUT)
            outcome.detail = (
                "piped both ways" if echoed == b"ping through the tunnel" else repr(echoed)
            )
        else:
            outcome.detail = (body or b"").decode(errors="replace")
    if side.is_engine:
        assert outcome.detail == "piped both ways", outcome
    return outcome


@case
def case_pipelining(rig: Rig, side: Side) -> Outcome:
    tags = [rig.tag() for _ in range(3)]
    outcome = Outcome()
    with RawClient(side.port, timeout=TIMEOUT) as client:
        client.send(b"".join(get(t, b"/p") for t in tags))
        bodies = [exchange(client, outcome) for _ in tags]
    in_order = all(b is not None and t in b for b, t in zip(bodies, tags, strict=True))
    outcome.detail = "in order" if in_order else f"bodies {bodies!r}"
    if side.is_engine:
        assert in_order, bodies
    return outcome


@case
def case_hop_by_hop_headers(rig: Rig, side: Side) -> Outcome:
    tag = rig.tag()
    data = get(
        tag,
        b"/",
        (b"Connection", b"keep-alive, X-Secret"),
        (b"X-Secret", b"internal"),
        (b"Keep-Alive", b"timeout=5"),
        (b"TE", b"trailers"),
        (b"Proxy-Connection", b"keep-alive"),
        (b"traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    )
    outcome = simple(side, data)
    seen = rig.seen(tag)
    hop = {"connection", "x-secret", "keep-alive", "te", "proxy-connection"}
    names = {n.decode() for r in seen for n, _ in r.headers}
    leaked = sorted(names & hop)
    outcome.detail = f"upstream saw {', '.join(leaked)}" if leaked else "all dropped"
    if seen:
        xff = seen[0].header(b"x-forwarded-for")
        outcome.detail += f"; X-Forwarded-For {xff.decode() if xff else 'absent'}"
    if side.is_engine:
        assert len(seen) == 1 and not leaked, seen
        assert seen[0].header(b"traceparent") is not None
        assert seen[0].header(b"x-forwarded-for") == b"127.0.0.1"
        assert seen[0].header(b"x-forwarded-proto") == b"http"
        assert seen[0].header(b"x-forwarded-host") == HOST
    return outcome


@case
def case_upstream_refused(rig: Rig, side: Side) -> Outcome:
    outcome = simple(side, request(b"GET", b"/", DEAD, [(b"X-Case", rig.tag())]))
    return outcome


@case
def case_upstream_dies_after_head(rig: Rig, side: Side) -> Outcome:
    outcome = Outcome()
    with RawClient(side.port, timeout=TIMEOUT) as client:
        client.send(get(rig.tag(), b"/dies"))
        try:
            ex = client.read_exchange(b"GET", TIMEOUT)
        except IncompleteResponse as exc:
            outcome.end = "aborted" if exc.received else "closed"
            outcome.detail = f"{len(exc.received)} bytes then closed"
            if exc.received[:12].startswith(b"HTTP/1.1 "):
                outcome.statuses.append(int(exc.received[9:12]))
            return outcome
        assert ex.final is not None
        outcome.statuses += ex.statuses
        outcome.detail = f"clean response with body {ex.final.body!r}"
    if side.is_engine:
        pytest.fail(f"a truncated response was delivered as complete: {outcome.detail}")
    return outcome


@case
def case_upstream_timeout(rig: Rig, side: Side) -> Outcome:
    return simple(side, request(b"GET", b"/slow", SLOW, [(b"X-Case", rig.tag())]))


# -- the test ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_matrix_case_against_nginx(rig: Rig, name: str) -> None:
    expected = rig.table.get(name)
    assert expected is not None, f"{name} is missing from {TABLE.name}"
    ours = CASES[name](rig, rig.engine)
    theirs = CASES[name](rig, rig.nginx)
    want_ours = str(expected["ours"]).split()
    want_nginx = str(expected["nginx"]).split()
    same = [status_class(t) for t in ours.tokens()] == [status_class(t) for t in theirs.tokens()]
    reason = str(expected.get("reason", ""))
    note = "; ".join(
        x
        for x in (
            reason,
            f"ours: {ours.detail}" if ours.detail else "",
            f"nginx: {theirs.detail}" if theirs.detail else "",
        )
        if x
    )
    rig.rows.append((name, str(ours), str(theirs), "yes" if same else "no", note))
    assert ours.tokens() == want_ours, f"engine: {ours} (expected {' '.join(want_ours)})"
    assert [status_class(t) for t in theirs.tokens()] == [status_class(t) for t in want_nginx], (
        f"nginx: {theirs} (expected {' '.join(want_nginx)})"
    )
    if not same:
        assert reason, f"{name}: the outcomes differ but the table gives no reason"


def test_table_has_no_stale_cases() -> None:
    table = yaml.safe_load(TABLE.read_text())["cases"]
    assert sorted(table) == sorted(CASES)
