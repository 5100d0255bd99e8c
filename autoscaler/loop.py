"""The scaling loop: Knative's MultiScaler and KPA reconciler around the pure parts.

Every ``tick`` seconds of ``Clock`` time (and at once for a poked revision at zero) the
loop reads what is new from the store (routes, endpoints, stats), feeds the windows,
decides (``decide``), bounds (``bound``) and, when it leads, writes each revision's
desired scale and route mode with its fencing token.

Rules beyond the pure parts:

* Blind is never zero. When the collector's ``Sight`` is not valid (a reporter missing,
  a stats gap, the store unreachable, no reporter yet), every decision is invalid and
  ``bound`` gets desired −1: each revision keeps the scale it has. A poke while blind
  may still raise a revision from zero (a request is waiting; scaling up is never the
  unsafe direction), never lower one.
* Invalid decisions are dropped (Knative's MultiScaler): the EBC used for the route mode
  stays the last valid one, or Knative's initial guess before the first.
* After a blind period the windows restart empty (see ``collector``) and every revision
  with more than one ready replica takes Knative's restart posture: panic from now, at
  least the ready count, so nothing scales down before a stable window of known data.
* Writes: a revision's ``(desired, mode)`` is written when it differs from what this
  leadership last wrote, and every ``resync`` seconds (default 30 s) for every revision,
  so a store that lost its records or a controller that missed a watch converges. A new
  token (a new leadership) rewrites everything at once. ``StaleToken`` means another
  autoscaler leads: that token never writes again (logged); the loop keeps deciding, so
  it is warm if it leads again with a new token.
* State: while leading, each tick saves the decider and bounds states, last decisions,
  held scales and the collector's cursor and heartbeats (``export_state(windows=False)``)
  to the store under the same fence as the scales; a failed save is retried next tick.
  A loop started without ``restore=`` loads that state, and rebuilds its windows by
  reading every stats report the store retains (``read_stats(None)``; the retention
  outlasts the stable window), so it decides as the leader it replaces would have.
* Reachability comes from the route table: a revision with a share of some service's
  traffic, or reached through a tag, is reachable; the spec is adjusted if it says
  otherwise (``reachable_revisions``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Self

from autoscaler.bounds import BoundsInput, bound, initial_bounds_state
from autoscaler.collector import StatsCollector
from autoscaler.decider import INVALID, Observed, decide
from autoscaler.decider import initial_state as initial_decider_state
from autoscaler.decider import retune as retune_decider
from autoscaler.model import (
    STATE_FORMAT,
    AutoscalerStateError,
    LoopData,
    LoopStatus,
    RevisionData,
    RevisionState,
    RevisionStatus,
    Sight,
    TickTiming,
    check_loop_data,
    initial_excess_burst_capacity,
    reachable_revisions,
    with_reachability,
)
from zeroserve.clock import Clock
from zeroserve.config.scaling import RevisionScaling
from zeroserve.store.base import Store
from zeroserve.store.elector import Elector
from zeroserve.store.errors import InvalidRecord, StaleToken, StoreError
from zeroserve.store.records import EndpointSet, Poke, ScaleRecord
from zeroserve.store.routes import RevisionRoute, RouteTable
from zeroserve.store.stats import (
    DEFAULT_STATS_RETENTION,
    MISSING_AFTER,
    StatsBatch,
    StatsCursor,
)
from zeroserve.store.subscription import Subscription

__all__ = ["DEFAULT_RESYNC", "DEFAULT_TICK", "ScalingLoop"]

log = logging.getLogger(__name__)

DEFAULT_TICK = 2.0  # Knative's decider tick
DEFAULT_RESYNC = 30.0  # every decision rewritten this often, changed or not


@dataclass(frozen=True, slots=True)
class _Read:
    batch: StatsBatch | None
    cursor: StatsCursor | None
    error: str | None = None
    bad_cursor: bool = False


class ScalingLoop:
    """Ticks every revision of the route table; see the module docstring.

    ``async with loop:`` (or ``start()``/``close()``) runs two owned tasks: the ticker
    and the poke listener. ``tick()`` runs one tick now (tests, load tests). ``restore``
    takes ``export_state()``'s data: windows, decider and bounds states, last decisions,
    held scales, the stats cursor and the reporters' heartbeats.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        elector: Elector,
        *,
        tick: float = DEFAULT_TICK,
        split: bool = False,
        resync: float = DEFAULT_RESYNC,
        missing_after: float = MISSING_AFTER,
        forget_after: float = DEFAULT_STATS_RETENTION,
        restore: LoopData | None = None,
    ) -> None:
        if not (math.isfinite(tick) and tick > 0):
            raise ValueError(f"the tick must be a positive number of seconds, got {tick}")
        self._store = store
        self._clock = clock
        self._elector = elector
        self._tick = tick
        self._split = split
        self._resync = resync
        self._revisions: dict[str, RevisionState] = {}
        self._ready: dict[str, int] = {}
        self._restored: dict[str, RevisionData] = {}
        self._stored_scales: Mapping[str, ScaleRecord] | None = None
        self._removals: set[str] = set()
        self._missing_after = missing_after
        self._forget_after = forget_after
        self._load_saved = restore is None  # at start: the state saved by the last leader
        self._token: int | None = None  # the token ``published`` refers to
        self._fenced: int | None = None
        self._next_resync = -math.inf
        self._routes: Subscription[RouteTable] | None = None
        self._endpoints: Subscription[EndpointSet] | None = None
        self._pokes: Subscription[Poke] | None = None
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._ticks = 0
        self._last_tick_at: float | None = None
        self._timing: TickTiming | None = None
        self._write_failures = 0
        self._tick_failures = 0
        self._last_sight = Sight(False)
        self._collector = StatsCollector(missing_after=missing_after, forget_after=forget_after)
        if restore is not None:
            self._import(restore)

    # -- running ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._tasks:
            raise RuntimeError("the scaling loop is already running")
        if self._load_saved:
            self._load_saved = False
            if self._ticks == 0 and not self._revisions:  # nothing of its own to lose
                await self._load_saved_state()
        await self._subscribe()
        self._tasks = [
            asyncio.create_task(self._run_ticks(), name="autoscaler-ticks"),
            asyncio.create_task(self._run_pokes(), name="autoscaler-pokes"),
        ]

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for sub in (self._routes, self._endpoints, self._pokes):
            if sub is not None:
                sub.close()
        self._routes = self._endpoints = self._pokes = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run_ticks(self) -> None:
        next_at = self._clock.now()
        while True:
            await self._clock.sleep_until(next_at)
            try:
                await self.tick()
            except Exception:
                self._tick_failures += 1
                log.exception("scaling tick failed; the next one runs on time")
            next_at += self._tick
            now = self._clock.now()
            if next_at <= now:
                missed = math.floor((now - next_at) / self._tick) + 1
                log.warning("scaling tick overran: skipping %d tick(s)", missed)
                next_at += missed * self._tick

    async def _run_pokes(self) -> None:
        while True:
            sub = self._pokes
            if sub is None or sub.closed:
                if not await self._subscribe_pokes():
                    await self._clock.sleep(self._tick)
                continue
            try:
                first = await anext(sub)
            except StopAsyncIteration:
                continue
            names = [first.revision, *(p.revision for p in sub.drain())]
            try:
                await self.poked(names)
            except Exception:
                log.exception("handling pokes for %s failed", names)

    async def _subscribe(self) -> None:
        await self._subscribe_pokes()
        try:
            if self._routes is None or self._routes.closed:
                self._routes = await self._store.watch_routes()
            if self._endpoints is None or self._endpoints.closed:
                self._endpoints = await self._store.watch_endpoints()
        except StoreError as error:
            log.warning("cannot watch routes and endpoints yet: %s", error)

    async def _subscribe_pokes(self) -> bool:
        if self._pokes is not None and not self._pokes.closed:
            return True
        try:
            self._pokes = await self._store.pokes()
        except StoreError as error:
            log.warning("cannot listen to pokes yet: %s", error)
            return False
        return True

    # -- one tick ----------------------------------------------------------------------------

    async def tick(self) -> TickTiming:
        """Read, feed the windows, decide, bound and write, for every revision."""
        async with self._lock:
            now = self._clock.now()
            t0 = time.perf_counter()
            read = await self._read(now)
            t1 = time.perf_counter()
            sight = self._ingest(read, now)
            revisions = list(self._revisions.values())
            self._observe(revisions, now, sight)
            t2 = time.perf_counter()
            self._decide(revisions, now, sight)
            t3 = time.perf_counter()
            self._bound(revisions, now)
            t4 = time.perf_counter()
            resync = now >= self._next_resync
            writes = await self._publish(revisions, now, resync=resync)
            await self._save_state()
            t5 = time.perf_counter()
            timing = TickTiming(
                read=t1 - t0,
                windows=t2 - t1,
                decide=t3 - t2,
                bounds=t4 - t3,
                write=t5 - t4,
                revisions=len(revisions),
                samples=0 if read.batch is None else len(read.batch.samples),
                writes=writes,
            )
            self._ticks += 1
            self._last_tick_at = now
            self._timing = timing
            return timing

    async def poked(self, revisions: Iterable[str]) -> None:
        """Requests are held for ``revisions``: those at zero (or not known yet) are
        evaluated now, with the poke counted as one request in flight."""
        async with self._lock:
            now = self._clock.now()
            read = await self._read(now)
            sight = self._ingest(read, now)
            targets: list[RevisionState] = []
            for name in dict.fromkeys(revisions):
                rev = self._revisions.get(name)
                if rev is None or rev.scale not in (None, 0):
                    continue
                self._collector.poke(name, now)
                targets.append(rev)
            if not targets:
                return
            log.info("poked at zero: %s", ", ".join(r.name for r in targets))
            self._observe(targets, now, sight, poked=True)
            self._decide(targets, now, sight)
            self._bound(targets, now)
            await self._publish(targets, now, resync=False)

    # -- reading ---------------------------------------------------------------------------

    async def _read(self, now: float) -> _Read:
        await self._subscribe()
        if self._stored_scales is None:
            try:
                self._stored_scales = await self._store.read_scales()
            except StoreError as error:
                log.warning("cannot read the stored scales yet: %s", error)
        if self._endpoints is not None:
            for endpoints in self._endpoints.drain():
                if endpoints.removed:
                    self._ready.pop(endpoints.revision, None)
                else:
                    self._ready[endpoints.revision] = len(endpoints.ready)
        if self._routes is not None:
            tables = self._routes.drain()
            if tables:
                self._apply_routes(max(tables, key=lambda t: t.version), now)
        try:
            batch, cursor = await self._store.read_stats(self._collector.cursor)
        except InvalidRecord as error:
            return _Read(None, None, str(error), bad_cursor=True)
        except StoreError as error:
            return _Read(None, None, str(error) or type(error).__name__)
        return _Read(batch, cursor)

    def _ingest(self, read: _Read, now: float) -> Sight:
        collector = self._collector
        if read.batch is None or read.cursor is None:
            error = read.error or "no answer"
            if read.bad_cursor:
                sight = collector.lost_cursor(error)
            else:
                sight = collector.unreachable(error)
            if sight.reason != self._last_sight.reason:
                log.warning("blind: %s; every revision keeps its scale", sight.reason)
            self._last_sight = sight
            return sight
        sight = collector.ingest(read.batch, read.cursor, now)
        if sight.recovered:
            self._restart_posture(now)
        if sight.reason != self._last_sight.reason:
            if sight.valid:
                log.info("stats complete again: deciding")
            else:
                log.warning("blind: %s; every revision keeps its scale", sight.reason)
        self._last_sight = sight
        return sight

    def _restart_posture(self, now: float) -> None:
        """Knative's decider start: with more than one ready replica, panic from now, so
        no scale-down happens before a full stable window of known data."""
        for rev in self._revisions.values():
            ready = self._ready.get(rev.name, 0)
            if ready > 1:
                state = rev.decider
                rev.decider = replace(
                    state, panic_time=now, max_panic_pods=max(state.max_panic_pods, ready)
                )

    def _apply_routes(self, table: RouteTable, now: float) -> None:
        reachable = reachable_revisions(table)
        seen: set[str] = set()
        retuned = 0
        for route in table.revisions:
            if route.scaling is None:
                continue
            seen.add(route.name)
            spec = with_reachability(route.scaling, route.name in reachable)
            rev = self._revisions.get(route.name)
            if rev is None:
                rev = self._track(route, spec, now)
            elif rev.spec != spec:
                self._retune(rev, spec, now)
                retuned += 1
            rev.service, rev.namespace = route.service, route.namespace
        if retuned:
            log.info("route table %d: %d revision(s) retuned", table.version, retuned)
        for name in [n for n in self._revisions if n not in seen]:
            del self._revisions[name]
            self._collector.forget(name)
            self._removals.add(name)
            log.info("revision %s left the route table: forgetting its scale", name)
        self._restored.clear()
        self._collector.drop_imported()

    def _track(self, route: RevisionRoute, spec: RevisionScaling, now: float) -> RevisionState:
        name = route.name
        self._removals.discard(name)
        self._collector.track(name, spec.windows, now)
        data = self._restored.pop(name, None)
        if data is not None:
            rev = RevisionState.restored(name, spec, data)
        else:
            ready = self._ready.get(name, 0)
            stored = (self._stored_scales or {}).get(name)
            rev = RevisionState(
                name,
                spec,
                initial_decider_state(spec.decider, ready, now),
                initial_bounds_state(now),
                scale=None if stored is None else stored.desired,
            )
        self._revisions[name] = rev
        return rev

    def _retune(self, rev: RevisionState, spec: RevisionScaling, now: float) -> None:
        """Knob changes take effect live: the decider state is carried over (panic kept),
        the windows resized; the bounds read their spec at every call."""
        old = rev.spec
        if old.decider != spec.decider:
            rev.decider = retune_decider(rev.decider, old.decider, spec.decider)
        if old.windows != spec.windows:
            self._collector.track(rev.name, spec.windows, now)
        rev.spec = spec
        log.debug("revision %s retuned", rev.name)

    # -- the pure parts, phase by phase ------------------------------------------------------

    def _observe(
        self, revisions: list[RevisionState], now: float, sight: Sight, *, poked: bool = False
    ) -> None:
        collector = self._collector
        if not (sight.valid or poked):
            for rev in revisions:
                rev.averages = None
            return
        for rev in revisions:
            rev.averages = collector.averages(rev.name, rev.spec.decider.scaling_metric, now)

    def _decide(self, revisions: list[RevisionState], now: float, sight: Sight) -> None:
        ready_of = self._ready
        for rev in revisions:
            averages = rev.averages
            if averages is None:
                rev.decision = INVALID
                continue
            ready = ready_of.get(rev.name, 0)
            observed = Observed(averages.stable, averages.panic, ready)
            decision, state = decide(rev.spec.decider, observed, rev.decider, now)
            if not sight.valid and (
                not decision.valid or decision.desired <= max(rev.scale or 0, ready)
            ):
                rev.decision = INVALID  # blind: only a poked scale-up from zero counts
                continue
            rev.decision = decision
            rev.decider = state
            if decision.valid:
                rev.last = decision

    def _bound(self, revisions: list[RevisionState], now: float) -> None:
        ready_of = self._ready
        split = self._split
        for rev in revisions:
            ready = ready_of.get(rev.name, 0)
            decision = rev.decision
            last = rev.last
            ebc = (
                last.excess_burst_capacity
                if last is not None
                else initial_excess_burst_capacity(rev.spec.decider)
            )
            inp = BoundsInput(decision.desired if decision.valid else -1, ebc, ready, split)
            outcome, rev.bounds = bound(rev.spec.bounds, inp, rev.bounds, now)
            rev.outcome = outcome
            if outcome.replicas is not None:
                rev.scale = outcome.replicas
            elif rev.scale is None:
                rev.scale = ready  # no decision and nothing known: keep what runs
            rev.mode = outcome.mode
            rev.evaluated_at = now

    # -- writing ---------------------------------------------------------------------------

    async def _publish(self, revisions: list[RevisionState], now: float, *, resync: bool) -> int:
        """Write what changed (everything when ``resync``); returns the writes made."""
        elector = self._elector
        if not elector.is_leader:
            return 0
        token = elector.token
        if token is None or token == self._fenced:
            return 0
        if token != self._token:
            log.info("leading with token %d: writing every decision", token)
            self._token = token
            for rev in self._revisions.values():
                rev.published = None
        store = self._store
        writes = 0
        try:
            for rev in revisions:
                scale = rev.scale
                if scale is None:
                    continue
                want = (scale, rev.mode)
                if rev.published == want and not resync:
                    continue
                writes += 1
                result = await store.write_scale(rev.name, scale, rev.mode, token, now)
                if result.accepted:
                    rev.published = want
            for name in sorted(self._removals):
                writes += 1
                await store.remove_scale(name, token, now)
                self._removals.discard(name)
        except StaleToken as error:
            self._fenced = token
            log.warning("not leading any more, no more writes with token %d: %s", token, error)
            return writes
        except StoreError as error:
            self._write_failures += 1
            log.warning("writing desired scale failed (retried next tick): %s", error)
            return writes
        if resync:
            self._next_resync = now + self._resync
        return writes

    async def _save_state(self) -> None:
        """The compact state (no windows: they are rebuilt from the retained stats), under
        the fencing token, while leading and not fenced."""
        elector = self._elector
        token = elector.token
        if not elector.is_leader or token is None or token == self._fenced:
            return
        try:
            await self._store.save_scaling_state(token, self.export_state(windows=False))
        except StaleToken as error:
            self._fenced = token
            log.warning("not leading any more, no more writes with token %d: %s", token, error)
        except StoreError as error:
            self._write_failures += 1
            log.warning("saving the scaling state failed (retried next tick): %s", error)

    async def _load_saved_state(self) -> None:
        """Pick up the state the last leader saved; without one (or unreadable) start
        fresh, as the loop always could."""
        try:
            saved = await self._store.load_scaling_state()
        except StoreError as error:
            log.warning("cannot load the saved scaling state, starting fresh: %s", error)
            return
        if saved is None:
            return
        try:
            self._import(saved, reread=True)
        except AutoscalerStateError as error:
            log.warning("ignoring the saved scaling state: %s", error)
            return
        log.info("restored the saved state of %d revision(s)", len(self._restored))

    # -- read-outs -------------------------------------------------------------------------

    def status(self) -> LoopStatus:
        return LoopStatus(
            leader=self._elector.is_leader,
            token=self._elector.token,
            fenced_token=self._fenced,
            sight=self._collector.sight,
            revisions=len(self._revisions),
            ticks=self._ticks,
            last_tick_at=self._last_tick_at,
            timing=self._timing,
            write_failures=self._write_failures,
            tick_failures=self._tick_failures,
            untracked_samples=self._collector.untracked_samples,
        )

    def revision_status(self, revision: str) -> RevisionStatus | None:
        rev = self._revisions.get(revision)
        return None if rev is None else rev.status(self._ready.get(revision, 0))

    def revision_statuses(self) -> dict[str, RevisionStatus]:
        ready = self._ready
        return {name: rev.status(ready.get(name, 0)) for name, rev in self._revisions.items()}

    # -- the state as plain data -----------------------------------------------------------

    def export_state(self, *, windows: bool = True) -> LoopData:
        """Windows, decider and bounds states, last decisions and held scales, the stats
        cursor and heartbeats, as plain data (what ``restore=`` takes back).

        ``windows=False``: the compact form saved to the store each tick, without the
        windows' per-second totals (``samples`` empty, ``last_data`` None)."""
        collector = self._collector
        revisions: dict[str, RevisionData] = {}
        for name, rev in self._revisions.items():
            if windows:
                revisions[name] = rev.to_data(*collector.export_windows(name))
            else:
                revisions[name] = rev.to_data([], None)
        for name, data in self._restored.items():  # imported, their routes not seen yet
            if not windows:
                data = {**data, "samples": [], "last_data": None}
            revisions.setdefault(name, data)
        return {
            "format": STATE_FORMAT,
            "exported_at": self._clock.now(),
            "collector": collector.export(),
            "revisions": revisions,
        }

    def _import(self, data: Mapping[str, Any], *, reread: bool = False) -> None:
        """Check the data now (not at the first route table) and park each revision's
        state until its route is seen. ``reread``: drop the cursor, so the first read
        takes every report the store retains and refills the windows."""
        collector_data, revisions = check_loop_data(data)
        if reread:
            collector_data = {**collector_data, "cursor": None}
        collector = StatsCollector(
            missing_after=self._missing_after,
            forget_after=self._forget_after,
            restore=collector_data,
        )
        for name, entry in revisions.items():
            collector.import_windows(name, entry["samples"], entry["last_data"])
        self._collector = collector
        self._restored.update(revisions)
