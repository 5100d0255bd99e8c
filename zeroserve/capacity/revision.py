"""One revision's replicas, leases and wait queue: the state behind ``CapacityTracker``.

Invariant: while anyone waits, no pickable replica has room. Every event that makes room
(a release, new endpoints, a drain undone, an ejection ending) hands it to the oldest
waiters before returning, so a new request that finds waiters may queue without looking.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from zeroserve.capacity.lease import (
    CapacityTimeout,
    Endpoint,
    Lease,
    QueueFull,
    RevisionUnavailable,
)
from zeroserve.capacity.pick import pick_first_free, pick_least_of_two, pick_round_robin, usable
from zeroserve.clock import Clock, TimerHandle

_COMPACT_SLACK = 64  # withdrawn waiters tolerated in a queue beyond the live ones


@dataclass(frozen=True, slots=True)
class ReplicaStats:
    name: str
    host: str
    port: int
    in_flight: int
    draining: bool
    ejected: bool
    ready: bool  # False: left the endpoint set, still finishing its leases


@dataclass(frozen=True, slots=True)
class RevisionStats:
    """Counters since the revision was first set; maxima are high-water marks."""

    in_flight: int
    waiting: int
    container_concurrency: int
    replicas: int  # in the endpoint set, draining included
    pickable: int  # of those, not draining
    ejected: int
    failed: str | None
    leases: int  # granted, at once or after waiting
    waited: int  # requests that entered the queue
    timeouts: int
    rejected: int  # QueueFull
    max_in_flight: int
    max_waiting: int


class Replica:
    __slots__ = ("draining", "eject_timer", "ejected", "endpoint", "in_flight", "live", "revision")

    def __init__(self, endpoint: Endpoint, revision: RevisionState) -> None:
        self.endpoint = endpoint
        self.revision = revision
        self.in_flight = 0
        self.live = True  # False: out of the endpoint set; its leases still count
        self.draining = False
        self.ejected = False
        self.eject_timer: TimerHandle | None = None

    def sort_key(self) -> tuple[str, str, int]:
        ep = self.endpoint
        return (ep.name, ep.host, ep.port)

    def retire(self) -> None:
        self.live = False
        self.draining = False
        self.ejected = False
        if self.eject_timer is not None:
            self.eject_timer.cancel()
            self.eject_timer = None

    def stats(self) -> ReplicaStats:
        ep = self.endpoint
        return ReplicaStats(
            ep.name, ep.host, ep.port, self.in_flight, self.draining, self.ejected, self.live
        )


class ReplicaLease:
    """Held by one request; ``_replica`` is None once released, so release happens once."""

    __slots__ = ("_replica", "endpoint")

    def __init__(self, replica: Replica) -> None:
        self._replica: Replica | None = replica
        self.endpoint = replica.endpoint

    def release(self) -> None:
        r = self._replica
        if r is None:
            return
        self._replica = None
        r.in_flight -= 1
        rev = r.revision
        rev.in_flight -= 1
        if not r.live:
            if r.in_flight == 0:
                rev.retired.pop(r.endpoint, None)
        elif rev.n_waiting and not r.draining:
            rev.wake()

    def fail(self) -> None:
        r = self._replica
        if r is None:
            return
        r.revision.eject(r)  # before releasing, so the waiter it wakes goes elsewhere
        self.release()

    def __repr__(self) -> str:
        state = "released" if self._replica is None else "held"
        return f"<ReplicaLease {self.endpoint.name} {state}>"


class Waiter:
    __slots__ = ("future", "queued", "revision", "since", "timer")

    def __init__(
        self, revision: RevisionState, future: asyncio.Future[Lease], since: float
    ) -> None:
        self.revision = revision
        self.future = future
        self.since = since
        self.queued = True  # counted in revision.n_waiting
        self.timer: TimerHandle | None = None

    def dequeue(self) -> None:
        """Stop counting this waiter; its deque entry may stay, to be skipped later."""
        self.queued = False
        self.revision.n_waiting -= 1
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def expire(self) -> None:
        if not self.queued:
            return
        self.dequeue()
        rev = self.revision
        rev.compact()
        if not self.future.done():
            rev.timeouts += 1
            waited = rev.clock.now() - self.since
            self.future.set_exception(
                CapacityTimeout(
                    f"timed out after {waited:.1f} s waiting for a replica of revision "
                    f"{rev.name!r} ({len(rev.pickable)} ready, {rev.n_waiting} still waiting)"
                )
            )

    def on_done(self, future: asyncio.Future[Lease]) -> None:
        if self.queued:  # cancelled while queued: withdraw
            self.dequeue()
            self.revision.compact()

    def withdraw(self) -> None:
        """Take this waiter back synchronously, returning any lease it was given."""
        future = self.future
        if self.queued:
            self.dequeue()
        if not future.done():
            future.cancel()
        elif not future.cancelled() and future.exception() is None:
            future.result().release()


class RevisionState:
    __slots__ = (
        "cc",
        "clock",
        "eject_for",
        "failure",
        "in_flight",
        "leases",
        "max_in_flight",
        "max_waiting",
        "n_waiting",
        "name",
        "pickable",
        "random",
        "rejected",
        "replicas",
        "retired",
        "rr",
        "skip_ejected",
        "timeouts",
        "waited",
        "waiters",
    )

    def __init__(
        self, name: str, clock: Clock, random: Callable[[], float], eject_for: float
    ) -> None:
        self.name = name
        self.clock = clock
        self.random = random
        self.eject_for = eject_for
        self.cc = 0
        self.replicas: list[Replica] = []  # the endpoint set, sorted
        self.pickable: list[Replica] = []  # of those, not draining
        self.skip_ejected = False  # some, not all, pickable replicas are ejected
        self.retired: dict[Endpoint, Replica] = {}  # left the set, leases outstanding
        self.rr = 0
        self.failure: str | None = None
        self.waiters: deque[Waiter] = deque()
        self.n_waiting = 0
        self.in_flight = 0
        self.leases = 0
        self.waited = 0
        self.timeouts = 0
        self.rejected = 0
        self.max_in_flight = 0
        self.max_waiting = 0

    # -- leases -----------------------------------------------------------------------

    def try_lease(self) -> ReplicaLease | None:
        """A lease if nobody waits and a replica has room (the hot path)."""
        if self.n_waiting:
            return None
        r = self.pick()
        return None if r is None else self.grant(r)

    def pick(self) -> Replica | None:
        cc = self.cc
        if cc == 0:
            return pick_least_of_two(usable(self.pickable, self.skip_ejected), self.random)
        if cc <= 3:
            return pick_first_free(self.pickable, cc, self.skip_ejected)
        reps = self.pickable
        i = pick_round_robin(reps, cc, self.skip_ejected, self.rr)
        if i < 0:
            return None
        self.rr = i + 1
        return reps[i]

    def grant(self, replica: Replica) -> ReplicaLease:
        replica.in_flight += 1
        n = self.in_flight + 1
        self.in_flight = n
        if n > self.max_in_flight:
            self.max_in_flight = n
        self.leases += 1
        return ReplicaLease(replica)

    # -- the wait queue ---------------------------------------------------------------

    def enqueue(self, future: asyncio.Future[Lease], deadline: float, limit: int) -> Waiter | None:
        """Queue ``future`` until a replica fits or ``deadline``; None if it was failed
        at once instead (queue full, deadline passed)."""
        if self.n_waiting >= limit:
            self.rejected += 1
            future.set_exception(
                QueueFull(
                    f"pending request queue full for revision {self.name!r} "
                    f"({self.n_waiting} waiting)",
                    retry_after=1,
                )
            )
            return None
        now = self.clock.now()
        if deadline <= now:
            self.timeouts += 1
            future.set_exception(
                CapacityTimeout(
                    f"timed out after 0.0 s waiting for a replica of revision {self.name!r} "
                    f"(deadline already passed, {len(self.pickable)} ready)"
                )
            )
            return None
        w = Waiter(self, future, now)
        if deadline != math.inf:
            w.timer = self.clock.call_at(deadline, w.expire)
        self.waiters.append(w)
        self.n_waiting += 1
        self.waited += 1
        if self.n_waiting > self.max_waiting:
            self.max_waiting = self.n_waiting
        future.add_done_callback(w.on_done)
        return w

    def wake(self) -> None:
        """Hand free capacity to the oldest waiters, in order, until one does not fit."""
        q = self.waiters
        while q:
            w = q[0]
            if not w.queued:
                q.popleft()
                continue
            if w.future.done():  # cancelled; its done-callback has not run yet
                q.popleft()
                w.dequeue()
                continue
            r = self.pick()
            if r is None:
                return
            q.popleft()
            w.dequeue()
            w.future.set_result(self.grant(r))

    def fail_waiters(self, reason: str) -> None:
        q = self.waiters
        self.waiters = deque()
        for w in q:
            if w.queued:
                w.dequeue()
                if not w.future.done():
                    w.future.set_exception(RevisionUnavailable(reason))

    def compact(self) -> None:
        if len(self.waiters) > 2 * self.n_waiting + _COMPACT_SLACK:
            self.waiters = deque(w for w in self.waiters if w.queued)

    # -- the replica set ----------------------------------------------------------------

    def set_endpoints(self, endpoints: Sequence[Endpoint], cc: int) -> None:
        old = {r.endpoint: r for r in self.replicas}
        kept: dict[Endpoint, Replica] = {}
        for ep in endpoints:
            if ep in kept:
                continue
            r = old.pop(ep, None)
            if r is None:
                r = self.retired.pop(ep, None)  # back before its leases ended
                if r is None:
                    r = Replica(ep, self)
                r.live = True
            kept[ep] = r
        for r in old.values():
            r.retire()
            if r.in_flight:
                self.retired[r.endpoint] = r
        self.replicas = sorted(kept.values(), key=Replica.sort_key)
        self.cc = cc
        if self.replicas:
            self.failure = None
        self.refresh()
        self.wake()

    def set_draining(self, names: Iterable[str]) -> None:
        draining = set(names)
        for r in self.replicas:
            r.draining = r.endpoint.name in draining
        self.refresh()
        self.wake()

    def eject(self, replica: Replica) -> None:
        if not replica.live or self.eject_for <= 0:
            return
        if replica.eject_timer is not None:
            replica.eject_timer.cancel()
        replica.ejected = True

        def end() -> None:
            replica.eject_timer = None
            replica.ejected = False
            self.refresh()
            self.wake()

        replica.eject_timer = self.clock.call_at(self.clock.now() + self.eject_for, end)
        self.refresh()  # no wake: the failed lease's release, which follows, does it

    def fail(self, reason: str) -> None:
        self.failure = reason
        self.retire_all()
        self.fail_waiters(reason)

    def refresh(self) -> None:
        """Recompute the pickable list after the set, draining or ejection changed."""
        pickable = [r for r in self.replicas if not r.draining]
        ejected = sum(1 for r in pickable if r.ejected)
        self.pickable = pickable
        self.skip_ejected = 0 < ejected < len(pickable)

    def retire_all(self) -> None:
        for r in self.replicas:
            r.retire()
            if r.in_flight:
                self.retired[r.endpoint] = r
        self.replicas = []
        self.pickable = []
        self.skip_ejected = False

    # -- read-outs ----------------------------------------------------------------------

    def in_flight_of(self, name: str) -> int:
        total = 0
        for r in self.replicas:
            if r.endpoint.name == name:
                total += r.in_flight
        for r in self.retired.values():
            if r.endpoint.name == name:
                total += r.in_flight
        return total

    def replica_stats(self) -> tuple[ReplicaStats, ...]:
        retired = sorted(self.retired.values(), key=Replica.sort_key)
        return tuple(r.stats() for r in [*self.replicas, *retired])

    def stats(self) -> RevisionStats:
        return RevisionStats(
            in_flight=self.in_flight,
            waiting=self.n_waiting,
            container_concurrency=self.cc,
            replicas=len(self.replicas),
            pickable=len(self.pickable),
            ejected=sum(1 for r in self.replicas if r.ejected),
            failed=self.failure,
            leases=self.leases,
            waited=self.waited,
            timeouts=self.timeouts,
            rejected=self.rejected,
            max_in_flight=self.max_in_flight,
            max_waiting=self.max_waiting,
        )
