"""Poker: the tracker's on_wait callback, coalesced per revision into store pokes."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

import pytest

from activator.poker import Poker
from zeroserve.capacity.tracker import CapacityTracker
from zeroserve.clock import FakeClock
from zeroserve.store import MemoryStore, Poke, Subscription

R1, R2 = "iris-predictor-00001", "wine-predictor-00001"
DEADLINE = 5.0


async def until(predicate: Callable[[], bool]) -> None:
    async def loop() -> None:
        while not predicate():  # noqa: ASYNC110 - plain state, no event to wait on
            await asyncio.sleep(0)

    await asyncio.wait_for(loop(), DEADLINE)


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def rig() -> tuple[MemoryStore, Subscription[Poke], FakeClock]:
    store = MemoryStore()
    return store, await store.pokes(), FakeClock(1000.0)


async def test_ten_thousand_held_requests_make_one_poke() -> None:
    store, pokes, clock = await rig()
    async with Poker(store, clock) as poker:
        tracker = CapacityTracker(clock, on_wait=poker)
        tracker.set_endpoints(R1, [])
        waiters = [tracker.acquire(R1, math.inf) for _ in range(10_000)]
        assert tracker.waiting(R1) == 10_000
        await until(lambda: poker.sent == 1)
        await settle()
        assert pokes.drain() == [Poke(R1, 1000.0)]
        assert poker.sent == 1 and poker.pending == 0
        for w in waiters:
            w.cancel()
    await store.close()


async def test_revisions_are_poked_separately() -> None:
    store, pokes, clock = await rig()
    async with Poker(store, clock) as poker:
        for _ in range(3):
            poker(R1)
            poker(R2)
        await until(lambda: poker.sent == 2)
        assert sorted(p.revision for p in pokes.drain()) == [R1, R2]
    await store.close()


async def test_at_most_one_poke_per_interval_while_requests_keep_coming() -> None:
    store, pokes, clock = await rig()
    async with Poker(store, clock, min_interval=1.0) as poker:
        poker(R1)
        await until(lambda: poker.sent == 1)
        assert [p.at for p in pokes.drain()] == [1000.0]
        await clock.advance(0.25)
        poker(R1)  # more waiters soon after: deferred, not dropped
        await settle()
        assert poker.sent == 1 and poker.pending == 1
        await clock.advance(0.5)
        assert poker.sent == 1
        await clock.advance(0.25)  # one interval after the first poke
        await until(lambda: poker.sent == 2)
        assert [p.at for p in pokes.drain()] == [1001.0]
        await clock.advance(5.0)  # nobody waits: nothing more
        assert poker.sent == 2
        poker(R1)  # a new wait long after: poked at once
        await until(lambda: poker.sent == 3)
        assert [p.at for p in pokes.drain()] == [1006.0]
    await store.close()


async def test_a_deferred_poke_does_not_hold_back_another_revision() -> None:
    store, pokes, clock = await rig()
    async with Poker(store, clock, min_interval=1.0) as poker:
        poker(R2)
        await until(lambda: poker.sent == 1)
        assert [(p.revision, p.at) for p in pokes.drain()] == [(R2, 1000.0)]
        await clock.advance(0.9)
        poker(R1)
        poker(R2)  # deferred until 1001.0
        await until(lambda: poker.sent == 2)
        assert [(p.revision, p.at) for p in pokes.drain()] == [(R1, 1000.9)]
        await clock.advance(0.1)
        await until(lambda: poker.sent == 3)
        assert [(p.revision, p.at) for p in pokes.drain()] == [(R2, 1001.0)]
    await store.close()


async def test_an_unavailable_store_counts_a_failure_and_carries_on() -> None:
    store, _, clock = await rig()
    async with Poker(store, clock, min_interval=0.0) as poker:
        await store.close()
        poker(R1)
        await until(lambda: poker.failed == 1)
        poker(R1)
        await until(lambda: poker.failed == 2)
    assert poker.sent == 0


async def test_close_leaves_no_task_and_no_timer() -> None:
    store, _, clock = await rig()
    poker = Poker(store, clock)
    async with poker:
        poker(R1)
        await until(lambda: poker.sent == 1)
        poker(R1)  # deferred: a timer is pending
        await settle()
        assert clock.pending() == 1
    assert clock.pending() == 0
    assert "zeroserve-poker" not in {t.get_name() for t in asyncio.all_tasks()}
    await store.close()


def test_a_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="min_interval"):
        Poker(MemoryStore(), FakeClock(), min_interval=-1.0)


async def test_an_earlier_deferred_poke_is_not_held_behind_a_later_one() -> None:
    store, pokes, clock = await rig()
    async with Poker(store, clock, min_interval=1.0) as poker:
        poker(R1)
        await until(lambda: poker.sent == 1)
        await clock.advance(0.9)
        poker(R2)
        await until(lambda: poker.sent == 2)
        pokes.drain()
        await clock.advance(0.05)
        poker(R2)  # due at 1001.9
        await settle()
        poker(R1)  # due at 1001.0: sooner than the timer already set
        await settle()
        await clock.advance(0.1)
        await until(lambda: poker.sent == 3)
        assert [(p.revision, p.at) for p in pokes.drain()] == [(R1, 1001.0)]
        await clock.advance(0.85)
        await until(lambda: poker.sent == 4)
        assert [(p.revision, p.at) for p in pokes.drain()] == [(R2, 1001.9)]
    await store.close()
