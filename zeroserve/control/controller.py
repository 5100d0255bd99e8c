"""The controller: services into revisions, routes and endpoints; desired scale into replicas.

It is the only part that starts replicas. Three flows run through it:

* ``apply(services)`` (set semantics) turns each service into a revision spec, makes a
  new revision when what runs changed (``rollout.plan_apply``), ensures it in the
  runtime, persists the rollout state, publishes the route table, and removes what is
  gone (drained by the runtime, then tombstoned in the store);
* a task follows ``runtime.watch()`` and publishes each snapshot as an ``EndpointSet``
  (ready and draining endpoints, the failure reason passed through);
* a task follows ``store.watch_scales()``: each decision goes to ``runtime.scale``, and a
  changed route mode is folded into a new route table.

Every version it writes (route tables, endpoint sets) comes from one counter, seeded at
start above what the store holds and above the wall clock in milliseconds, so a
restarted controller's writes are never taken for old ones. A write the store cannot
take (``StoreUnavailable``) is retried every ``retry_interval`` seconds of the Clock,
the newest per revision, until it goes through. One lock orders ``apply`` and scale
handling; the endpoints task only publishes, which needs no order beyond its versions.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from zeroserve.clock import Clock
from zeroserve.config import RouteMode
from zeroserve.config.server_config import ServerConfig
from zeroserve.control.errors import NotStarted
from zeroserve.control.revisions import build_revision
from zeroserve.control.rollout import (
    KnownRevision,
    RolloutState,
    ServiceKey,
    ServiceView,
    plan_apply,
)
from zeroserve.control.routes import DEFAULT_MODE, build_route_table
from zeroserve.control.state_file import load_state, save_state
from zeroserve.control.status import RevisionObservation, ServiceStatus, service_status
from zeroserve.resource.model import InferenceService
from zeroserve.runtime.base import EndpointsSnapshot, Runtime
from zeroserve.runtime.errors import (
    ReplicaRuntimeError,
    RuntimeClosed,
    TemplateConflict,
    UnknownRevision,
)
from zeroserve.store.base import Store
from zeroserve.store.errors import StoreUnavailable
from zeroserve.store.records import EndpointSet, ScaleRecord
from zeroserve.store.routes import RouteTable
from zeroserve.store.subscription import Subscription

log = logging.getLogger("zeroserve.control")

DEFAULT_RETRY_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What one ``apply`` changed: new revision names, revisions that cannot run (name →
    reason), revisions removed, and the route table version after it."""

    created: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]
    removed: tuple[str, ...]
    route_version: int | None


@dataclass(slots=True)
class _Seen:
    """The last endpoints snapshot of a revision, and whether it was ever ready."""

    ready: int = 0
    draining: int = 0
    failed: str | None = None
    ever_ready: bool = False


