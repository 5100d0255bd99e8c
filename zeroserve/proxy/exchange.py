"""One request's way through the engine, as a plain slotted object driven by callbacks.

States: queued behind earlier pipelined requests, waiting for capacity, connecting,
sending (attached to an upstream), tunnelling, done. It never awaits: the parser, the
provider's future, the connect task, the upstream protocol and one Clock timer (the
route's timeout) call its methods. The replica half lives in ``replica.py``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from bisect import bisect_left
from typing import TYPE_CHECKING

from zeroserve.capacity.lease import Lease
from zeroserve.proxy import framing
from zeroserve.proxy.errors import BodyTooLarge, ProxyError, error_response, timeout_message
from zeroserve.proxy.replica import (
    P_BUFFER,
    P_DEPTH,
    P_UPSTREAM,
    S_DONE,
    S_QUEUED,
    S_SENDING,
    S_TUNNEL,
    ReplicaSide,
)
from zeroserve.proxy.routing import Route
from zeroserve.proxy.tunnel import Tunnel
from zeroserve.proxy.upstream import UpstreamConnection
from zeroserve.store.stats import LATENCY_BUCKETS_MS

if TYPE_CHECKING:
    from zeroserve.proxy.client import ClientConnection

__all__ = ["BODY_CHUNKED", "BODY_LENGTH", "BODY_NONE", "P_BUFFER", "P_DEPTH", "P_UPSTREAM"]
__all__ += ["Exchange"]

BODY_NONE = 0
BODY_LENGTH = 1
BODY_CHUNKED = 2

_BOUNDS_MS = LATENCY_BUCKETS_MS
_FIRST_BOUND_MS = LATENCY_BUCKETS_MS[0]

log = logging.getLogger(__name__)


class Exchange(ReplicaSide):
    __slots__ = (
        "body_after_upgrade",
        "body_length",
        "body_mode",
        "body_seen",
        "close_after",
        "conn",
        "counters",
        "discard",
        "engine",
        "expect",
        "head",
        "http10",
        "is_head",
        "keep_alive",
        "leased_at",
        "local",
        "local_status",
        "method",
        "queued_at",
        "req_done",
        "resp_done",
        "resp_started",
        "route",
        "started",
        "trailers",
        "upgrade",
    )

    started: float  # Clock time of start(), set whenever ``counted`` is
    leased_at: float  # time.monotonic() of the lease, set whenever ``queued_at`` is

    def __init__(
        self,
        conn: ClientConnection,
        method: bytes,
        http10: bool,
        keep_alive: bool,
        route: Route | None,
        head: bytes,
        body_mode: int,
    ) -> None:
        self.conn = conn
        engine = self.engine = conn.engine
        self.method = method
        self.is_head = method == b"HEAD"
        self.http10 = http10
        self.keep_alive = keep_alive
        self.route = route
        self.head = head
        self.body_mode = body_mode
        self.body_length = self.body_seen = self.local_status = 0
        self.req_done = self.resp_started = self.resp_done = self.close_after = False
        self.expect = self.upgrade = self.body_after_upgrade = self.discard = False
        self.trailers: list[bytes] | None = None
        self.local: bytes | None = None
        self.queued_at = 0.0  # time.monotonic() when it began to wait for capacity (if hooked)
        # ReplicaSide's fields
        self.state = S_QUEUED
        self.counted = self.retried = self.continue_sent = False
        self.held = []
        self.held_len = self.kept_len = 0
        self.kept = []
        self.lease = None
        self.upstream = None
        self.future = None
        self.timer = None
        self.connect_task = None
        self.connect_timer = None
        self.tried = None
        stats = engine.stats
        if route is None:
            counters = stats.unrouted
        else:
            counters = stats.revisions.get(route.revision) or stats.revision(route.revision)
        self.counters = counters
        counters.requests += 1

    def start(self) -> None:
        """This request is first in line: join the concurrency integral, then go for a
        replica (``ReplicaSide.start``, which counts it in flight)."""
        if self.local is None:
            counters = self.counters
            now = self.started = self.engine.now()
            counters.area += counters.in_flight * (now - counters.changed_at)
            counters.changed_at = now
            ReplicaSide.start(self)
            if self.future is not None and self.engine.held_headers is not None:
                self.queued_at = self.leased_at = time.monotonic()
        else:
            self.start_local()

    def on_lease(self, future: asyncio.Future[Lease]) -> None:
        if self.queued_at and future is self.future:
            self.leased_at = time.monotonic()
        ReplicaSide.on_lease(self, future)

    def held_head(self, head: bytes) -> bytes:
        """A held request's response head, with the engine's extra lines for it."""
        hook = self.engine.held_headers
        if hook is None:
            return head
        try:
            extra = hook(self.revision, self.queued_at, self.leased_at)
        except Exception:
            log.exception("held_response_headers failed for revision %s", self.revision)
            return head
        return head[:-2] + extra + b"\r\n" if extra else head

    def body_pending(self) -> bool:
        return self.body_mode != BODY_NONE and not self.req_done

    def body_left(self) -> int:
        return max(0, self.body_length - self.body_seen)

    def set_local(self, status: int, response: bytes, close: bool) -> None:
        """Answer this request ourselves when its turn comes; its body is dropped."""
        self.local = response
        self.local_status = status
        self.close_after = close
        self.discard = True
        if self.held_len:
            self.conn.held_changed(-self.held_len)
            self.held = []
            self.held_len = 0

    def start_local(self) -> None:
        assert self.local is not None
        self.conn.out.append(self.local)
        self.resp_started = self.resp_done = True
        self.counters.count_status(self.local_status)
        if self.close_after or not self.body_pending():
            self.finish()

    # -- request body ---------------------------------------------------------------------

    def request_body(self, data: bytes) -> None:
        n = len(data)
        self.body_seen += n
        if self.body_seen > self.engine.limits.max_body:
            raise BodyTooLarge(f"request body larger than {self.engine.limits.max_body} bytes")
        if self.discard:
            return
        if self.body_mode == BODY_CHUNKED:
            data = b"%x\r\n%s\r\n" % (n, data)
        up = self.upstream
        if up is not None and self.kept is None and self.state == S_SENDING:
            up.out.append(data)  # streaming past what a retry could replay
        else:
            self.forward(data)

    def raw_from_client(self, data: bytes) -> None:
        """Bytes after an upgrade request's head: passed on unparsed."""
        if not self.discard:
            self.forward(data)

    def forward(self, piece: bytes) -> None:
        up = self.upstream
        if up is not None and self.state == S_SENDING:
            up.out.append(piece)
            kept = self.kept
            if kept is not None:
                self.kept_len += len(piece)
                if self.kept_len > self.engine.limits.retry_body_hold:
                    self.kept = None
                else:
                    kept.append(piece)
        else:
            self.held.append(piece)
            n = len(piece)
            self.held_len += n
            self.conn.held_changed(n)

    def add_trailer(self, name: bytes, value: bytes) -> None:
        if self.trailers is None:
            self.trailers = []
        self.trailers += (name, value)

    def request_complete(self) -> None:
        self.req_done = True
        if self.body_mode == BODY_CHUNKED and not self.discard:
            self.forward(framing.last_chunk(self.trailers))
        if self.resp_done:
            self.finish()

    def body_error(self, err: ProxyError) -> None:
        """The request's body broke a rule: answer with the error if we still can."""
        if self.state == S_DONE:
            return
        if self.local is not None or self.resp_done:
            self.close_after = True
            if self.resp_done:
                self.finish()
            return
        if self.state == S_QUEUED:
            body = error_response(err.status, str(err), close=True, head_request=self.is_head)
            self.set_local(err.status, body, True)
            return
        self.fail_reply(err.status, str(err), close=True)

    # -- the response ----------------------------------------------------------------------

    def interim(self, status: int, head: bytes) -> None:
        if self.http10 or (status == 100 and (self.continue_sent or not self.expect)):
            return
        self.conn.out.append(head)

    def should_close(self) -> bool:
        return self.close_after or not self.keep_alive or self.conn.draining

    def response_head(self, status: int, head: bytes) -> None:
        timer = self.timer
        if timer is not None:
            self.timer = None
            timer.discard(self)
        self.resp_started = True
        if status < 600:
            self.counters.by_class[status // 100] += 1
        if self.queued_at:
            head = self.held_head(head)
        self.conn.out.append(head)

    def response_done(self, up: UpstreamConnection, reusable: bool) -> None:
        self.resp_done = True
        self.upstream = None
        up.exchange = None
        conn = self.conn
        if conn.active_up is up:
            conn.active_up = None
        if up.write_paused:
            conn.upstream_write_paused(False)
        up.release(reusable and self.req_done and not self.upgrade)
        lease = self.lease
        if lease is not None:
            self.lease = None
            lease.release()
        if self.req_done:
            self.finish()
        else:
            self.discard = True  # the replica answered early: drop the rest of the body

    def upstream_broken(self, up: UpstreamConnection) -> None:
        """The replica failed after the head: the client must not see a clean end."""
        self.unbind(up)
        up.abort()
        lease = self.lease
        if lease is not None:
            self.lease = None
            lease.release()
        self.conn.abort()

    def upgraded(self, up: UpstreamConnection, head: bytes, rest: bytes) -> None:
        if not self.upgrade:
            self.upstream_failed(up, "101 Switching Protocols that nobody asked for", False)
            return
        self.response_head(101, head)
        conn = self.conn
        if rest:
            conn.out.append(rest)
        self.state = S_TUNNEL
        tunnel = Tunnel(conn, up, self)
        conn.tunnel = tunnel
        conn.raw_mode = False
        up.tunnel = tunnel

    def tunnel_closed(self) -> None:
        self.resp_done = self.req_done = True
        up = self.upstream
        if up is not None:
            self.unbind(up)
        lease = self.lease
        if lease is not None:
            self.lease = None
            lease.release()
        self.finish()

    def unbind(self, up: UpstreamConnection) -> None:
        self.upstream = None
        up.exchange = None
        conn = self.conn
        if conn.active_up is up:
            conn.active_up = None
        if up.write_paused:
            conn.upstream_write_paused(False)

    # -- endings ----------------------------------------------------------------------------

    def on_timeout(self) -> None:
        self.timer = None
        if self.state == S_DONE or self.resp_started:
            return
        route = self.route
        assert route is not None
        self.fail_reply(504, timeout_message(route.revision, route.timeout))
        self.conn.flush()

    def fail_reply(
        self, status: int, message: str, retry_after: int | None = None, close: bool = False
    ) -> None:
        """Answer with our own error, unless the response has begun: then abort."""
        if self.state == S_DONE:
            return
        self.drop_upstream_side()
        if self.resp_started:
            self.conn.abort()
            return
        close = close or self.should_close() or self.body_pending()
        self.close_after = close
        self.conn.out.append(
            error_response(
                status, message, close=close, head_request=self.is_head, retry_after=retry_after
            )
        )
        self.resp_started = self.resp_done = self.discard = True
        self.counters.count_status(status)
        self.finish()

    def finish(self) -> None:
        state = self.state
        if state == S_DONE:
            return
        self.state = S_DONE
        if self.counted:
            now = self.stop_counting()
            if state != S_TUNNEL:
                ms = (now - self.started) * 1000.0
                self.counters.latency[
                    0 if ms <= _FIRST_BOUND_MS else bisect_left(_BOUNDS_MS, ms)
                ] += 1
        else:
            self.cancel_timer()
        if self.held_len:
            self.conn.held_changed(-self.held_len)
            self.held = []
            self.held_len = 0
        self.conn.exchange_done(self)

    def abort(self) -> None:
        """The client is gone: let go of everything, pool nothing."""
        if self.state == S_DONE:
            return
        tunnel = self.conn.tunnel
        if tunnel is not None and tunnel.exchange is self:
            tunnel.client_lost()
        self.drop_upstream_side()
        self.state = S_DONE
        if self.counted:
            self.stop_counting()
        else:
            self.cancel_timer()

    def cancel_timer(self) -> None:
        timer = self.timer
        if timer is not None:
            self.timer = None
            timer.discard(self)

    def stop_counting(self) -> float:
        """The exchange leaves its revision's in-flight count (and the concurrency
        integral); returns the Clock reading it used."""
        self.cancel_timer()
        self.counted = False
        counters = self.counters
        now = self.engine.now()
        counters.area += counters.in_flight * (now - counters.changed_at)
        counters.changed_at = now
        counters.in_flight -= 1
        return now
