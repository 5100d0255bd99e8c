"""CapacityTracker: leases, caps, the wait queue, ejection, draining, pick policies."""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zeroserve.capacity.lease import (
    CapacityProvider,
    CapacityTimeout,
    Endpoint,
    Lease,
    QueueFull,
    RevisionUnavailable,
    UnknownRevision,
)
from zeroserve.capacity.tracker import CapacityTracker
from zeroserve.clock import FakeClock, RealClock

REV = "iris-predictor-00001"
A, B, C, D = (Endpoint("127.0.0.1", 9001 + i, f"iris-{n}") for i, n in enumerate("abcd"))


def tracker(
    *, cc: int = 0, endpoints: tuple[Endpoint, ...] = (A,), seed: int = 7, **kw: object
) -> tuple[CapacityTracker, FakeClock]:
    clock = FakeClock()
    t = CapacityTracker(clock, rng=random.Random(seed), **kw)  # type: ignore[arg-type]
    t.set_endpoints(REV, endpoints, cc)
    return t, clock


def take(t: CapacityTracker, n: int) -> list[Lease]:
    leases = []
    for _ in range(n):
        lease = t.acquire_nowait(REV)
        assert lease is not None
        leases.append(lease)
    return leases


def names(leases: list[Lease]) -> list[str]:
    return [lease.endpoint.name for lease in leases]


def test_is_a_capacity_provider() -> None:
    t, _ = tracker()
    provider: CapacityProvider = t  # mypy checks the protocol here
    lease = provider.acquire_nowait(REV)
    assert lease is not None and lease.endpoint == A


def test_fast_path_leases_and_releases() -> None:
    t, _ = tracker()
    lease = t.acquire_nowait(REV)
    assert lease is not None and lease.endpoint == A
    assert t.in_flight(REV) == 1 and t.in_flight_of(REV, "iris-a") == 1
    lease.release()
    assert t.in_flight(REV) == 0 and t.in_flight_of(REV, "iris-a") == 0


async def test_acquire_resolves_at_once_when_there_is_room() -> None:
    t, clock = tracker(cc=1)
    future = t.acquire(REV, clock.now() + 1)
    assert future.done() and future.result().endpoint == A
    assert clock.pending() == 0 and t.waiting(REV) == 0


@pytest.mark.parametrize("cc", [1, 2, 3, 4, 7])
def test_container_concurrency_caps_each_replica_exactly(cc: int) -> None:
    t, _ = tracker(cc=cc, endpoints=(A, B, C))
    leases = take(t, 3 * cc)
    assert t.acquire_nowait(REV) is None
    assert Counter(names(leases)) == {"iris-a": cc, "iris-b": cc, "iris-c": cc}
    freed = leases[cc]  # one on B
    freed.release()
    again = t.acquire_nowait(REV)
    assert again is not None and again.endpoint == freed.endpoint
    assert t.acquire_nowait(REV) is None


def test_unknown_revision_raises_and_none_means_no_room() -> None:
    t, _ = tracker(cc=1)
    with pytest.raises(UnknownRevision, match="'nope'"):
        t.acquire_nowait("nope")
    take(t, 1)
    assert t.acquire_nowait(REV) is None


async def test_acquire_of_unknown_revision_fails_the_future() -> None:
    t, clock = tracker()
    future = t.acquire("nope", clock.now() + 5)
    with pytest.raises(UnknownRevision):
        future.result()


async def test_waiters_are_served_in_arrival_order() -> None:
    t, clock = tracker(cc=1)
    (held,) = take(t, 1)
    futures = [t.acquire(REV, clock.now() + 60) for _ in range(4)]
    assert t.waiting(REV) == 4
    order = []
    current = held
    for _ in range(4):
        current.release()
        done = [i for i, f in enumerate(futures) if f.done() and i not in order]
        assert len(done) == 1
        order.append(done[0])
        current = futures[done[0]].result()
    assert order == [0, 1, 2, 3]
    assert t.waiting(REV) == 0 and t.in_flight(REV) == 1
    assert clock.pending() == 0  # every deadline timer was cancelled


