"""Idle keep-alive upstream connections, per endpoint, reused last-in first-out.

LIFO keeps the warmest connections busy and lets the cold ones age out. A connection is
never handed out past its idle limit (ours, or under the upstream's Keep-Alive timeout),
so the sweep only reclaims memory; it is not what keeps us out of the close race.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from zeroserve.capacity.lease import Endpoint

if TYPE_CHECKING:
    from zeroserve.proxy.upstream import UpstreamConnection

_MAX_ALIASES = 4096


class UpstreamPool:
    __slots__ = ("_alias", "_idle", "_loop", "closed")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._idle: dict[Endpoint, list[UpstreamConnection]] = {}
        # id(endpoint) → (endpoint, stack): hashing a dataclass runs Python code, and the
        # provider hands out the same Endpoint object for every lease on a replica.
        self._alias: dict[int, tuple[Endpoint, list[UpstreamConnection]]] = {}
        self.closed = False

    def _stack(self, endpoint: Endpoint) -> list[UpstreamConnection]:
        alias = self._alias.get(id(endpoint))
        if alias is not None and alias[0] is endpoint:
            return alias[1]
        stack = self._idle.get(endpoint)
        if stack is None:
            stack = self._idle[endpoint] = []
        if len(self._alias) >= _MAX_ALIASES:
            self._alias.clear()
        self._alias[id(endpoint)] = (endpoint, stack)
        return stack

    def take(self, endpoint: Endpoint) -> UpstreamConnection | None:
        stack = self._stack(endpoint)
        if not stack:
            return None
        now = self._loop.time()
        while stack:
            up = stack.pop()
            if now < up.idle_deadline and not up.closing:
                return up
            up.close()
        return None

    def put(self, up: UpstreamConnection) -> None:
        if self.closed or up.closing or up.idle_limit <= 0:
            up.close()
            return
        up.idle_deadline = self._loop.time() + up.idle_limit
        if up.read_paused:
            up.resume_reading()  # an idle connection must see the upstream's close
        self._stack(up.endpoint).append(up)

    def discard(self, up: UpstreamConnection) -> None:
        stack = self._idle.get(up.endpoint)
        if stack and up in stack:
            stack.remove(up)

    def sweep(self, now: float) -> None:
        """Close idle connections past their limit (stacks stay: aliases point at them)."""
        for stack in self._idle.values():
            if any(now >= up.idle_deadline or up.closing for up in stack):
                keep = [up for up in stack if now < up.idle_deadline and not up.closing]
                for up in stack:
                    if up not in keep:
                        up.close()
                stack[:] = keep

    def idle(self, endpoint: Endpoint | None = None) -> int:
        if endpoint is not None:
            return len(self._idle.get(endpoint, ()))
        return sum(len(stack) for stack in self._idle.values())

    def close(self) -> None:
        self.closed = True
        for stack in self._idle.values():
            for up in stack:
                up.close()
            stack.clear()
