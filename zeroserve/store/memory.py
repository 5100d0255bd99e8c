"""``MemoryStore``: the bus of the all-in-one process, plain dicts and deques.

Every call is synchronous work behind an ``async def`` (the contract is Redis-shaped);
nothing here awaits, so a call is atomic with respect to the event loop, which is what
makes the versioned compare-and-set rules trivially true. Costs: ``report`` is O(revisions
with traffic) plus amortised O(1) trimming; ``read_stats`` is O(what is new); a
versioned write is O(watchers).
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from zeroserve.config.scaling import RouteMode
from zeroserve.store.arguments import (
    check_poke,
    check_report,
    check_retention,
    encode_scaling_state,
)
from zeroserve.store.base import StoreHealth
from zeroserve.store.errors import InvalidRecord, StaleToken, StoreClosed
from zeroserve.store.records import EndpointSet, Poke, Published, ScaleRecord
from zeroserve.store.routes import RouteTable
from zeroserve.store.stats import (
    DEFAULT_MAX_REPORTS,
    DEFAULT_STATS_RETENTION,
    Heartbeat,
    RevisionStats,
    StatsBatch,
    StatsCursor,
    StatsSample,
)
from zeroserve.store.subscription import Subscription

__all__ = ["DEFAULT_MAX_TOMBSTONES", "MemoryStore"]

# Removed revisions remembered (so a late, older write cannot revive them); the oldest
# tombstone goes first. Revision names are never reused, so forgetting is safe.
DEFAULT_MAX_TOMBSTONES: Final = 1024
_ROUTES: Final = "routes"

V = TypeVar("V", EndpointSet, ScaleRecord, RouteTable)


@dataclass(frozen=True, slots=True)
class _Report:
    seq: int
    heartbeat: Heartbeat
    samples: tuple[StatsSample, ...]


class _VersionedTable(Generic[V]):
    """Records by key, with their watchers and a bounded memory of removed keys."""

    __slots__ = ("_is_removed", "_items", "_key", "_max_tombstones", "_tombstones", "watchers")

    def __init__(
        self,
        key: Callable[[V], str],
        is_removed: Callable[[V], bool],
        max_tombstones: int,
    ) -> None:
        self._key: Callable[[V], str] = key
        self._is_removed: Callable[[V], bool] = is_removed
        self._max_tombstones = max_tombstones
        self._items: dict[str, V] = {}
        self._tombstones: OrderedDict[str, None] = OrderedDict()
        self.watchers: set[Subscription[V]] = set()

    def get(self, key: str) -> V | None:
        return self._items.get(key)

    def put(self, item: V) -> None:
        key = self._key(item)
        self._items[key] = item
        if self._is_removed(item):
            self._tombstones[key] = None
            self._tombstones.move_to_end(key)
            while len(self._tombstones) > self._max_tombstones:
                oldest, _ = self._tombstones.popitem(last=False)
                del self._items[oldest]
        else:
            self._tombstones.pop(key, None)
        for watcher in self.watchers:
            watcher.offer(item)

    def live(self) -> dict[str, V]:
        return {k: v for k, v in self._items.items() if not self._is_removed(v)}

    def stored(self) -> int:
        return len(self._items)

    def subscribe(self) -> Subscription[V]:
        watcher: Subscription[V] = Subscription(
            self._key, newer=_newer_version, on_close=self.watchers.discard
        )
        watcher.offer_all(self.live().values())
        self.watchers.add(watcher)
        return watcher

    def close(self) -> None:
        for watcher in list(self.watchers):
            watcher.close()


def _newer_version(candidate: V, last: V) -> bool:
    return candidate.version > last.version


class MemoryStore:
    """The in-process ``Store``. ``stats_retention`` is in seconds of report time (the
    reporters' ``now``, not the wall clock), capped at ``max_reports`` reports."""

    def __init__(
        self,
        *,
        stats_retention: float = DEFAULT_STATS_RETENTION,
        max_reports: int = DEFAULT_MAX_REPORTS,
        max_tombstones: int = DEFAULT_MAX_TOMBSTONES,
    ) -> None:
        check_retention(stats_retention)
        if max_reports < 1 or max_tombstones < 0:
            raise InvalidRecord(
                f"max reports must be >= 1 and max tombstones >= 0, "
                f"got {max_reports} and {max_tombstones}"
            )
        self._retention = stats_retention
        self._reports: deque[_Report] = deque(maxlen=max_reports)
        self._seq = 0  # of the last report; a cursor is the last seq its reader has
        self._newest = -math.inf  # the latest report time seen
        self._pokes: set[Subscription[Poke]] = set()
        self._highest_token = 0
        self._scale_version = 0
        self._scales: _VersionedTable[ScaleRecord] = _VersionedTable(
            _revision_of, _removed, max_tombstones
        )
        self._endpoints: _VersionedTable[EndpointSet] = _VersionedTable(
            _revision_of, _removed, max_tombstones
        )
        self._routes: _VersionedTable[RouteTable] = _VersionedTable(_routes_key, _never_removed, 0)
        self._scaling_state: str | None = None  # one JSON document, like Redis would hold
        self._scaling_state_version = 0
        self._closed = False

    # -- read-outs for tests and status ---------------------------------------------------

    @property
    def retained_reports(self) -> int:
        return len(self._reports)

    @property
    def stored_records(self) -> int:
        """Scale records and endpoint sets held, tombstones included."""
        return self._scales.stored() + self._endpoints.stored()

    @property
    def watchers(self) -> int:
        return (
            len(self._pokes)
            + len(self._scales.watchers)
            + len(self._endpoints.watchers)
            + len(self._routes.watchers)
        )

    # -- 1. stats -------------------------------------------------------------------------

    async def report(
        self,
        reporter: str,
        now: float,
        route_version: int,
        stats: Mapping[str, RevisionStats],
        *,
        leaving: bool = False,
    ) -> None:
        self._check_open()
        check_report(reporter, now, route_version)
        second = math.floor(now)
        samples = tuple(StatsSample(reporter, second, rev, s) for rev, s in stats.items())
        self._seq += 1
        self._reports.append(
            _Report(self._seq, Heartbeat(reporter, now, route_version, leaving), samples)
        )
        self._newest = max(self._newest, now)
        horizon = self._newest - self._retention
        reports = self._reports
        while reports and reports[0].heartbeat.at < horizon:
            reports.popleft()

    async def read_stats(self, since: StatsCursor | None = None) -> tuple[StatsBatch, StatsCursor]:
        self._check_open()
        after = 0 if since is None else _parse_cursor(since)
        reports = self._reports
        first = reports[0].seq if reports else self._seq + 1
        gap = since is not None and (first > after + 1 or after > self._seq)
        if after > self._seq:  # not a cursor of this store: start over, and say so
            after = 0
        new: list[_Report] = []
        for entry in reversed(reports):
            if entry.seq <= after:
                break
            new.append(entry)
        new.reverse()
        batch = StatsBatch(
            heartbeats=tuple(e.heartbeat for e in new),
            samples=tuple(s for e in new for s in e.samples),
            gap=gap,
        )
        return batch, StatsCursor(str(self._seq))

    # -- 2. pokes -------------------------------------------------------------------------

    async def poke(self, revision: str, now: float) -> None:
        self._check_open()
        check_poke(revision)
        poke = Poke(revision, now)
        for watcher in self._pokes:
            watcher.offer(poke)

    async def pokes(self) -> Subscription[Poke]:
        self._check_open()
        watcher: Subscription[Poke] = Subscription(_revision_of, on_close=self._pokes.discard)
        self._pokes.add(watcher)
        return watcher

    # -- 3. desired scale -----------------------------------------------------------------

    async def write_scale(
        self, revision: str, desired: int, mode: RouteMode, token: int, now: float
    ) -> Published:
        self._check_open()
        return self._write_scale(revision, desired, mode, token, now, removed=False)

    async def remove_scale(self, revision: str, token: int, now: float) -> Published:
        self._check_open()
        return self._write_scale(revision, 0, RouteMode.PROXY, token, now, removed=True)

    def _write_scale(
        self, revision: str, desired: int, mode: RouteMode, token: int, now: float, removed: bool
    ) -> Published:
        record = ScaleRecord(revision, desired, mode, token, now, self._scale_version + 1, removed)
        if token < self._highest_token:
            raise StaleToken(token, self._highest_token)
        current = self._scales.get(revision)
        if current is not None and record.order < current.order:
            return Published(False, current.version)
        self._highest_token = token
        self._scale_version = record.version
        self._scales.put(record)
        return Published(True, record.version)

    async def read_scales(self) -> Mapping[str, ScaleRecord]:
        self._check_open()
        return self._scales.live()

    async def watch_scales(self) -> Subscription[ScaleRecord]:
        self._check_open()
        return self._scales.subscribe()

    async def save_scaling_state(self, token: int, state: Mapping[str, object]) -> Published:
        self._check_open()
        document = encode_scaling_state(token, state)
        if token < self._highest_token:
            raise StaleToken(token, self._highest_token)
        self._highest_token = token
        self._scaling_state = document
        self._scaling_state_version += 1
        return Published(True, self._scaling_state_version)

    async def load_scaling_state(self) -> Mapping[str, object] | None:
        self._check_open()
        if self._scaling_state is None:
            return None
        state: dict[str, object] = json.loads(self._scaling_state)
        return state

    # -- 4. endpoints ---------------------------------------------------------------------

    async def publish_endpoints(self, endpoints: EndpointSet) -> Published:
        self._check_open()
        return _publish(self._endpoints, endpoints.revision, endpoints)

    async def read_endpoints(self) -> Mapping[str, EndpointSet]:
        self._check_open()
        return self._endpoints.live()

    async def watch_endpoints(self) -> Subscription[EndpointSet]:
        self._check_open()
        return self._endpoints.subscribe()

    # -- 5. routes ------------------------------------------------------------------------

    async def publish_routes(self, table: RouteTable) -> Published:
        self._check_open()
        return _publish(self._routes, _ROUTES, table)

    async def read_routes(self) -> RouteTable | None:
        self._check_open()
        return self._routes.get(_ROUTES)

    async def watch_routes(self) -> Subscription[RouteTable]:
        self._check_open()
        return self._routes.subscribe()

    # -- the handle -----------------------------------------------------------------------

    def health(self) -> StoreHealth:
        if self._closed:
            return StoreHealth("memory", healthy=False, last_error="the store is closed")
        return StoreHealth("memory", healthy=True)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for watcher in list(self._pokes):
            watcher.close()
        self._scales.close()
        self._endpoints.close()
        self._routes.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed("the store is closed")


def _publish(table: _VersionedTable[V], key: str, item: V) -> Published:
    current = table.get(key)
    if current is not None and item.version <= current.version:
        return Published(False, current.version)
    table.put(item)
    return Published(True, item.version)


def _parse_cursor(cursor: StatsCursor) -> int:
    try:
        seq = int(cursor)
    except ValueError:
        raise InvalidRecord(f"not a stats cursor of this store: {cursor!r}") from None
    if seq < 0:
        raise InvalidRecord(f"not a stats cursor of this store: {cursor!r}")
    return seq


def _revision_of(record: EndpointSet | ScaleRecord | Poke) -> str:
    return record.revision


def _routes_key(table: RouteTable) -> str:
    return _ROUTES


def _removed(record: EndpointSet | ScaleRecord) -> bool:
    return record.removed


def _never_removed(table: RouteTable) -> bool:
    return False