async def test_new_requests_do_not_overtake_waiters() -> None:
    t, clock = tracker(cc=1, endpoints=())
    future = t.acquire(REV, clock.now() + 60)
    t.set_endpoints(REV, [A], 1)
    assert future.done()
    assert t.acquire_nowait(REV) is None  # the slot went to the waiter


async def test_deadline_fails_the_waiter_naming_revision_and_wait() -> None:
    t, clock = tracker(cc=1)
    take(t, 1)
    future = t.acquire(REV, clock.now() + 2.5)
    await clock.advance(2.4)
    assert not future.done()
    await clock.advance(0.1)
    with pytest.raises(CapacityTimeout) as caught:
        future.result()
    text = str(caught.value)
    assert REV in text and "2.5 s" in text
    assert t.waiting(REV) == 0
    stats = t.stats(REV)
    assert stats is not None and stats.timeouts == 1


async def test_deadline_already_passed_fails_at_once() -> None:
    t, clock = tracker(cc=1)
    take(t, 1)
    future = t.acquire(REV, clock.now())
    assert isinstance(future.exception(), CapacityTimeout)
    assert t.waiting(REV) == 0 and clock.pending() == 0


async def test_no_deadline_sets_no_timer() -> None:
    t, clock = tracker(cc=1)
    take(t, 1)
    future = t.acquire(REV, math.inf)
    assert clock.pending() == 0 and not future.done()
    await clock.advance(10_000)
    assert not future.done()
    future.cancel()


async def test_queue_limit_rejects_with_retry_after() -> None:
    t, clock = tracker(cc=1, queue_limit=2)
    take(t, 1)
    waiting = [t.acquire(REV, clock.now() + 9) for _ in range(2)]
    over = t.acquire(REV, clock.now() + 9)
    error = over.exception()
    assert isinstance(error, QueueFull) and error.retry_after == 1
    assert REV in str(error) and "queue full" in str(error)
    assert t.waiting(REV) == 2 and not any(f.done() for f in waiting)
    stats = t.stats(REV)
    assert stats is not None and stats.rejected == 1 and stats.max_waiting == 2


async def test_cancelling_withdraws_the_waiter() -> None:
    t, clock = tracker(cc=1)
    (held,) = take(t, 1)
    first = t.acquire(REV, clock.now() + 9)
    second = t.acquire(REV, clock.now() + 9)
    first.cancel()
    await clock.settle()
    assert t.waiting(REV) == 1 and clock.pending() == 1
    held.release()
    assert second.done() and second.result().endpoint == A
    assert t.in_flight(REV) == 1


async def test_cancel_and_release_in_the_same_tick_skip_the_cancelled() -> None:
    t, clock = tracker(cc=1)
    (held,) = take(t, 1)
    first = t.acquire(REV, clock.now() + 9)
    second = t.acquire(REV, clock.now() + 9)
    first.cancel()  # its done-callback has not run yet
    held.release()
    assert second.done() and not second.cancelled()
    await clock.settle()
    assert t.waiting(REV) == 0 and t.in_flight(REV) == 1


async def test_on_wait_is_called_for_each_request_that_waits() -> None:
    poked: list[str] = []
    t, clock = tracker(cc=1, on_wait=poked.append)
    take(t, 1)
    assert poked == []
    for _ in range(3):
        t.acquire(REV, clock.now() + 9)
    assert poked == [REV] * 3


async def test_on_wait_that_raises_leaves_nothing_queued() -> None:
    def boom(revision: str) -> None:
        raise RuntimeError("autoscaler unreachable")

    t, clock = tracker(cc=1, on_wait=boom)
    take(t, 1)
    with pytest.raises(RuntimeError):
        t.acquire(REV, clock.now() + 9)
    assert t.waiting(REV) == 0 and clock.pending() == 0


