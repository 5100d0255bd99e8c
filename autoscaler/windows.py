"""Metric windows: Knative's 1-second-bucket averages (knative-kpa §3), fed with timestamps.

A window is an owned accumulator: mutable, but deterministic and never reading a clock
(every call receives ``t`` or ``now`` in epoch seconds, truncated to the second). Each
window is a fixed ring of per-second sums plus the first and last written seconds, so
its memory is set by the window length and never grows with time.

Kept from Knative, on purpose:
* the linear average "rounds" to 6 decimals with ``floor(x·10⁶)/10⁶`` like Go's
  ``roundToNDigits`` (a truncation: 2/3 gives 0.666666);
* the weighted-exponential average is neither normalised nor rounded.

Changed, and why:
* the window total is summed exactly (``math.fsum``) when read instead of kept as a
  running sum: a running sum drifts, and Knative's floor turns a −1e-15 left over by an
  idle window into −0.000001; reading 60 floats every 2 s costs nothing;
* ``resize`` takes ``now`` (Knative reads the wall clock there) and keeps the first
  written second when it is still inside the kept buckets (Knative moves it back to the
  start of the old window, which counts seconds never written as zeros after a grow);
* the algorithm can change live (Knative fixes it at creation): ``RevisionWindows.resize``
  carries the buckets over to the other kind.
"""

from __future__ import annotations

import abc
import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Final, Self

from zeroserve.config.scaling import WindowSpec

__all__ = [
    "Averages",
    "LinearWindow",
    "RevisionWindows",
    "WeightedWindow",
    "Window",
    "WindowError",
    "make_window",
    "smoothing_coefficient",
    "window_class",
]

# Go's math.Pow10(6): the 6 decimals of Knative's linear average.
_PRECISION: Final = 1e6
# Weighted exponential: the weights of one window should add up to 0.9999 (so the
# residual is 0.0001, written as Go's constant arithmetic computes it), and α is never
# below 0.2, which keeps long windows from becoming a plain average.
_RESIDUAL_WEIGHT: Final = 0.0001
_MIN_SMOOTHING: Final = 0.2

LINEAR: Final = "linear"
WEIGHTED_EXPONENTIAL: Final = "weighted-exponential"
_WEIGHTED_NAMES: Final = frozenset({WEIGHTED_EXPONENTIAL, "weightedExponential"})


class WindowError(ValueError):
    """A window length that no ring can hold (not a positive, finite number of seconds)."""


def _bucket_count(window: float) -> int:
    if not (math.isfinite(window) and window > 0):
        raise WindowError(f"a metric window must be a positive number of seconds, was: {window}")
    return math.ceil(window)


def _zeros(n: int) -> array[float]:
    return array("d", bytes(8 * n))


def smoothing_coefficient(buckets: int) -> float:
    """Knative's α: ``max(1 − 0.0001^(1/n), 0.2)`` (60 → 0.2, 40 → 0.2057, 6 → 0.7846)."""
    inferred: float = 1.0 - math.pow(_RESIDUAL_WEIGHT, 1.0 / buckets)
    return max(inferred, _MIN_SMOOTHING)


