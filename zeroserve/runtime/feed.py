"""Endpoint snapshots to any number of watchers, the latest per revision.

A watcher that falls behind skips intermediate snapshots of a revision, never its latest:
memory stays bounded by the number of revisions, and versions keep the order clear.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from zeroserve.runtime.base import EndpointsSnapshot


class _Subscription:
    __slots__ = ("closed", "event", "pending")

    def __init__(self) -> None:
        self.pending: dict[str, EndpointsSnapshot] = {}
        self.event = asyncio.Event()
        self.closed = False

    def offer(self, snapshot: EndpointsSnapshot) -> None:
        held = self.pending.pop(snapshot.revision, None)
        if held is not None and held.version > snapshot.version:
            snapshot = held
        self.pending[snapshot.revision] = snapshot
        self.event.set()

    def close(self) -> None:
        self.closed = True
        self.event.set()

    async def next(self) -> EndpointsSnapshot | None:
        while not self.pending:
            if self.closed:
                return None
            self.event.clear()
            await self.event.wait()
        revision = next(iter(self.pending))
        return self.pending.pop(revision)


class SnapshotFeed:
    def __init__(self) -> None:
        self._latest: dict[str, EndpointsSnapshot] = {}
        self._subscriptions: set[_Subscription] = set()
        self._closed = False

    def publish(self, snapshot: EndpointsSnapshot) -> None:
        if snapshot.removed:
            self._latest.pop(snapshot.revision, None)
        else:
            self._latest[snapshot.revision] = snapshot
        for subscription in self._subscriptions:
            subscription.offer(snapshot)

    def latest(self, revision: str) -> EndpointsSnapshot | None:
        return self._latest.get(revision)

    def close(self) -> None:
        """Watchers get what is pending, then their iteration ends."""
        self._closed = True
        for subscription in self._subscriptions:
            subscription.close()

    async def watch(self) -> AsyncGenerator[EndpointsSnapshot, None]:
        subscription = _Subscription()
        for snapshot in self._latest.values():
            subscription.offer(snapshot)
        if self._closed:
            subscription.close()
        self._subscriptions.add(subscription)
        try:
            while (update := await subscription.next()) is not None:
                yield update
        finally:
            self._subscriptions.discard(subscription)
