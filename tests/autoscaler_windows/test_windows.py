"""Metric windows (knative-kpa §3.3, §3.4): tables with explicit ``now``, a dict-based
model to diff the rings against, memory bounds, rebuild and resize."""

from __future__ import annotations

import gc
import math
import random
import sys
import tracemalloc
from collections.abc import Iterable
from dataclasses import dataclass
from types import FunctionType, ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoscaler.windows import (
    Averages,
    LinearWindow,
    RevisionWindows,
    WeightedWindow,
    Window,
    WindowError,
    make_window,
    smoothing_coefficient,
)
from zeroserve.config.scaling import WindowSpec

LINEAR_SPEC = WindowSpec(stable_window=60.0, panic_window=6.0, algorithm="linear")
WEIGHTED_SPEC = WindowSpec(stable_window=60.0, panic_window=6.0, algorithm="weighted-exponential")

Samples = list[tuple[float, float]]


def linear(window: float, samples: Iterable[tuple[float, float]]) -> LinearWindow:
    w = LinearWindow(window)
    for t, v in samples:
        w.record(t, v)
    return w


def ones(start: int, stop: int, value: float = 1.0) -> Samples:
    return [(float(t), value) for t in range(start, stop)]


# --- §3.3 linear average ------------------------------------------------------------


@dataclass(frozen=True)
class AverageCase:
    id: str
    window: float
    samples: Samples
    now: float
    expected: float


LINEAR_CASES = [
    AverageCase("never-written", 60, [], 0, 0.0),
    AverageCase("one-second", 60, [(5, 7.0)], 5, 7.0),
    # During the first window the divisor is the seconds since the first write.
    AverageCase("first-window-divisor", 60, [(0, 10.0), (1, 20.0), (2, 30.0)], 2, 20.0),
    AverageCase(
        "divisor-capped-at-window", 60, [(float(t), float(t)) for t in range(100)], 99, 69.5
    ),
    AverageCase("gap-counts-as-zeros", 60, [(0, 6.0), (5, 6.0)], 5, 2.0),
    # Ring holds 11..70: 49 ones, ten zeroed gap seconds, one more one.
    AverageCase("gap-zeros-in-full-window", 60, [*ones(0, 60), (70, 1.0)], 70, 0.833333),
    # Trailing missing seconds shrink the window instead of counting as zeros.
    AverageCase("trailing-gap-shrinks", 60, ones(0, 60), 70, 1.0),
    AverageCase(
        "trailing-gap-drops-aged-buckets",
        60,
        [(float(t), float(t)) for t in range(60)],
        65,
        32.5,  # seconds 0..5 aged out: the mean of 6..59 over 54 seconds
    ),
    AverageCase("trailing-gap-young-window", 60, [(0, 6.0), (1, 6.0)], 10, 6.0),
    AverageCase("trailing-gap-last-second", 60, [(0, 6.0)], 59, 6.0),
    AverageCase("window-after-last-is-zero", 60, [(0, 6.0)], 60, 0.0),
    AverageCase("long-after-last-is-zero", 60, [(0, 6.0)], 500, 0.0),
    AverageCase("now-before-last-write", 60, [(0, 3.0), (10, 3.0)], 5, 0.545454),
    AverageCase("gap-of-a-window-wipes", 60, [(0, 100.0), (60, 1.0)], 60, 1.0),
    AverageCase("gap-under-a-window-keeps", 60, [(0, 100.0), (59, 1.0)], 59, 1.683333),
    AverageCase("late-value-added", 60, [(10, 4.0), (5, 2.0)], 10, 1.0),
    AverageCase("late-value-moves-first-back", 60, [(10, 1.0), (5, 1.0), (12, 1.0)], 12, 0.375),
    AverageCase("late-value-just-inside-window", 60, [(100, 6.0), (41, 6.0)], 100, 0.2),
    AverageCase("late-value-a-window-old-dropped", 60, [(100, 6.0), (40, 6.0)], 100, 6.0),
    # Go's roundToNDigits floors: 2/3 → 0.666666, not 0.666667.
    AverageCase("six-decimals-floored", 60, [(0, 1.0), (1, 1.0), (2, 0.0)], 2, 0.666666),
    AverageCase("below-a-millionth-is-zero", 60, [*ones(0, 60, 0.0), (59, 5e-5)], 59, 0.0),
    AverageCase("subsecond-times-share-a-bucket", 60, [(10.2, 1.0), (10.9, 2.0)], 10.5, 3.0),
    AverageCase("values-in-one-second-add", 60, [(3, 1.0), (3, 1.0), (3, 1.0)], 3, 3.0),
    AverageCase("fractional-window-gap-kept", 6.5, [(0, 7.0), (6, 7.0)], 6, 2.0),
    AverageCase("fractional-window-gap-wipes", 6.5, [(0, 7.0), (7, 7.0)], 7, 7.0),
    AverageCase("panic-window", 6, [(float(t), float(t)) for t in range(20)], 19, 16.5),
]


