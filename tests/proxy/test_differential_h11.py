"""Differential fuzz: the engine against h11, an independent HTTP/1.1 parser.

Request byte streams, valid and subtly invalid (CL/TE combinations, chunk sizes, obs-fold,
bare LF/CR, NUL and control bytes, duplicate or missing Host, absolute-form targets, odd
whitespace, bad header names, pipelined pairs), go through the engine to a recording
upstream. For each stream, h11 parses the same bytes. The property, per connection:

* every request the upstream receives is exactly the one h11 parsed at that position
  (method, target, body, and the end-to-end headers after the documented hop-by-hop
  removal and ``X-Forwarded-*`` additions), answered in order;
* where the engine stops forwarding (h11 rejects the bytes, or the engine is stricter
  than h11), the client gets a 4xx and the connection closes;
* nothing h11 rejects is forwarded complete, and nothing after it;
* streams built only from the conservative grammar (``clean``) are all forwarded.

The engine and the upstream start once per module, on their own uvloop thread.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import h11
import pytest
from hypothesis import HealthCheck, Phase, assume, event, example, given, note, settings
from hypothesis import strategies as st

from tests.support import rawhttp
from tests.support.rawhttp import (
    IncompleteResponse,
    RawClient,
    RawHttpError,
    RawResponse,
    parse_response,
)
from tests.support.recording_upstream import (
    BackgroundLoop,
    EngineInFront,
    RecordedRequest,
    RecordingUpstream,
)

HOST = b"fuzz.example.com"
PLACEHOLDER = b"\xfeCASE\xfe"
RESPONSE_TIMEOUT = 5.0

# What the engine removes before forwarding (DESIGN.md "hop-by-hop headers (and those
# named in Connection) dropped"), what it sets itself, and framing (compared as the body).
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
SET_BY_PROXY = frozenset({b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"})
FRAMING = frozenset({b"content-length", b"transfer-encoding"})


# -- the oracle ---------------------------------------------------------------------


def _tokens(values: list[bytes]) -> set[bytes]:
    return {t.strip().lower() for v in values for t in v.split(b",") if t.strip()}


@dataclass(frozen=True, slots=True)
class Parsed:
    method: bytes
    target: bytes
    http_version: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class Oracle:
    """What h11 makes of a byte stream: the complete requests in order, then either an
    error, a request h11 would close after, or nothing (the connection stays open)."""

    requests: tuple[Parsed, ...]
    error: str | None
    closes_after: bool
    incomplete: bool
    upgrade: bool


def _keeps_alive_10(head: h11.Request) -> bool:
    """An HTTP/1.0 request asking for keep-alive: valid, but h11 always closes after
    HTTP/1.0, so the oracle goes on with a fresh parser where a proxy may."""
    tokens = _tokens([bytes(v) for n, v in head.headers if n == b"connection"])
    return head.http_version == b"1.0" and b"keep-alive" in tokens and b"close" not in tokens


def h11_parse(data: bytes) -> Oracle:
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
    conn.receive_data(data)
    done: list[Parsed] = []
    head: h11.Request | None = None
    body = bytearray()
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            return Oracle(tuple(done), str(exc) or "rejected", False, False, False)
        if event is h11.NEED_DATA:
            pending = head is not None or bool(conn.trailing_data[0])
            return Oracle(tuple(done), None, False, pending, False)
        if event is h11.PAUSED:
            return Oracle(tuple(done), None, False, False, True)
        if isinstance(event, h11.Request):
            head, body = event, bytearray()
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            done.append(
                Parsed(
                    bytes(head.method),
                    bytes(head.target),
                    bytes(head.http_version),
                    tuple((bytes(n), bytes(v)) for n, v in head.headers),
                    bytes(body),
                )
            )
            conn.send(h11.Response(status_code=200, headers=[(b"content-length", b"0")]))
            conn.send(h11.EndOfMessage())
            if conn.our_state is h11.MUST_CLOSE:
                if not _keeps_alive_10(head):
                    return Oracle(tuple(done), None, True, False, False)
                rest = bytes(conn.trailing_data[0])
                conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
                if rest:
                    conn.receive_data(rest)
            else:
                conn.start_next_cycle()
            head = None
        else:
            return Oracle(tuple(done), None, False, False, False)


# -- what "exactly" means ---------------------------------------------------------------


def end_to_end(
    headers: tuple[tuple[bytes, bytes], ...], named: frozenset[bytes]
) -> list[tuple[bytes, bytes]]:
    """Headers that must arrive unchanged: everything but hop-by-hop ones, those the
    client named in Connection (``named``), framing, and what the proxy sets. Fields of
    one name keep their order; fields of different names may be reordered (RFC 9110
    §5.3), so the list is stably sorted by name. Host named in Connection may be kept or
    dropped: both sides drop it here."""
    dropped = HOP_BY_HOP | FRAMING | SET_BY_PROXY | named
    return sorted(((n, v) for n, v in headers if n not in dropped), key=lambda h: h[0])


def connection_named(headers: tuple[tuple[bytes, bytes], ...]) -> frozenset[bytes]:
    return frozenset(_tokens([v for n, v in headers if n == b"connection"]))


def forwarded_for(headers: tuple[tuple[bytes, bytes], ...]) -> list[bytes]:
    return [t.strip() for n, v in headers if n == b"x-forwarded-for" for t in v.split(b",")]


def origin_form(target: bytes) -> bytes:
    """What an absolute-form target is forwarded as: its path and query (the authority
    is checked against Host, and the scheme is the proxy's business)."""
    lower = target.lower()
    for scheme in (b"http://", b"https://"):
        if lower.startswith(scheme):
            rest = target[len(scheme) :]
            cut = min((i for i in (rest.find(b"/"), rest.find(b"?")) if i >= 0), default=len(rest))
            path = rest[cut:]
            return path if path.startswith(b"/") else b"/" + path
    return target


def mismatch(sent: Parsed, got: RecordedRequest) -> str | None:
    """Why ``got`` is not what the engine should forward for ``sent`` (None: it is)."""
    if got.method != sent.method:
        return f"method {got.method!r} != {sent.method!r}"
    if got.target != origin_form(sent.target):
        return f"target {got.target!r} != {origin_form(sent.target)!r}"
    if got.body != sent.body:
        return f"body {got.body[:80]!r} != {sent.body[:80]!r}"
    named = connection_named(sent.headers)
    want, have = end_to_end(sent.headers, named), end_to_end(got.headers, named)
    if have != want:
        return f"headers {have!r} != {want!r}"
    if forwarded_for(got.headers) != [*forwarded_for(sent.headers), b"127.0.0.1"]:
        return f"X-Forwarded-For {got.header_values(b'x-forwarded-for')!r}"
    if got.header_values(b"x-forwarded-proto") != [b"http"]:
        return f"X-Forwarded-Proto {got.header_values(b'x-forwarded-proto')!r}"
    host = next((v for n, v in sent.headers if n == b"host"), None)
    if host is not None and got.header_values(b"x-forwarded-host") != [host]:
        return f"X-Forwarded-Host {got.header_values(b'x-forwarded-host')!r}"
    hops = sorted({n for n, _ in got.headers} & (HOP_BY_HOP - FRAMING - {b"connection"}))
    leaked = sorted((named - FRAMING - {b"host"}) & {n for n, _ in got.headers})
    if hops or leaked:
        return f"hop-by-hop forwarded: {hops + leaked!r}"
    return None


# -- the generator ------------------------------------------------------------------

TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
PATH_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@%/"
VALUE_CHARS = "".join(chr(c) for c in range(0x21, 0x7F))
CLEAN_METHODS = (b"GET", b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS", b"HEAD")
CLEAN_NAMES = (
    b"Accept",
    b"User-Agent",
    b"Content-Type",
    b"Cookie",
    b"Authorization",
    b"X-Request-Id",
    b"traceparent",
    b"X-Forwarded-For",
    b"KServe-Isvc-Name",
)


@dataclass(slots=True)
class Wire:
    """A request as lines, so mutations can touch one separator, line or header."""

    method: bytes
    request_line: bytes
    headers: list[bytes]
    body: bytes
    eols: list[bytes] = field(default_factory=list)

    def render(self) -> bytes:
        lines = [self.request_line, *self.headers, b""]
        eols = self.eols or [b"\r\n"] * len(lines)
        return b"".join(line + eol for line, eol in zip(lines, eols, strict=True)) + self.body


@dataclass(frozen=True, slots=True)
class Fuzzed:
    """A byte stream to send, the method of each request in it (to read responses), and
    whether it was built only from the conservative grammar (then it must be forwarded)."""

    data: bytes
    methods: tuple[bytes, ...]
    clean: bool
    label: str

    def __repr__(self) -> str:
        return f"Fuzzed(label={self.label!r}, clean={self.clean}, data={self.data!r})"


def _text(alphabet: str, min_size: int, max_size: int) -> st.SearchStrategy[bytes]:
    return st.text(alphabet, min_size=min_size, max_size=max_size).map(str.encode)


def chunk_body(body: bytes, cuts: list[int], ext: bytes = b"", trailer: bytes = b"") -> bytes:
    points = sorted({c % (len(body) + 1) for c in cuts} | {0, len(body)})
    out = bytearray()
    for start, end in itertools.pairwise(points):
        if end > start:
            out += b"%x" % (end - start) + ext + b"\r\n" + body[start:end] + b"\r\n"
    return bytes(out) + b"0\r\n" + trailer + b"\r\n"


@st.composite
def clean_wire(draw: st.DrawFn, part: int) -> Wire:
    method = draw(st.sampled_from(CLEAN_METHODS))
    if draw(st.booleans()):
        target = b"/" + draw(_text(PATH_CHARS.replace("%", ""), 0, 40))
    else:
        target = b"/v1/models/m:predict"
    if draw(st.integers(0, 3)) == 0:
        target += b"?" + draw(_text(PATH_CHARS + "?", 0, 30))
    headers = [b"Host: " + HOST, b"X-Case: " + PLACEHOLDER + b".%d" % part]
    for _ in range(draw(st.integers(0, 5))):
        name = draw(st.one_of(st.sampled_from(CLEAN_NAMES), _text(TCHAR, 1, 12)))
        if name.lower() in HOP_BY_HOP | FRAMING | {b"host", b"expect", b"x-case"}:
            continue
        value = draw(_text(VALUE_CHARS + " ", 0, 40)).strip()
        if name.lower() == b"x-forwarded-for":
            value = b"10.0.0.%d" % draw(st.integers(1, 254))
        headers.append(name + b": " + value)
    hop = draw(st.integers(0, 5))
    if hop == 1:
        headers += [b"Connection: keep-alive", b"Keep-Alive: timeout=5"]
    elif hop == 2:
        headers += [b"Connection: X-Hop, TE", b"X-Hop: secret", b"TE: trailers"]
    elif hop == 3:
        headers += [b"Proxy-Connection: keep-alive"]
    headers = draw(st.permutations(headers))
    framing = draw(st.sampled_from(["none", "length", "chunked"]))
    body = draw(st.binary(max_size=300)) if framing != "none" else b""
    wire_body = b""
    if framing == "length":
        headers.append(b"Content-Length: %d" % len(body))
        wire_body = body
    elif framing == "chunked":
        headers.append(b"Transfer-Encoding: chunked")
        wire_body = chunk_body(body, draw(st.lists(st.integers(0, 400), max_size=4)))
    return Wire(method, method + b" " + target + b" HTTP/1.1", headers, wire_body)


def _set_header(wire: Wire, name: bytes, *values: bytes) -> None:
    wire.headers = [h for h in wire.headers if not h.lower().startswith(name.lower() + b":")]
    wire.headers.extend(name + b": " + v for v in values)


def _rechunk(wire: Wire, draw: st.DrawFn) -> bytes:
    """Give ``wire`` a chunked body of some bytes and return the raw body."""
    body = draw(st.binary(min_size=1, max_size=64))
    _set_header(wire, b"Content-Length")
    _set_header(wire, b"Transfer-Encoding", b"chunked")
    wire.body = chunk_body(body, draw(st.lists(st.integers(0, 64), max_size=2)))
    return body


def m_bare_lf(draw: st.DrawFn, wire: Wire) -> str:
    n = len(wire.headers) + 2
    wire.eols = [b"\r\n"] * n
    wire.eols[draw(st.integers(0, n - 1))] = b"\n"
    return "bare LF"


def m_bare_cr(draw: st.DrawFn, wire: Wire) -> str:
    n = len(wire.headers) + 2
    wire.eols = [b"\r\n"] * n
    wire.eols[draw(st.integers(0, n - 2))] = b"\r"
    return "bare CR"


def m_obs_fold(draw: st.DrawFn, wire: Wire) -> str:
    at = draw(st.integers(0, len(wire.headers)))
    fold = draw(st.sampled_from([b" ", b"\t", b"  "])) + draw(_text(TCHAR, 1, 8))
    wire.headers.insert(at, fold)
    return "obs-fold"


def m_control(draw: st.DrawFn, wire: Wire) -> str:
    byte = draw(st.sampled_from([b"\x00", b"\x01", b"\x0b", b"\x0c", b"\x1f", b"\x7f"]))
    lines = [wire.request_line, *wire.headers]
    i = draw(st.integers(0, len(lines) - 1))
    pos = draw(st.integers(0, len(lines[i])))
    lines[i] = lines[i][:pos] + byte + lines[i][pos:]
    wire.request_line, wire.headers = lines[0], lines[1:]
    return f"control byte {byte!r} in line {i}"


def m_host(draw: st.DrawFn, wire: Wire) -> str:
    kind = draw(st.sampled_from(["duplicate", "other", "missing", "empty"]))
    if kind == "duplicate":
        wire.headers.append(b"Host: " + HOST)
    elif kind == "other":
        wire.headers.append(b"Host: other.example.com")
    elif kind == "missing":
        wire.headers = [h for h in wire.headers if not h.lower().startswith(b"host:")]
    else:
        _set_header(wire, b"Host", b"")
    return f"host {kind}"


def m_target(draw: st.DrawFn, wire: Wire) -> str:
    target = draw(
        st.sampled_from(
            [
                b"http://" + HOST + b"/abs",
                b"http://" + HOST + b":80/abs?q=1",
                b"http://other.example.com/abs",
                b"HTTP://" + HOST.upper() + b"/abs",
                b"https://" + HOST + b"/abs",
                b"/a\x80b",
                b"/a\xffb",
                b"/a b",
                b"/a\tb",
                b"/a#frag",
                b"/%zz",
                b"*",
                b"//double//slash",
                b"/../../etc/passwd",
                b"a/relative",
            ]
        )
    )
    wire.request_line = wire.method + b" " + target + b" HTTP/1.1"
    return f"target {target!r}"


def m_request_line(draw: st.DrawFn, wire: Wire) -> str:
    method, _, rest = wire.request_line.partition(b" ")
    target, _, version = rest.rpartition(b" ")
    form = draw(
        st.sampled_from(
            [
                b"%(m)s  %(t)s %(v)s",
                b"%(m)s %(t)s  %(v)s",
                b"%(m)s\t%(t)s %(v)s",
                b"%(m)s %(t)s %(v)s ",
                b" %(m)s %(t)s %(v)s",
                b"%(m)s %(t)s",
                b"%(m)s %(t)s HTTP/1.2",
                b"%(m)s %(t)s HTTP/2.0",
                b"%(m)s %(t)s HTTP/0.9",
                b"%(m)s %(t)s http/1.1",
                b"%(m)s %(t)s HTTP/1.1.1",
                b"%(m)s %(t)s HTTP/11",
                b"get %(t)s %(v)s",
                b"FOO %(t)s %(v)s",
                b"PROPFIND %(t)s %(v)s",
                b"G@T %(t)s %(v)s",
                b"\r\n%(m)s %(t)s %(v)s",
            ]
        )
    )
    wire.request_line = form % {b"m": method, b"t": target, b"v": version}
    return f"request line {form!r}"


def m_header_syntax(draw: st.DrawFn, wire: Wire) -> str:
    bad = draw(
        st.sampled_from(
            [
                b"X-Space : v",
                b"X-Tab\t: v",
                b" X-Lead: v",
                b"X(paren): v",
                b"X@at: v",
                b"X/slash: v",
                b"X\x80high: v",
                b": empty-name",
                b"X-No-Colon",
                b"X-Tight:v",
                b"X-Padded: \t v \t ",
                b"X-Empty:",
                b'X-Quote: "a, b"',
                b"X-High: caf\xc3\xa9",
                b"X-Very-Long: " + b"a" * 2000,
            ]
        )
    )
    wire.headers.insert(draw(st.integers(0, len(wire.headers))), bad)
    return f"header {bad[:20]!r}"


def m_content_length(draw: st.DrawFn, wire: Wire) -> str:
    body = draw(st.binary(min_size=1, max_size=32))
    n = len(body)
    values = draw(
        st.sampled_from(
            [
                (b"0%d" % n,),
                (b"+%d" % n,),
                (b" %d " % n,),
                (b"%d,%d" % (n, n),),
                (b"%d, %d" % (n, n),),
                (b"%d, %d" % (n, n - 1),),
                (b"%d" % n, b"%d" % n),
                (b"%d" % n, b"%d" % (n - 1)),
                (b"%d.0" % n,),
                (b"0x%x" % n,),
                (b"-%d" % n,),
                (b"",),
                (b"%d abc" % n,),
                (b"%d" % (n - 1),),
            ]
        )
    )
    _set_header(wire, b"Transfer-Encoding")
    _set_header(wire, b"Content-Length", *values)
    wire.body = body
    return f"Content-Length {values!r}"


def m_transfer_encoding(draw: st.DrawFn, wire: Wire) -> str:
    body = _rechunk(wire, draw)
    values = draw(
        st.sampled_from(
            [
                (b"Chunked",),
                (b"CHUNKED",),
                (b"chunked, chunked",),
                (b"gzip, chunked",),
                (b"chunked, gzip",),
                (b"identity, chunked",),
                (b"chunked;q=1",),
                (b"xchunked",),
                (b"chunk",),
                (b"\tchunked",),
                (b"chunked", b"chunked"),
                (b"gzip", b"chunked"),
                (b"chunked\x0b",),
            ]
        )
    )
    _set_header(wire, b"Transfer-Encoding", *values)
    with_cl = draw(st.sampled_from([None, 0, len(body), len(wire.body)]))
    if with_cl is not None:
        wire.headers.append(b"Content-Length: %d" % with_cl)
    return f"Transfer-Encoding {values!r} Content-Length {with_cl!r}"


def m_chunks(draw: st.DrawFn, wire: Wire) -> str:
    body = draw(st.binary(min_size=1, max_size=20))
    _set_header(wire, b"Content-Length")
    _set_header(wire, b"Transfer-Encoding", b"chunked")
    n = len(body)
    size_line = draw(
        st.sampled_from(
            [
                b"%X" % n,
                b"000%x" % n,
                b"%x " % n,
                b"%x\t" % n,
                b"%x;ext=1" % n,
                b'%x;ext="q"' % n,
                b"%x ;ext" % n,
                b"0x%x" % n,
                b"+%x" % n,
                b"-%x" % n,
                b"%x" % (n - 1),
                b"f" * 17,
                b"1" + b"0" * 19 + b"%x" % n,
                b"%xg" % n,
                b"",
            ]
        )
    )
    after_data = draw(st.sampled_from([b"\r\n", b"\n", b"XX", b"\r\n"]))
    size_eol = draw(st.sampled_from([b"\r\n", b"\r\n", b"\n"]))
    trailer = draw(st.sampled_from([b"", b"X-Trailer: 1\r\n", b"Bad Name: 1\r\n"]))
    wire.body = size_line + size_eol + body + after_data + b"0\r\n" + trailer + b"\r\n"
    return f"chunk size {size_line!r} eol {size_eol!r} after {after_data!r} trailer {trailer!r}"


def m_http10(draw: st.DrawFn, wire: Wire) -> str:
    wire.request_line = wire.request_line.rsplit(b" ", 1)[0] + b" HTTP/1.0"
    if draw(st.booleans()):
        wire.headers = [h for h in wire.headers if not h.lower().startswith(b"host:")]
    return "HTTP/1.0"


def m_close(draw: st.DrawFn, wire: Wire) -> str:
    wire.headers.append(draw(st.sampled_from([b"Connection: close", b"Connection: Close"])))
    return "Connection: close"


MUTATIONS: tuple[Callable[[st.DrawFn, Wire], str], ...] = (
    m_bare_lf,
    m_bare_cr,
    m_obs_fold,
    m_control,
    m_host,
    m_target,
    m_request_line,
    m_header_syntax,
    m_content_length,
    m_transfer_encoding,
    m_chunks,
    m_http10,
    m_close,
)


@st.composite
def one_request(draw: st.DrawFn, part: int) -> tuple[bytes, bytes, bool, str]:
    wire = draw(clean_wire(part))
    if draw(st.integers(0, 3)) == 0:
        return wire.render(), wire.method, True, "clean"
    mutation = draw(st.sampled_from(MUTATIONS))
    label = mutation(draw, wire)
    return wire.render(), wire.method, False, label


@st.composite
def streams(draw: st.DrawFn) -> Fuzzed:
    parts = [draw(one_request(0))]
    if draw(st.integers(0, 4)) == 0:
        parts.append(draw(one_request(1)))
    return Fuzzed(
        data=b"".join(p[0] for p in parts),
        methods=tuple(p[1] for p in parts),
        clean=all(p[2] for p in parts),
        label=" + ".join(p[3] for p in parts),
    )


def fixed(label: str, *requests: bytes, clean: bool = False) -> Fuzzed:
    methods = tuple(r.split(b" ", 1)[0] for r in requests)
    return Fuzzed(b"".join(requests), methods, clean, label)


H = b"Host: " + HOST + b"\r\nX-Case: " + PLACEHOLDER
NASTY = [
    fixed(
        "CL.TE smuggle",
        b"POST / HTTP/1.1\r\n" + H + b".0\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
    fixed(
        "TE.CL smuggle",
        b"POST / HTTP/1.1\r\n" + H + b".0\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
    ),
    fixed(
        "TE obfuscated by space before colon",
        b"POST / HTTP/1.1\r\n" + H + b".0\r\n"
        b"Transfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n1\r\nZ\r\n0\r\n\r\n",
    ),
    fixed(
        "TE folded",
        b"POST / HTTP/1.1\r\n" + H + b".0\r\nTransfer-Encoding:\r\n chunked\r\n"
        b"\r\n1\r\nZ\r\n0\r\n\r\n",
    ),
    fixed(
        "two different CLs",
        b"POST / HTTP/1.1\r\n" + H + b".0\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nAB",
    ),
    fixed("CL list", b"POST / HTTP/1.1\r\n" + H + b".0\r\nContent-Length: 2, 2\r\n\r\nAB"),
    fixed(
        "chunk size overflow",
        b"POST / HTTP/1.1\r\n" + H + b".0\r\nTransfer-Encoding: "
        b"chunked\r\n\r\n1" + b"0" * 20 + b"\r\nA\r\n0\r\n\r\n",
    ),
    fixed(
        "chunk ext with NUL",
        b"POST / HTTP/1.1\r\n" + H + b".0\r\nTransfer-Encoding: "
        b"chunked\r\n\r\n1;a\x00b\r\nA\r\n0\r\n\r\n",
    ),
    fixed("bare LF everywhere", b"GET / HTTP/1.1\n" + H.replace(b"\r\n", b"\n") + b".0\n\n"),
    fixed("NUL in value", b"GET / HTTP/1.1\r\n" + H + b".0\r\nX-A: a\x00b\r\n\r\n"),
    fixed("two Hosts", b"GET / HTTP/1.1\r\n" + H + b".0\r\nHost: evil.example.com\r\n\r\n"),
    fixed("no Host", b"GET / HTTP/1.1\r\nX-Case: " + PLACEHOLDER + b".0\r\n\r\n"),
    fixed(
        "absolute-form mismatch", b"GET http://evil.example.com/ HTTP/1.1\r\n" + H + b".0\r\n\r\n"
    ),
    fixed(
        "pipelined clean pair",
        b"POST /a HTTP/1.1\r\n" + H + b".0\r\nContent-Length: 1\r\n"
        b"\r\nAGET /b HTTP/1.1\r\n" + H + b".1\r\n\r\n",
        clean=True,
    ),
    fixed(
        "pipelined pair, second smuggles",
        b"GET /a HTTP/1.1\r\n" + H + b".0\r\n\r\n"
        b"POST /b HTTP/1.1\r\n" + H + b".1\r\nContent-Length: 4\r\nTransfer-Encoding: "
        b"chunked\r\n\r\n0\r\n\r\n",
    ),
    fixed(
        "close then pipelined",
        b"GET /a HTTP/1.1\r\n" + H + b".0\r\nConnection: close\r\n"
        b"\r\nGET /b HTTP/1.1\r\n" + H + b".1\r\n\r\n",
    ),
    fixed("Connection names Host", b"GET / HTTP/1.1\r\n" + H + b".0\r\nConnection: host\r\n\r\n"),
    fixed(
        "Connection names Content-Length",
        b"POST / HTTP/1.1\r\n" + H + b".0\r\n"
        b"Connection: content-length\r\nContent-Length: 2\r\n\r\nAB",
    ),
    fixed(
        "chunked with trailers",
        b"POST / HTTP/1.1\r\n" + H + b".0\r\nTransfer-Encoding: "
        b"chunked\r\n\r\n2\r\nAB\r\n0\r\nX-Trailer: t\r\n\r\n",
    ),
    fixed("HEAD", b"HEAD /h HTTP/1.1\r\n" + H + b".0\r\n\r\n", clean=True),
    fixed("HEAD refused", b"HEAD /h HTTP/1.1\r\n" + H + b".0\r\nX-A: a\x00\r\n\r\n"),
    fixed("two spaces after the method", b"GET  /a HTTP/1.1\r\n" + H + b".0\r\n\r\n"),
    fixed("two spaces before the version", b"GET /a  HTTP/1.1\r\n" + H + b".0\r\n\r\n"),
    fixed("space after the version", b"GET /a HTTP/1.1 \r\n" + H + b".0\r\n\r\n"),
    fixed("tabs in the request line", b"GET\t/a\tHTTP/1.1\r\n" + H + b".0\r\n\r\n"),
    fixed("HTTP/0.9 line with headers", b"POST /a\r\n" + H + b".0\r\nContent-Length: 1\r\n\r\nA"),
    fixed("HTTP/1.2", b"GET /a HTTP/1.2\r\n" + H + b".0\r\n\r\n"),
    fixed("space before a header colon", b"GET /a HTTP/1.1\r\n" + H + b".0\r\nX-A : b\r\n\r\n"),
    fixed("target with a high byte", b"GET /a\x80 HTTP/1.1\r\n" + H + b".0\r\n\r\n"),
    fixed("target with a fragment", b"GET /a#b HTTP/1.1\r\n" + H + b".0\r\n\r\n"),
    fixed(
        "HTTP/1.0 keep-alive, then another",
        b"GET /a HTTP/1.0\r\n" + H + b".0\r\nConnection: keep-alive\r\n\r\n"
        b"GET /b HTTP/1.1\r\n" + H + b".1\r\n\r\n",
    ),
    fixed("vertical tab in a value", b"GET /a HTTP/1.1\r\n" + H + b".0\r\nX-A: a\x0bb\r\n\r\n"),
    fixed("DEL in a value", b"GET /a HTTP/1.1\r\n" + H + b".0\r\nX-A: a\x7fb\r\n\r\n"),
]


# -- the engine under test ----------------------------------------------------------


@dataclass(slots=True)
class Rig:
    bg: BackgroundLoop
    upstream: RecordingUpstream
    engine: EngineInFront
    counter: Iterator[int]


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    bg = BackgroundLoop()
    upstream = RecordingUpstream()
    engine = EngineInFront(bg, {HOST: bg.run(upstream.start())})
    try:
        engine.start()
        yield Rig(bg, upstream, engine, itertools.count())
    finally:
        engine.close()
        bg.run(upstream.close())
        bg.stop()


# -- the property -------------------------------------------------------------------


def refusal(status: int | None) -> bool:
    """How the engine may refuse: a 4xx, or 505 for a version it does not speak."""
    return status is not None and (400 <= status < 500 or status == 505)


def _read_rejection(client: RawClient) -> tuple[int | None, bytes, bool]:
    """After the last request h11 accepted: the status of the engine's answer to the
    rest (None if it sent none), what followed that answer, and whether it then closed.
    The answer may or may not carry a body if the refused request was a HEAD."""
    try:
        rest = client.read_until_close(RESPONSE_TIMEOUT)
    except RawHttpError as exc:
        return None, getattr(exc, "received", b""), False
    for method in (b"GET", b"HEAD"):
        try:
            parsed = parse_response(rest, method, eof=True)
        except RawHttpError:
            return None, rest, True
        if parsed is not None:
            response, used = parsed
            return response.status, rest[used:], True
    return None, rest, True


def _after_refusal(client: RawClient, method: bytes, final: RawResponse) -> tuple[bool, bytes]:
    """Whether the engine closed after a refusal, and what it sent after it. A refusal of
    a HEAD may carry its body (the engine may not trust the method it failed to parse)."""
    closed = client.closed_by_peer(RESPONSE_TIMEOUT) if not client.buffer else False
    if not closed:
        try:
            rest = client.read_until_close(RESPONSE_TIMEOUT)
        except RawHttpError as exc:
            return False, getattr(exc, "received", b"")
        length = final.header(b"content-length")
        if method == b"HEAD" and length is not None and len(rest) == int(length):
            event("a HEAD's refusal carried a body")
            return True, b""
        return True, rest
    return True, b""


@dataclass(slots=True)
class Seen:
    """What the client saw: the final status for each request h11 parsed, in order (as
    far as the engine answered), the answer to what h11 rejects, whether the connection
    closed (and any bytes after the last answer), and whether a follow-up request on a
    connection left open was answered in sync ("ok")."""

    statuses: list[int] = field(default_factory=list)
    error_status: int | None = None
    closed: bool = False
    trailing: bytes = b""
    probe: str = ""


def probe_request(client: RawClient, case: bytes) -> str:
    tag = case + b".probe"
    client.send(rawhttp.request(b"GET", b"/probe", HOST, [(b"X-Case", tag)]))
    try:
        final = client.read_exchange(b"GET").final
    except RawHttpError as exc:
        return f"no answer to a follow-up request: {exc!r} {getattr(exc, 'received', b'')!r}"
    assert final is not None
    if final.status == 200 and b"case=" + tag in final.body:
        return "ok"
    return f"follow-up answered out of sync: {final.raw!r}"


def exchange_with_engine(rig: Rig, data: bytes, case: bytes, oracle: Oracle) -> Seen:
    seen = Seen()
    with RawClient(rig.engine.port, timeout=RESPONSE_TIMEOUT) as client:
        client.send(data)
        for i, parsed in enumerate(oracle.requests):
            try:
                final = client.read_exchange(parsed.method).final
            except IncompleteResponse as exc:
                seen.closed, seen.trailing = True, exc.received
                return seen
            assert final is not None
            seen.statuses.append(final.status)
            if final.status == 200 and parsed.method != b"HEAD":
                assert b"case=%s.%d" % (case, i) in final.body, (i, final.raw)
            if final.wants_close:
                seen.closed, seen.trailing = _after_refusal(client, parsed.method, final)
                return seen
        if oracle.error is not None:
            seen.error_status, seen.trailing, seen.closed = _read_rejection(client)
        elif oracle.closes_after:
            seen.closed = client.closed_by_peer(RESPONSE_TIMEOUT)
            seen.trailing = client.buffer
        else:
            seen.probe = probe_request(client, case)
    return seen


def check_stream(rig: Rig, fuzzed: Fuzzed) -> None:
    case = b"c%06d" % next(rig.counter)
    data = fuzzed.data.replace(PLACEHOLDER, case)
    oracle = h11_parse(data)
    assume(not oracle.incomplete and not oracle.upgrade)
    note(f"sent {data!r}")
    note(
        f"h11: {len(oracle.requests)} request(s), error={oracle.error!r}, "
        f"closes_after={oracle.closes_after}"
    )
    rig.upstream.clear()
    seen = exchange_with_engine(rig, data, case, oracle)
    records = [r for r in rig.upstream.requests if not r.target.startswith(b"/probe")]
    forwarded = [r for r in records if r.complete]
    partial = [r for r in records if not r.complete]
    note(f"engine: {seen!r}")
    note(f"upstream got {forwarded!r}, partial {partial!r}")

    assert not rig.upstream.protocol_errors, rig.upstream.protocol_errors
    answered = [oracle.requests[i] for i, status in enumerate(seen.statuses) if status == 200]
    assert len(forwarded) == len(answered), (
        f"the upstream got {len(forwarded)} request(s), the client {len(answered)} answer(s) "
        f"from it; h11 parsed {len(oracle.requests)} and then error={oracle.error!r}"
    )
    for sent, got in zip(answered, forwarded, strict=True):
        assert case in (got.header(b"x-case") or b""), got
        problem = mismatch(sent, got)
        assert problem is None, problem
    refused = [s for s in seen.statuses if s != 200]
    assert all(refusal(s) for s in refused), f"not a refusal: {seen.statuses}"
    if refused:
        event("engine refused what h11 accepts")
    stopped = len(seen.statuses) < len(oracle.requests) or bool(refused and seen.closed)
    if stopped:
        assert seen.statuses and refusal(seen.statuses[-1]), f"stopped without a 4xx: {seen!r}"
        assert seen.closed and not seen.trailing, f"not closed after the 4xx: {seen!r}"
    elif oracle.error is not None:
        assert refusal(seen.error_status), (
            f"expected a 4xx and a close for what h11 rejects ({oracle.error}), "
            f"got status {seen.error_status} then {seen.trailing!r}"
        )
        assert seen.closed and not seen.trailing, f"not closed after the 4xx: {seen!r}"
    elif oracle.closes_after:
        assert seen.closed and not seen.trailing, f"not closed when h11 would: {seen!r}"
    elif not seen.closed:
        assert seen.probe == "ok", seen.probe
    if fuzzed.clean:
        assert oracle.error is None, "the conservative grammar made something h11 refuses"
        assert seen.statuses == [200] * len(oracle.requests), f"clean stream refused: {seen!r}"
    assert len(partial) <= (1 if refused or oracle.error else 0), partial


def with_nasty_examples(test: Callable[[Rig, Fuzzed], None]) -> Callable[[Rig, Fuzzed], None]:
    for case in reversed(NASTY):
        test = example(fuzzed=case)(test)
    return test


@settings(
    max_examples=400,
    derandomize=True,
    deadline=None,
    database=None,
    phases=(Phase.generate,),  # the notes say what failed; shrinking is slow
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(fuzzed=streams())
def test_engine_forwards_exactly_what_h11_parses(rig: Rig, fuzzed: Fuzzed) -> None:
    note(fuzzed.label)
    check_stream(rig, fuzzed)


@settings(deadline=None, database=None, phases=(Phase.explicit,))
@with_nasty_examples
@given(fuzzed=streams())
def test_engine_on_known_nasty_streams(rig: Rig, fuzzed: Fuzzed) -> None:
    note(fuzzed.label)
    check_stream(rig, fuzzed)
