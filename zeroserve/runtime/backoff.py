"""Two schedules, both pure: when to replace a crashed replica, and when to probe a
starting one.

Crash backoff is Clock time (a laptop server that crash-loops should not spin; tests
move it with ``FakeClock``). Probe intervals are real time: a cold start is paid in real
milliseconds, so the first probes come every few ms and back off from there.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff over a revision's crash streak.

    The ``n``-th crash in a row waits ``base * factor**(n-1)`` seconds, at most ``cap``,
    before its replacement starts. A replica that was ready for ``stable_after`` seconds
    before it crashed ends the streak (as Kubernetes forgets a CrashLoopBackOff after a
    healthy while), so an occasional crash is always replaced after ``base``.
    """

    base: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    stable_after: float = 60.0

    def __post_init__(self) -> None:
        if self.base < 0 or self.factor < 1 or self.cap < self.base or self.stable_after < 0:
            raise ValueError(
                "backoff needs base >= 0, factor >= 1, cap >= base, stable_after >= 0; got "
                f"{self.base}, {self.factor}, {self.cap}, {self.stable_after}"
            )

    def delay(self, streak: int) -> float:
        """Seconds before replacing the ``streak``-th crash in a row (0 for none)."""
        if streak <= 0:
            return 0.0
        return _grow(self.base, self.factor, streak - 1, self.cap)

    def next_streak(self, streak: int, ready_for: float | None) -> int:
        """The streak after one more crash of a replica that was ready for ``ready_for``
        seconds (None: it never got ready)."""
        if ready_for is not None and ready_for >= self.stable_after:
            return 1
        return streak + 1


@dataclass(frozen=True, slots=True)
class ProbeSchedule:
    """Real-time gaps between readiness probes of a starting replica: ``first`` seconds,
    then ×``factor`` each time, at most ``cap``. A refused connection costs microseconds,
    so probing often is cheap; the gap is what a cold start pays beyond the predictor's
    own start (less when the predictor prints something: output triggers a probe)."""

    first: float = 0.005
    factor: float = 1.5
    cap: float = 0.2

    def __post_init__(self) -> None:
        if self.first <= 0 or self.factor < 1 or self.cap < self.first:
            raise ValueError(
                "probe schedule needs first > 0, factor >= 1, cap >= first; got "
                f"{self.first}, {self.factor}, {self.cap}"
            )

    def interval(self, attempt: int, period: float | None = None) -> float:
        """The gap after failed attempt number ``attempt`` (0-based), capped by ``cap``
        and by the probe's own ``period`` when given."""
        cap = self.cap if period is None else min(self.cap, period)
        return _grow(self.first, self.factor, max(attempt, 0), cap)


def _grow(start: float, factor: float, steps: int, cap: float) -> float:
    """``min(cap, start * factor**steps)`` without overflowing for long streaks."""
    try:
        return min(cap, start * factor**steps)
    except OverflowError:
        return cap
