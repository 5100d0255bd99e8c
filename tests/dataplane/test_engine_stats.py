"""The engine's additions: the latency histogram, the concurrency integral (both on the
injected Clock), and the response-header hook for requests that waited for capacity."""

from __future__ import annotations

import pytest

from tests.dataplane.engine_kit import HOST, REVISION, Gate, rig
from tests.proxy.conftest import get, wait_for_condition
from zeroserve.store.stats import LATENCY_BUCKETS_MS, latency_bucket


async def test_latency_lands_in_the_bucket_of_the_clock_time_taken() -> None:
    gate = Gate()
    async with rig(gate=gate) as r:
        c = await r.client()
        await c.send(get(host=HOST))
        await r.upstream.wait_requests(1)
        await r.clock.advance(0.2)  # 200 ms of Clock time between turn and answer
        gate.open.set()
        assert (await c.response()).status == 200
        await c.send(get(host=HOST))  # answered at once: 0 ms
        assert (await c.response()).status == 200
        await wait_for_condition(lambda: r.counters.in_flight == 0)
        expected = [0] * len(LATENCY_BUCKETS_MS)
        expected[latency_bucket(200.0)] += 1
        expected[latency_bucket(0.0)] += 1
        assert r.counters.latency == expected
        assert latency_bucket(200.0) == 5  # (100, 250]


async def test_local_answers_and_errors_are_counted_too() -> None:
    async with rig(ready=False) as r:
        r.tracker.fail_revision(REVISION, "the image does not exist")
        c = await r.client()
        await c.send(get(host=HOST))
        assert (await c.response()).status == 503
        await wait_for_condition(lambda: r.counters.in_flight == 0)
        assert sum(r.counters.latency) == 1 and r.counters.responses_5xx == 1


async def test_concurrency_area_of_two_steady_requests() -> None:
    gate = Gate()
    async with rig(gate=gate) as r:
        clients = [await r.client(), await r.client()]
        t0 = r.clock.now()
        for c in clients:
            await c.send(get(host=HOST))
        await r.upstream.wait_requests(2)
        assert r.counters.in_flight == 2
        base = r.counters.area_at(t0)
        await r.clock.advance(2.0)
        assert r.counters.area_at(r.clock.now()) - base == pytest.approx(4.0)
        gate.open.set()
        for c in clients:
            assert (await c.response()).status == 200
        await wait_for_condition(lambda: r.counters.in_flight == 0)
        done = r.counters.area_at(r.clock.now())
        assert done - base == pytest.approx(4.0)  # finished without more Clock time
        await r.clock.advance(5.0)
        assert r.counters.area_at(r.clock.now()) == pytest.approx(done)  # idle adds nothing


async def test_a_held_request_is_concurrency_from_its_turn() -> None:
    async with rig(ready=False) as r:
        c = await r.client()
        await c.send(get(host=HOST))
        await wait_for_condition(lambda: r.counters.held == 1)
        before = r.counters.area_at(r.clock.now())
        await r.clock.advance(1.5)
        assert r.counters.area_at(r.clock.now()) - before == pytest.approx(1.5)
        r.tracker.set_endpoints(REVISION, [r.upstream.endpoint])
        assert (await c.response()).status == 200


async def test_a_client_that_leaves_closes_its_share_without_a_latency() -> None:
    gate = Gate()
    async with rig(gate=gate) as r:
        c = await r.client()
        await c.send(get(host=HOST))
        await r.upstream.wait_requests(1)
        await r.clock.advance(1.0)
        c.reset()
        await wait_for_condition(lambda: r.counters.in_flight == 0)
        area = r.counters.area_at(r.clock.now())
        await r.clock.advance(1.0)
        assert r.counters.area_at(r.clock.now()) == pytest.approx(area)
        assert area == pytest.approx(1.0)
        assert sum(r.counters.latency) == 0


class Hook:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, float, float]] = []
        self.fail = fail

    def __call__(self, revision: str, queued_at: float, leased_at: float) -> bytes:
        self.calls.append((revision, queued_at, leased_at))
        if self.fail:
            raise RuntimeError("hook broke")
        return b"X-Held: %s\r\n" % revision.encode()


async def test_hook_adds_headers_to_held_requests_only() -> None:
    hook = Hook()
    async with rig(ready=False, hook=hook) as r:
        held = await r.client()
        await held.send(get(host=HOST))
        await wait_for_condition(lambda: r.counters.held == 1)
        r.tracker.set_endpoints(REVISION, [r.upstream.endpoint])
        first = await held.response()
        assert first.status == 200 and first.body == b"GET / 0"
        assert first.header(b"x-held") == REVISION.encode()
        assert first.header(b"x-upstream") == b"yes"  # the rest of the head is intact
        ((revision, queued_at, leased_at),) = hook.calls
        assert revision == REVISION and 0 < queued_at <= leased_at

        await held.send(get(host=HOST))  # warm now: no hook, no header
        second = await held.response()
        assert second.status == 200 and second.header(b"x-held") is None
        assert len(hook.calls) == 1


async def test_a_failing_hook_costs_only_its_header() -> None:
    hook = Hook(fail=True)
    async with rig(ready=False, hook=hook) as r:
        c = await r.client()
        await c.send(get(host=HOST))
        await wait_for_condition(lambda: r.counters.held == 1)
        r.tracker.set_endpoints(REVISION, [r.upstream.endpoint])
        resp = await c.response()
        assert resp.status == 200 and resp.header(b"x-held") is None
        assert len(hook.calls) == 1


async def test_no_hook_no_change() -> None:
    async with rig(ready=False) as r:
        c = await r.client()
        await c.send(get(host=HOST))
        await wait_for_condition(lambda: r.counters.held == 1)
        r.tracker.set_endpoints(REVISION, [r.upstream.endpoint])
        resp = await c.response()
        assert resp.status == 200
        assert sorted(n.lower() for n, _ in resp.headers) == [b"content-length", b"x-upstream"]
