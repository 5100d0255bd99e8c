"""One clock for everything that has a window, a grace period, a timeout or a backoff.

Pure code never reads a clock: it receives ``now``. Loops and timers receive one injected
``Clock``, so tests can run minutes of scaling behaviour in microseconds with ``FakeClock``.
Socket timeouts and probe intervals are not the Clock's business: they are real time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Seconds since the epoch, and timers on that time line."""

    def now(self) -> float: ...

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle: ...

    async def sleep(self, seconds: float) -> None: ...

    async def sleep_until(self, when: float) -> None: ...


class RealClock:
    """Wall-clock time; timers run on the event loop's monotonic timer (immune to jumps)."""

    def now(self) -> float:
        return time.time()

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        loop = asyncio.get_running_loop()
        return loop.call_later(max(0.0, when - time.time()), callback)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def sleep_until(self, when: float) -> None:
        await asyncio.sleep(max(0.0, when - time.time()))


class _FakeTimer:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """Simulated time that only moves when a test calls ``advance``.

    ``advance`` fires due timers in time order, letting the event loop run the code they
    wake between steps, so a loop that sleeps 2 s per tick ticks exactly once per 2 s.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, _FakeTimer]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        timer = _FakeTimer(when, callback)
        heapq.heappush(self._timers, (when, next(self._seq), timer))
        return timer

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self._now + max(0.0, seconds))

    async def sleep_until(self, when: float) -> None:
        if when <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        handle = self.call_at(when, wake)
        try:
            await future
        finally:
            handle.cancel()

    def pending(self) -> int:
        """Timers not yet fired or cancelled (for tests that assert nothing is left)."""
        return sum(1 for _, _, t in self._timers if not t.cancelled)

    def next_deadline(self) -> float | None:
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    async def settle(self, rounds: int = 5) -> None:
        """Let callbacks and tasks woken so far run to their next wait."""
        for _ in range(rounds):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing every timer due on the way, in order."""
        target = self._now + seconds
        await self.settle()
        while True:
            due = self.next_deadline()
            if due is None or due > target:
                break
            _, _, timer = heapq.heappop(self._timers)
            self._now = max(self._now, due)
            timer.callback()
            await self.settle()
        self._now = target
        await self.settle()