async def test_endpoints_arriving_wake_the_waiters_that_fit() -> None:
    poked: list[str] = []
    t, clock = tracker(cc=2, endpoints=(), on_wait=poked.append)
    assert t.acquire_nowait(REV) is None
    futures = [t.acquire(REV, clock.now() + 30) for _ in range(3)]
    assert poked == [REV] * 3
    t.set_endpoints(REV, [A], 2)
    assert [f.done() for f in futures] == [True, True, False]
    t.set_endpoints(REV, [A, B], 2)
    assert futures[2].done() and futures[2].result().endpoint == B
    assert t.waiting(REV) == 0


async def test_failed_revision_rejects_waiters_and_later_requests() -> None:
    t, clock = tracker(cc=1)
    (held,) = take(t, 1)
    futures = [t.acquire(REV, clock.now() + 30) for _ in range(2)]
    t.fail_revision(REV, "container exited with code 1: no module named torch")
    for f in futures:
        error = f.exception()
        assert isinstance(error, RevisionUnavailable) and "torch" in str(error)
    with pytest.raises(RevisionUnavailable, match="torch"):
        t.acquire_nowait(REV)
    assert isinstance(t.acquire(REV, clock.now() + 30).exception(), RevisionUnavailable)
    assert t.waiting(REV) == 0 and clock.pending() == 0
    held.release()  # the lease from before the failure is still valid
    assert t.in_flight(REV) == 0
    t.set_endpoints(REV, [], 1)  # no replica yet: still failed
    with pytest.raises(RevisionUnavailable):
        t.acquire_nowait(REV)
    t.set_endpoints(REV, [B], 1)
    lease = t.acquire_nowait(REV)
    assert lease is not None and lease.endpoint == B


async def test_failing_an_unknown_revision_makes_it_known_as_failed() -> None:
    t = CapacityTracker(FakeClock())
    t.fail_revision("r", "image pull failed")
    with pytest.raises(RevisionUnavailable, match="image pull failed"):
        t.acquire_nowait("r")


async def test_removed_revision_fails_waiters_then_is_unknown() -> None:
    t, clock = tracker(cc=1)
    (held,) = take(t, 1)
    future = t.acquire(REV, clock.now() + 30)
    t.remove_revision(REV)
    assert isinstance(future.exception(), RevisionUnavailable)
    assert "removed" in str(future.exception())
    with pytest.raises(UnknownRevision):
        t.acquire_nowait(REV)
    held.release()
    held.release()
    assert t.revisions() == [] and t.in_flight(REV) == 0
    t.remove_revision(REV)  # unknown: nothing to do


async def test_failed_lease_ejects_its_replica_for_eject_for() -> None:
    t, clock = tracker(endpoints=(A, B), eject_for=5.0)
    bad = t.acquire_nowait(REV)
    assert bad is not None
    ejected, other = bad.endpoint, ({A, B} - {bad.endpoint}).pop()
    bad.fail()
    assert t.in_flight(REV) == 0
    assert {r.name: r.ejected for r in t.replicas(REV)} == {
        ejected.name: True,
        other.name: False,
    }
    leases = take(t, 20)
    assert {lease.endpoint for lease in leases} == {other}
    await clock.advance(4.9)
    assert {lease.endpoint for lease in take(t, 20)} == {other}
    await clock.advance(0.1)
    assert ejected in {lease.endpoint for lease in take(t, 20)}


async def test_failing_again_extends_the_ejection() -> None:
    t, clock = tracker(cc=1, endpoints=(A, B), eject_for=5.0)
    first = t.acquire_nowait(REV)
    assert first is not None and first.endpoint == A
    first.fail()
    await clock.advance(3)
    retry = t.acquire_nowait(REV)
    assert retry is not None and retry.endpoint == B
    retry.release()
    t.set_draining(REV, ["iris-b"])  # A alone pickable: ejection ignored
    second = t.acquire_nowait(REV)
    assert second is not None and second.endpoint == A
    second.fail()
    t.set_draining(REV, [])
    await clock.advance(3)  # 6 s after the first failure, 3 after the second
    lease = t.acquire_nowait(REV)
    assert lease is not None and lease.endpoint == B
    await clock.advance(2)
    assert [r.ejected for r in t.replicas(REV)] == [False, False]