@pytest.mark.parametrize("case", LINEAR_CASES, ids=lambda c: c.id)
def test_linear_average(case: AverageCase) -> None:
    assert linear(case.window, case.samples).average(case.now) == case.expected


@pytest.mark.parametrize(
    ("samples", "now", "empty"),
    [
        pytest.param([], 0, True, id="never-written"),
        pytest.param([(0, 1.0)], 0, False, id="just-written"),
        pytest.param([(0, 1.0)], 60, False, id="exactly-a-window-later"),
        pytest.param([(0, 1.0)], 60.9, False, id="same-second-truncated"),
        pytest.param([(0, 1.0)], 61, True, id="more-than-a-window-later"),
    ],
)
def test_linear_is_empty(samples: Samples, now: float, empty: bool) -> None:
    assert linear(60, samples).is_empty(now) is empty


# --- §3.4 weighted exponential ------------------------------------------------------


@pytest.mark.parametrize(
    ("buckets", "alpha"),
    [
        pytest.param(60, 0.2, id="60"),
        pytest.param(40, 0.2057, id="40"),
        pytest.param(6, 0.7846, id="6"),
    ],
)
def test_smoothing_coefficient(buckets: int, alpha: float) -> None:
    assert round(smoothing_coefficient(buckets), 4) == alpha
    assert round(WeightedWindow(buckets).alpha, 4) == alpha


def weighted_expected(values_newest_first: list[float], alpha: float, skipped: int) -> float:
    return sum(v * alpha * (1 - alpha) ** (k + skipped) for k, v in enumerate(values_newest_first))


A6 = smoothing_coefficient(6)
RAMP = [(float(t), float(t)) for t in range(6)]  # 0..5 at seconds 0..5


@pytest.mark.parametrize(
    ("window", "samples", "now", "expected"),
    [
        pytest.param(6, RAMP, 5, weighted_expected([5, 4, 3, 2, 1, 0], A6, 0), id="full"),
        pytest.param(
            6, RAMP, 3, weighted_expected([5, 4, 3, 2, 1, 0], A6, 0), id="now-before-last"
        ),
        # Seconds after the last write are skipped but still age the weights.
        pytest.param(6, RAMP, 7, weighted_expected([5, 4, 3, 2], A6, 2), id="two-seconds-later"),
        pytest.param(6, RAMP, 11, 0.0, id="a-window-later"),
        pytest.param(6, RAMP, 12, 0.0, id="empty"),
        pytest.param(60, [(0, 10.0)], 0, 2.0, id="alpha-0.2"),
        pytest.param(60, [(0, 10.0)], 1, 1.6, id="alpha-0.2-aged"),
        # No normalisation: a constant 1 over a full window weighs 1 − 0.0001.
        pytest.param(6, [(float(t), 1.0) for t in range(6)], 5, 0.9999, id="not-normalised"),
        pytest.param(6, [], 0, 0.0, id="never-written"),
    ],
)
def test_weighted_average(window: float, samples: Samples, now: float, expected: float) -> None:
    w = WeightedWindow(window)
    for t, v in samples:
        w.record(t, v)
    assert w.average(now) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_weighted_average_is_not_rounded() -> None:
    w = WeightedWindow(60)
    w.record(0, 1.0)
    assert w.average(0) == 0.2
    w.record(0, 1e-7)
    assert w.average(0) == pytest.approx(0.2 + 2e-8, rel=1e-12)


# --- a dict model of §3.3/§3.4 to diff the rings against ----------------------------


