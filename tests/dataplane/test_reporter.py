"""StatsReporter and StatsDelta: the engine's counters into the store once a second."""

from __future__ import annotations

import pytest

from tests.dataplane.engine_kit import HOST, REVISION, Gate, rig
from tests.proxy.conftest import get, wait_for_condition
from zeroserve.clock import FakeClock
from zeroserve.dataplane.reporter import StatsDelta, StatsReporter, tracker_in_flight
from zeroserve.proxy.stats import ProxyStats
from zeroserve.store import MemoryStore, StatsBatch
from zeroserve.store.stats import LATENCY_BUCKETS_MS, latency_bucket

REPORTER = "gateway-1"


async def everything(store: MemoryStore) -> StatsBatch:
    batch, _ = await store.read_stats()
    return batch


async def test_one_heartbeat_per_second_and_a_leaving_one() -> None:
    clock = FakeClock(1000.0)
    store = MemoryStore()
    version = 7
    async with StatsReporter(store, ProxyStats(), clock, REPORTER, lambda: version) as reporter:
        await clock.advance(3.0)
        version = 8
        await clock.advance(0.5)
    batch = await everything(store)
    assert [(h.at, h.route_version, h.leaving) for h in batch.heartbeats] == [
        (1001.0, 7, False),
        (1002.0, 7, False),
        (1003.0, 7, False),
        (1003.5, 8, True),
    ]
    assert batch.samples == ()  # no traffic, no stats
    assert reporter.reports == 4


async def test_before_any_route_table_the_version_is_zero() -> None:
    clock = FakeClock(1000.0)
    store = MemoryStore()
    async with StatsReporter(store, ProxyStats(), clock, REPORTER, lambda: -1):
        await clock.advance(1.0)
    assert {h.route_version for h in (await everything(store)).heartbeats} == {0}


async def test_requests_are_counted_once_in_their_second() -> None:
    clock = FakeClock(1000.0)
    store = MemoryStore()
    async with (
        rig(clock=clock) as r,
        StatsReporter(
            store,
            r.server.stats,
            clock,
            REPORTER,
            lambda: 1,
            in_flight_of=tracker_in_flight(r.tracker),
        ),
    ):
        c = await r.client()
        for _ in range(5):
            await c.send(get(host=HOST))
            assert (await c.response()).status == 200
        await c.send(get(b"/nothing", host=b"unknown.example.com"))
        assert (await c.response()).status == 404
        await wait_for_condition(lambda: r.counters.in_flight == 0)
        await clock.advance(3.0)
    batch = await everything(store)
    assert len(batch.heartbeats) == 4
    (sample,) = batch.samples  # one second had traffic; unrouted requests are no revision's
    assert (sample.reporter, sample.second, sample.revision) == (REPORTER, 1001, REVISION)
    stats = sample.stats
    assert (stats.requests, stats.status_2xx, stats.status_4xx, stats.status_5xx) == (5, 5, 0, 0)
    expected = [0] * len(LATENCY_BUCKETS_MS)
    expected[latency_bucket(0.0)] = 5  # on a FakeClock that did not move
    assert list(stats.latency) == expected
    assert stats.concurrency == 0.0 and stats.in_flight == ()


async def test_two_steady_requests_average_two() -> None:
    clock = FakeClock(1000.0)
    store = MemoryStore()
    gate = Gate()
    async with (
        rig(clock=clock, gate=gate) as r,
        StatsReporter(
            store,
            r.server.stats,
            clock,
            REPORTER,
            lambda: 1,
            in_flight_of=tracker_in_flight(r.tracker),
        ),
    ):
        clients = [await r.client(), await r.client()]
        for c in clients:
            await c.send(get(host=HOST))
        await r.upstream.wait_requests(2)
        await clock.advance(3.0)
        gate.open.set()
        for c in clients:
            assert (await c.response()).status == 200
        await wait_for_condition(lambda: r.counters.in_flight == 0)
        await clock.advance(2.0)
    samples = (await everything(store)).samples
    assert [s.second for s in samples] == [1001, 1002, 1003, 1004]  # then idle: nothing
    for s in samples[:3]:
        assert s.stats.concurrency == pytest.approx(2.0)
        assert s.stats.in_flight == ((r.upstream.endpoint.name, 2),)
    assert [s.stats.requests for s in samples] == [2, 0, 0, 0]
    answered = samples[3].stats  # the answers came at 1003.0, in the interval reported at 1004
    assert (answered.status_2xx, answered.concurrency, answered.in_flight) == (2, 0.0, ())
    assert answered.latency[latency_bucket(3000.0)] == 2
    assert (await everything(store)).heartbeats[-1].leaving


