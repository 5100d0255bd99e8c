"""The engine's pure parts: header rules, the error table, limits, deadline slots."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zeroserve.capacity.lease import (
    CapacityError,
    CapacityTimeout,
    QueueFull,
    RevisionUnavailable,
    UnknownRevision,
)
from zeroserve.clock import FakeClock
from zeroserve.proxy import framing
from zeroserve.proxy.deadlines import Deadlines
from zeroserve.proxy.errors import (
    BadGateway,
    BadRequest,
    HeadersTooLarge,
    NoRoute,
    UpstreamTimeout,
    capacity_reply,
    error_response,
    status_for,
)
from zeroserve.proxy.limits import ProxyLimits
from zeroserve.proxy.routing import Route, StaticRouter


def test_engine_host_key() -> None:
    assert framing.host_key(b"Svc.Example.COM:8080") == b"svc.example.com"
    assert framing.host_key(b"svc.example.com") == b"svc.example.com"
    assert framing.host_key(b"[::1]:8080") == b"[::1]"
    assert framing.host_key(b" a.b ") == b"a.b"


@settings(max_examples=60, derandomize=True)
@given(
    authority=st.from_regex(rb"\A[a-z0-9.-]{1,20}(:[0-9]{1,5})?\Z"),
    path=st.from_regex(rb"\A(/[a-zA-Z0-9._~%!$&'()*+,;=:@-]*)*(\?[a-z0-9=&]*)?\Z"),
    scheme=st.sampled_from([b"http://", b"HTTP://", b"https://"]),
)
def test_engine_split_absolute(authority: bytes, path: bytes, scheme: bytes) -> None:
    split = framing.split_absolute(scheme + authority + path)
    assert split is not None
    expected_path = path if path.startswith(b"/") else b"/" + path
    assert split == (authority, expected_path)


def test_engine_split_absolute_rejects_other_forms() -> None:
    assert framing.split_absolute(b"/just/a/path") is None
    assert framing.split_absolute(b"example.com:443") is None
    assert framing.split_absolute(b"http://user@h/x#frag") == (b"h", b"/x")


def test_engine_connection_tokens_and_drop_named() -> None:
    assert framing.connection_tokens(b"Keep-Alive, X-Foo ,, close") == [
        b"keep-alive",
        b"x-foo",
        b"close",
    ]
    parts = [b"X-Foo", b": ", b"1", b"\r\n", b"X-Bar", b": ", b"2", b"\r\n"]
    assert framing.drop_named(parts, [b"x-foo", b"close"]) == parts[4:]
    assert framing.drop_named(parts, [b"close"]) is parts


def test_engine_transfer_encoding_rule() -> None:
    assert framing.is_chunked(b"chunked") and framing.is_chunked(b" Chunked ")
    for value in (b"gzip", b"gzip, chunked", b"chunked, gzip", b"identity", b""):
        assert not framing.is_chunked(value)


def test_engine_keep_alive_timeout() -> None:
    assert framing.keep_alive_timeout(b"timeout=5, max=1000") == 5.0
    assert framing.keep_alive_timeout(b"max=3") is None
    assert framing.keep_alive_timeout(b"timeout=abc") is None
    assert framing.pool_idle_for(b"timeout=abc", 4.0) == 4.0
    assert framing.pool_idle_for(b"timeout=30", 4.0) == 4.0


def test_engine_trailers_filtered() -> None:
    trailers = [b"grpc-status", b"0", b"Content-Length", b"5", b"Host", b"x"]
    assert framing.last_chunk(trailers) == b"0\r\ngrpc-status: 0\r\n\r\n"
    assert framing.last_chunk(None) == b"0\r\n\r\n"


def test_engine_error_table() -> None:
    cases = [
        (UnknownRevision("x"), 503),
        (QueueFull("full", retry_after=7), 503),
        (CapacityTimeout("late"), 504),
        (RevisionUnavailable("crashed"), 503),
        (CapacityError("other"), 503),
        (BadRequest("b"), 400),
        (HeadersTooLarge("h"), 431),
        (NoRoute("n"), 404),
        (BadGateway("g"), 502),
        (UpstreamTimeout("t"), 504),
        (ValueError("bug"), 500),
    ]
    for exc, status in cases:
        assert status_for(exc) == status, exc
    reply = capacity_reply(QueueFull("queue at 10", retry_after=7), "rev-1", 30.0)
    assert (reply.status, reply.retry_after) == (503, 7) and "rev-1" in reply.message
    reply = capacity_reply(CapacityTimeout("late"), "rev-1", 30.0)
    assert reply.status == 504 and "rev-1" in reply.message and "30s" in reply.message
    reply = capacity_reply(RevisionUnavailable("OOMKilled"), "rev-1", 30.0)
    assert reply.status == 503 and "OOMKilled" in reply.message


def test_engine_error_response_shape() -> None:
    raw = error_response(503, 'quote " and ü', close=True, retry_after=3)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 503 Service Unavailable"
    assert b"Content-Type: application/json" in lines and b"Connection: close" in lines
    assert b"Retry-After: 3" in lines and b"Content-Length: %d" % len(body) in lines
    assert json.loads(body) == {"error": 'quote " and ü'}
    head_only = error_response(404, "x", close=False, head_request=True)
    assert head_only.endswith(b"\r\n\r\n") and b"Connection" not in head_only


def test_engine_limits_defaults_and_checks() -> None:
    limits = ProxyLimits()
    assert (limits.max_request_line, limits.max_header_bytes, limits.max_header_fields) == (
        8 * 1024,
        32 * 1024,
        100,
    )
    assert (limits.max_body, limits.header_timeout, limits.idle_timeout) == (100 << 20, 10.0, 60.0)
    assert (limits.connect_timeout, limits.pool_idle, limits.pipeline_depth) == (1.0, 4.0, 16)
    assert (limits.high_watermark, limits.low_watermark) == (64 * 1024, 16 * 1024)
    assert (limits.retry_body_hold, limits.backlog) == (64 * 1024, 4096)
    with pytest.raises(ValueError):
        ProxyLimits(low_watermark=64 * 1024)
    with pytest.raises(ValueError):
        ProxyLimits(read_size=128 * 1024)
    with pytest.raises(ValueError):
        ProxyLimits(header_timeout=0)
    assert 0 < ProxyLimits(header_timeout=0.2).sweep_interval <= 0.05


def test_engine_static_router() -> None:
    route = Route("rev", 1.0)
    router = StaticRouter({b"a.example.com": route})
    assert router.route(b"a.example.com", b"/") is route
    assert router.route(b"b.example.com", b"/") is None


class Hit:
    def __init__(self) -> None:
        self.fired = 0

    def on_timeout(self) -> None:
        self.fired += 1


async def test_engine_deadline_slots() -> None:
    clock = FakeClock()
    deadlines = Deadlines(clock, slot=0.01)
    early, late, cancelled = Hit(), Hit(), Hit()
    deadlines.arm(early, clock.now() + 1.0)
    deadlines.arm(late, clock.now() + 2.0)
    deadlines.arm(cancelled, clock.now() + 1.0).discard(cancelled)
    await clock.advance(0.99)
    assert (early.fired, late.fired) == (0, 0)
    await clock.advance(0.03)  # within one slot of the deadline
    assert (early.fired, late.fired, cancelled.fired) == (1, 0, 0)
    await clock.advance(5.0)
    assert (early.fired, late.fired) == (1, 1)
    assert deadlines.pending() == 0
