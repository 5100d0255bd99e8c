"""Flows 4 and 5 into this process: endpoints into the capacity tracker, routes into
whoever routes (the gateway's ``RoutingState``) and into the per-replica caps.

``EndpointsFeed`` is an async context manager owning one task per flow. On entry it
applies what the store holds now (routes first, so the first endpoints get their
``containerConcurrency``), so a process that starts serving after entry routes at once;
then it follows each update. If the store fails, the tracker and routes keep what they
had (fail static) and the feed subscribes again after a pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, TypeVar

from zeroserve.capacity.lease import Endpoint
from zeroserve.capacity.tracker import CapacityTracker
from zeroserve.clock import Clock
from zeroserve.store.base import Store
from zeroserve.store.errors import StoreClosed, StoreError
from zeroserve.store.records import EndpointSet
from zeroserve.store.routes import RouteTable
from zeroserve.store.subscription import Subscription

__all__ = ["EndpointsFeed", "apply_endpoints"]

log = logging.getLogger(__name__)

T = TypeVar("T")
RouteSink = Callable[[RouteTable], object]


def apply_endpoints(tracker: CapacityTracker, update: EndpointSet, cc: int) -> None:
    """Make the tracker's view of ``update.revision`` match ``update``.

    Every replica of the tracker's set that is not ready in ``update`` is marked
    draining before the set changes, so no waiter is handed to it in between. Draining
    replicas stay in the set (their leases show as draining); one the tracker never saw
    ready is left out (it has no leases here). A failure with ready replicas still
    serves them. A set with neither replicas nor a failure (scaled to zero) clears an
    old failure, so the next request is held for a new replica instead of refused."""
    revision = update.revision
    if update.removed:
        tracker.remove_revision(revision)
        return
    if update.failed_reason is not None and not update.ready:
        tracker.fail_revision(revision, update.failed_reason)
        return
    stats = tracker.stats(revision)
    if stats is not None and stats.failed is not None and not update.ready:
        tracker.remove_revision(revision)  # the only way back from failed with no replica
        stats = None
    known = {Endpoint(r.host, r.port, r.name) for r in tracker.replicas(revision) if r.ready}
    ready = set(update.ready)
    if stats is not None:
        tracker.set_draining(revision, [e.name for e in known if e not in ready])
    draining = [e for e in update.draining if e in known]
    tracker.set_endpoints(revision, [*update.ready, *draining], cc)


class EndpointsFeed:
    """Keeps ``tracker`` (and ``route_sinks``) in step with the store.

    ``route_sinks`` are called with each new route table (a sink that raises is logged
    and the others still run). ``version`` is the last route table's version (-1 before
    one), for heartbeats."""

    def __init__(
        self,
        store: Store,
        tracker: CapacityTracker,
        clock: Clock,
        *,
        route_sinks: Iterable[RouteSink] = (),
        retry_after: float = 1.0,
    ) -> None:
        self._store = store
        self._tracker = tracker
        self._clock = clock
        self._sinks = list(route_sinks)
        self._retry_after = retry_after
        self._table: RouteTable | None = None
        self._cc: dict[str, int] = {}
        self._endpoints: dict[str, EndpointSet] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._subs: set[Subscription[Any]] = set()
        self._routes_synced = self._endpoints_synced = False
        self.synced = asyncio.Event()  # both flows have applied the store's state once

    @property
    def version(self) -> int:
        return -1 if self._table is None else self._table.version

    @property
    def table(self) -> RouteTable | None:
        return self._table

    def container_concurrency(self, revision: str) -> int:
        return self._cc.get(revision, 0)

    # -- applying -------------------------------------------------------------------------

    def apply_routes(self, table: RouteTable) -> None:
        if self._table is not None and table.version <= self._table.version:
            return
        self._table = table
        cc = {rev.name: rev.container_concurrency for rev in table.revisions}
        changed = [
            name
            for name, update in self._endpoints.items()
            if cc.get(name, 0) != self._cc.get(name, 0) and not update.removed
        ]
        self._cc = cc
        for name in changed:  # a live retune of containerConcurrency
            self._apply_endpoints(self._endpoints[name])
        for sink in self._sinks:
            try:
                sink(table)
            except Exception:
                log.exception("a route sink failed on route table %d", table.version)

    def apply_endpoints(self, update: EndpointSet) -> None:
        known = self._endpoints.get(update.revision)
        if known is not None and update.version <= known.version:
            return
        if update.removed:
            self._endpoints.pop(update.revision, None)
        else:
            self._endpoints[update.revision] = update
        self._apply_endpoints(update)

    def _apply_endpoints(self, update: EndpointSet) -> None:
        try:
            apply_endpoints(self._tracker, update, self._cc.get(update.revision, 0))
        except Exception:
            log.exception("could not apply endpoints of %s", update.revision)

    # -- the owned tasks --------------------------------------------------------------------

    async def __aenter__(self) -> EndpointsFeed:
        routes = await self._subscribe(self._store.watch_routes, self.apply_routes)
        endpoints = await self._subscribe(self._store.watch_endpoints, self.apply_endpoints)
        self._synced(routes is not None, endpoints is not None)
        self._tasks = [
            asyncio.create_task(
                self._follow(routes, self._store.watch_routes, self.apply_routes, True),
                name="zeroserve-routes-feed",
            ),
            asyncio.create_task(
                self._follow(endpoints, self._store.watch_endpoints, self.apply_endpoints, False),
                name="zeroserve-endpoints-feed",
            ),
        ]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        for sub in list(self._subs):
            sub.close()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _synced(self, routes: bool, endpoints: bool) -> None:
        self._routes_synced |= routes
        self._endpoints_synced |= endpoints
        if self._routes_synced and self._endpoints_synced:
            self.synced.set()

    async def _subscribe(
        self, watch: Callable[[], Awaitable[Subscription[T]]], apply: Callable[[T], None]
    ) -> Subscription[T] | None:
        """Subscribe and apply what is pending at once (the store's current state);
        None if the store is unavailable (``StoreClosed`` propagates)."""
        try:
            sub = await watch()
        except StoreClosed:
            raise
        except StoreError as exc:
            log.warning("store unavailable, serving with what is known: %s", exc)
            return None
        self._subs.add(sub)
        for item in sub.drain():
            apply(item)
        return sub

    async def _follow(
        self,
        sub: Subscription[T] | None,
        watch: Callable[[], Awaitable[Subscription[T]]],
        apply: Callable[[T], None],
        is_routes: bool,
    ) -> None:
        while sub is None:
            await self._clock.sleep(self._retry_after)
            try:
                sub = await self._subscribe(watch, apply)
            except StoreClosed:
                return
            if sub is not None:
                self._synced(is_routes, not is_routes)
        # A subscription ends only when closed: by ``close``, or by the store's close.
        async for item in sub:
            apply(item)
        self._subs.discard(sub)
