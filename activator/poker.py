"""Flow 2 out of this process: "revision R needs capacity now", so the autoscaler scales
from zero at once instead of at its next tick.

``Poker`` is the capacity tracker's ``on_wait`` callback. The callback only marks the
revision (a dict insert, no task, no I/O: it runs inside ``acquire``); an owned task
sends the pokes. Pokes are coalesced per revision: one poke, then at most one more per
``min_interval`` of Clock time while requests keep waiting, so 10,000 requests held at
once make one poke.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType

from zeroserve.clock import Clock, TimerHandle
from zeroserve.store.base import Store
from zeroserve.store.errors import StoreError

__all__ = ["Poker"]

log = logging.getLogger(__name__)


class Poker:
    def __init__(self, store: Store, clock: Clock, *, min_interval: float = 1.0) -> None:
        if min_interval < 0:
            raise ValueError(f"min_interval must be >= 0, got {min_interval}")
        self._store = store
        self._clock = clock
        self._min_interval = min_interval
        self._pending: dict[str, None] = {}  # revisions with a new waiter, in order
        self._last: dict[str, float] = {}  # Clock time of each revision's last poke
        self._wakeup = asyncio.Event()
        self._timer: TimerHandle | None = None  # wakes the task when a deferred poke is due
        self._timer_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self.sent = 0  # pokes sent, for status pages and tests
        self.failed = 0

    def __call__(self, revision: str) -> None:
        """``CapacityTracker(on_wait=poker)``: a request started waiting for ``revision``."""
        if revision not in self._pending:
            self._pending[revision] = None
            self._wakeup.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def __aenter__(self) -> Poker:
        self._task = asyncio.create_task(self._run(), name="zeroserve-poker")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        task, self._task = self._task, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            await self._poke_due()

    async def _poke_due(self) -> None:
        now = self._clock.now()
        due: list[str] = []
        later = None
        for revision in self._pending:
            next_at = self._last.get(revision, -float("inf")) + self._min_interval
            if next_at <= now:
                due.append(revision)
            elif later is None or next_at < later:
                later = next_at
        for revision in due:
            del self._pending[revision]
            self._last[revision] = now
        # Forget revisions that may be poked again anyway (keeps ``_last`` bounded).
        for revision in [r for r, at in self._last.items() if at + self._min_interval <= now]:
            if revision not in self._pending:
                del self._last[revision]
        if later is not None and (self._timer is None or later < self._timer_at):
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = later
            self._timer = self._clock.call_at(later, self._on_timer)
        for revision in due:
            try:
                await self._store.poke(revision, now)
            except StoreError as exc:
                self.failed += 1
                log.warning("poke for %s not sent: %s", revision, exc)
            else:
                self.sent += 1

    def _on_timer(self) -> None:
        self._timer = None
        self._wakeup.set()
