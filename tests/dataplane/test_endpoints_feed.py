"""EndpointsFeed: MemoryStore → CapacityTracker (and route sinks), with the real tracker."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable

import pytest

from zeroserve.capacity.lease import Endpoint, RevisionUnavailable, UnknownRevision
from zeroserve.capacity.tracker import CapacityTracker
from zeroserve.clock import FakeClock
from zeroserve.config.scaling import RouteMode
from zeroserve.dataplane.endpoints_feed import EndpointsFeed, apply_endpoints
from zeroserve.store import (
    EndpointSet,
    MemoryStore,
    RevisionRoute,
    RouteTable,
    StoreUnavailable,
    Subscription,
)

REV = "iris-predictor-00001"
A, B, C = (Endpoint("127.0.0.1", 9001 + i, f"{REV}-{i}") for i in range(3))
DEADLINE = 5.0


def routes(version: int, cc: int = 0) -> RouteTable:
    return RouteTable(version, (), (RevisionRoute(REV, 60.0, cc, RouteMode.SERVE),))


async def until(predicate: Callable[[], bool], within: float = DEADLINE) -> None:
    """Yield to the feed's tasks until ``predicate()`` holds, with a deadline."""

    async def loop() -> None:
        while not predicate():  # noqa: ASYNC110 - plain state, no event to wait on
            await asyncio.sleep(0)

    await asyncio.wait_for(loop(), within)


@pytest.fixture
async def world() -> AsyncIterator[tuple[MemoryStore, CapacityTracker, FakeClock]]:
    clock = FakeClock()
    store = MemoryStore()
    yield store, CapacityTracker(clock), clock
    await store.close()


async def test_published_endpoints_give_leases(
    world: tuple[MemoryStore, CapacityTracker, FakeClock],
) -> None:
    store, tracker, clock = world
    async with EndpointsFeed(store, tracker, clock):
        with pytest.raises(UnknownRevision):
            tracker.acquire_nowait(REV)
        await store.publish_endpoints(EndpointSet(REV, 1, ready=(A,)))
        await until(lambda: bool(tracker.replicas(REV)))
        lease = tracker.acquire_nowait(REV)
        assert lease is not None and lease.endpoint == A
        lease.release()


async def test_state_in_the_store_is_applied_on_entry(
    world: tuple[MemoryStore, CapacityTracker, FakeClock],
) -> None:
    store, tracker, clock = world
    await store.publish_routes(routes(3, cc=1))
    await store.publish_endpoints(EndpointSet(REV, 1, ready=(A,)))
    tables: list[RouteTable] = []
    async with EndpointsFeed(store, tracker, clock, route_sinks=[tables.append]) as feed:
        assert feed.synced.is_set() and feed.version == 3
        assert [t.version for t in tables] == [3]
        first = tracker.acquire_nowait(REV)  # no waiting for a task: applied on entry
        assert first is not None
        assert tracker.acquire_nowait(REV) is None  # containerConcurrency 1 from the routes
        first.release()


async def test_failed_revision_fails_waiters_with_the_reason(
    world: tuple[MemoryStore, CapacityTracker, FakeClock],
) -> None:
    store, tracker, clock = world
    await store.publish_endpoints(EndpointSet(REV, 1))  # known, at zero
    async with EndpointsFeed(store, tracker, clock):
        waiter = tracker.acquire(REV, math.inf)
        await asyncio.sleep(0)
        assert not waiter.done()
        await store.publish_endpoints(EndpointSet(REV, 2, failed_reason="exit code 3"))
        with pytest.raises(RevisionUnavailable, match="exit code 3"):
            await asyncio.wait_for(waiter, DEADLINE)
        with pytest.raises(RevisionUnavailable, match="exit code 3"):
            tracker.acquire_nowait(REV)
        # scaled to zero again without a failure (a retry): requests are held, not refused
        await store.publish_endpoints(EndpointSet(REV, 3))
        await until(lambda: getattr(tracker.stats(REV), "failed", "") is None)
        assert tracker.acquire_nowait(REV) is None


async def test_removed_revision_is_forgotten(
    world: tuple[MemoryStore, CapacityTracker, FakeClock],
) -> None:
    store, tracker, clock = world
    async with EndpointsFeed(store, tracker, clock):
        await store.publish_endpoints(EndpointSet(REV, 1, ready=(A,)))
        await until(lambda: bool(tracker.replicas(REV)))
        await store.publish_endpoints(EndpointSet.tombstone(REV, 2))
        await until(lambda: REV not in tracker.revisions())
        with pytest.raises(UnknownRevision):
            tracker.acquire_nowait(REV)


