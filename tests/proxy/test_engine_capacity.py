"""Requests held at zero: the engine against the real CapacityTracker, on a FakeClock
where the test drives the route's timeout."""

from __future__ import annotations

import asyncio
import json

from tests.proxy.conftest import (
    HOST,
    REVISION,
    ProxyFactory,
    Upstream,
    get,
    post,
    wait_for_condition,
)
from zeroserve.capacity.tracker import CapacityTracker
from zeroserve.clock import FakeClock
from zeroserve.proxy.limits import ProxyLimits


def error_of(body: bytes) -> str:
    return str(json.loads(body)["error"])


async def test_engine_held_until_endpoints_arrive(
    make_proxy: ProxyFactory, upstream: Upstream
) -> None:
    clock = FakeClock()
    proxy = await make_proxy(upstream, clock=clock, endpoints=False, route_timeout=60.0)
    proxy.tracker.set_endpoints(REVISION, [])
    c1, c2 = await proxy.client(), await proxy.client()
    await c1.send(get(b"/first"))
    await c2.send(post(b"second body", b"/second"))
    await wait_for_condition(lambda: proxy.counters.held == 2)
    assert proxy.tracker.waiting(REVISION) == 2
    await clock.advance(59.0)  # the scale-from-zero takes most of the timeout
    assert upstream.requests == []
    proxy.tracker.set_endpoints(REVISION, [upstream.endpoint])
    r1, r2 = await c1.response(), await c2.response()
    assert (r1.status, r1.body) == (200, b"GET /first 0")
    assert (r2.status, r2.body) == (200, b"POST /second 11")
    assert proxy.counters.held == 0 and proxy.counters.in_flight == 0
    await wait_for_condition(lambda: proxy.tracker.in_flight(REVISION) == 0)


async def test_engine_held_request_times_out_on_the_clock(
    make_proxy: ProxyFactory, upstream: Upstream
) -> None:
    clock = FakeClock()
    proxy = await make_proxy(upstream, clock=clock, endpoints=False, route_timeout=30.0)
    proxy.tracker.set_endpoints(REVISION, [])
    c = await proxy.client()
    await c.send(get())
    await wait_for_condition(lambda: proxy.counters.held == 1)
    await clock.advance(29.9)
    await asyncio.sleep(0.02)
    assert proxy.counters.held == 1
    await clock.advance(0.2)
    resp = await c.response()
    assert resp.status == 504 and REVISION in error_of(resp.body)
    assert proxy.tracker.waiting(REVISION) == 0
    await c.send(get())  # the connection goes on; this one waits again
    await wait_for_condition(lambda: proxy.counters.held == 1)
    proxy.tracker.set_endpoints(REVISION, [upstream.endpoint])
    assert (await c.response()).status == 200


async def test_engine_queue_full_is_503_with_retry_after(
    make_proxy: ProxyFactory, upstream: Upstream
) -> None:
    clock = FakeClock()
    tracker = CapacityTracker(clock, queue_limit=1)
    proxy = await make_proxy(upstream, clock=clock, tracker=tracker, endpoints=False)
    tracker.set_endpoints(REVISION, [])
    first = await proxy.client()
    await first.send(get())
    await wait_for_condition(lambda: proxy.counters.held == 1)
    second = await proxy.client()
    await second.send(get())
    resp = await second.response()
    assert resp.status == 503 and resp.header(b"retry-after") is not None
    assert int(resp.header(b"retry-after") or b"0") >= 1
    assert REVISION in error_of(resp.body)
    tracker.set_endpoints(REVISION, [upstream.endpoint])
    assert (await first.response()).status == 200


async def test_engine_revision_unavailable_is_503_with_the_reason(
    make_proxy: ProxyFactory, upstream: Upstream
) -> None:
    clock = FakeClock()
    proxy = await make_proxy(upstream, clock=clock, endpoints=False)
    proxy.tracker.set_endpoints(REVISION, [])
    held = await proxy.client()
    await held.send(get())
    await wait_for_condition(lambda: proxy.counters.held == 1)
    proxy.tracker.fail_revision(REVISION, "image pull failed: no such image")
    resp = await held.response()
    assert resp.status == 503 and "image pull failed: no such image" in error_of(resp.body)
    fresh = await proxy.client()  # and at once for the next one
    await fresh.send(get())
    resp = await fresh.response()
    assert resp.status == 503 and "image pull failed" in error_of(resp.body)


async def test_engine_unknown_revision_is_503(make_proxy: ProxyFactory, upstream: Upstream) -> None:
    proxy = await make_proxy(upstream, endpoints=False)  # the route names a revision it lacks
    c = await proxy.client()
    await c.send(get())
    resp = await c.response()
    assert resp.status == 503 and REVISION in error_of(resp.body)
    await c.send(get())
    assert (await c.response()).status == 503  # keep-alive survives


async def test_engine_client_gone_while_held_withdraws(
    make_proxy: ProxyFactory, upstream: Upstream
) -> None:
    proxy = await make_proxy(upstream, endpoints=False)
    proxy.tracker.set_endpoints(REVISION, [])
    c = await proxy.client()
    await c.send(get())
    await wait_for_condition(lambda: proxy.tracker.waiting(REVISION) == 1)
    await c.close()
    await wait_for_condition(lambda: proxy.tracker.waiting(REVISION) == 0)
    assert proxy.counters.held == 0 and proxy.counters.in_flight == 0
    proxy.tracker.set_endpoints(REVISION, [upstream.endpoint])
    await asyncio.sleep(0.05)
    assert proxy.tracker.in_flight(REVISION) == 0 and upstream.requests == []


async def test_engine_held_body_is_not_read_ahead(
    make_proxy: ProxyFactory, upstream: Upstream
) -> None:
    """While a request waits, what the engine reads of its body is capped."""
    proxy = await make_proxy(upstream, endpoints=False)
    proxy.tracker.set_endpoints(REVISION, [])
    c = await proxy.client()
    body = b"b" * (4 * 1024 * 1024)
    c.writer.write(b"POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n" % (HOST, len(body)))
    c.writer.write(body)
    await wait_for_condition(lambda: proxy.counters.held == 1)
    await asyncio.sleep(0.1)
    limits = ProxyLimits()
    assert proxy.server.buffered_bytes() <= limits.high_watermark + limits.read_size
    proxy.tracker.set_endpoints(REVISION, [upstream.endpoint])
    await asyncio.wait_for(c.writer.drain(), 5)
    resp = await c.response()
    assert (resp.status, resp.body) == (200, b"POST / %d" % len(body))
