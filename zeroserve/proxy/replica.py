"""The way from a routed request to a replica: lease, pooled or new connection, retry.

Warm path: ``acquire_nowait`` gives a lease, the pool gives a connection, the head goes
out with the next flush; no Future, no Task. Otherwise the request waits on the
provider's Future (a done-callback, not a Task), or connects in a Task with a real-time
timeout; a refused connect fails the lease and tries another ready replica.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from zeroserve.capacity.lease import CapacityError, Endpoint, Lease
from zeroserve.proxy.deadlines import Expiring
from zeroserve.proxy.engine import Engine
from zeroserve.proxy.errors import capacity_reply, replica_message
from zeroserve.proxy.routing import Route
from zeroserve.proxy.stats import RevisionCounters
from zeroserve.proxy.upstream import UpstreamConnection

if TYPE_CHECKING:
    from zeroserve.proxy.client import ClientConnection

log = logging.getLogger(__name__)

# Why the client connection is not being read (a bit mask; reading resumes at zero).
P_UPSTREAM = 1  # the upstream's write buffer is over the high watermark
P_BUFFER = 4  # bodies held for waiting or queued requests are over the high watermark
P_DEPTH = 8  # the pipelining depth is reached

S_QUEUED = 0
S_WAITING = 1
S_CONNECTING = 2
S_SENDING = 3
S_TUNNEL = 4
S_DONE = 5

MAX_REPLICAS_TRIED = 8
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

ConnectTask = asyncio.Task[tuple[asyncio.Transport, UpstreamConnection]]


class ReplicaSide:
    """The capacity and connection half of ``Exchange``, with the fields it sets."""

    __slots__ = (
        "connect_task",
        "connect_timer",
        "continue_sent",
        "counted",
        "future",
        "held",
        "held_len",
        "kept",
        "kept_len",
        "lease",
        "retried",
        "state",
        "timer",
        "tried",
        "upstream",
    )

    state: int
    counted: bool
    retried: bool
    continue_sent: bool
    held: list[bytes]
    held_len: int
    kept: list[bytes] | None  # what went upstream after the head, while a retry can replay it
    kept_len: int
    lease: Lease | None
    upstream: UpstreamConnection | None
    future: asyncio.Future[Lease] | None
    timer: set[Expiring] | None  # the slot of the route's timeout
    connect_task: ConnectTask | None
    connect_timer: asyncio.TimerHandle | None
    tried: list[Endpoint] | None
    # Set by Exchange (all of the above are initialised there too).
    conn: ClientConnection
    engine: Engine
    route: Route | None
    counters: RevisionCounters
    expect: bool
    req_done: bool
    head: bytes
    local: bytes | None

    # Defined by Exchange.
    def start_local(self) -> None:
        raise NotImplementedError

    def on_timeout(self) -> None:
        raise NotImplementedError

    def fail_reply(
        self, status: int, message: str, retry_after: int | None = None, close: bool = False
    ) -> None:
        raise NotImplementedError

    def unbind(self, up: UpstreamConnection) -> None:
        raise NotImplementedError

    @property
    def revision(self) -> str:
        return self.route.revision if self.route is not None else ""

    def start(self) -> None:
        """Called when this request is first in line."""
        if self.local is not None:
            self.start_local()
            return
        route = self.route
        assert route is not None
        engine = self.engine
        self.counters.in_flight += 1
        self.counted = True
        deadline = engine.clock.now() + route.timeout
        self.timer = engine.deadlines.arm(self, deadline)
        capacity = engine.capacity
        try:
            lease = capacity.acquire_nowait(route.revision)
            if lease is not None:
                self.use_lease(lease)
                return
            future = capacity.acquire(route.revision, deadline)
        except CapacityError as exc:
            self.capacity_failed(exc)
            return
        # Waiting does not stop reading: what is held is capped by P_BUFFER, and a client
        # that gives up is seen at once and withdrawn from the provider's queue.
        self.state = S_WAITING
        self.counters.held += 1
        self.future = future
        future.add_done_callback(self.on_lease)

    def on_lease(self, future: asyncio.Future[Lease]) -> None:
        if future is not self.future:
            if not future.cancelled() and future.exception() is None:
                future.result().release()  # we gave up on it; hand the slot back
            return
        self.future = None
        self.counters.held -= 1
        conn = self.conn
        if future.cancelled():
            self.fail_reply(503, f"the wait for revision {self.revision} was cancelled")
        else:
            exc = future.exception()
            if exc is None:
                self.use_lease(future.result())
            elif isinstance(exc, CapacityError):
                self.capacity_failed(exc)
            else:
                log.error("capacity provider failed", exc_info=exc)
                self.fail_reply(503, f"no capacity for revision {self.revision}")
        conn.flush()

    def capacity_failed(self, exc: CapacityError) -> None:
        route = self.route
        assert route is not None
        reply = capacity_reply(exc, route.revision, route.timeout)
        self.fail_reply(reply.status, reply.message, reply.retry_after)

    def use_lease(self, lease: Lease) -> None:
        self.lease = lease
        if self.expect and not self.continue_sent and not self.req_done:
            self.continue_sent = True
            self.conn.out.append(CONTINUE)
        up = self.engine.pool.take(lease.endpoint)
        if up is None:
            self.connect()
        else:
            self.attach(up)

    def connect(self) -> None:
        assert self.lease is not None
        engine = self.engine
        loop = engine.loop
        endpoint = self.lease.endpoint
        self.state = S_CONNECTING
        task = loop.create_task(
            loop.create_connection(
                lambda: UpstreamConnection(engine, endpoint), endpoint.host, endpoint.port
            )
        )
        self.connect_task = task
        self.connect_timer = loop.call_later(engine.limits.connect_timeout, task.cancel)
        task.add_done_callback(self.on_connected)

    def on_connected(self, task: ConnectTask) -> None:
        if task is not self.connect_task:
            if not task.cancelled() and task.exception() is None:
                task.result()[1].close()
            return
        self.connect_task = None
        if self.connect_timer is not None:
            self.connect_timer.cancel()
            self.connect_timer = None
        if task.cancelled():
            self.connect_failed(f"connect timed out after {self.engine.limits.connect_timeout:g}s")
        else:
            exc = task.exception()
            if exc is None:
                self.attach(task.result()[1])
            else:
                self.connect_failed(f"connect failed: {exc}")
        self.conn.flush()

    def connect_failed(self, why: str) -> None:
        lease = self.lease
        assert lease is not None
        self.lease = None
        endpoint = lease.endpoint
        lease.fail()
        tried = self.tried
        if tried is None:
            tried = self.tried = []
        tried.append(endpoint)
        try:
            nxt = self.engine.capacity.acquire_nowait(self.revision)
        except CapacityError:
            nxt = None
        if nxt is not None:
            if nxt.endpoint not in tried and len(tried) < MAX_REPLICAS_TRIED:
                self.use_lease(nxt)
                return
            nxt.release()
        self.fail_reply(502, replica_message(endpoint.name, self.revision, why))

    def attach(self, up: UpstreamConnection) -> None:
        """Send the head (and what is held) on ``up``: it leaves with the next flush."""
        self.state = S_SENDING
        self.upstream = up
        conn = self.conn
        up.exchange = self  # type: ignore[assignment]
        up.client_out = conn.out
        up.got_bytes = up.msg_done = up.head_sent = False
        conn.active_up = up
        if conn.write_paused:
            up.pause_reading()
        out = up.out
        out.append(self.head)
        kept = self.kept
        if kept:
            out += kept  # a replay after a stale pooled connection
        held = self.held
        if held:
            out += held
            if kept is not None:
                self.kept_len += self.held_len
                if self.kept_len > self.engine.limits.retry_body_hold:
                    self.kept = None
                else:
                    kept += held
            conn.held_changed(-self.held_len)
            self.held = []
            self.held_len = 0

    def upstream_failed(self, up: UpstreamConnection, why: str, retryable: bool) -> None:
        """The replica failed before a response head: retry once, or 502."""
        self.unbind(up)
        up.abort()
        if retryable and not self.retried and self.kept is not None and self.lease is not None:
            self.retried = True
            self.connect()  # a fresh connection, never the pool
            return
        name = self.lease.endpoint.name if self.lease is not None else up.endpoint.name
        self.fail_reply(502, replica_message(name, self.revision, why))

    def drop_upstream_side(self) -> None:
        """Withdraw from the wait queue, stop connecting, drop the upstream, free the slot."""
        future = self.future
        if future is not None:
            self.future = None
            self.counters.held -= 1
            future.cancel()
        task = self.connect_task
        if task is not None:
            self.connect_task = None
            task.cancel()
            if self.connect_timer is not None:
                self.connect_timer.cancel()
                self.connect_timer = None
        up = self.upstream
        if up is not None:
            self.unbind(up)
            up.abort()
        lease = self.lease
        if lease is not None:
            self.lease = None
            lease.release()
