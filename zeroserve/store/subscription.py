"""A watcher's mailbox: latest wins per key, never older than what it already has.

Every push of the store ends here (a memory store offers from its writes; a Redis store
from its pub/sub reader and its periodic resync), so both backends give watchers the
same guarantees:

* per key, only the newest pending item is kept: a slow watcher skips intermediate
  versions of a revision but always gets its newest, and never loses another revision;
* with a ``newer`` rule, an item no newer than the last one offered for its key is
  dropped, so a resync racing a push, or a repeated push, delivers nothing twice;
* ``__anext__`` is safe to cancel (nothing is taken until it returns), so a loop can
  race it against its clock; ``drain`` takes what is pending without waiting;
* ``close`` (by the watcher, or by the store on its own close) ends iteration at once.

Keys are delivered in the order they first became pending.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, Self, TypeVar

T = TypeVar("T")

__all__ = ["Subscription"]


class Subscription(Generic[T]):
    """An async iterator over a flow's updates, for one watcher."""

    __slots__ = ("_closed", "_key", "_last", "_newer", "_on_close", "_pending", "_wakeup")

    def __init__(
        self,
        key: Callable[[T], Hashable],
        *,
        newer: Callable[[T, T], bool] | None = None,
        on_close: Callable[[Subscription[T]], None] | None = None,
    ) -> None:
        self._key = key
        self._newer = newer
        self._on_close = on_close
        self._pending: dict[Hashable, T] = {}
        self._last: dict[Hashable, T] = {}  # the newest offered per key (with ``newer``)
        self._wakeup = asyncio.Event()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> int:
        return len(self._pending)

    def offer(self, item: T) -> bool:
        """Queue ``item`` unless it is no newer than what this watcher has for its key."""
        if self._closed:
            return False
        key = self._key(item)
        if self._newer is not None:
            last = self._last.get(key)
            if last is not None and not self._newer(item, last):
                return False
            self._last[key] = item
        self._pending[key] = item  # an existing key keeps its place in line
        self._wakeup.set()
        return True

    def offer_all(self, items: Iterable[T]) -> None:
        for item in items:
            self.offer(item)

    def drain(self) -> list[T]:
        """Everything pending, oldest key first, without waiting."""
        items = list(self._pending.values())
        self._pending.clear()
        self._wakeup.clear()
        return items

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pending.clear()
        self._last.clear()
        self._wakeup.set()
        if self._on_close is not None:
            self._on_close(self)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        while True:
            if self._closed:
                raise StopAsyncIteration
            if self._pending:
                key = next(iter(self._pending))
                item = self._pending.pop(key)
                if not self._pending:
                    self._wakeup.clear()
                return item
            self._wakeup.clear()
            await self._wakeup.wait()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