class ModelWindow:
    """The same rules over a dict of seconds (no ring, no index arithmetic)."""

    def __init__(self, window: float) -> None:
        self.window = window
        self.n = math.ceil(window)
        self.sums: dict[int, float] = {}
        self.first: int | None = None
        self.last: int | None = None

    def record(self, t: float, v: float) -> None:
        s = math.floor(t)
        if self.first is None or self.last is None:
            self.first = self.last = s
        elif s != self.last:
            if s <= self.last - self.window:
                return
            self.first = min(self.first, s)
            if s > self.last:
                if s - self.last >= self.window:
                    self.sums.clear()
                    self.first = s
                self.last = s
        self.sums[s] = self.sums.get(s, 0.0) + v

    def live(self, lo: int) -> list[float]:
        assert self.last is not None
        return [v for s, v in sorted(self.sums.items()) if lo < s <= self.last]

    def linear(self, now: float) -> float:
        if self.first is None or self.last is None:
            return 0.0
        ns = math.floor(now)
        d = ns - self.last
        span = self.last - self.first + 1
        if d <= 0:
            lo, div = self.last - self.n, min(span, self.n)
        elif d < self.window:
            lo, div = ns - self.n, min(span, self.n - d)
        else:
            return 0.0
        return math.floor(math.fsum(self.live(lo)) / div * 1e6) / 1e6

    def weighted(self, now: float) -> float:
        if self.last is None or math.floor(now) - self.last > self.window:
            return 0.0
        alpha = smoothing_coefficient(self.n)
        ns = math.floor(now)
        newest = max(ns, self.last)
        return sum(
            self.sums.get(s, 0.0) * alpha * (1 - alpha) ** (newest - s)
            for s in range(newest - self.n + 1, self.last + 1)
        )


stat_times = st.integers(min_value=0, max_value=400).map(float) | st.floats(
    min_value=0, max_value=400, allow_nan=False
)
stat_values = st.integers(min_value=0, max_value=40).map(lambda k: k / 4)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    window=st.sampled_from([1.0, 2.5, 6.0, 60.0]),
    samples=st.lists(st.tuples(stat_times, stat_values), max_size=60),
    probes=st.lists(st.integers(min_value=-70, max_value=70), min_size=1, max_size=6),
)
def test_rings_agree_with_the_model(window: float, samples: Samples, probes: list[int]) -> None:
    lin, wei, model = LinearWindow(window), WeightedWindow(window), ModelWindow(window)
    for t, v in samples:  # arrival order, so late values and drops happen
        lin.record(t, v)
        wei.record(t, v)
        model.record(t, v)
    assert (lin.first_write, lin.last_write) == (model.first, model.last)
    base = model.last if model.last is not None else 0
    for offset in probes:
        now = base + offset
        assert lin.average(now) == model.linear(now)
        assert wei.average(now) == pytest.approx(model.weighted(now), rel=1e-9, abs=1e-12)
        assert lin.is_empty(now) is (model.last is None or now - model.last > window)


# --- the per-revision bundle ---------------------------------------------------------


def test_reporters_in_one_second_add_up() -> None:
    w = RevisionWindows(LINEAR_SPEC)
    for _reporter in range(3):
        w.record(10.4, 1.5, 2.0)
    assert w.averages("concurrency", 10) == Averages(4.5, 4.5)
    assert w.averages("rps", 10) == Averages(6.0, 6.0)


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        pytest.param("concurrency", Averages(1.0, 1.0), id="concurrency"),
        pytest.param("rps", Averages(10.0, 10.0), id="rps"),
        pytest.param("cpu", Averages(1.0, 1.0), id="anything-else-is-concurrency"),
    ],
)
def test_metric_selection(metric: str, expected: Averages) -> None:
    w = RevisionWindows(LINEAR_SPEC)
    w.record(0, 1.0, 10.0)
    assert w.averages(metric, 0) == expected


def test_stable_and_panic_windows() -> None:
    w = RevisionWindows(LINEAR_SPEC)
    for t in range(60):
        w.record(t, 1.0 if t < 54 else 10.0, 0.0)
    assert w.averages("concurrency", 59) == Averages(1.9, 10.0)


@pytest.mark.parametrize(
    ("now", "expected", "as_zero"),
    [
        pytest.param(0, Averages(3.0, 3.0), Averages(3.0, 3.0), id="fresh"),
        pytest.param(30, Averages(3.0, 0.0), Averages(3.0, 0.0), id="panic-aged-out"),
        # A window after the last write: average 0, but still not "no data".
        pytest.param(60, Averages(0.0, 0.0), Averages(0.0, 0.0), id="a-window-later"),
        pytest.param(61, None, Averages(0.0, 0.0), id="stable-empty-no-data"),
    ],
)
def test_no_data_when_stable_window_is_empty(
    now: float, expected: Averages | None, as_zero: Averages
) -> None:
    w = RevisionWindows(LINEAR_SPEC)
    w.record(0, 3.0, 3.0)
    assert w.averages("concurrency", now) == expected
    assert w.averages("concurrency", now, empty_as_zero=True) == as_zero
    assert w.is_empty(now) is (expected is None)