async def test_held_requests_are_concurrency() -> None:
    clock = FakeClock(1000.0)
    store = MemoryStore()
    async with (
        rig(clock=clock, ready=False) as r,
        StatsReporter(
            store,
            r.server.stats,
            clock,
            REPORTER,
            lambda: 1,
            in_flight_of=tracker_in_flight(r.tracker),
        ),
    ):
        c = await r.client()
        await c.send(get(host=HOST))
        await wait_for_condition(lambda: r.counters.held == 1)
        await clock.advance(2.0)
        r.tracker.set_endpoints(REVISION, [r.upstream.endpoint])
        assert (await c.response()).status == 200
    samples = (await everything(store)).samples
    assert [(s.second, s.stats.requests, s.stats.concurrency) for s in samples[:2]] == [
        (1001, 1, 1.0),
        (1002, 0, 1.0),
    ]
    assert samples[-1].stats.status_2xx == 1  # the leaving report carries the answer


# -- StatsDelta alone, with counters driven by hand ------------------------------------------


def test_delta_reports_only_revisions_with_traffic() -> None:
    stats = ProxyStats()
    busy, idle = stats.revision("busy"), stats.revision("idle")
    idle.requests = 3  # before the first read: not this interval's
    delta = StatsDelta(stats, 10.0)
    busy.requests += 2
    busy.by_class[2] += 1
    busy.by_class[5] += 1
    busy.latency[3] += 2
    out = delta.take(11.0)
    assert set(out) == {"busy"}
    assert (out["busy"].requests, out["busy"].status_2xx, out["busy"].status_5xx) == (2, 1, 1)
    assert out["busy"].latency[3] == 2 and sum(out["busy"].latency) == 2
    assert delta.take(12.0) == {}


def test_delta_averages_the_integral_over_the_interval() -> None:
    stats = ProxyStats()
    c = stats.revision("r")
    delta = StatsDelta(stats, 100.0)
    # one request from 100.0, a second from 100.5: 1 × 0.5 + 2 × 0.5 = 1.5 request-seconds
    c.area, c.changed_at, c.in_flight = 0.0, 100.0, 1
    c.area, c.changed_at, c.in_flight = 0.5, 100.5, 2
    out = delta.take(101.0)
    assert out["r"].concurrency == pytest.approx(1.5)
    assert delta.take(102.0)["r"].concurrency == pytest.approx(2.0)


def test_delta_of_a_revision_first_seen_mid_interval() -> None:
    stats = ProxyStats()
    delta = StatsDelta(stats, 0.0)
    c = stats.revision("new")
    c.requests, c.in_flight, c.changed_at = 1, 1, 0.75
    out = delta.take(1.0)
    assert out["new"].requests == 1 and out["new"].concurrency == pytest.approx(0.25)


async def test_an_unavailable_store_drops_reports_and_carries_on() -> None:
    clock = FakeClock(1000.0)
    store = MemoryStore()
    async with StatsReporter(store, ProxyStats(), clock, REPORTER, lambda: 1) as reporter:
        await clock.advance(1.0)
        await store.close()
        await clock.advance(2.0)
        assert (reporter.reports, reporter.failures) == (1, 2)
    assert reporter.failures == 3  # the leaving report could not go either