async def test_draining_replicas_take_no_new_leases(
    world: tuple[MemoryStore, CapacityTracker, FakeClock],
) -> None:
    store, tracker, clock = world
    async with EndpointsFeed(store, tracker, clock):
        await store.publish_endpoints(EndpointSet(REV, 1, ready=(A, B)))
        await until(lambda: len(tracker.replicas(REV)) == 2)
        held = [tracker.acquire_nowait(REV) for _ in range(4)]
        on_b = [lease for lease in held if lease is not None and lease.endpoint == B]
        assert on_b
        await store.publish_endpoints(EndpointSet(REV, 2, ready=(A,), draining=(B,)))
        await until(lambda: any(r.draining for r in tracker.replicas(REV)))
        stats = {r.name: r for r in tracker.replicas(REV)}
        assert stats[B.name].draining and stats[B.name].in_flight == len(on_b)
        assert not stats[A.name].draining
        for _ in range(20):
            lease = tracker.acquire_nowait(REV)
            assert lease is not None and lease.endpoint == A
            lease.release()
        for lease in held:
            assert lease is not None
            lease.release()
        assert tracker.in_flight_of(REV, B.name) == 0


def test_draining_replica_never_seen_ready_is_left_out() -> None:
    tracker = CapacityTracker(FakeClock())
    apply_endpoints(tracker, EndpointSet(REV, 1, ready=(A,), draining=(C,)), 0)
    assert [r.name for r in tracker.replicas(REV)] == [A.name]


async def test_a_route_table_retunes_container_concurrency(
    world: tuple[MemoryStore, CapacityTracker, FakeClock],
) -> None:
    store, tracker, clock = world
    await store.publish_routes(routes(1, cc=1))
    await store.publish_endpoints(EndpointSet(REV, 1, ready=(A,)))
    async with EndpointsFeed(store, tracker, clock) as feed:
        first = tracker.acquire_nowait(REV)
        assert first is not None and tracker.acquire_nowait(REV) is None
        await store.publish_routes(routes(2, cc=2))
        await until(lambda: feed.version == 2)
        second = tracker.acquire_nowait(REV)
        assert second is not None and tracker.acquire_nowait(REV) is None
        assert feed.container_concurrency(REV) == 2
        first.release()
        second.release()


async def test_a_failing_sink_does_not_stop_the_others(
    world: tuple[MemoryStore, CapacityTracker, FakeClock],
) -> None:
    store, tracker, clock = world
    seen: list[int] = []

    def broken(table: RouteTable) -> None:
        raise RuntimeError("sink broke")

    async with EndpointsFeed(
        store, tracker, clock, route_sinks=[broken, lambda t: seen.append(t.version)]
    ) as feed:
        await store.publish_routes(routes(1))
        await store.publish_routes(routes(2))
        await until(lambda: feed.version == 2)
        assert seen[-1] == 2


async def test_close_ends_its_tasks_and_subscriptions(
    world: tuple[MemoryStore, CapacityTracker, FakeClock],
) -> None:
    store, tracker, clock = world
    before = store.watchers
    feed = EndpointsFeed(store, tracker, clock)
    async with feed:
        assert store.watchers == before + 2
    assert store.watchers == before
    names = {t.get_name() for t in asyncio.all_tasks()}
    assert not names & {"zeroserve-routes-feed", "zeroserve-endpoints-feed"}


async def test_a_closed_store_ends_the_feed(
    world: tuple[MemoryStore, CapacityTracker, FakeClock],
) -> None:
    store, tracker, clock = world
    feed = EndpointsFeed(store, tracker, clock)
    async with feed:
        await store.close()
        await until(lambda: all(t.done() for t in feed._tasks))


class FlakyStore(MemoryStore):
    """A MemoryStore whose endpoint watch is unavailable the first ``failures`` times."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def watch_endpoints(self) -> Subscription[EndpointSet]:
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("redis is down")
        return await super().watch_endpoints()


async def test_an_unavailable_store_is_retried_on_the_clock() -> None:
    clock = FakeClock()
    store = FlakyStore(failures=2)
    tracker = CapacityTracker(clock)
    await store.publish_endpoints(EndpointSet(REV, 1, ready=(A,)))
    async with EndpointsFeed(store, tracker, clock, retry_after=1.0) as feed:
        assert not feed.synced.is_set() and not tracker.replicas(REV)
        await clock.advance(1.0)  # second try fails too
        assert not tracker.replicas(REV)
        await clock.advance(1.0)
        await until(feed.synced.is_set)
        assert [r.name for r in tracker.replicas(REV)] == [A.name]
    await store.close()


async def test_a_replica_that_leaves_gets_no_waiter_on_its_way_out() -> None:
    """B was draining and now leaves the set: undraining it first would hand it a waiter."""
    tracker = CapacityTracker(FakeClock())
    apply_endpoints(tracker, EndpointSet(REV, 1, ready=(A, B)), 1)
    a = tracker.acquire_nowait(REV)
    assert a is not None and a.endpoint == A
    apply_endpoints(tracker, EndpointSet(REV, 2, ready=(A,), draining=(B,)), 1)
    waiter = tracker.acquire(REV, math.inf)  # A is full, B draining: it waits
    apply_endpoints(tracker, EndpointSet(REV, 3, ready=(A,)), 1)  # B is gone
    assert not waiter.done()
    a.release()
    assert waiter.done() and waiter.result().endpoint == A
    waiter.result().release()
