"""``RedisStore``: the bus shared by several processes, on Redis 6.2 or newer.

Mapping (all keys under one prefix, every one bounded):

* stats: one stream, ``XADD`` with ids from the report's own time (``REPORT`` script),
  trimmed by ``MINID`` to the retention and by length to ``max_reports``; the id of the
  newest trimmed entry is kept so a reader whose cursor is older knows it has a gap;
  ``read_stats`` is one ``XRANGE`` from the cursor (what is new, nothing else);
* pokes: ``PUBLISH`` on a channel, nothing stored;
* scale, endpoints, routes: hashes written by compare-and-set scripts (fencing token or
  version checked on the server), which ``PUBLISH`` each accepted record; removed
  revisions stay as tombstones in a bounded sorted set, oldest forgotten first;
* the scaling state: one string, fenced by the same token as the scales.

Watchers are fed by one pub/sub listener per handle and a periodic resync of the full
state (a message lost to a reconnect is made good there); ``Subscription`` drops repeats.
Every Redis failure surfaces once, as ``StoreUnavailable`` with the cause chained.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Final, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from zeroserve.clock import Clock, RealClock
from zeroserve.config.scaling import RouteMode
from zeroserve.store import redis_codec as codec
from zeroserve.store import redis_scripts as scripts
from zeroserve.store.arguments import (
    check_poke,
    check_report,
    check_retention,
    encode_scaling_state,
)
from zeroserve.store.base import StoreHealth
from zeroserve.store.errors import InvalidRecord, StaleToken, StoreClosed, StoreUnavailable
from zeroserve.store.memory import DEFAULT_MAX_TOMBSTONES
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

__all__ = ["DEFAULT_PREFIX", "DEFAULT_RESYNC_INTERVAL", "RedisStore"]

DEFAULT_PREFIX: Final = "zeroserve:"
# How often watchers are topped up from the full state (a pub/sub message can be lost).
DEFAULT_RESYNC_INTERVAL: Final = 5.0
_RECONNECT_DELAY: Final = 0.5
_BARRIER_DEADLINE: Final = 5.0
_CURSOR: Final = re.compile(r"^\d+-\d+$")
_ROUTES_FIELD: Final = "table"

V = TypeVar("V", EndpointSet, ScaleRecord, RouteTable)


def _newer_version(candidate: V, last: V) -> bool:
    return candidate.version > last.version


def _revision_of(record: EndpointSet | ScaleRecord | Poke) -> str:
    return record.revision


def _routes_key(table: RouteTable) -> str:
    return _ROUTES_FIELD


def _id(cursor: str) -> tuple[int, int]:
    ms, seq = cursor.split("-")
    return int(ms), int(seq)


class RedisStore:
    """The networked ``Store``. Open with ``await RedisStore.connect(url, ...)``."""

    def __init__(
        self,
        client: aioredis.Redis,
        pubsub: PubSub,
        *,
        prefix: str,
        stats_retention: float,
        max_reports: int,
        max_tombstones: int,
        resync_interval: float,
        clock: Clock,
    ) -> None:
        self._client = client
        self._pubsub = pubsub
        self._prefix = prefix
        self._retention_ms = stats_retention * 1000.0
        self._max_reports = max_reports
        self._max_tombstones = max_tombstones
        self._resync_interval = resync_interval
        self._clock = clock
        self._report = client.register_script(scripts.REPORT)
        self._publish_versioned = client.register_script(scripts.PUBLISH_VERSIONED)
        self._write_scale_script = client.register_script(scripts.WRITE_SCALE)
        self._save_state = client.register_script(scripts.SAVE_STATE)
        self._pokes: set[Subscription[Poke]] = set()
        self._scales: set[Subscription[ScaleRecord]] = set()
        self._endpoints: set[Subscription[EndpointSet]] = set()
        self._routes: set[Subscription[RouteTable]] = set()
        self._closed = False
        self._last_error: str | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._barriers: dict[str, asyncio.Future[None]] = {}

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        stats_retention: float = DEFAULT_STATS_RETENTION,
        max_reports: int = DEFAULT_MAX_REPORTS,
        max_tombstones: int = DEFAULT_MAX_TOMBSTONES,
        resync_interval: float = DEFAULT_RESYNC_INTERVAL,
        clock: Clock | None = None,
    ) -> RedisStore:
        """A handle on the bus at ``url`` (``redis://`` or ``rediss://``, with password),
        subscribed to its notifications before it returns."""
        check_retention(stats_retention)
        if max_reports < 1 or max_tombstones < 0 or resync_interval <= 0:
            raise InvalidRecord(
                "max reports must be >= 1, max tombstones >= 0 and the resync interval > 0"
            )
        if not url.startswith(("redis://", "rediss://")):
            raise InvalidRecord(f"a Redis store needs a redis:// or rediss:// url, got {url!r}")
        client = aioredis.Redis.from_url(url, decode_responses=True)
        pubsub = client.pubsub()
        store = cls(
            client,
            pubsub,
            prefix=prefix,
            stats_retention=stats_retention,
            max_reports=max_reports,
            max_tombstones=max_tombstones,
            resync_interval=resync_interval,
            clock=clock if clock is not None else RealClock(),
        )
        try:
            async with store._redis():
                await client.ping()
                await store._subscribe()
        except StoreUnavailable:
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
            await client.aclose()
            raise
        store._tasks = [
            asyncio.create_task(store._listen(), name="redis-store-listener"),
            asyncio.create_task(store._resync_loop(), name="redis-store-resync"),
        ]
        return store

    @property
    def prefix(self) -> str:
        return self._prefix

    @property
    def stats_retention(self) -> float:
        return self._retention_ms / 1000.0

    def _key(self, name: str) -> str:
        return self._prefix + name

    @contextlib.asynccontextmanager
    async def _redis(self) -> AsyncIterator[None]:
        """Translate every Redis failure, once, and keep ``health`` current."""
        if self._closed:
            raise StoreClosed("the store is closed")
        try:
            yield
        except (RedisError, OSError) as error:
            self._last_error = f"{type(error).__name__}: {error}"
            if self._closed:
                raise StoreClosed("the store is closed") from error
            raise StoreUnavailable(f"Redis is unavailable: {error}") from error
        self._last_error = None

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
        document = codec.encode_report(Heartbeat(reporter, now, route_version, leaving), stats)
        keys = [self._key("stats"), self._key("stats:last"), self._key("stats:trimmed")]
        args: list[str | int] = [
            str(math.floor(now * 1000)),
            repr(self._retention_ms),
            self._max_reports,
            document,
        ]
        async with self._redis():
            await self._report(keys=keys, args=args)

    async def read_stats(self, since: StatsCursor | None = None) -> tuple[StatsBatch, StatsCursor]:
        self._check_open()
        if since is not None and not _CURSOR.match(since):
            raise InvalidRecord(f"not a stats cursor of this store: {since!r}")
        start = "-" if since is None else f"({since}"
        stream = self._key("stats")
        async with self._redis():
            pipe = self._client.pipeline(transaction=True)
            pipe.get(self._key("stats:last"))
            pipe.get(self._key("stats:trimmed"))
            pipe.xrange(stream, start, "+")
            last, trimmed, entries = await pipe.execute()
            gap = False
            if since is not None:
                after = _id(since)
                if after > (_id(last) if last else (0, 0)):  # not a cursor of this bus
                    gap = True
                    entries = await self._client.xrange(stream, "-", "+")
                elif trimmed is not None and _id(trimmed) > after:
                    gap = True
        heartbeats: list[Heartbeat] = []
        samples: list[StatsSample] = []
        for _, fields in entries:
            heartbeat, report_samples = codec.decode_report(fields["r"])
            heartbeats.append(heartbeat)
            samples.extend(report_samples)
        batch = StatsBatch(heartbeats=tuple(heartbeats), samples=tuple(samples), gap=gap)
        return batch, StatsCursor(last if last else "0-0")

    # -- 2. pokes -------------------------------------------------------------------------

    async def poke(self, revision: str, now: float) -> None:
        self._check_open()
        check_poke(revision)
        async with self._redis():
            await self._client.publish(self._key("pokes"), codec.encode_poke(Poke(revision, now)))

    async def pokes(self) -> Subscription[Poke]:
        """Waits for a PING through the pub/sub connection: messages on it are ordered,
        so a poke delivered before the PONG was sent before this call."""
        self._check_open()
        marker = uuid.uuid4().hex
        arrived: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._barriers[marker] = arrived
        try:
            async with self._redis():
                await self._pubsub.ping(marker)
            async with asyncio.timeout(_BARRIER_DEADLINE):
                await arrived
        except TimeoutError:
            raise StoreUnavailable("the pub/sub connection did not answer a PING") from None
        finally:
            self._barriers.pop(marker, None)
        self._check_open()
        watcher: Subscription[Poke] = Subscription(_revision_of, on_close=self._pokes.discard)
        self._pokes.add(watcher)
        return watcher

    # -- 3. desired scale -----------------------------------------------------------------

    async def write_scale(
        self, revision: str, desired: int, mode: RouteMode, token: int, now: float
    ) -> Published:
        self._check_open()
        return await self._write_scale(revision, desired, mode, token, now, removed=False)

    async def remove_scale(self, revision: str, token: int, now: float) -> Published:
        self._check_open()
        return await self._write_scale(revision, 0, RouteMode.PROXY, token, now, removed=True)

    async def _write_scale(
        self, revision: str, desired: int, mode: RouteMode, token: int, now: float, removed: bool
    ) -> Published:
        record = ScaleRecord(revision, desired, mode, token, now, 0, removed)  # validates
        keys = [
            self._key("fence"),
            self._key("scales"),
            self._key("scales:order"),
            self._key("scales:version"),
            self._key("scales:tombstones"),
            self._key("scales:tombstones:seq"),
        ]
        args: list[str | int] = [
            revision,
            token,
            repr(float(now)),
            codec.encode_scale_body(record),
            "1" if removed else "0",
            self._max_tombstones,
            self._key("scales"),
        ]
        async with self._redis():
            outcome, value = await self._write_scale_script(keys=keys, args=args)
        if outcome == "stale":
            raise StaleToken(token, int(value))
        return Published(outcome == "ok", int(value))

    async def read_scales(self) -> Mapping[str, ScaleRecord]:
        self._check_open()
        return {k: v for k, v in (await self._all_scales()).items() if not v.removed}

    async def _all_scales(self) -> dict[str, ScaleRecord]:
        async with self._redis():
            documents = await self._client.hgetall(self._key("scales"))
        return {_text(k): codec.decode_scale(_text(v)) for k, v in documents.items()}

    async def watch_scales(self) -> Subscription[ScaleRecord]:
        self._check_open()
        return await self._subscribe_versioned(self._scales, _revision_of, self.read_scales)

    async def save_scaling_state(self, token: int, state: Mapping[str, object]) -> Published:
        self._check_open()
        document = encode_scaling_state(token, state)
        keys = [self._key("fence"), self._key("scaling_state"), self._key("scaling_state:version")]
        async with self._redis():
            outcome, value = await self._save_state(keys=keys, args=[token, document])
        if outcome == "stale":
            raise StaleToken(token, int(value))
        return Published(True, int(value))

    async def load_scaling_state(self) -> Mapping[str, object] | None:
        self._check_open()
        async with self._redis():
            document = await self._client.get(self._key("scaling_state"))
        if document is None:
            return None
        state: dict[str, object] = json.loads(document)
        return state

    # -- 4. endpoints ---------------------------------------------------------------------

    async def publish_endpoints(self, endpoints: EndpointSet) -> Published:
        self._check_open()
        return await self._publish(
            "endpoints",
            endpoints.revision,
            endpoints.version,
            codec.encode_endpoints(endpoints),
            removed=endpoints.removed,
        )

    async def read_endpoints(self) -> Mapping[str, EndpointSet]:
        self._check_open()
        return {k: v for k, v in (await self._all_endpoints()).items() if not v.removed}

    async def _all_endpoints(self) -> dict[str, EndpointSet]:
        async with self._redis():
            documents = await self._client.hgetall(self._key("endpoints"))
        return {_text(k): codec.decode_endpoints(_text(v)) for k, v in documents.items()}

    async def watch_endpoints(self) -> Subscription[EndpointSet]:
        self._check_open()
        return await self._subscribe_versioned(self._endpoints, _revision_of, self.read_endpoints)

    # -- 5. routes ------------------------------------------------------------------------

    async def publish_routes(self, table: RouteTable) -> Published:
        self._check_open()
        return await self._publish(
            "routes", _ROUTES_FIELD, table.version, codec.encode_routes(table), removed=False
        )

    async def read_routes(self) -> RouteTable | None:
        self._check_open()
        async with self._redis():
            document = await self._client.hget(self._key("routes"), _ROUTES_FIELD)
        return None if document is None else codec.decode_routes(_text(document))

    async def _all_routes(self) -> dict[str, RouteTable]:
        table = await self.read_routes()
        return {} if table is None else {_ROUTES_FIELD: table}

    async def watch_routes(self) -> Subscription[RouteTable]:
        self._check_open()
        return await self._subscribe_versioned(self._routes, _routes_key, self._all_routes)

    # -- shared -----------------------------------------------------------------------------

    async def _publish(
        self, flow: str, field: str, version: int, document: str, *, removed: bool
    ) -> Published:
        keys = [
            self._key(flow),
            self._key(f"{flow}:version"),
            self._key(f"{flow}:tombstones"),
            self._key(f"{flow}:tombstones:seq"),
        ]
        args: list[str | int] = [
            field,
            version,
            document,
            "1" if removed else "0",
            self._max_tombstones,
            self._key(flow),
        ]
        async with self._redis():
            accepted, stored = await self._publish_versioned(keys=keys, args=args)
        return Published(bool(accepted), int(stored))

    async def _subscribe_versioned(
        self,
        watchers: set[Subscription[V]],
        key: Callable[[V], str],
        current: Callable[[], Any],
    ) -> Subscription[V]:
        """Listen first, then read the state: an update racing the read arrives by one
        path or the other, and the ``newer`` rule drops the second."""
        watcher: Subscription[V] = Subscription(
            key, newer=_newer_version, on_close=watchers.discard
        )
        watchers.add(watcher)
        try:
            state: Mapping[str, V] = await current()
        except BaseException:
            watcher.close()
            raise
        watcher.offer_all(state.values())
        return watcher

    # -- the listener and the resync --------------------------------------------------------

    async def _subscribe(self) -> None:
        channels = [self._key(name) for name in ("pokes", "scales", "endpoints", "routes")]
        await self._pubsub.subscribe(*channels)
        confirmed = 0
        async with asyncio.timeout(10.0):
            while confirmed < len(channels):
                message = await self._pubsub.get_message(timeout=1.0)
                if message is not None and message["type"] == "subscribe":
                    confirmed += 1

    async def _listen(self) -> None:
        dispatch: dict[str, Callable[[str], None]] = {
            self._key("pokes"): lambda d: _offer(self._pokes, codec.decode_poke(d)),
            self._key("scales"): lambda d: _offer(self._scales, codec.decode_scale(d)),
            self._key("endpoints"): lambda d: _offer(self._endpoints, codec.decode_endpoints(d)),
            self._key("routes"): lambda d: _offer(self._routes, codec.decode_routes(d)),
        }
        while not self._closed:
            try:
                response = await self._pubsub.parse_response(block=True)
                if isinstance(response, str):  # PONG of a barrier, as decoded (not a list)
                    arrived = self._barriers.get(response)
                    if arrived is not None and not arrived.done():
                        arrived.set_result(None)
                    continue
            except (RedisError, OSError) as error:
                self._last_error = f"{type(error).__name__}: {error}"
                await asyncio.sleep(_RECONNECT_DELAY)
                continue
            # ["message", channel, data]; confirmations of (un)subscribing are skipped.
            if isinstance(response, list) and len(response) == 3 and response[0] == "message":
                handler = dispatch.get(response[1])
                if handler is not None:
                    handler(response[2])

    async def _resync_loop(self) -> None:
        while not self._closed:
            await self._clock.sleep(self._resync_interval)
            with contextlib.suppress(StoreUnavailable):
                await self.resync()

    async def resync(self) -> None:
        """Offer every watcher the full state (tombstones included)."""
        if self._scales:
            _offer_all(self._scales, (await self._all_scales()).values())
        if self._endpoints:
            _offer_all(self._endpoints, (await self._all_endpoints()).values())
        if self._routes:
            _offer_all(self._routes, (await self._all_routes()).values())

    # -- the handle -----------------------------------------------------------------------

    def health(self) -> StoreHealth:
        if self._closed:
            return StoreHealth("redis", healthy=False, last_error="the store is closed")
        return StoreHealth("redis", healthy=self._last_error is None, last_error=self._last_error)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        flows: list[set[Subscription[Any]]] = [
            self._pokes,
            self._scales,
            self._endpoints,
            self._routes,
        ]
        for watchers in flows:
            for watcher in list(watchers):
                watcher.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                await task
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
        with contextlib.suppress(RedisError, OSError):
            await self._client.aclose()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed("the store is closed")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _offer(watchers: set[Subscription[Any]], item: object) -> None:
    for watcher in list(watchers):
        watcher.offer(item)


def _offer_all(watchers: set[Subscription[Any]], items: Any) -> None:
    items = list(items)
    for watcher in list(watchers):
        watcher.offer_all(items)