class Controller:
    """Use as ``async with Controller(runtime, store, clock, config) as controller``, or
    ``await start()`` … ``await close()``. The runtime and the store are the caller's:
    ``close`` stops the controller's tasks, not replicas."""

    def __init__(
        self,
        runtime: Runtime,
        store: Store,
        clock: Clock,
        config: ServerConfig | None = None,
        *,
        state_dir: str | Path | None = None,
        python: str = sys.executable,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
    ) -> None:
        self._runtime = runtime
        self._store = store
        self._clock = clock
        self._config = config or ServerConfig()
        self._state_dir = None if state_dir is None else Path(state_dir)
        self._python = python
        self._retry_interval = retry_interval
        self._rollout = RolloutState()
        self._views: dict[ServiceKey, ServiceView] = {}
        self._revisions: dict[str, KnownRevision] = {}
        self._desired: dict[str, int] = {}
        self._modes: dict[str, RouteMode] = {}
        self._seen: dict[str, _Seen] = {}
        self._table: RouteTable | None = None  # the last one built
        self._published: RouteTable | None = None  # the last one the store took
        self._routes_dirty = False
        self._pending: dict[str, EndpointSet] = {}  # not taken by the store yet
        self._version = 0
        self._lock = asyncio.Lock()
        self._retry = asyncio.Event()
        self._scales: Subscription[ScaleRecord] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._closed = False

    async def __aenter__(self) -> Controller:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Load the rollout state, subscribe to desired scale, start following the
        runtime. Raises ``StateFileError`` for an unreadable state file, and
        ``StoreUnavailable`` if the store cannot take the subscription."""
        if self._started:
            return
        if self._state_dir is not None:
            self._rollout = load_state(self._state_dir)
        self._version = await self._seed_version() - 1
        self._scales = await self._store.watch_scales()
        self._started = True
        self._tasks = [
            asyncio.create_task(self._follow_endpoints(), name="controller-endpoints"),
            asyncio.create_task(self._follow_scales(), name="controller-scales"),
            asyncio.create_task(self._retry_writes(), name="controller-retry"),
        ]
        for task in self._tasks:
            task.add_done_callback(_log_end)
        # Let the tasks reach their first wait: the runtime's watch subscribes when it is
        # first iterated, and a revision ensured and removed before that would never be
        # seen (nor tombstoned).
        await asyncio.sleep(0)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._scales is not None:
            self._scales.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    # -- applying services --------------------------------------------------------------

    async def apply(
        self, services: Sequence[InferenceService], *, config: ServerConfig | None = None
    ) -> ApplyResult:
        """Serve exactly ``services`` (a later one of the same namespace and name wins),
        with ``config`` from now on if given. Raises ``StateFileError`` (nothing changed)
        if the rollout state cannot be saved."""
        if not self._started or self._closed:
            raise NotStarted("start the controller before applying services")
        async with self._lock:
            if config is not None:
                self._config = config
            unique = {s.key: s for s in services}
            specs = {
                key: build_revision(s, self._config, python=self._python)
                for key, s in unique.items()
            }
            plan = plan_apply(
                list(unique.values()),
                specs,
                self._views,
                self._rollout,
                self._config.revision_history_limit,
            )
            if self._state_dir is not None and plan.rollout != self._rollout:
                save_state(self._state_dir, plan.rollout)
            self._rollout = plan.rollout
            self._views = {view.key: view for view in plan.views}
            self._revisions = {r.name: r for view in plan.views for r in view.revisions}

            for name in plan.created:
                log.info("revision %s created", name)
            for revision in (*plan.ensure, *plan.failed):
                for warning in revision.spec.warnings:
                    log.warning("revision %s: %s", revision.name, warning)
            for revision in plan.ensure:
                await self._ensure(revision)
            for revision in plan.failed:
                reason = revision.spec.failed or "cannot run"
                log.error("revision %s cannot run here: %s", revision.name, reason)
                await self._publish_endpoints(
                    EndpointSet(revision.name, self._next_version(), failed_reason=reason)
                )
            await self._publish_routes()
            for name in plan.remove:
                await self._remove(name)
            return ApplyResult(
                created=plan.created,
                failed=tuple((r.name, r.spec.failed or "") for r in plan.failed),
                removed=plan.remove,
                route_version=None if self._table is None else self._table.version,
            )

    async def _ensure(self, revision: KnownRevision) -> None:
        template = revision.spec.template
        assert template is not None
        try:
            await self._runtime.ensure(revision.name, template)
        except TemplateConflict:
            # The runtime outlived a controller restart and holds this revision already:
            # same identity, so what runs is the same; only knobs fixed at creation differ.
            log.info("revision %s: the runtime already holds it; kept as it runs", revision.name)
        except RuntimeClosed:
            return
        except ReplicaRuntimeError as error:
            log.error("revision %s: the runtime refused it: %s", revision.name, error)
            await self._publish_endpoints(
                EndpointSet(revision.name, self._next_version(), failed_reason=str(error))
            )
            return
        desired = self._desired.get(revision.name)
        if desired is not None:
            await self._scale(revision.name, desired)

    async def _remove(self, name: str) -> None:
        self._desired.pop(name, None)
        self._modes.pop(name, None)
        self._pending.pop(name, None)
        try:
            await self._runtime.remove(name)  # its last snapshot becomes the tombstone
            log.info("revision %s removed: draining", name)
        except UnknownRevision:  # never ran here (failed, or from before a restart)
            self._seen.pop(name, None)
            await self._publish_endpoints(EndpointSet.tombstone(name, self._next_version()))
        except RuntimeClosed:
            pass

    # -- desired scale ------------------------------------------------------------------

    async def _follow_scales(self) -> None:
        assert self._scales is not None
        async for record in self._scales:
            async with self._lock:
                await self._on_scale(record)

    async def _on_scale(self, record: ScaleRecord) -> None:
        name = record.revision
        before = self._modes.get(name, DEFAULT_MODE)
        if record.removed:
            self._desired.pop(name, None)
            self._modes.pop(name, None)
        else:
            self._desired[name] = record.desired
            self._modes[name] = record.mode
            known = self._revisions.get(name)
            if known is not None and known.spec.runnable:
                await self._scale(name, record.desired)
        if name in self._revisions and self._modes.get(name, DEFAULT_MODE) != before:
            await self._publish_routes()

    async def _scale(self, name: str, desired: int) -> None:
        try:
            await self._runtime.scale(name, desired)
        except UnknownRevision:
            log.debug("scale for %s, which the runtime does not hold", name)
        except RuntimeClosed:
            pass
        except ReplicaRuntimeError as error:
            log.error("revision %s: cannot scale to %d: %s", name, desired, error)

    # -- endpoints ----------------------------------------------------------------------

    async def _follow_endpoints(self) -> None:
        async for snapshot in self._runtime.watch():
            await self._on_snapshot(snapshot)

    async def _on_snapshot(self, snapshot: EndpointsSnapshot) -> None:
        name = snapshot.revision
        if snapshot.removed:
            self._seen.pop(name, None)
        else:
            seen = self._seen.setdefault(name, _Seen())
            seen.ready, seen.draining = len(snapshot.ready), len(snapshot.draining)
            seen.failed = snapshot.failed
            seen.ever_ready = seen.ever_ready or bool(snapshot.ready)
        await self._publish_endpoints(
            EndpointSet(
                revision=name,
                version=self._next_version(),
                ready=snapshot.ready,
                draining=snapshot.draining,
                failed_reason=snapshot.failed,
                removed=snapshot.removed,
            )
        )

    # -- writing to the store -----------------------------------------------------------

    async def _publish_endpoints(self, endpoints: EndpointSet) -> None:
        try:
            await self._store.publish_endpoints(endpoints)
        except StoreUnavailable as error:
            log.warning("endpoints of %s not published, will retry: %s", endpoints.revision, error)
            self._pending[endpoints.revision] = endpoints
            self._retry.set()
            return
        held = self._pending.get(endpoints.revision)
        if held is not None and held.version <= endpoints.version:
            del self._pending[endpoints.revision]

    async def _publish_routes(self, *, force: bool = False) -> None:
        table, conflicts = build_route_table(
            self._version, list(self._views.values()), self._modes, self._config, self._rollout
        )
        last = self._table
        if (
            not force
            and last is not None
            and (last.services, last.revisions) == (table.services, table.revisions)
        ):
            return
        for conflict in conflicts:
            log.error("%s; it is left out", conflict)
        table = replace(table, version=self._next_version())
        self._table = table
        try:
            published = await self._store.publish_routes(table)
        except StoreUnavailable as error:
            log.warning("route table %d not published, will retry: %s", table.version, error)
            self._routes_dirty = True
            self._retry.set()
            return
        self._routes_dirty = False
        if published.accepted:
            self._published = table
            return
        # A newer table is stored (another controller's, or one from before a restart
        # with a clock that went back): go above it.
        log.warning("route table %d was older than the stored %d", table.version, published.version)
        self._version = max(self._version, published.version)
        await self._publish_routes(force=True)

    async def _retry_writes(self) -> None:
        while True:
            await self._retry.wait()
            await self._clock.sleep(self._retry_interval)
            self._retry.clear()
            async with self._lock:
                if self._routes_dirty:
                    await self._publish_routes(force=True)
                for held in list(self._pending.values()):
                    await self._publish_endpoints(replace(held, version=self._next_version()))

    def _next_version(self) -> int:
        self._version += 1
        return self._version

    async def _seed_version(self) -> int:
        seed = math.floor(self._clock.now() * 1000)
        try:
            table = await self._store.read_routes()
            endpoints = await self._store.read_endpoints()
        except StoreUnavailable as error:
            log.warning("store unreachable at start (%s); versions start from the clock", error)
            return seed
        stored = [e.version for e in endpoints.values()]
        if table is not None:
            stored.append(table.version)
        return max([seed, *(v + 1 for v in stored)])

    # -- read-outs ----------------------------------------------------------------------

    @property
    def config(self) -> ServerConfig:
        return self._config

    @property
    def rollout(self) -> RolloutState:
        return self._rollout

    @property
    def route_table(self) -> RouteTable | None:
        """The last route table built (and published, unless the store was down)."""
        return self._table

    def revisions(self, namespace: str, name: str) -> tuple[str, ...]:
        """The revisions held for a service, oldest first."""
        view = self._views.get((namespace, name))
        return () if view is None else tuple(r.name for r in view.revisions)

    def status(self) -> tuple[ServiceStatus, ...]:
        """Every service, by namespace and name."""
        return tuple(self._status(view) for _, view in sorted(self._views.items()))

    def status_of(self, namespace: str, name: str) -> ServiceStatus | None:
        view = self._views.get((namespace, name))
        return None if view is None else self._status(view)

    def _status(self, view: ServiceView) -> ServiceStatus:
        published = self._published
        routed = published is not None and any(
            (s.namespace, s.name) == view.key for s in published.services
        )
        return service_status(
            view,
            self._rollout.of(view.key),
            {r.name: self._observation(r.name) for r in view.revisions},
            self._modes,
            routed=routed,
            domain=self._config.domain,
        )

    def _observation(self, name: str) -> RevisionObservation:
        seen = self._seen.get(name, _Seen())
        desired = self._desired.get(name)
        try:
            status = self._runtime.status(name)
        except ReplicaRuntimeError:
            return RevisionObservation(
                desired=desired,
                ready=seen.ready,
                draining=seen.draining,
                failed=seen.failed,
                ever_ready=seen.ever_ready,
            )
        crash = status.last_crash
        return RevisionObservation(
            desired=desired,
            ready=status.ready,
            starting=status.starting,
            draining=status.draining,
            failed=status.reason if status.failed else None,
            ever_ready=seen.ever_ready or status.ready > 0,
            restarts=status.restarts,
            last_crash=None if crash is None else crash.reason,
        )


def _log_end(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("controller task %s failed", task.get_name(), exc_info=error)
    else:
        log.info("controller task %s ended", task.get_name())