def test_never_recorded_is_no_data() -> None:
    w = RevisionWindows(LINEAR_SPEC)
    assert w.averages("rps", 0) is None
    assert w.averages("concurrency", 0, empty_as_zero=True) == Averages(0.0, 0.0)


@pytest.mark.parametrize(
    ("algorithm", "kind"),
    [
        pytest.param("linear", LinearWindow, id="linear"),
        pytest.param("", LinearWindow, id="empty-is-linear"),
        pytest.param("weighted-exponential", WeightedWindow, id="weighted"),
        pytest.param("weightedExponential", WeightedWindow, id="weighted-alias"),
    ],
)
def test_algorithm_choice(algorithm: str, kind: type[Window]) -> None:
    spec = WindowSpec(stable_window=60.0, panic_window=6.0, algorithm=algorithm)
    windows = RevisionWindows(spec).windows()
    assert [type(w) for w in windows] == [kind] * 4
    assert [w.buckets for w in windows] == [60, 6, 60, 6]
    assert type(make_window(algorithm, 6)) is kind


@pytest.mark.parametrize("window", [0.0, -1.0, math.nan, math.inf], ids=str)
def test_window_length_must_be_positive(window: float) -> None:
    with pytest.raises(WindowError):
        LinearWindow(window)
    with pytest.raises(WindowError):
        LinearWindow(60).resize(window, 0)


# --- bounded memory ------------------------------------------------------------------


def deep_size(root: object) -> int:
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (type, ModuleType, FunctionType)):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


@pytest.mark.parametrize("spec", [LINEAR_SPEC, WEIGHTED_SPEC], ids=["linear", "weighted"])
def test_an_hour_of_data_does_not_grow_the_windows(spec: WindowSpec) -> None:
    w = RevisionWindows(spec)
    for t in range(600):  # past the small-int cache, so first and last sizes settle
        w.record(t + 0.5, 2.0, 3.0)
    size_after_ten_minutes = deep_size(w)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for t in range(600, 3600):
            for reporter in range(3):
                w.record(t + reporter / 4, 2.0 + reporter, 3.0)
            if t % 2 == 0:
                w.averages("concurrency", t)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert deep_size(w) == size_after_ten_minutes
    assert after - before < 1024
    assert [x.buckets for x in w.windows()] == [60, 6, 60, 6]
    averages = w.averages("concurrency", 3599)  # three reporters: 2 + 3 + 4 each second
    assert averages is not None
    if spec is LINEAR_SPEC:
        assert averages == Averages(9.0, 9.0)
    else:
        assert averages.stable == pytest.approx(9 * (1 - 0.8**60))
        assert averages.panic == pytest.approx(9 * 0.9999)


# --- rebuild from persisted pairs ----------------------------------------------------


