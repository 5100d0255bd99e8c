"""Flow 1 out of this process: once a second of Clock time, the engine's counters as one
report (heartbeat plus the revisions that had traffic), sent with one ``store.report``.

The engine's counters are cumulative; ``StatsDelta`` remembers the last read and turns
two reads into one second's ``RevisionStats`` (pure apart from reading the counters).
Each request is counted once, by the engine that admitted it: this reporter reads one
engine's counters, so in the all-in-one process, where gateway and activator share the
engine, nothing is counted twice. Requests held for capacity are in flight from the
moment they are admitted, so they count as concurrency, as Knative counts the
activator's held requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from zeroserve.capacity.tracker import CapacityTracker
from zeroserve.clock import Clock
from zeroserve.proxy.stats import ProxyStats, RevisionCounters
from zeroserve.store.base import Store
from zeroserve.store.errors import StoreError
from zeroserve.store.stats import RevisionStats

__all__ = ["InFlightOf", "StatsDelta", "StatsReporter", "tracker_in_flight"]

log = logging.getLogger(__name__)

# (revision) → ((replica name, requests in flight on it), ...) at the end of the second.
InFlightOf = Callable[[str], tuple[tuple[str, int], ...]]


def tracker_in_flight(tracker: CapacityTracker) -> InFlightOf:
    """Per-replica leases from the capacity tracker, busy replicas only (a live
    reporter's silence about a replica means zero)."""

    def in_flight(revision: str) -> tuple[tuple[str, int], ...]:
        return tuple((r.name, r.in_flight) for r in tracker.replicas(revision) if r.in_flight)

    return in_flight


def _no_replicas(revision: str) -> tuple[tuple[str, int], ...]:
    return ()


@dataclass(frozen=True, slots=True)
class _Seen:
    """One revision's cumulative counters at the last read."""

    requests: int
    by_class: tuple[int, ...]
    latency: tuple[int, ...]
    area: float


_NOTHING_SEEN = _Seen(0, (0,) * 6, (), 0.0)


class StatsDelta:
    """Turns cumulative engine counters into per-interval ``RevisionStats``."""

    __slots__ = ("_at", "_in_flight_of", "_seen", "_stats")

    def __init__(self, stats: ProxyStats, now: float, in_flight_of: InFlightOf = _no_replicas):
        self._stats = stats
        self._in_flight_of = in_flight_of
        self._at = now
        self._seen: dict[str, _Seen] = {
            name: self._read(c, now) for name, c in stats.revisions.items()
        }

    @staticmethod
    def _read(c: RevisionCounters, now: float) -> _Seen:
        return _Seen(c.requests, tuple(c.by_class), tuple(c.latency), c.area_at(now))

    def take(self, now: float) -> dict[str, RevisionStats]:
        """What happened since the last ``take`` (or construction), for each revision with
        traffic in it: admitted, answered, or in flight or held at some moment of it."""
        elapsed = now - self._at
        self._at = now
        out: dict[str, RevisionStats] = {}
        seen = self._seen
        for name, c in self._stats.revisions.items():
            before = seen.get(name, _NOTHING_SEEN)
            after = self._read(c, now)
            seen[name] = after
            area = after.area - before.area
            if not (
                after.requests != before.requests
                or c.in_flight
                or c.held
                or area > 0
                or after.by_class != before.by_class
                or (after.latency != before.latency and any(after.latency))
            ):
                continue
            # (a leaving report right after a tick has no interval to average over)
            concurrency = max(0.0, area / elapsed) if elapsed > 0 else float(c.in_flight)
            by_class = [a - b for a, b in zip(after.by_class, before.by_class, strict=True)]
            if before.latency:
                latency = tuple(a - b for a, b in zip(after.latency, before.latency, strict=True))
            else:
                latency = after.latency
            out[name] = RevisionStats(
                concurrency=concurrency,
                requests=after.requests - before.requests,
                status_2xx=by_class[2],
                status_3xx=by_class[3],
                status_4xx=by_class[4],
                status_5xx=by_class[5],
                latency=latency,
                in_flight=self._in_flight_of(name) if c.in_flight else (),
            )
        return out


class StatsReporter:
    """An owned task that reports every ``interval`` seconds of Clock time; on exit a
    last report with ``leaving=True`` covers the rest and says this reporter is gone.

    A report that fails (store unavailable) is dropped, not merged into the next one:
    a second's stats belong in that second's bucket, and the autoscaler treats missing
    data as unknown, never as zero."""

    def __init__(
        self,
        store: Store,
        stats: ProxyStats,
        clock: Clock,
        reporter: str,
        route_version: Callable[[], int],
        *,
        in_flight_of: InFlightOf = _no_replicas,
        interval: float = 1.0,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be > 0, got {interval}")
        self._store = store
        self._stats = stats
        self._clock = clock
        self._reporter = reporter
        self._route_version = route_version
        self._in_flight_of = in_flight_of
        self._interval = interval
        self._delta: StatsDelta | None = None
        self._task: asyncio.Task[None] | None = None
        self._sending = False
        self._closing = False
        self.reports = 0  # sent successfully, for status pages and tests
        self.failures = 0

    async def __aenter__(self) -> StatsReporter:
        now = self._clock.now()
        self._delta = StatsDelta(self._stats, now, self._in_flight_of)
        self._task = asyncio.create_task(self._run(now), name=f"zeroserve-stats-{self._reporter}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop ticking (a report being sent is let finish), then send the leaving one."""
        task, self._task = self._task, None
        if task is None:
            return
        self._closing = True
        if not self._sending:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await self._send(self._clock.now(), leaving=True)

    async def _run(self, started: float) -> None:
        next_at = started + self._interval
        while not self._closing:
            await self._clock.sleep_until(next_at)
            now = self._clock.now()
            self._sending = True
            try:
                await self._send(now)
            finally:
                self._sending = False
            next_at += self._interval
            if next_at <= now:  # fell behind (a stalled loop): skip, do not burst
                next_at = now + self._interval

    async def _send(self, now: float, *, leaving: bool = False) -> None:
        assert self._delta is not None
        stats = self._delta.take(now)
        try:
            await self._store.report(
                self._reporter, now, max(0, self._route_version()), stats, leaving=leaving
            )
        except StoreError as exc:
            self.failures += 1
            log.warning("stats report at %.3f not sent: %s", now, exc)
        else:
            self.reports += 1
