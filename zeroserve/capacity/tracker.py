"""The in-process ``CapacityProvider``: leases on the ready replicas of each revision.

One tracker per process, used from one event loop (not thread-safe). Every request calls
``acquire_nowait`` and ``Lease.release``, so both are plain calls that allocate only the
lease. A request that must wait gets a Future in a FIFO queue and one Clock timer for its
deadline, no Task. The per-revision state is in ``revision.py``, the pick policies
(knative-kpa §6.2) in ``pick.py``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable, Sequence

from zeroserve.capacity.lease import Endpoint, Lease, RevisionUnavailable, UnknownRevision
from zeroserve.capacity.revision import ReplicaStats, RevisionState, RevisionStats
from zeroserve.clock import Clock

__all__ = ["CapacityTracker", "ReplicaStats", "RevisionStats"]


def _unknown(revision: str) -> UnknownRevision:
    return UnknownRevision(f"no endpoints known for revision {revision!r}")


class CapacityTracker:
    """Implements ``CapacityProvider``; the controller side feeds it endpoints.

    Choices, and why:
    * Unknown revision: ``acquire_nowait`` raises ``UnknownRevision`` (``acquire``
      returns a future failed with it), so None always means "known, no room now" and
      the engine can answer at once instead of holding the request until its timeout.
      A failed revision raises ``RevisionUnavailable(reason)`` the same way.
    * Ejection never empties a revision: ``Lease.fail`` ejects the replica for
      ``eject_for`` seconds of Clock time, but while every pickable replica of the
      revision is ejected, ejection is ignored. One refused connect should not hold every
      request for seconds; removing dead replicas is the runtime's job. So the engine's
      retry after ``fail`` may get the same endpoint back: it compares, releases the
      retry's lease, and answers 502 naming the replica.
    * Draining (``set_draining``) and leaving the endpoint set both mean: no new leases,
      outstanding ones stay valid and are still counted by ``in_flight_of``.
    * FIFO: while requests wait, ``acquire_nowait`` returns None, so nobody overtakes.
    * A resolved ``acquire`` future owns its lease: a consumer that gives up must check
      ``future.done()`` (cancelling a resolved future does nothing) and release the
      result, or the slot leaks.
    """

    __slots__ = ("_clock", "_eject_for", "_on_wait", "_queue_limit", "_random", "_revisions")

    def __init__(
        self,
        clock: Clock,
        *,
        queue_limit: int = 100_000,
        eject_for: float = 5.0,
        on_wait: Callable[[str], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if queue_limit < 0:
            raise ValueError(f"queue_limit must be >= 0, got {queue_limit}")
        if eject_for < 0:
            raise ValueError(f"eject_for must be >= 0, got {eject_for}")
        self._clock = clock
        self._queue_limit = queue_limit
        self._eject_for = eject_for
        self._on_wait = on_wait
        self._random = (rng or random.Random()).random
        self._revisions: dict[str, RevisionState] = {}

    # -- the provider ---------------------------------------------------------------

    def acquire_nowait(self, revision: str) -> Lease | None:
        """A lease if a replica has room now, else None (also while others wait).

        Raises ``UnknownRevision`` for a revision never set or removed, and
        ``RevisionUnavailable`` for a failed one: waiting would help neither.
        """
        rev = self._revisions.get(revision)
        if rev is None:
            raise _unknown(revision)
        lease = rev.try_lease()
        if lease is None and rev.failure is not None:
            raise RevisionUnavailable(rev.failure)
        return lease

    def acquire(self, revision: str, deadline: float) -> asyncio.Future[Lease]:
        """A lease now or later, first come first served; ``deadline`` is on the Clock
        (``math.inf``: none). The future fails with ``UnknownRevision``,
        ``RevisionUnavailable``, ``QueueFull`` (``queue_limit`` already waiting) or
        ``CapacityTimeout``. ``on_wait(revision)`` is called for each request that starts
        waiting, after it is queued."""
        future: asyncio.Future[Lease] = asyncio.get_running_loop().create_future()
        rev = self._revisions.get(revision)
        if rev is None:
            future.set_exception(_unknown(revision))
            return future
        if rev.failure is not None:
            future.set_exception(RevisionUnavailable(rev.failure))
            return future
        lease = rev.try_lease()
        if lease is not None:
            future.set_result(lease)
            return future
        waiter = rev.enqueue(future, deadline, self._queue_limit)
        if waiter is not None and self._on_wait is not None:
            try:
                self._on_wait(revision)
            except BaseException:
                waiter.withdraw()
                raise
        return future

    # -- what the controller says ---------------------------------------------------

    def set_endpoints(
        self, revision: str, endpoints: Sequence[Endpoint], container_concurrency: int = 0
    ) -> None:
        """The revision's ready replicas now, replacing the last set, each capped at
        ``container_concurrency`` leases (0: unlimited). Replicas kept (equal ``Endpoint``)
        keep their counts and draining flag; new ones start empty; ones that left keep
        their leases but get no new ones. A non-empty set clears a failure. Waiters that
        now fit are served, oldest first."""
        if container_concurrency < 0:
            raise ValueError(f"container_concurrency must be >= 0, got {container_concurrency}")
        self._state(revision).set_endpoints(endpoints, container_concurrency)

    def set_draining(self, revision: str, endpoint_names: Iterable[str]) -> None:
        """Exactly these replicas (by ``Endpoint.name``) of the current set are draining:
        no new leases. The others are not (undraining wakes waiters). Wait for
        ``in_flight_of`` to reach 0 before stopping one. Unknown names are ignored."""
        rev = self._revisions.get(revision)
        if rev is None:
            raise _unknown(revision)
        rev.set_draining(endpoint_names)

    def fail_revision(self, revision: str, reason: str) -> None:
        """The revision cannot serve: waiters and every later request get
        ``RevisionUnavailable(reason)`` (a 503 with the reason) until ``set_endpoints``
        brings a replica. Outstanding leases stay valid."""
        self._state(revision).fail(reason)

    def remove_revision(self, revision: str) -> None:
        """Forget the revision: waiters get ``RevisionUnavailable``, later requests
        ``UnknownRevision``. Outstanding leases stay valid. Unknown: nothing to do."""
        rev = self._revisions.pop(revision, None)
        if rev is not None:
            rev.retire_all()
            rev.fail_waiters(f"revision {revision!r} was removed")

    # -- read-outs: 0, empty or None for a revision this tracker does not know --------

    def revisions(self) -> list[str]:
        return list(self._revisions)

    def in_flight(self, revision: str) -> int:
        rev = self._revisions.get(revision)
        return 0 if rev is None else rev.in_flight

    def waiting(self, revision: str) -> int:
        rev = self._revisions.get(revision)
        return 0 if rev is None else rev.n_waiting

    def in_flight_of(self, revision: str, endpoint_name: str) -> int:
        """Leases held on the named replica, also after it left the set or drained."""
        rev = self._revisions.get(revision)
        return 0 if rev is None else rev.in_flight_of(endpoint_name)

    def replicas(self, revision: str) -> tuple[ReplicaStats, ...]:
        """The endpoint set in pick order, then replicas that left it with leases."""
        rev = self._revisions.get(revision)
        return () if rev is None else rev.replica_stats()

    def stats(self, revision: str) -> RevisionStats | None:
        rev = self._revisions.get(revision)
        return None if rev is None else rev.stats()

    def _state(self, revision: str) -> RevisionState:
        rev = self._revisions.get(revision)
        if rev is None:
            rev = RevisionState(revision, self._clock, self._random, self._eject_for)
            self._revisions[revision] = rev
        return rev