async def test_ejecting_the_only_replica_still_leases_it() -> None:
    t, _ = tracker(cc=1, eject_for=5.0)
    bad = t.acquire_nowait(REV)
    assert bad is not None
    bad.fail()
    retry = t.acquire_nowait(REV)
    assert retry is not None and retry.endpoint == A  # the engine compares and answers 502


async def test_ejection_ending_wakes_waiters() -> None:
    t, clock = tracker(cc=1, endpoints=(A, B), eject_for=5.0)
    a, _ = take(t, 2)
    a.fail()  # A ejected and free; B full
    future = t.acquire(REV, clock.now() + 30)
    assert not future.done()
    await clock.advance(5)
    assert future.done() and future.result().endpoint == A


async def test_release_after_fail_and_fail_after_release_are_no_ops() -> None:
    t, clock = tracker(cc=1, endpoints=(A, B))
    lease = t.acquire_nowait(REV)
    assert lease is not None
    lease.release()
    lease.release()
    lease.fail()  # released already: no ejection
    assert t.in_flight(REV) == 0 and t.in_flight_of(REV, "iris-a") == 0
    assert not any(r.ejected for r in t.replicas(REV)) and clock.pending() == 0
    again = t.acquire_nowait(REV)
    assert again is not None
    again.fail()
    again.release()
    again.fail()
    assert t.in_flight(REV) == 0


async def test_draining_replica_gets_no_new_leases_and_reports_in_flight() -> None:
    t, _ = tracker(cc=2, endpoints=(A, B))
    on_a = take(t, 2)
    assert names(on_a) == ["iris-a", "iris-a"]
    t.set_draining(REV, ["iris-a", "iris-gone"])
    assert names(take(t, 2)) == ["iris-b", "iris-b"]
    assert t.acquire_nowait(REV) is None
    assert t.in_flight_of(REV, "iris-a") == 2
    on_a[0].release()
    assert t.in_flight_of(REV, "iris-a") == 1 and t.acquire_nowait(REV) is None
    on_a[1].release()
    assert t.in_flight_of(REV, "iris-a") == 0
    t.set_endpoints(REV, [A, B], 2)  # still in the set: still draining
    assert t.acquire_nowait(REV) is None
    t.set_draining(REV, [])
    assert names(take(t, 2)) == ["iris-a", "iris-a"]


async def test_undraining_wakes_waiters() -> None:
    t, clock = tracker(cc=1, endpoints=(A, B))
    t.set_draining(REV, ["iris-a"])
    take(t, 1)
    future = t.acquire(REV, clock.now() + 9)
    t.set_draining(REV, [])
    assert future.done() and future.result().endpoint == A


async def test_set_draining_of_unknown_revision_raises() -> None:
    t = CapacityTracker(FakeClock())
    with pytest.raises(UnknownRevision):
        t.set_draining("nope", [])


async def test_replica_that_leaves_keeps_its_leases_but_gets_no_new_ones() -> None:
    t, _ = tracker(cc=1, endpoints=(A, B))
    a, _ = take(t, 2)
    t.set_endpoints(REV, [B, C], 1)
    assert t.in_flight_of(REV, "iris-a") == 1 and t.in_flight(REV) == 2
    assert [(r.name, r.ready) for r in t.replicas(REV)] == [
        ("iris-b", True),
        ("iris-c", True),
        ("iris-a", False),
    ]
    assert names(take(t, 1)) == ["iris-c"]
    a.release()
    assert t.in_flight_of(REV, "iris-a") == 0
    assert [r.name for r in t.replicas(REV)] == ["iris-b", "iris-c"]
    t.set_endpoints(REV, [A, B, C], 1)  # back, and empty
    assert names(take(t, 1)) == ["iris-a"]


async def test_replica_back_before_its_leases_ended_keeps_its_count() -> None:
    t, _ = tracker(cc=1, endpoints=(A,))
    (a,) = take(t, 1)
    t.set_endpoints(REV, [], 1)
    t.set_endpoints(REV, [A], 1)
    assert t.in_flight_of(REV, "iris-a") == 1 and t.acquire_nowait(REV) is None
    a.release()
    assert names(take(t, 1)) == ["iris-a"]


