"""The store contract, written once for every backend.

A backend's test module subclasses ``StoreContract`` and overrides the ``harness``
fixture with a ``StoreHarness`` of its own; every test below then runs against it
(``test_memory_contract.py`` does this for ``MemoryStore``; the Redis issue adds its
harness the same way). Tests assume only what the contract promises: pushes may arrive
a little later on a networked backend, so they wait for them with a deadline, and they
never assert that something does *not* arrive except after a later item has.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Protocol, TypeVar

import pytest

from zeroserve.clock import FakeClock
from zeroserve.config.scaling import RouteMode
from zeroserve.endpoint import Endpoint
from zeroserve.store import (
    LATENCY_BUCKETS_MS,
    EndpointSet,
    Heartbeat,
    InvalidRecord,
    LocalElector,
    Poke,
    Published,
    RevisionRoute,
    RevisionStats,
    RouteTable,
    ScaleRecord,
    ServiceRoute,
    StaleToken,
    StatsSample,
    Store,
    StoreClosed,
    Subscription,
    TrafficTarget,
)

T = TypeVar("T")

DEADLINE = 2.0  # seconds a push may take to arrive, generous for a networked backend
RETENTION = 60.0

R1 = "iris-predictor-00001"
R2 = "iris-predictor-00002"
A = Endpoint("127.0.0.1", 9001, f"{R1}-1")
B = Endpoint("127.0.0.1", 9002, f"{R1}-2")
C = Endpoint("127.0.0.1", 9003, f"{R2}-1")


class StoreHarness(Protocol):
    async def open(self, *, stats_retention: float = ...) -> Store:
        """A new, empty bus and a handle on it (closed by the harness at teardown)."""
        ...

    async def peer(self, store: Store) -> Store:
        """Another handle on ``store``'s bus, as another process would hold."""
        ...


def traffic(concurrency: float = 1.5, requests: int = 3, *, seed: int = 0) -> RevisionStats:
    """Stats whose every field differs with ``seed``, so a round trip proves each one."""
    latency = tuple((seed + i) % 4 for i in range(len(LATENCY_BUCKETS_MS)))
    return RevisionStats(
        concurrency=concurrency + seed / 8,
        requests=requests + seed,
        status_2xx=2 + seed,
        status_3xx=seed % 2,
        status_4xx=1,
        status_5xx=seed % 3,
        latency=latency,
        in_flight=((A.name, 1 + seed), (B.name, seed)),
    )


def scaling_state(*, seed: int = 0) -> dict[str, Any]:
    """A scaling loop's saved state as plain JSON data, nested, every value differing
    with ``seed``."""
    return {
        "format": 1,
        "exported_at": 1_700_000_000.5 + seed,
        "collector": {"cursor": str(seed), "heartbeats": [["gw-1", 1.5 + seed, 3, False]]},
        "revisions": {
            R1: {
                "decider": {"panic_time": None, "max_panic_pods": seed, "delay_window": []},
                "bounds": {"phase": "Active", "phase_since": 2.25 * seed},
                "scale": seed + 1,
            }
        },
    }


def table(version: int, percent_new: int = 0, mode: RouteMode = RouteMode.SERVE) -> RouteTable:
    targets = [TrafficTarget(R1, 100 - percent_new, tag="prev", hosts=("prev-iris.example",))]
    if percent_new:
        targets.append(TrafficTarget(R2, percent_new))
    return RouteTable(
        version=version,
        services=(ServiceRoute("default", "iris", ("iris.default.example.com",), tuple(targets)),),
        revisions=(
            RevisionRoute(R1, timeout=300.0, container_concurrency=0, mode=mode),
            RevisionRoute(R2, timeout=60.0, container_concurrency=4, mode=RouteMode.PROXY),
        ),
    )


async def next_within(sub: Subscription[T], deadline: float = DEADLINE) -> T:
    return await asyncio.wait_for(anext(sub), deadline)


async def collect_until(
    sub: Subscription[T], done: Callable[[T], bool], deadline: float = DEADLINE
) -> list[T]:
    """Items from ``sub`` up to and including the first that is ``done``."""
    seen: list[T] = []
    async with asyncio.timeout(deadline):
        async for item in sub:
            seen.append(item)
            if done(item):
                return seen
    raise AssertionError(f"subscription ended before the awaited item; saw {seen}")


