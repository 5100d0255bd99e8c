"""Flow 1, stats: what each gateway and activator reports once a second, and the one rule
the reader needs to interpret silence.

A reporter sends one report per second: a heartbeat (always) and a ``RevisionStats`` for
each revision that had traffic in that second (only those, so the cost is O(revisions
with traffic)). The autoscaler reads only what is new since its cursor. Silence is
meaningful only from a reporter known to be alive: a live reporter that sent nothing for
a revision saw zero traffic; a reporter whose heartbeat is 2 s old is *missing*, and a
missing reporter's silence is unknown, never zero (``reporter_liveness``).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, NewType

from zeroserve.store.errors import InvalidRecord

__all__ = [
    "DEFAULT_MAX_REPORTS",
    "DEFAULT_STATS_RETENTION",
    "LATENCY_BUCKETS_MS",
    "MISSING_AFTER",
    "Heartbeat",
    "Liveness",
    "RevisionStats",
    "StatsBatch",
    "StatsCursor",
    "StatsSample",
    "latency_bucket",
    "latest_heartbeats",
    "reporter_liveness",
]

# Upper bounds (inclusive, like Prometheus' ``le``) of the latency buckets, in ms. Fixed,
# so histograms from every reporter add bucket by bucket.
LATENCY_BUCKETS_MS: Final[tuple[float, ...]] = (
    5.0,
    10.0,
    25.0,
    50.0,
    100.0,
    250.0,
    500.0,
    1000.0,
    2500.0,
    5000.0,
    10000.0,
    math.inf,
)
NO_LATENCY: Final[tuple[int, ...]] = (0,) * len(LATENCY_BUCKETS_MS)

# A reporter whose last heartbeat is this old is missing (one lost beat is tolerated).
MISSING_AFTER: Final = 2.0
# Stats kept for a reader, in seconds: a restarted autoscaler rebuilds its 60 s stable
# window from them, with room to spare.
DEFAULT_STATS_RETENTION: Final = 120.0
# A hard cap on reports kept, whatever their timestamps say (a misbehaving reporter).
DEFAULT_MAX_REPORTS: Final = 100_000

# Where a reader stopped. Opaque: a sequence number in memory, a stream id in Redis.
# ``None`` in its place means "from the oldest report retained".
StatsCursor = NewType("StatsCursor", str)


def latency_bucket(latency_ms: float) -> int:
    """The index of the bucket that counts a request of ``latency_ms``."""
    return bisect.bisect_left(LATENCY_BUCKETS_MS, latency_ms)


def _count(name: str, value: int) -> None:
    if value < 0:
        raise InvalidRecord(f"{name} must be >= 0, got {value}")


@dataclass(frozen=True, slots=True)
class RevisionStats:
    """One reporter's view of one revision over one second.

    ``concurrency`` is the time-weighted average of requests in flight over the second
    (Knative's ``AverageConcurrency``); ``requests`` counts requests admitted in it;
    ``status_*`` and ``latency`` count responses finished in it (so they need not add up
    to ``requests``). ``latency`` holds one count per bucket of ``LATENCY_BUCKETS_MS``
    (not cumulative). ``in_flight`` is ``(endpoint name, requests in flight)`` at the end
    of the second, for drain decisions: a draining replica is done when no reporter
    has a request in flight on it.
    """

    concurrency: float
    requests: int
    status_2xx: int = 0
    status_3xx: int = 0
    status_4xx: int = 0
    status_5xx: int = 0
    latency: tuple[int, ...] = NO_LATENCY
    in_flight: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if not (math.isfinite(self.concurrency) and self.concurrency >= 0):
            raise InvalidRecord(f"concurrency must be finite and >= 0, got {self.concurrency}")
        _count("requests", self.requests)
        _count("status_2xx", self.status_2xx)
        _count("status_3xx", self.status_3xx)
        _count("status_4xx", self.status_4xx)
        _count("status_5xx", self.status_5xx)
        if len(self.latency) != len(LATENCY_BUCKETS_MS):
            raise InvalidRecord(
                f"latency needs {len(LATENCY_BUCKETS_MS)} bucket counts, got {len(self.latency)}"
            )
        for count in self.latency:
            _count("a latency bucket count", count)
        for name, count in self.in_flight:
            _count(f"in flight on {name!r}", count)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A reporter was alive at ``at`` and routing with table ``route_version``.

    ``leaving`` is a reporter's last word on a clean shutdown: it serves nothing any
    more, so from then on its silence is zero rather than missing."""

    reporter: str
    at: float
    route_version: int
    leaving: bool = False


@dataclass(frozen=True, slots=True)
class StatsSample:
    """One reporter's stats for one revision in the 1 s bucket ``second`` (whole epoch
    seconds, the floor of the report's ``now``)."""

    reporter: str
    second: int
    revision: str
    stats: RevisionStats


@dataclass(frozen=True, slots=True)
class StatsBatch:
    """Everything reported since a cursor, oldest first.

    Several reports by one reporter in one second are all here, to be added (each covers
    its own interval). ``gap`` is true when reports after the cursor were trimmed by
    retention before this read: the reader missed data and must not read that as zero."""

    heartbeats: tuple[Heartbeat, ...] = ()
    samples: tuple[StatsSample, ...] = ()
    gap: bool = False


@dataclass(frozen=True, slots=True)
class Liveness:
    """Reporters by what their silence means: zero (``live``, ``departed``) or unknown
    (``missing``)."""

    live: frozenset[str]
    missing: frozenset[str]
    departed: frozenset[str]


def latest_heartbeats(heartbeats: Iterable[Heartbeat]) -> dict[str, Heartbeat]:
    """The newest heartbeat of each reporter (by ``at``; the later one on a tie)."""
    latest: dict[str, Heartbeat] = {}
    for beat in heartbeats:
        known = latest.get(beat.reporter)
        if known is None or beat.at >= known.at:
            latest[beat.reporter] = beat
    return latest


def reporter_liveness(
    heartbeats: Iterable[Heartbeat],
    now: float,
    *,
    missing_after: float = MISSING_AFTER,
    forget_after: float = DEFAULT_STATS_RETENTION,
) -> Liveness:
    """Sort reporters by their newest heartbeat at ``now``.

    Missing is ``now - at >= missing_after``. A reporter whose newest heartbeat is
    ``forget_after`` old or older is in no set: the store retains no heartbeat that old,
    so a reader that just restarted would not know it either, and both readers should
    decide alike. Pass ``math.inf`` to remember missing reporters forever (which keeps a
    crashed reporter's revisions from ever being seen idle).
    """
    live: set[str] = set()
    missing: set[str] = set()
    departed: set[str] = set()
    for reporter, beat in latest_heartbeats(heartbeats).items():
        age = now - beat.at
        if age >= forget_after:
            continue
        if beat.leaving:
            departed.add(reporter)
        elif age >= missing_after:
            missing.add(reporter)
        else:
            live.add(reporter)
    return Liveness(frozenset(live), frozenset(missing), frozenset(departed))