class Window(abc.ABC):
    """The ring both averages share: recording, emptiness and resizing (knative-kpa §3.3).

    ``_first``/``_last`` are whole seconds, ``None`` until the first write. The ring
    always holds exactly the seconds ``(last − n, last]``: seconds between two writes are
    zeroed as the last write moves forward, so a gap shorter than the window counts as
    zeros, and a gap of a whole window or more wipes everything.
    """

    __slots__ = ("_buckets", "_first", "_last", "_window")

    algorithm: ClassVar[str] = ""

    def __init__(self, window: float) -> None:
        self._window = float(window)
        self._buckets = _zeros(_bucket_count(window))
        self._first: int | None = None
        self._last: int | None = None

    @classmethod
    def from_samples(cls, window: float, samples: Iterable[tuple[float, float]]) -> Self:
        """A window rebuilt from persisted ``(t, value)`` pairs, replayed in time order.

        Replaying what a live window was fed, in the order it was fed (time order, as
        stats arrive), gives an equal window. Replaying only the last window's worth of
        pairs gives the same averages as long as every second was recorded (zeros too).
        """
        built = cls(window)
        for t, value in sorted(samples, key=lambda sample: sample[0]):
            built.record(t, value)
        return built

    @property
    def window(self) -> float:
        return self._window

    @property
    def buckets(self) -> int:
        return len(self._buckets)

    @property
    def first_write(self) -> int | None:
        return self._first

    @property
    def last_write(self) -> int | None:
        return self._last

    def record(self, t: float, value: float) -> None:
        """Add ``value`` to the bucket of second ``t`` (values in one second add up)."""
        second = math.floor(t)
        n = len(self._buckets)
        first, last = self._first, self._last
        if first is None or last is None:
            self._first = self._last = second
        elif second != last:
            if second + self._window <= last:
                return  # older than one window before the last write: dropped
            if second < first:
                self._first = second  # a late value moves the start of the data back
            if second > last:
                buckets = self._buckets
                if second - last >= self._window:
                    for i in range(n):
                        buckets[i] = 0.0
                    self._first = second
                else:
                    for s in range(last + 1, second + 1):
                        buckets[s % n] = 0.0
                self._last = second
        self._buckets[second % n] += value

    def is_empty(self, now: float) -> bool:
        """Nothing written for more than a window (Knative's "no data" for the decider)."""
        last = self._last
        return last is None or math.floor(now) - last > self._window

    @abc.abstractmethod
    def average(self, now: float) -> float:
        """The window's average as seen at ``now``."""

    def resize(self, window: float, now: float) -> None:
        """Change the window length, keeping the newest buckets that fit.

        If nothing was written within the old window before ``now``, the window starts
        over empty, as Knative's does.
        """
        if window == self._window:
            return
        new_n = _bucket_count(window)
        old, old_n = self._buckets, len(self._buckets)
        fresh = _zeros(new_n)
        first, last = self._first, self._last
        if first is None or last is None or math.floor(now) - last > self._window:
            self._first = self._last = None
        else:
            kept = min(new_n, old_n)
            for s in range(last - kept + 1, last + 1):
                fresh[s % new_n] = old[s % old_n]
            self._first = max(first, last - kept + 1)
        self._window = float(window)
        self._buckets = fresh

    def _valid_seconds(self, now_second: int) -> range:
        """Seconds whose buckets hold live data as seen at ``now_second``."""
        assert self._last is not None
        n = len(self._buckets)
        return range(max(self._last, now_second) - n + 1, self._last + 1)

    def _valid_total(self, now_second: int) -> float:
        """The exact sum of the live buckets: at most two slices of the ring, summed in C."""
        seconds = self._valid_seconds(now_second)
        count = len(seconds)
        if count <= 0:
            return 0.0
        buckets = self._buckets
        n = len(buckets)
        if count >= n:
            return math.fsum(buckets)
        start = seconds.start % n
        end = start + count
        if end <= n:
            return math.fsum(buckets[start:end])
        return math.fsum(buckets[start:] + buckets[: end - n])

    def _same_state(self, other: Window) -> bool:
        return (
            self._window == other._window
            and self._first == other._first
            and self._last == other._last
            and self._buckets == other._buckets
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Window)
        return self._same_state(other)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(window={self._window:g}, first={self._first}, "
            f"last={self._last}, buckets={list(self._buckets)})"
        )

    def _copy_into(self, other: Window) -> None:
        other._window = self._window
        other._buckets = array("d", self._buckets)
        other._first = self._first
        other._last = self._last


class LinearWindow(Window):
    """Knative's default: the plain average over the seconds that hold data (§3.3)."""

    __slots__ = ()

    algorithm: ClassVar[str] = LINEAR

    def average(self, now: float) -> float:
        """Average per second, floored to 6 decimals.

        * ``now`` at or before the last write: total / the seconds since the first write
          (at most the window), so a young window is not diluted by seconds never seen;
        * less than a window after it: the buckets that aged out are dropped and the
          window shrinks (the missing trailing seconds are not zeros);
        * a window or more after it: 0.
        """
        first, last = self._first, self._last
        if first is None or last is None:
            return 0.0
        now_second = math.floor(now)
        d = now_second - last
        n = len(self._buckets)
        if d <= 0:
            divisor = min(last - first + 1, n)
        elif d < self._window:
            divisor = min(last - first + 1, n - d)
        else:
            return 0.0
        total = self._valid_total(now_second)
        return math.floor(total / divisor * _PRECISION) / _PRECISION


class WeightedWindow(Window):
    """Knative's ``weighted-exponential``: newer seconds weigh more (§3.4).

    ``Σ bucket·α(1−α)^k`` over the buckets, ``k`` counting seconds back from ``now``
    (seconds after the last write are skipped but still age the weights); no
    normalisation, no partial-window correction, no rounding; empty gives 0.
    """

    __slots__ = ("_alpha",)

    algorithm: ClassVar[str] = WEIGHTED_EXPONENTIAL

    def __init__(self, window: float) -> None:
        super().__init__(window)
        self._alpha = smoothing_coefficient(len(self._buckets))

    @property
    def alpha(self) -> float:
        return self._alpha

    def average(self, now: float) -> float:
        last = self._last
        if last is None or self.is_empty(now):
            return 0.0
        n = len(self._buckets)
        alpha = self._alpha
        decay = 1.0 - alpha
        multiplier = alpha
        count = n
        skipped = math.floor(now) - last
        if skipped > 0:
            multiplier *= math.pow(decay, skipped)
            count -= skipped
        buckets = self._buckets
        result = 0.0
        for k in range(count):
            result += buckets[(last - k) % n] * multiplier
            multiplier *= decay
        return result

    def resize(self, window: float, now: float) -> None:
        super().resize(window, now)
        self._alpha = smoothing_coefficient(len(self._buckets))