def test_cc_0_power_of_two_choices_avoids_the_loaded_replica() -> None:
    t, _ = tracker(cc=0, endpoints=(A,), seed=3)
    take(t, 5)  # all on A
    t.set_endpoints(REV, [A, B, C], 0)
    seen: Counter[str] = Counter()
    for _ in range(300):
        lease = t.acquire_nowait(REV)
        assert lease is not None
        seen[lease.endpoint.name] += 1
        lease.release()
    assert seen["iris-a"] == 0  # every pair holding A has a less loaded member
    assert seen["iris-b"] > 100 and seen["iris-c"] > 100  # ties broken at random


def test_cc_0_spreads_held_load_evenly() -> None:
    t, _ = tracker(cc=0, endpoints=(A, B, C, D), seed=11)
    take(t, 400)
    counts = [r.in_flight for r in t.replicas(REV)]
    assert sum(counts) == 400 and max(counts) - min(counts) <= 10


def test_cc_up_to_3_packs_the_first_free_replica_in_name_order() -> None:
    t, _ = tracker(cc=2, endpoints=(C, A, B))
    leases = take(t, 6)
    assert names(leases) == ["iris-a", "iris-a", "iris-b", "iris-b", "iris-c", "iris-c"]
    leases[5].release()
    leases[2].release()
    assert names(take(t, 2)) == ["iris-b", "iris-c"]
    leases[0].release()
    assert names(take(t, 1)) == ["iris-a"]


def test_cc_above_3_round_robins_skipping_full_replicas() -> None:
    t, _ = tracker(cc=5, endpoints=(C, A, B))
    first = take(t, 7)
    assert names(first) == ["iris-a", "iris-b", "iris-c"] * 2 + ["iris-a"]
    for lease in first:
        lease.release()
    assert names(take(t, 2)) == ["iris-b", "iris-c"]  # continues from the last position
    take(t, 13)  # now all full
    assert t.acquire_nowait(REV) is None
    assert [r.in_flight for r in t.replicas(REV)] == [5, 5, 5]
    t2, _ = tracker(cc=5, endpoints=(A, B, C))
    held = take(t2, 15)
    next(lease for lease in held if lease.endpoint == B).release()
    assert names(take(t2, 1)) == ["iris-b"]


async def test_stats_count_leases_waits_and_high_water_marks() -> None:
    t, clock = tracker(cc=1, endpoints=(A, B))
    a, _ = take(t, 2)
    futures = [t.acquire(REV, clock.now() + 9) for _ in range(3)]
    a.release()
    stats = t.stats(REV)
    assert stats is not None
    assert (stats.in_flight, stats.waiting, stats.leases, stats.waited) == (2, 2, 3, 3)
    assert (stats.max_in_flight, stats.max_waiting, stats.replicas, stats.pickable) == (
        2,
        3,
        2,
        2,
    )
    for f in futures[1:]:
        f.cancel()
    assert t.stats("nope") is None and t.replicas("nope") == ()
    assert t.in_flight("nope") == 0 and t.waiting("nope") == 0


async def test_many_withdrawn_waiters_do_not_pile_up() -> None:
    t, clock = tracker(cc=1)
    (held,) = take(t, 1)
    keep = t.acquire(REV, clock.now() + 99)
    for _ in range(1000):
        t.acquire(REV, clock.now() + 99).cancel()
        await asyncio.sleep(0)
    assert t.waiting(REV) == 1 and clock.pending() == 1
    held.release()
    assert keep.done()


async def test_real_clock_deadline() -> None:
    clock = RealClock()
    t = CapacityTracker(clock)
    t.set_endpoints(REV, [A], 1)
    take(t, 1)
    future = t.acquire(REV, clock.now() + 0.05)
    with pytest.raises(CapacityTimeout):
        await asyncio.wait_for(future, timeout=5)


