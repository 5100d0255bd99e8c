"""Stats batches into per-revision windows, and whether the windows can be trusted.

Knative's collector adds every stat of a second into that second's bucket; so does this
one (several reporters in one second add up). What Knative gets from scraping every pod
every second, Zeroserve gets from a rule about silence (DESIGN.md, "The store"): each
reporter sends a heartbeat every second and stats only for revisions with traffic, so

* while every known reporter is live (or has left cleanly), a second in which a revision
  got no sample is a zero for it: the collector writes the zeros, every second up to the
  *horizon* (the last second every live reporter has reported), so the windows decay to
  zero after traffic stops;
* a reporter without a heartbeat for 2 s is missing, and missing is never zero: while any
  reporter is missing, or the store trimmed reports before they were read (``gap``), or
  no reporter has been seen at all, the collector's ``Sight`` is not valid (the loop
  makes no decision: every revision keeps its scale). Samples read meanwhile are still
  recorded: they are lower bounds, used only to scale a poked revision up from zero;
* a blind period taints the windows (they now hold seconds whose data is unknown, and a
  window counts unwritten seconds as zeros); so do a gap and a reporter whose heartbeats
  show a hole of more than 2 s (missing, then back between two reads). At the first
  read where every reporter is live again, every window restarts empty and that read's
  samples are dropped, like an autoscaler that just started (still blind); the next read
  is valid.

Exports: a revision's windows are exported as its per-second totals over the stable
window (zeros included), which ``RevisionWindows.from_samples`` replays into windows
that average the same.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from autoscaler.model import AutoscalerStateError, CollectorData, Sight
from autoscaler.windows import Averages, RevisionWindows, Window
from zeroserve.config.scaling import WindowSpec
from zeroserve.store.stats import (
    DEFAULT_STATS_RETENTION,
    MISSING_AFTER,
    Heartbeat,
    StatsBatch,
    StatsCursor,
    reporter_liveness,
)

__all__ = ["StatsCollector"]

_NOT_READ = Sight(False, reason="no stats read yet")
# What the activator's first request sends in Knative (knative-kpa §3.1).
_POKE_CONCURRENCY = 1.0
_POKE_REQUESTS = 1.0


class StatsCollector:
    """Per-revision windows fed from the store's stats flow; owns the read cursor.

    No I/O and no clock: the loop reads the store and passes ``now``."""

    __slots__ = (
        "_beats",
        "_forget_after",
        "_last_data",
        "_missing_after",
        "_pending",
        "_sight",
        "_tainted",
        "_windows",
        "cursor",
        "untracked_samples",
    )

    def __init__(
        self,
        *,
        missing_after: float = MISSING_AFTER,
        forget_after: float = DEFAULT_STATS_RETENTION,
        restore: CollectorData | None = None,
    ) -> None:
        self._missing_after = missing_after
        self._forget_after = forget_after
        self.cursor: StatsCursor | None = None
        self._beats: dict[str, Heartbeat] = {}
        self._windows: dict[str, RevisionWindows] = {}
        self._last_data: dict[str, int] = {}  # last second with a real sample or a poke
        self._pending: dict[str, list[tuple[float, float, float]]] = {}  # imported windows
        self._tainted: str | None = None  # why the windows hold unknown seconds
        self._sight = _NOT_READ
        self.untracked_samples = 0
        if restore is not None:
            self._restore(restore)

    @property
    def sight(self) -> Sight:
        return self._sight

    # -- revisions ------------------------------------------------------------------------

    def track(self, revision: str, spec: WindowSpec, now: float) -> None:
        """Windows for ``revision`` (new, imported, or resized to a changed spec)."""
        windows = self._windows.get(revision)
        if windows is None:
            samples = self._pending.pop(revision, None)
            if samples:
                windows = RevisionWindows.from_samples(spec, samples)
            else:
                windows = RevisionWindows(spec)
            self._windows[revision] = windows
        elif windows.spec != spec:
            windows.resize(spec, now)

    def forget(self, revision: str) -> None:
        self._windows.pop(revision, None)
        self._last_data.pop(revision, None)
        self._pending.pop(revision, None)

    def drop_imported(self) -> None:
        """Imported windows of revisions the route table no longer has."""
        self._pending.clear()

    def windows(self, revision: str) -> RevisionWindows | None:
        return self._windows.get(revision)

    # -- reading ---------------------------------------------------------------------------

    def unreachable(self, error: str) -> Sight:
        """The store could not be read: blind, but nothing was lost (the reports wait in
        the store; a read that comes too late says ``gap``)."""
        self._sight = Sight(False, reason=f"store unreachable: {error}")
        return self._sight

    def lost_cursor(self, error: str) -> Sight:
        """The store did not know our cursor: read from the start, and count it as a gap."""
        self.cursor = None
        self._taint("a refused stats cursor")
        self._sight = Sight(False, reason=f"stats cursor refused ({error}): reading again")
        return self._sight

    def ingest(self, batch: StatsBatch, cursor: StatsCursor, now: float) -> Sight:
        """Feed one batch (what is new since ``cursor``) and judge what it allows."""
        self.cursor = cursor
        holes = self._note_heartbeats(batch.heartbeats, now)
        liveness = reporter_liveness(
            self._beats.values(),
            now,
            missing_after=self._missing_after,
            forget_after=self._forget_after,
        )
        if batch.gap:
            self._taint("a stats gap (reports trimmed before they were read)")
        if holes:
            self._taint("reporters missing between two reads: " + ", ".join(sorted(holes)))
        if liveness.missing:
            missing = "reporters missing: " + ", ".join(sorted(liveness.missing))
            self._taint(missing)
            self._record(batch, fill=False)
            self._sight = Sight(False, reason=missing)
        elif not liveness.live and not liveness.departed:
            self._record(batch, fill=False)  # nothing to record; nothing unknown either
            self._sight = Sight(False, reason="no reporter has reported yet")
        elif self._tainted is not None:
            cause, self._tainted = self._tainted, None
            for revision, windows in self._windows.items():
                self._windows[revision] = RevisionWindows(windows.spec)
            self._last_data.clear()
            self._sight = Sight(
                False,
                reason=f"after {cause}: windows restarted, deciding from the next read",
                recovered=True,
            )
        else:
            self._record(batch, fill=True)
            if liveness.live:
                horizon = min(math.floor(self._beats[r].at) for r in liveness.live)
            else:  # only reporters that left cleanly: silence up to now is zero
                horizon = math.floor(now)
            self._sight = Sight(True, horizon=horizon)
        return self._sight

    def _taint(self, cause: str) -> None:
        """The windows now hold seconds whose data is unknown (the first cause is kept:
        a gap also shows as a hole in the heartbeats)."""
        if self._tainted is None:
            self._tainted = cause

    def _note_heartbeats(self, beats: Iterable[Heartbeat], now: float) -> set[str]:
        """Keep each reporter's newest heartbeat; return reporters whose beats show a hole
        longer than ``missing_after`` (they were missing, unseen, between two reads)."""
        known = self._beats
        holes: set[str] = set()
        for beat in beats:
            previous = known.get(beat.reporter)
            if previous is None:
                known[beat.reporter] = beat
                continue
            if beat.at >= previous.at:
                # ``>``: a reporter is missing once its newest beat is ``missing_after``
                # old, so a hole of exactly that (one lost beat) was never missing.
                if not previous.leaving and beat.at - previous.at > self._missing_after:
                    holes.add(beat.reporter)
                known[beat.reporter] = beat
        for reporter in [r for r, b in known.items() if now - b.at >= self._forget_after]:
            del known[reporter]
        return holes

    def _record(self, batch: StatsBatch, *, fill: bool) -> None:
        """Add the batch's samples to the windows: first summed per revision and second
        (what the windows would do, with one write instead of one per reporter), then
        written in the order the seconds first appear (reports come oldest first)."""
        windows_of = self._windows
        totals: dict[tuple[str, int], list[float]] = {}
        for sample in batch.samples:
            key = (sample.revision, sample.second)
            stats = sample.stats
            total = totals.get(key)
            if total is None:
                totals[key] = [stats.concurrency, float(stats.requests)]
            else:
                total[0] += stats.concurrency
                total[1] += stats.requests
        last_data = self._last_data
        for (revision, second), (concurrency, requests) in totals.items():
            windows = windows_of.get(revision)
            if windows is None:
                self.untracked_samples += 1
                continue
            if fill:
                _fill_zeros(windows, second - 1)
            windows.record(second, concurrency, requests)
            if last_data.get(revision, second - 1) < second:
                last_data[revision] = second

    # -- observing -------------------------------------------------------------------------

    def averages(self, revision: str, metric: str, now: float) -> Averages | None:
        """Stable and panic averages of ``metric`` at ``now``; ``None`` without data.

        With a valid sight, the seconds up to the horizon with no sample are written as
        zeros first. Blind, the windows are read as they are (lower bounds)."""
        windows = self._windows[revision]
        horizon = self._sight.horizon
        if self._sight.valid and horizon is not None:
            if windows.windows()[0].last_write is None:
                windows.record(horizon, 0.0, 0.0)
            else:
                _fill_zeros(windows, horizon)
        return windows.averages(metric, now)

    def poke(self, revision: str, now: float) -> bool:
        """A request is held for ``revision``: count it as Knative's activator does (an
        immediate ``{concurrency 1, requests 1}``) unless the second already has data.
        Returns whether something was recorded."""
        windows = self._windows.get(revision)
        if windows is None:
            return False
        second = math.floor(now)
        if self._last_data.get(revision, second - 1) >= second:
            return False
        windows.record(second, _POKE_CONCURRENCY, _POKE_REQUESTS)
        self._last_data[revision] = second
        return True

    # -- the state as plain data -----------------------------------------------------------

    def export(self) -> CollectorData:
        return {
            "cursor": self.cursor,
            "heartbeats": [
                [b.reporter, b.at, b.route_version, b.leaving] for b in self._beats.values()
            ],
            "tainted": self._tainted,
        }

    def export_windows(self, revision: str) -> tuple[list[list[float]], int | None]:
        """``revision``'s per-second ``[second, concurrency, requests]`` totals over its
        stable window, and the last second with real data."""
        windows = self._windows.get(revision)
        if windows is None:
            pending = self._pending.get(revision, [])
            return [list(s) for s in pending], None
        concurrency, _, requests, _ = windows.windows()
        rows = [
            [float(s), c, r]
            for (s, c), (_, r) in zip(_ring(concurrency), _ring(requests), strict=True)
        ]
        return rows, self._last_data.get(revision)

    def import_windows(
        self, revision: str, samples: Iterable[Iterable[float]], last_data: int | None
    ) -> None:
        """Windows to build when ``revision`` is tracked (its spec comes from the routes)."""
        rows: list[tuple[float, float, float]] = []
        for row in samples:
            t, c, r = _triple(row)
            rows.append((t, c, r))
        self._pending[revision] = rows
        if last_data is not None:
            if isinstance(last_data, bool) or not isinstance(last_data, int):
                raise AutoscalerStateError(f"bad last data second {last_data!r}")
            self._last_data[revision] = last_data

    def _restore(self, data: Mapping[str, Any]) -> None:
        try:
            cursor = data["cursor"]
            self.cursor = None if cursor is None else StatsCursor(str(cursor))
            for reporter, at, route_version, leaving in data["heartbeats"]:
                self._beats[str(reporter)] = Heartbeat(
                    str(reporter), float(at), int(route_version), bool(leaving)
                )
            tainted = data["tainted"]
            self._tainted = None if tainted is None else str(tainted)
        except (KeyError, TypeError, ValueError) as error:
            raise AutoscalerStateError(f"bad collector state: {error}") from None


def _fill_zeros(windows: RevisionWindows, second: int) -> None:
    """Write zeros for the seconds after the last write, up to ``second``.

    Writing every one of them costs a record per second; one write every ``step``
    seconds, with ``step`` shorter than the shortest window, leaves the windows exactly
    as every-second writes would (the seconds in between are zeroed, and no gap is long
    enough for a window to start over), so a 2 s tick costs one write."""
    last = windows.windows()[0].last_write
    if last is None or second <= last:
        return
    step = max(1, math.ceil(windows.spec.panic_window) - 1)
    s = last + step
    while s < second:
        windows.record(s, 0.0, 0.0)
        s += step
    windows.record(second, 0.0, 0.0)


def _ring(window: Window) -> list[tuple[int, float]]:
    """A window's per-second values, from its first written second still in the ring.

    ``windows.py`` has no public read of its ring yet; this is the one place that looks
    inside (the ring holds exactly the seconds ``(last − n, last]``)."""
    first, last = window.first_write, window.last_write
    if first is None or last is None:
        return []
    buckets = window._buckets
    n = len(buckets)
    return [(s, buckets[s % n]) for s in range(max(first, last - n + 1), last + 1)]


def _triple(row: Iterable[float]) -> tuple[float, float, float]:
    values = list(row)
    if len(values) != 3 or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    ):
        raise AutoscalerStateError(
            f"a window sample is [second, concurrency, requests], got {row!r}"
        )
    return float(values[0]), float(values[1]), float(values[2])
