"""``EmbeddedServer``: the whole of Zeroserve in one process, on one event loop.

What it builds, and how the parts are joined:

* ``MemoryStore`` (the bus) and ``LocalElector`` (the only autoscaler leads);
* ``Poker`` → ``CapacityTracker(on_wait=poker)``: a request held for a revision pokes the
  autoscaler, which scales it from zero at once instead of at its next tick;
* ``LocalRuntime(in_flight=tracker.in_flight_of, on_event=…)``: a draining replica stops
  once the tracker says its leases are gone; replica events feed the cold-start
  recorder (spawn, ready) and the log;
* ``Controller``: the folder's services into revisions, routes and endpoints, and the
  autoscaler's desired scale into the runtime;
* ``ScalingLoop``: stats into desired scale and route mode;
* ``EndpointsFeed``: endpoints into the tracker, routes into the gateway's
  ``RoutingState`` (and ``containerConcurrency`` into the tracker);
* ``StatsReporter``: the engine's counters into the store once a second;
* a task that follows the desired scale and tells the cold-start recorder when a
  revision was scaled up (the ``decision`` phase);
* ``ProxyServer`` routing through the ``RoutingState``, leasing from the tracker, with
  the recorder's ``Zeroserve-Cold-Start`` header on held requests' responses;
* the admin app (``/metrics``, the API, the status page) over ``snapshot()``.

One engine and one tracker serve both the gateway's and the activator's role, so held
and direct requests share one count, and each request is counted once.

``close`` goes in the order a graceful stop needs: stop accepting and drain in-flight
requests (the loops still run, so held requests still get their replica), then stop the
loops, then the replicas, then the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from activator.poker import Poker
from autoscaler.loop import DEFAULT_TICK, ScalingLoop
from gateway.routing_state import RoutingState
from zeroserve import __version__
from zeroserve.admin.app import create_app, serving
from zeroserve.admin.model import ServerSnapshot
from zeroserve.capacity.tracker import CapacityTracker
from zeroserve.clock import Clock, RealClock
from zeroserve.config import ConfigError
from zeroserve.control import ApplyResult, ControlError, Controller, LoadedFolder, load_folder
from zeroserve.dataplane.cold_start import ColdStartRecorder
from zeroserve.dataplane.endpoints_feed import EndpointsFeed
from zeroserve.dataplane.reporter import StatsReporter, tracker_in_flight
from zeroserve.embedded.errors import EmbeddedError, NotRunning, StartFailed
from zeroserve.embedded.snapshot import DataPath, build_snapshot
from zeroserve.proxy.limits import ProxyLimits
from zeroserve.proxy.server import ProxyServer
from zeroserve.resource.errors import ResourceError
from zeroserve.runtime.base import ReplicaEvent
from zeroserve.runtime.local import LocalRuntime
from zeroserve.store.elector import LocalElector
from zeroserve.store.memory import MemoryStore
from zeroserve.store.records import ScaleRecord
from zeroserve.store.subscription import Subscription

__all__ = ["EmbeddedServer", "Parts"]

log = logging.getLogger("zeroserve.embedded")

EventListener = Callable[[ReplicaEvent], None]

# Replica events worth a line in the server's log (the runtime logs them at debug).
_LOGGED_EVENTS = {
    "spawned": logging.INFO,
    "ready": logging.INFO,
    "draining": logging.INFO,
    "stopped": logging.INFO,
    "crashed": logging.WARNING,
    "unhealthy": logging.WARNING,
    "failed": logging.ERROR,
}


@dataclass(frozen=True, slots=True)
class Parts:
    """Every running part, for the admin snapshot, tests and later issues."""

    clock: Clock
    store: MemoryStore
    elector: LocalElector
    tracker: CapacityTracker
    poker: Poker
    recorder: ColdStartRecorder
    runtime: LocalRuntime
    controller: Controller
    routing: RoutingState
    feed: EndpointsFeed
    proxy: ProxyServer
    reporter: StatsReporter
    loop: ScalingLoop
    app: web.Application


class EmbeddedServer:
    """Serve a folder of manifests in this process.

    Use as ``async with EmbeddedServer(folder, …) as server`` or ``await start()`` …
    ``await close()``. Ports 0 pick free ones (``port``/``admin_port`` say which after
    ``start``). ``state_dir`` holds the controller's rollout state (``None``: kept in
    memory only). ``clock`` runs every window, timeout and backoff (a ``FakeClock`` in
    tests); socket timeouts and probes are real time whatever it is. ``on_event`` is
    called with each replica event, after the cold-start recorder.
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        config_path: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 8080,
        admin_host: str = "127.0.0.1",
        admin_port: int = 9090,
        state_dir: str | Path | None = None,
        clock: Clock | None = None,
        limits: ProxyLimits | None = None,
        tick: float = DEFAULT_TICK,
        python: str = sys.executable,
        reporter_id: str = "embedded",
        environ: Mapping[str, str] | None = None,
        on_event: EventListener | None = None,
    ) -> None:
        self._folder = Path(folder)
        self._config_path = config_path
        self._host = host
        self._port = port
        self._admin_host = admin_host
        self._admin_port = admin_port
        self._state_dir = state_dir
        self._clock: Clock = clock or RealClock()
        self._limits = limits or ProxyLimits()
        self._tick = tick
        self._python = python
        self._reporter_id = reporter_id
        self._environ = environ
        self._listeners: list[EventListener] = [] if on_event is None else [on_event]
        self._parts: Parts | None = None
        self._loaded: LoadedFolder | None = None
        self._applied: ApplyResult | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._drain_timeout: float | None = None
        self._admin_url = ""
        self._started = False

    async def __aenter__(self) -> EmbeddedServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- read-outs ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Started and not closed."""
        return self._stack is not None

    @property
    def parts(self) -> Parts:
        if self._parts is None:
            raise NotRunning("the embedded server is not started")
        return self._parts

    @property
    def loaded(self) -> LoadedFolder:
        """What the folder held: services, config, refusals and warnings."""
        if self._loaded is None:
            raise NotRunning("the embedded server is not started")
        return self._loaded

    @property
    def applied(self) -> ApplyResult:
        if self._applied is None:
            raise NotRunning("the embedded server is not started")
        return self._applied

    @property
    def port(self) -> int:
        """The gateway's port (the bound one once started)."""
        return self._port

    @property
    def admin_port(self) -> int:
        return self._admin_port

    @property
    def gateway_url(self) -> str:
        return f"http://{_url_host(self._host)}:{self._port}"

    @property
    def admin_url(self) -> str:
        return self._admin_url or f"http://{_url_host(self._admin_host)}:{self._admin_port}"

    def largest_timeout(self) -> float:
        """The largest request timeout of the revisions routed now: how long a graceful
        stop waits for in-flight requests (0 with nothing routed)."""
        table = self.parts.routing.table
        if table is None or not table.revisions:
            return 0.0
        return max(r.timeout for r in table.revisions)

    def snapshot(self) -> ServerSnapshot:
        """The admin's ``SnapshotSource``: the whole server now."""
        parts = self.parts
        recorder = parts.recorder
        wall, mono = time.time(), time.monotonic()
        return build_snapshot(
            version=__version__,
            taken_at=wall,
            store=parts.store.health(),
            services=parts.controller.status(),
            scaling=parts.loop.revision_statuses(),
            routes=parts.routing.table,
            data=DataPath(
                counters=parts.proxy.stats.revisions,
                in_flight=parts.tracker.in_flight,
                held=parts.tracker.waiting,
                cold_requests=recorder.cold_requests,
                last_cold_start=recorder.last,
            ),
            wall_minus_monotonic=wall - mono,
        )

    def add_event_listener(self, listener: EventListener) -> None:
        """Also call ``listener`` with each replica event from now on."""
        self._listeners.append(listener)

    # -- starting -----------------------------------------------------------------------

    async def start(self) -> None:
        """Load the folder, start every part, apply the services, then listen.

        Raises ``StartFailed`` (everything started so far stopped again) for a folder
        that does not exist, a refused explicit config, an unusable state dir or a port
        that cannot be bound. Refused manifests are not errors: they are logged, left
        out, and listed in ``loaded.refusals``."""
        if self._started:
            raise EmbeddedError("the embedded server was started already")
        self._started = True
        try:
            loaded = load_folder(self._folder, config_path=self._config_path, environ=self._environ)
        except (ResourceError, ConfigError) as error:
            raise StartFailed(f"cannot serve {self._folder}: {error}") from error
        self._loaded = loaded
        stack = contextlib.AsyncExitStack()
        try:
            await self._start_parts(loaded, stack)
        except BaseException as error:
            await stack.aclose()
            self._parts = None
            if isinstance(error, ControlError | OSError):
                raise StartFailed(str(error)) from error
            raise
        self._stack = stack

    async def _start_parts(self, loaded: LoadedFolder, stack: contextlib.AsyncExitStack) -> None:
        clock = self._clock
        config = loaded.config
        store = MemoryStore()
        stack.push_async_callback(store.close)
        elector = LocalElector()
        recorder = ColdStartRecorder()
        poker = Poker(store, clock)
        tracker = CapacityTracker(clock, on_wait=poker)
        runtime = LocalRuntime(
            clock,
            in_flight=tracker.in_flight_of,
            on_event=self._on_replica_event,
            python=self._python,
        )
        stack.push_async_callback(runtime.close)
        controller = Controller(
            runtime, store, clock, config, state_dir=self._state_dir, python=self._python
        )
        suffixes = tuple(dict.fromkeys((config.domain, "localhost")))
        routing = RoutingState(suffixes)
        feed = EndpointsFeed(store, tracker, clock, route_sinks=(routing.apply,))
        proxy = ProxyServer(
            routing, tracker, clock, self._limits, held_response_headers=recorder.header
        )
        reporter = StatsReporter(
            store,
            proxy.stats,
            clock,
            self._reporter_id,
            lambda: feed.version,
            in_flight_of=tracker_in_flight(tracker),
        )
        loop = ScalingLoop(store, clock, elector, tick=self._tick)
        app = create_app(self)
        self._parts = Parts(
            clock=clock,
            store=store,
            elector=elector,
            tracker=tracker,
            poker=poker,
            recorder=recorder,
            runtime=runtime,
            controller=controller,
            routing=routing,
            feed=feed,
            proxy=proxy,
            reporter=reporter,
            loop=loop,
            app=app,
        )

        await stack.enter_async_context(controller)
        self._applied = await controller.apply(loaded.services)
        await stack.enter_async_context(feed)
        await stack.enter_async_context(poker)
        await stack.enter_async_context(loop)
        decisions = await store.watch_scales()
        follower = asyncio.create_task(
            self._follow_decisions(decisions), name="zeroserve-decisions"
        )
        stack.push_async_callback(_cancel, follower, decisions)
        await stack.enter_async_context(reporter)
        try:
            self._admin_url = await stack.enter_async_context(
                serving(app, self._admin_host, self._admin_port)
            )
        except OSError as error:
            raise StartFailed(
                f"cannot listen on {self._admin_host}:{self._admin_port} (admin): {error}"
            ) from error
        self._admin_port = int(self._admin_url.rsplit(":", 1)[1])
        try:
            self._port = await proxy.start(self._host, self._port)
        except OSError as error:
            raise StartFailed(
                f"cannot listen on {self._host}:{self._port} (gateway): {error}"
            ) from error
        stack.push_async_callback(self._close_proxy)

    # -- closing ------------------------------------------------------------------------

    async def close(self, drain_timeout: float | None = None) -> None:
        """Stop accepting, drain in-flight requests for up to ``drain_timeout`` real
        seconds (``None``: the largest revision timeout; they get ``Connection: close``),
        then stop the loops, the replicas (SIGTERM, SIGKILL after their grace) and the
        store. Closing twice is harmless."""
        stack, self._stack = self._stack, None
        if stack is None:
            return
        self._drain_timeout = drain_timeout
        await stack.aclose()
        log.info("stopped")

    def hurry(self) -> None:
        """Cut the drain short: abort the client connections still in flight now (a
        second SIGTERM or Ctrl-C while draining)."""
        parts = self._parts
        if parts is None:
            return
        with contextlib.suppress(RuntimeError):  # the proxy never started
            for conn in list(parts.proxy.engine.connections):
                conn.abort()

    async def _close_proxy(self) -> None:
        parts = self.parts
        timeout = self._drain_timeout
        if timeout is None:
            timeout = self.largest_timeout()
        busy = parts.proxy.connections
        if busy:
            log.info("no longer accepting; draining %d connection(s) for up to %gs", busy, timeout)
        await parts.proxy.close(timeout)

    # -- what joins the parts -----------------------------------------------------------

    def _on_replica_event(self, event: ReplicaEvent) -> None:
        parts = self._parts
        if parts is not None:
            parts.recorder.on_replica_event(event)
        level = _LOGGED_EVENTS.get(event.kind)
        if level is not None:
            who = f"replica {event.replica}" if event.replica else f"revision {event.revision}"
            pid = f" (pid {event.pid})" if event.pid is not None else ""
            detail = f": {event.detail}" if event.detail else ""
            log.log(level, "%s %s%s%s", who, event.kind, pid, detail)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.exception("a replica event listener failed on %s", event)

    async def _follow_decisions(self, decisions: Subscription[ScaleRecord]) -> None:
        """Tell the recorder when a revision's desired scale rises (the ``decision``
        phase of a cold start), and log each change of desired scale."""
        recorder = self.parts.recorder
        last: dict[str, int] = {}
        async for record in decisions:
            name = record.revision
            if record.removed:
                last.pop(name, None)
                continue
            before = last.get(name, 0)
            last[name] = record.desired
            if record.desired > before:
                recorder.decided(name)
            if record.desired != before:
                log.info(
                    "revision %s: desired scale %d -> %d (%s)",
                    name,
                    before,
                    record.desired,
                    record.mode.value,
                )


async def _cancel(task: asyncio.Task[None], subscription: Subscription[ScaleRecord]) -> None:
    subscription.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