stats = st.tuples(
    st.integers(min_value=0, max_value=3000).map(lambda q: q / 4),  # quarter seconds
    st.integers(min_value=0, max_value=20).map(lambda k: k / 2),
    st.integers(min_value=0, max_value=20).map(float),
)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(
    spec=st.sampled_from([LINEAR_SPEC, WEIGHTED_SPEC]),
    samples=st.lists(stats, max_size=80),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_rebuild_from_pairs_equals_the_live_windows(
    spec: WindowSpec, samples: list[tuple[float, float, float]], seed: int
) -> None:
    live = RevisionWindows(spec)
    for t, c, r in sorted(samples, key=lambda s: s[0]):  # stats arrive in time order
        live.record(t, c, r)
    shuffled = list(samples)
    random.Random(seed).shuffle(shuffled)  # the store may return them in any order
    rebuilt = RevisionWindows.from_samples(spec, shuffled)
    assert rebuilt == live
    last = max((math.floor(t) for t, _, _ in samples), default=0)
    for now in (last - 3, last, last + 2, last + 7, last + 59, last + 61):
        for metric in ("concurrency", "rps"):
            assert rebuilt.averages(metric, now) == live.averages(metric, now)


@pytest.mark.parametrize("spec", [LINEAR_SPEC, WEIGHTED_SPEC], ids=["linear", "weighted"])
def test_rebuild_from_the_last_window_of_pairs(spec: WindowSpec) -> None:
    """The store keeps one stable window; recorded every second, that is enough."""
    pairs = [(float(t), float(t % 7), float(t % 5)) for t in range(3600)]
    live = RevisionWindows.from_samples(spec, pairs)
    rebuilt = RevisionWindows.from_samples(spec, pairs[-60:])
    assert live.windows()[0].first_write == 0
    assert rebuilt.windows()[0].first_write == 3540
    for now in range(3590, 3662):
        for metric in ("concurrency", "rps"):
            assert rebuilt.averages(metric, now) == live.averages(metric, now), now


def test_window_from_samples_sorts_by_time() -> None:
    # Arriving last, 5 is a window older than the last write (70) and is dropped; replayed
    # in time order it counts, and the seconds from 5 on are known zeros: 2/60, not 2/41.
    pairs = [(30.0, 1.0), (70.0, 1.0), (5.0, 1.0)]
    rebuilt = LinearWindow.from_samples(60, pairs)
    assert rebuilt == linear(60, sorted(pairs))
    arrival = linear(60, pairs)
    assert (rebuilt.first_write, arrival.first_write) == (5, 30)
    assert (rebuilt.average(70), arrival.average(70)) == (0.033333, 0.04878)
    assert isinstance(WeightedWindow.from_samples(6, pairs), WeightedWindow)


# --- resize --------------------------------------------------------------------------


def test_shrink_keeps_the_newest_buckets() -> None:
    w = linear(60, [(float(t), float(t)) for t in range(60)])
    w.resize(6, now=59)
    assert (w.window, w.buckets) == (6.0, 6)
    assert w.average(59) == 56.5  # mean of 54..59
    assert w == linear(6, [(float(t), float(t)) for t in range(54, 60)])


def test_grow_keeps_data_and_its_divisor() -> None:
    w = linear(6, ones(0, 20))
    w.resize(60, now=19)
    assert w.buckets == 60
    assert w.first_write == 14  # the kept seconds, not the start of the run
    assert w.average(19) == 1.0
    w.record(20, 1.0)
    assert w.average(20) == 1.0


def test_grow_a_young_window_keeps_its_first_write() -> None:
    # Knative would move the first write back to 7 and give 9/6 = 1.5.
    w = linear(6, [(10, 3.0), (11, 3.0), (12, 3.0)])
    w.resize(60, now=12)
    assert w.first_write == 10
    assert w.average(12) == 3.0


@pytest.mark.parametrize(
    ("now", "kept"),
    [
        pytest.param(60, True, id="a-window-after-last-keeps"),
        pytest.param(61, False, id="stale-starts-over"),
    ],
)
def test_resize_of_a_stale_window(now: float, kept: bool) -> None:
    w = linear(60, [(0, 5.0)])
    w.resize(30, now=now)
    assert (w.first_write, w.last_write) == ((0, 0) if kept else (None, None))
    assert w.average(0) == (5.0 if kept else 0.0)
    w.record(-10, 1.0)  # late for the kept data, or the first write of a new start
    assert w.first_write == -10
    assert w.average(0) == (0.545454 if kept else 1.0)  # 6/11, or 1/1 of a new window


def test_resize_to_the_same_window_changes_nothing() -> None:
    w = linear(60, ones(0, 10))
    before = repr(w)
    w.resize(60.0, now=500)
    assert repr(w) == before


def test_weighted_resize_recomputes_alpha() -> None:
    w = WeightedWindow(60)
    w.record(0, 10.0)
    w.resize(6, now=0)
    assert round(w.alpha, 4) == 0.7846
    assert w.average(0) == pytest.approx(10 * w.alpha)


def test_revision_windows_resize_live() -> None:
    w = RevisionWindows(LINEAR_SPEC)
    for t in range(60):
        w.record(t, float(t), 1.0)
    new_spec = WindowSpec(stable_window=30.0, panic_window=3.0, algorithm="linear")
    w.resize(new_spec, now=59)
    assert w.spec == new_spec
    assert [x.buckets for x in w.windows()] == [30, 3, 30, 3]
    assert w.averages("concurrency", 59) == Averages(44.5, 58.0)  # means of 30..59, 57..59
    assert w.averages("rps", 59) == Averages(1.0, 1.0)


def test_revision_windows_change_algorithm_live() -> None:
    w = RevisionWindows(LINEAR_SPEC)
    for t in range(6):
        w.record(t, float(t), 0.0)
    w.resize(WindowSpec(stable_window=60.0, panic_window=6.0, algorithm="weighted-exponential"), 5)
    stable, panic, _, _ = w.windows()
    assert isinstance(stable, WeightedWindow) and isinstance(panic, WeightedWindow)
    averages = w.averages("concurrency", 5)
    assert averages is not None
    assert averages.panic == pytest.approx(weighted_expected([5, 4, 3, 2, 1, 0], A6, 0))
    assert averages.stable == pytest.approx(weighted_expected([5, 4, 3, 2, 1, 0], 0.2, 0))