def test_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        CapacityTracker(FakeClock(), queue_limit=-1)
    with pytest.raises(ValueError):
        CapacityTracker(FakeClock(), eject_for=-1)
    with pytest.raises(ValueError):
        CapacityTracker(FakeClock()).set_endpoints(REV, [A], -1)


# -- property: counts stay within [0, CC] and waiters never sit next to free room ---------

POOL = (A, B, C, D)
_index = st.integers(0, 30)
_subset = st.sets(st.integers(0, len(POOL) - 1))
_acquire = st.tuples(st.just("acquire"), st.integers(1, 8))  # a burst of n requests
_release = st.tuples(st.just("release"), _index)
OPS = st.lists(
    st.one_of(  # acquire and release weighted up, so queues and caps are reached
        _acquire,
        _acquire,
        _release,
        _release,
        st.tuples(st.just("fail"), _index),
        st.tuples(st.just("release-again"), _index),
        st.tuples(st.just("cancel"), _index),
        st.tuples(st.just("endpoints"), _subset),
        st.tuples(st.just("drain"), _subset),
        st.tuples(st.just("advance"), st.floats(0.1, 6.0)),
    ),
    min_size=4,
    max_size=60,
)


async def _run(cc: int, ops: list[tuple[str, object]]) -> None:
    clock = FakeClock()
    t = CapacityTracker(clock, queue_limit=8, eject_for=2.0, rng=random.Random(0))
    t.set_endpoints(REV, POOL[:1], cc)
    held: list[Lease] = []
    released: list[Lease] = []
    pending: list[asyncio.Future[Lease]] = []
    for op, arg in ops:
        if op == "acquire":
            assert isinstance(arg, int)
            for _ in range(arg):
                lease = t.acquire_nowait(REV)
                if lease is not None:
                    held.append(lease)
                else:
                    pending.append(t.acquire(REV, clock.now() + arg))
        elif op in ("release", "fail") and held:
            assert isinstance(arg, int)
            gone = held.pop(arg % len(held))
            gone.fail() if op == "fail" else gone.release()
            released.append(gone)
        elif op == "release-again" and released:
            assert isinstance(arg, int)
            released[arg % len(released)].release()
        elif op == "cancel" and pending:
            assert isinstance(arg, int)
            pending[arg % len(pending)].cancel()
        elif op == "endpoints":
            assert isinstance(arg, set)
            t.set_endpoints(REV, [POOL[i] for i in sorted(arg)], cc)
        elif op == "drain":
            assert isinstance(arg, set)
            t.set_draining(REV, [POOL[i].name for i in arg])
        elif op == "advance":
            assert isinstance(arg, float)
            await clock.advance(arg)
        await clock.settle()
        still = []
        for f in pending:
            if not f.done():
                still.append(f)
            elif not f.cancelled():
                error = f.exception()
                if error is None:
                    held.append(f.result())
                else:
                    assert isinstance(error, CapacityTimeout | QueueFull), error
        pending = still

        replicas = t.replicas(REV)
        per_name = Counter(lease.endpoint.name for lease in held)
        assert {r.name: r.in_flight for r in replicas if r.in_flight} == dict(per_name)
        assert t.in_flight(REV) == len(held) == sum(r.in_flight for r in replicas)
        assert all(0 <= r.in_flight <= (cc or len(held)) for r in replicas)
        assert t.waiting(REV) == len(pending)
        if pending:  # nobody waits while a replica that could take them has room
            pickable = [r for r in replicas if r.ready and not r.draining]
            if not all(r.ejected for r in pickable):
                pickable = [r for r in pickable if not r.ejected]
            assert not pickable or (cc and all(r.in_flight >= cc for r in pickable))
    for f in pending:
        f.cancel()


@settings(max_examples=300, derandomize=True, deadline=None)
@given(cc=st.sampled_from([0, 1, 2, 3, 4, 5]), ops=OPS)
async def test_counts_stay_within_bounds_under_random_operations(
    cc: int, ops: list[tuple[str, object]]
) -> None:
    await _run(cc, ops)