def window_class(algorithm: str) -> type[Window]:
    """Knative's choice: ``weighted-exponential`` (or its camelCase alias), else linear."""
    return WeightedWindow if algorithm in _WEIGHTED_NAMES else LinearWindow


def make_window(algorithm: str, window: float) -> Window:
    return window_class(algorithm)(window)


def _convert(window: Window, kind: type[Window]) -> Window:
    if type(window) is kind:
        return window
    converted = kind(window.window)
    window._copy_into(converted)
    return converted


@dataclass(frozen=True, slots=True)
class Averages:
    """Revision-wide totals averaged over the stable and the panic window (§3.1)."""

    stable: float
    panic: float


class _MetricWindows:
    """One metric's stable and panic windows, always fed the same values."""

    __slots__ = ("panic", "stable")

    def __init__(self, spec: WindowSpec) -> None:
        self.stable = make_window(spec.algorithm, spec.stable_window)
        self.panic = make_window(spec.algorithm, spec.panic_window)

    def record(self, t: float, value: float) -> None:
        self.stable.record(t, value)
        self.panic.record(t, value)

    def resize(self, spec: WindowSpec, now: float) -> None:
        kind = window_class(spec.algorithm)
        self.stable = _convert(self.stable, kind)
        self.panic = _convert(self.panic, kind)
        self.stable.resize(spec.stable_window, now)
        self.panic.resize(spec.panic_window, now)

    def averages(self, now: float, empty_as_zero: bool) -> Averages | None:
        if self.stable.is_empty(now):
            return Averages(0.0, 0.0) if empty_as_zero else None
        return Averages(self.stable.average(now), self.panic.average(now))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _MetricWindows):
            return NotImplemented
        return self.stable == other.stable and self.panic == other.panic

    __hash__ = None  # type: ignore[assignment]  # mutable


class RevisionWindows:
    """One revision's windows: stable and panic, for concurrency and for requests.

    ``record`` adds one stat (from any reporter) to its second: several reporters in
    the same second add up to the revision total, as Knative's collector does. The
    panic window length is ``spec.panic_window`` as given (the config layer applies
    Knative's percentage, rounding and 1 s minimum).
    """

    __slots__ = ("_concurrency", "_requests", "_spec")

    def __init__(self, spec: WindowSpec) -> None:
        self._spec = spec
        self._concurrency = _MetricWindows(spec)
        self._requests = _MetricWindows(spec)

    @classmethod
    def from_samples(
        cls, spec: WindowSpec, samples: Iterable[tuple[float, float, float]]
    ) -> RevisionWindows:
        """Rebuilt from persisted ``(t, concurrency, requests)`` stats, replayed in time
        order (what an autoscaler does after a restart)."""
        built = cls(spec)
        for t, concurrency, requests in sorted(samples, key=lambda sample: sample[0]):
            built.record(t, concurrency, requests)
        return built

    @property
    def spec(self) -> WindowSpec:
        return self._spec

    def record(self, t: float, concurrency: float, requests: float) -> None:
        """One stat at ``t``: average in-flight requests and the requests it counted."""
        self._concurrency.record(t, concurrency)
        self._requests.record(t, requests)

    def averages(self, metric: str, now: float, *, empty_as_zero: bool = False) -> Averages | None:
        """Stable and panic averages of ``metric`` ("rps", anything else: concurrency).

        ``None`` when the stable window is empty: no data, so no valid decision. Knative
        answers 0/0 instead when there is no scrape target (TBC = −1): ``empty_as_zero``.
        """
        windows = self._requests if metric == "rps" else self._concurrency
        return windows.averages(now, empty_as_zero)

    def is_empty(self, now: float) -> bool:
        return self._concurrency.stable.is_empty(now)

    def resize(self, spec: WindowSpec, now: float) -> None:
        """Apply a live WindowSpec change, keeping the newest data that fits."""
        self._concurrency.resize(spec, now)
        self._requests.resize(spec, now)
        self._spec = spec

    def windows(self) -> tuple[Window, Window, Window, Window]:
        """Concurrency stable, concurrency panic, requests stable, requests panic."""
        c, r = self._concurrency, self._requests
        return (c.stable, c.panic, r.stable, r.panic)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RevisionWindows):
            return NotImplemented
        return (
            self._spec == other._spec
            and self._concurrency == other._concurrency
            and self._requests == other._requests
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"RevisionWindows(spec={self._spec!r}, windows={self.windows()!r})"