async def blocked(task: asyncio.Task[T]) -> None:
    """Let ``task`` run to its first wait, and check it is waiting."""
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done()


class StoreContract:
    """Every flow's promises; subclasses provide ``harness``."""

    # Reports a backend may keep beyond the retention window (Redis trims approximately).
    TRIM_SLACK: ClassVar[int] = 0

    @pytest.fixture
    def harness(self) -> StoreHarness:
        raise NotImplementedError("a backend's test class provides the harness fixture")

    @pytest.fixture
    async def store(self, harness: StoreHarness) -> Store:
        return await harness.open(stats_retention=RETENTION)

    # -- 1. stats -------------------------------------------------------------------------

    async def test_a_report_reads_back_exactly(self, store: Store) -> None:
        clock = FakeClock(1_700_000_000.25)
        stats = {R1: traffic(seed=1), R2: traffic(seed=2)}
        await store.report("gw-1", clock.now(), 7, stats)
        batch, _ = await store.read_stats()
        assert batch.heartbeats == (Heartbeat("gw-1", clock.now(), 7),)
        assert batch.samples == (
            StatsSample("gw-1", 1_700_000_000, R1, stats[R1]),
            StatsSample("gw-1", 1_700_000_000, R2, stats[R2]),
        )
        assert not batch.gap

    async def test_a_cursor_reads_only_what_is_new(self, store: Store) -> None:
        clock = FakeClock()
        await store.report("gw-1", clock.now(), 1, {R1: traffic(seed=1)})
        await store.report("gw-2", clock.now(), 1, {R1: traffic(seed=2)})
        first, cursor = await store.read_stats()
        assert [h.reporter for h in first.heartbeats] == ["gw-1", "gw-2"]
        await clock.advance(1)
        await store.report("gw-1", clock.now(), 2, {R2: traffic(seed=3)})
        second, cursor = await store.read_stats(cursor)
        assert second.heartbeats == (Heartbeat("gw-1", clock.now(), 2),)
        assert [(s.revision, s.stats) for s in second.samples] == [(R2, traffic(seed=3))]
        third, same = await store.read_stats(cursor)
        assert third.heartbeats == () and third.samples == () and not third.gap
        await store.report("gw-2", clock.now(), 2, {})
        fourth, _ = await store.read_stats(same)
        assert [h.reporter for h in fourth.heartbeats] == ["gw-2"]

    async def test_a_second_without_traffic_is_a_heartbeat_alone(self, store: Store) -> None:
        await store.report("act-1", 1_700_000_000.0, 3, {})
        batch, _ = await store.read_stats()
        assert batch.heartbeats == (Heartbeat("act-1", 1_700_000_000.0, 3),)
        assert batch.samples == ()

    async def test_reports_in_one_second_are_all_kept_to_be_added(self, store: Store) -> None:
        # An activator's immediate first-request stat and its periodic one share a second.
        await store.report("act-1", 1_700_000_000.1, 1, {R1: traffic(1.0, 1)})
        await store.report("act-1", 1_700_000_000.9, 1, {R1: traffic(0.5, 2)})
        batch, _ = await store.read_stats()
        assert [s.second for s in batch.samples] == [1_700_000_000, 1_700_000_000]
        assert sum(s.stats.requests for s in batch.samples) == 3

    async def test_a_leaving_reporter_says_so(self, store: Store) -> None:
        await store.report("gw-1", 1_700_000_000.0, 1, {}, leaving=True)
        batch, _ = await store.read_stats()
        assert batch.heartbeats == (Heartbeat("gw-1", 1_700_000_000.0, 1, leaving=True),)

    async def test_another_handle_reads_the_reports(
        self, harness: StoreHarness, store: Store
    ) -> None:
        reader = await harness.peer(store)
        await store.report("gw-1", 1_700_000_000.0, 1, {R1: traffic()})
        batch, _ = await reader.read_stats()
        assert [s.revision for s in batch.samples] == [R1]

    async def test_retention_bounds_what_is_kept(self, store: Store) -> None:
        start = 1_700_000_000.0
        reporters = ("gw-1", "gw-2", "act-1")
        _, cursor = await store.read_stats()
        seen = 0
        for second in range(10_000):
            for reporter in reporters:
                await store.report(reporter, start + second, 1, {R1: traffic(seed=second % 5)})
            if second % 30 == 29:  # a reader that keeps up sees everything, once, no gap
                batch, cursor = await store.read_stats(cursor)
                assert not batch.gap
                seen += len(batch.heartbeats)
        batch, cursor = await store.read_stats(cursor)
        assert seen + len(batch.heartbeats) == 10_000 * len(reporters)
        everything, _ = await store.read_stats()
        assert len(everything.heartbeats) <= (RETENTION + 1) * len(reporters) + self.TRIM_SLACK
        # ... and nothing inside the window is lost.
        newest = start + 9_999
        inside = [h for h in everything.heartbeats if h.at >= newest - RETENTION]
        assert len(inside) == (RETENTION + 1) * len(reporters)

    async def test_a_reader_behind_retention_sees_a_gap(self, store: Store) -> None:
        clock = FakeClock()
        await store.report("gw-1", clock.now(), 1, {R1: traffic()})
        _, cursor = await store.read_stats()
        for _ in range(int(RETENTION) * 3):
            await clock.advance(1)
            await store.report("gw-1", clock.now(), 1, {R1: traffic()})
        batch, cursor = await store.read_stats(cursor)
        assert batch.gap
        assert batch.heartbeats[-1].at == clock.now()
        batch, _ = await store.read_stats(cursor)
        assert not batch.gap and batch.heartbeats == ()

    async def test_reading_from_the_start_is_never_a_gap(self, store: Store) -> None:
        clock = FakeClock()
        for _ in range(int(RETENTION) * 2):
            await store.report("gw-1", clock.now(), 1, {})
            await clock.advance(1)
        batch, _ = await store.read_stats()
        assert not batch.gap and batch.heartbeats

    # -- 2. pokes -------------------------------------------------------------------------

    async def test_a_poke_wakes_a_waiting_reader_at_once(self, store: Store) -> None:
        pokes = await store.pokes()
        waiting = asyncio.ensure_future(anext(pokes))
        await blocked(waiting)
        await store.poke(R1, 1_700_000_000.5)
        assert await asyncio.wait_for(waiting, DEADLINE) == Poke(R1, 1_700_000_000.5)

    async def test_every_subscriber_gets_every_revision_newest_last(
        self, harness: StoreHarness, store: Store
    ) -> None:
        other = await (await harness.peer(store)).pokes()
        mine = await store.pokes()
        await store.poke(R1, 1.0)
        await store.poke(R2, 2.0)
        await store.poke(R1, 3.0)
        for sub in (mine, other):
            seen: list[Poke] = []
            async with asyncio.timeout(DEADLINE):
                while not {Poke(R1, 3.0), Poke(R2, 2.0)} <= set(seen):
                    seen.append(await anext(sub))
            assert [p.at for p in seen if p.revision == R1] in ([3.0], [1.0, 3.0])
            assert sub.drain() == []

    async def test_pokes_before_subscribing_are_not_delivered(self, store: Store) -> None:
        await store.poke(R1, 1.0)
        pokes = await store.pokes()
        await store.poke(R2, 2.0)
        assert await next_within(pokes) == Poke(R2, 2.0)
        assert pokes.drain() == []

    async def test_a_cancelled_wait_loses_no_poke(self, store: Store) -> None:
        pokes = await store.pokes()
        waiting = asyncio.ensure_future(anext(pokes))
        await blocked(waiting)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await store.poke(R1, 1.0)
        assert await next_within(pokes) == Poke(R1, 1.0)

    # -- 3. desired scale -----------------------------------------------------------------

    async def test_a_decision_is_read_and_watched(self, store: Store) -> None:
        watch = await store.watch_scales()
        done = await store.write_scale(R1, 3, RouteMode.SERVE, 1, 10.0)
        assert done.accepted
        record = ScaleRecord(R1, 3, RouteMode.SERVE, 1, 10.0, version=done.version)
        assert await store.read_scales() == {R1: record}
        assert await next_within(watch) == record

    async def test_a_stale_token_is_refused_for_every_revision(self, store: Store) -> None:
        await store.write_scale(R1, 1, RouteMode.PROXY, 1, 10.0)
        await store.write_scale(R1, 2, RouteMode.SERVE, 2, 11.0)
        for revision in (R1, R2):
            with pytest.raises(StaleToken) as refused:
                await store.write_scale(revision, 9, RouteMode.SERVE, 1, 12.0)
            assert (refused.value.token, refused.value.highest) == (1, 2)
        with pytest.raises(StaleToken):
            await store.remove_scale(R1, 1, 12.0)
        scales = await store.read_scales()
        assert list(scales) == [R1] and scales[R1].desired == 2 and scales[R1].token == 2

    async def test_equal_and_higher_tokens_are_accepted(self, store: Store) -> None:
        first = await store.write_scale(R1, 1, RouteMode.PROXY, 5, 10.0)
        same = await store.write_scale(R1, 2, RouteMode.SERVE, 5, 12.0)
        same_instant = await store.write_scale(R1, 3, RouteMode.SERVE, 5, 12.0)
        higher = await store.write_scale(R2, 4, RouteMode.SERVE, 6, 9.0)
        assert all(p.accepted for p in (first, same, same_instant, higher))
        assert first.version < same.version < same_instant.version
        scales = await store.read_scales()
        assert (scales[R1].desired, scales[R2].desired) == (3, 4)

    async def test_an_older_decision_of_the_leader_is_ignored(self, store: Store) -> None:
        newer = await store.write_scale(R1, 4, RouteMode.SERVE, 1, 20.0)
        older = await store.write_scale(R1, 0, RouteMode.PROXY, 1, 19.0)
        assert older == Published(False, newer.version)
        assert (await store.read_scales())[R1].desired == 4

    async def test_a_removed_decision_stays_removed(self, store: Store) -> None:
        watch = await store.watch_scales()
        await store.write_scale(R1, 2, RouteMode.SERVE, 1, 10.0)
        removed = await store.remove_scale(R1, 1, 11.0)
        assert removed.accepted
        assert await store.read_scales() == {}
        seen = await collect_until(watch, lambda r: r.removed)
        assert seen[-1].revision == R1 and seen[-1].version == removed.version
        late = await store.write_scale(R1, 2, RouteMode.SERVE, 1, 10.5)
        assert not late.accepted and await store.read_scales() == {}
        revived = await store.write_scale(R1, 1, RouteMode.SERVE, 1, 12.0)
        assert revived.accepted and (await store.read_scales())[R1].desired == 1

    async def test_a_new_leadership_fences_the_old_one(self, store: Store) -> None:
        elector = LocalElector()
        old = await elector.campaign()
        await store.write_scale(R1, 1, RouteMode.SERVE, old, 1.0)
        await elector.resign()
        new = await elector.campaign()
        assert new > old
        await store.write_scale(R2, 2, RouteMode.SERVE, new, 2.0)
        with pytest.raises(StaleToken):  # a write the old leadership still had in flight
            await store.write_scale(R1, 9, RouteMode.SERVE, old, 3.0)

    # -- 3b. the scaling loop's saved state -------------------------------------------------

    async def test_no_scaling_state_before_the_first_save(self, store: Store) -> None:
        assert await store.load_scaling_state() is None

    async def test_a_scaling_state_reads_back_exactly(
        self, harness: StoreHarness, store: Store
    ) -> None:
        state = scaling_state(seed=3)
        saved = await store.save_scaling_state(2, state)
        assert saved.accepted
        assert await store.load_scaling_state() == state
        assert await (await harness.peer(store)).load_scaling_state() == state

    async def test_a_newer_save_replaces_the_state(self, store: Store) -> None:
        first = await store.save_scaling_state(1, scaling_state(seed=1))
        same_token = await store.save_scaling_state(1, scaling_state(seed=2))
        higher = await store.save_scaling_state(4, scaling_state(seed=3))
        assert all(p.accepted for p in (first, same_token, higher))
        assert first.version < same_token.version < higher.version
        assert await store.load_scaling_state() == scaling_state(seed=3)

    async def test_a_stale_token_cannot_save_the_state(self, store: Store) -> None:
        await store.save_scaling_state(3, scaling_state(seed=1))
        with pytest.raises(StaleToken) as refused:
            await store.save_scaling_state(2, scaling_state(seed=2))
        assert (refused.value.token, refused.value.highest) == (2, 3)
        assert await store.load_scaling_state() == scaling_state(seed=1)

    async def test_the_state_and_the_scales_share_one_fence(self, store: Store) -> None:
        await store.write_scale(R1, 1, RouteMode.SERVE, 5, 1.0)
        with pytest.raises(StaleToken):
            await store.save_scaling_state(4, scaling_state())
        await store.save_scaling_state(6, scaling_state())
        with pytest.raises(StaleToken):
            await store.write_scale(R1, 2, RouteMode.SERVE, 5, 2.0)

    async def test_the_stored_state_is_not_the_callers_object(self, store: Store) -> None:
        state = scaling_state(seed=1)
        await store.save_scaling_state(1, state)
        revisions: Any = state["revisions"]
        revisions[R1]["scale"] = 99
        state["format"] = 7
        loaded = await store.load_scaling_state()
        assert loaded == scaling_state(seed=1)
        assert loaded is not None
        loaded_revisions: Any = loaded["revisions"]
        loaded_revisions[R1]["scale"] = 42
        assert await store.load_scaling_state() == scaling_state(seed=1)

    # -- 4. endpoints ---------------------------------------------------------------------

    async def test_endpoints_are_read_and_watched(self, store: Store) -> None:
        watch = await store.watch_endpoints()
        endpoints = EndpointSet(R1, 1, ready=(A,), draining=(B,))
        assert await store.publish_endpoints(endpoints) == Published(True, 1)
        assert await store.read_endpoints() == {R1: endpoints}
        assert await next_within(watch) == endpoints

    async def test_an_older_or_equal_endpoint_set_is_ignored(self, store: Store) -> None:
        watch = await store.watch_endpoints()
        await store.publish_endpoints(EndpointSet(R1, 5, ready=(A,)))
        assert await store.publish_endpoints(EndpointSet(R1, 4)) == Published(False, 5)
        assert await store.publish_endpoints(EndpointSet(R1, 5, ready=(B,))) == Published(False, 5)
        assert (await store.read_endpoints())[R1].ready == (A,)
        await store.publish_endpoints(EndpointSet(R1, 6, ready=(A, B)))
        seen = await collect_until(watch, lambda e: e.version == 6)
        assert [e.ready for e in seen] in ([(A,), (A, B)], [(A, B)])

    async def test_a_slow_watcher_gets_the_newest_of_every_revision(self, store: Store) -> None:
        watch = await store.watch_endpoints()
        for version in range(1, 21):
            await store.publish_endpoints(EndpointSet(R1, version, ready=(A,) * (version % 2)))
        await store.publish_endpoints(EndpointSet(R2, 1, ready=(C,)))
        newest: dict[str, int] = {}
        async with asyncio.timeout(DEADLINE):
            async for endpoints in watch:
                assert endpoints.version > newest.get(endpoints.revision, 0)
                newest[endpoints.revision] = endpoints.version
                if newest == {R1: 20, R2: 1}:
                    break

    async def test_a_watch_starts_with_the_current_sets(
        self, harness: StoreHarness, store: Store
    ) -> None:
        await store.publish_endpoints(EndpointSet(R1, 1))
        await store.publish_endpoints(EndpointSet(R1, 2, ready=(A,)))
        await store.publish_endpoints(EndpointSet(R2, 7, failed_reason="no runtime for sklearn"))
        watch = await (await harness.peer(store)).watch_endpoints()
        first = {(await next_within(watch)).revision for _ in range(2)}
        assert first == {R1, R2}
        assert await store.read_endpoints() == {
            R1: EndpointSet(R1, 2, ready=(A,)),
            R2: EndpointSet(R2, 7, failed_reason="no runtime for sklearn"),
        }

    async def test_a_removed_revision_stays_removed(self, store: Store) -> None:
        await store.publish_endpoints(EndpointSet(R1, 3, ready=(A,)))
        watch = await store.watch_endpoints()
        assert await store.publish_endpoints(EndpointSet.tombstone(R1, 4)) == Published(True, 4)
        assert await store.read_endpoints() == {}
        seen = await collect_until(watch, lambda e: e.removed)
        assert seen[-1] == EndpointSet.tombstone(R1, 4)
        assert await store.publish_endpoints(EndpointSet(R1, 3, ready=(A,))) == Published(False, 4)
        assert await store.read_endpoints() == {}

    # -- 5. routes ------------------------------------------------------------------------

    async def test_no_routes_before_the_first_publish(self, store: Store) -> None:
        assert await store.read_routes() is None

    async def test_a_route_table_reads_back_exactly(self, store: Store) -> None:
        routes = table(3, percent_new=10)
        assert await store.publish_routes(routes) == Published(True, 3)
        back = await store.read_routes()
        assert back == routes
        assert back is not None and back.revision(R2) == routes.revision(R2)

    async def test_routes_are_versioned(self, harness: StoreHarness, store: Store) -> None:
        watch = await (await harness.peer(store)).watch_routes()
        await store.publish_routes(table(2))
        assert await store.publish_routes(table(1, percent_new=50)) == Published(False, 2)
        assert await store.publish_routes(table(2, percent_new=50)) == Published(False, 2)
        assert await store.read_routes() == table(2)
        await store.publish_routes(table(3, mode=RouteMode.PROXY))
        seen = await collect_until(watch, lambda t: t.version == 3)
        assert seen[-1] == table(3, mode=RouteMode.PROXY)
        assert [t.version for t in seen] in ([2, 3], [3])

    async def test_a_slow_route_watcher_gets_the_newest(self, store: Store) -> None:
        await store.publish_routes(table(1))
        watch = await store.watch_routes()
        for version in range(2, 30):
            await store.publish_routes(table(version, percent_new=version % 3 * 10))
        seen = await collect_until(watch, lambda t: t.version == 29)
        versions = [t.version for t in seen]
        assert versions == sorted(set(versions))
        assert seen[-1] == table(29, percent_new=20)

    # -- the handle -----------------------------------------------------------------------

    async def test_close_ends_every_watcher(self, store: Store) -> None:
        subs: list[Subscription[Any]] = [
            await store.pokes(),
            await store.watch_scales(),
            await store.watch_endpoints(),
            await store.watch_routes(),
        ]

        async def consume(sub: Subscription[object]) -> int:
            return len([item async for item in sub])

        tasks = [asyncio.ensure_future(consume(sub)) for sub in subs]
        for task in tasks:
            await blocked(task)
        await store.close()
        assert await asyncio.wait_for(asyncio.gather(*tasks), DEADLINE) == [0, 0, 0, 0]
        assert all(sub.closed for sub in subs)
        await store.close()  # twice is harmless

    async def test_closing_one_watcher_leaves_the_others(self, store: Store) -> None:
        gone, kept = await store.watch_routes(), await store.watch_routes()
        gone.close()
        await store.publish_routes(table(1))
        assert (await next_within(kept)).version == 1
        assert [t async for t in gone] == []

    @pytest.mark.parametrize(
        "call",
        [
            lambda s: s.report("gw-1", 1.0, 1, {}),
            lambda s: s.read_stats(),
            lambda s: s.poke(R1, 1.0),
            lambda s: s.pokes(),
            lambda s: s.write_scale(R1, 1, RouteMode.SERVE, 1, 1.0),
            lambda s: s.remove_scale(R1, 1, 1.0),
            lambda s: s.read_scales(),
            lambda s: s.watch_scales(),
            lambda s: s.publish_endpoints(EndpointSet(R1, 1)),
            lambda s: s.read_endpoints(),
            lambda s: s.watch_endpoints(),
            lambda s: s.publish_routes(table(1)),
            lambda s: s.read_routes(),
            lambda s: s.watch_routes(),
            lambda s: s.save_scaling_state(1, scaling_state()),
            lambda s: s.load_scaling_state(),
        ],
    )
    async def test_every_call_after_close_raises_store_closed(
        self, store: Store, call: Callable[[Store], Awaitable[object]]
    ) -> None:
        await store.close()
        with pytest.raises(StoreClosed):
            await call(store)

    async def test_health_while_open_and_after_close(self, store: Store) -> None:
        health = store.health()
        assert health.healthy and health.last_error is None and health.backend
        await store.close()
        assert not store.health().healthy

    @pytest.mark.parametrize(
        "call",
        [
            lambda s: s.report("", 1.0, 1, {}),
            lambda s: s.report("gw-1", math.nan, 1, {}),
            lambda s: s.report("gw-1", 1.0, -1, {}),
            lambda s: s.poke("", 1.0),
            lambda s: s.write_scale(R1, -1, RouteMode.SERVE, 1, 1.0),
            lambda s: s.write_scale(R1, 1, RouteMode.SERVE, 0, 1.0),
            lambda s: s.read_stats("not a cursor"),
            lambda s: s.save_scaling_state(0, scaling_state()),
            lambda s: s.save_scaling_state(1, {"when": object()}),
            lambda s: s.save_scaling_state(1, {"when": math.nan}),
        ],
    )
    async def test_invalid_calls_are_refused(
        self, store: Store, call: Callable[[Store], Awaitable[object]]
    ) -> None:
        with pytest.raises(InvalidRecord):
            await call(store)
        assert await store.read_scales() == {}
