"""What only MemoryStore promises: exact bounds, synchronous pushes, and properties of
its versioned tables and stats log over random sequences of writes and reads."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.store.contract import R1, R2, traffic
from zeroserve.config.scaling import RouteMode
from zeroserve.store import (
    EndpointSet,
    InvalidRecord,
    MemoryStore,
    Poke,
    StatsCursor,
    Subscription,
)


@pytest.mark.parametrize(
    "limits",
    [
        {"stats_retention": 0.0},
        {"stats_retention": math.inf},
        {"max_reports": 0},
        {"max_tombstones": -1},
    ],
)
def test_bad_limits_are_refused(limits: dict[str, Any]) -> None:
    with pytest.raises(InvalidRecord):
        MemoryStore(**limits)


async def test_reports_are_capped_even_within_the_window() -> None:
    store = MemoryStore(stats_retention=120.0, max_reports=50)
    for i in range(1_000):  # a runaway reporter: many reports in the same second
        await store.report("gw-1", 1_700_000_000.0, 1, {R1: traffic()}, leaving=i % 2 == 0)
    assert store.retained_reports == 50
    batch, _ = await store.read_stats(StatsCursor("0"))
    assert batch.gap and len(batch.heartbeats) == 50


async def test_a_cursor_this_store_never_gave_starts_over_with_a_gap() -> None:
    store = MemoryStore()
    await store.report("gw-1", 1.0, 1, {})
    batch, cursor = await store.read_stats(StatsCursor("99"))
    assert batch.gap and len(batch.heartbeats) == 1 and cursor == StatsCursor("1")


async def test_tombstones_are_bounded_and_the_oldest_forgotten_first() -> None:
    store = MemoryStore(max_tombstones=10)
    for n in range(5_000):
        revision = f"r-{n}"
        await store.publish_endpoints(EndpointSet(revision, 1))
        await store.publish_endpoints(EndpointSet.tombstone(revision, 2))
        await store.write_scale(revision, 1, RouteMode.SERVE, 1, float(n))
        await store.remove_scale(revision, 1, float(n))
    assert store.stored_records == 20
    # A recent removal still refuses a late write; a forgotten one no longer can (revision
    # names are never reused, so only a write delayed past 10 removals gets through).
    assert not (await store.publish_endpoints(EndpointSet("r-4999", 1))).accepted
    assert (await store.publish_endpoints(EndpointSet("r-0", 1))).accepted


async def test_a_revived_revision_is_no_longer_a_tombstone() -> None:
    store = MemoryStore(max_tombstones=1)
    await store.publish_endpoints(EndpointSet.tombstone("a", 1))
    await store.publish_endpoints(EndpointSet("a", 2))  # revived
    await store.publish_endpoints(EndpointSet.tombstone("b", 1))
    await store.publish_endpoints(EndpointSet.tombstone("c", 1))  # evicts b, not a
    assert set(await store.read_endpoints()) == {"a"}
    assert store.stored_records == 2


async def test_pushes_are_synchronous_so_a_slow_watcher_gets_one_item() -> None:
    store = MemoryStore()
    endpoints = await store.watch_endpoints()
    for version in range(1, 21):
        await store.publish_endpoints(EndpointSet(R1, version))
    assert endpoints.drain() == [EndpointSet(R1, 20)]


async def test_pokes_coalesce_per_revision() -> None:
    store = MemoryStore()
    pokes = await store.pokes()
    for revision, at in ((R1, 1.0), (R2, 2.0), (R1, 3.0), (R1, 4.0)):
        await store.poke(revision, at)
    assert pokes.drain() == [Poke(R1, 4.0), Poke(R2, 2.0)]


async def test_closed_watchers_are_forgotten() -> None:
    store = MemoryStore()
    subs: list[Subscription[Any]] = [
        await store.pokes(),
        await store.watch_routes(),
        await store.watch_endpoints(),
        await store.watch_scales(),
    ]
    assert store.watchers == 4
    for sub in subs[:2]:
        sub.close()
    assert store.watchers == 2
    await store.close()
    assert store.watchers == 0


# -- properties ---------------------------------------------------------------------------

publish = st.tuples(st.sampled_from("abc"), st.integers(0, 12), st.booleans())
step = st.one_of(publish, st.just("read"))


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.lists(step, max_size=40))
def test_versioned_writes_never_go_back(steps: list[tuple[str, int, bool] | str]) -> None:
    async def run() -> None:
        store = MemoryStore()
        watcher = await store.watch_endpoints()
        stored: dict[str, int] = {}
        delivered: dict[str, EndpointSet] = {}
        for s in steps:
            if isinstance(s, str):
                for item in watcher.drain():
                    assert item.version > getattr(delivered.get(item.revision), "version", -1)
                    delivered[item.revision] = item
                continue
            revision, version, remove = s
            endpoints = (
                EndpointSet.tombstone(revision, version)
                if remove
                else EndpointSet(revision, version)
            )
            result = await store.publish_endpoints(endpoints)
            assert result.accepted == (version > stored.get(revision, -1))
            stored[revision] = max(version, stored.get(revision, -1))
            assert result.version == stored[revision]
        for item in watcher.drain():
            delivered[item.revision] = item
        assert {r: e.version for r, e in delivered.items()} == stored
        live = await store.read_endpoints()
        assert live == {r: e for r, e in delivered.items() if not e.removed}

    asyncio.run(run())


@settings(max_examples=100, derandomize=True, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 40), st.booleans()), min_size=1, max_size=30),
    st.integers(5, 30),
)
def test_a_reader_sees_every_report_once_or_is_told_of_the_gap(
    reads: list[tuple[int, bool]], retention: int
) -> None:
    """Between reads, ``seconds`` of reports (one per second, maybe two reporters);
    reports older than the retention before a read are lost, and only then is it a gap."""

    async def run() -> None:
        store = MemoryStore(stats_retention=float(retention))
        now, sent, cursor = 0, 0, None
        for seconds, two in reads:
            start = sent
            for _ in range(seconds):
                now += 1
                for reporter in ("gw-1", "gw-2") if two else ("gw-1",):
                    await store.report(reporter, float(now), 1, {R1: traffic()})
                    sent += 1
            batch, cursor = await store.read_stats(cursor)
            per_second = 2 if two else 1
            lost = max(0, (seconds - (retention + 1)) * per_second)
            assert batch.gap == (lost > 0 and start > 0)
            assert len(batch.heartbeats) == sent - start - lost
            ats = [h.at for h in batch.heartbeats]
            assert ats == sorted(ats) and (not ats or ats[-1] == now)

    asyncio.run(run())
