"""The collector: stats batches into windows, silence as zero only from live reporters,
and what it does with missing reporters, gaps and pokes."""

from __future__ import annotations

import math
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from autoscaler.collector import StatsCollector
from autoscaler.windows import RevisionWindows
from zeroserve.config.scaling import WindowSpec
from zeroserve.store import Heartbeat, RevisionStats, StatsBatch, StatsCursor, StatsSample

T0 = 1_700_000_000
R = "r-00001"
SPEC = WindowSpec(stable_window=60.0, panic_window=6.0, algorithm="linear")


def batch(
    beats: Sequence[tuple[str, float]] = (),
    samples: Sequence[tuple[str, int, float]] = (),
    *,
    gap: bool = False,
    leaving: Sequence[str] = (),
) -> StatsBatch:
    return StatsBatch(
        heartbeats=tuple(Heartbeat(r, at, 1, r in leaving) for r, at in beats),
        samples=tuple(
            StatsSample(r, second, R, RevisionStats(value, round(value)))
            for r, second, value in samples
        ),
        gap=gap,
    )


def collector(spec: WindowSpec = SPEC) -> StatsCollector:
    c = StatsCollector()
    c.track(R, spec, T0)
    return c


def feed(c: StatsCollector, b: StatsBatch, now: float) -> None:
    c.ingest(b, StatsCursor("0"), now)


def test_reporters_in_one_second_add_up() -> None:
    c = collector()
    feed(c, batch([("a", T0), ("b", T0 + 0.5)], [("a", T0, 3.0), ("b", T0, 4.5)]), T0 + 1)
    assert c.sight.valid and c.sight.horizon == T0
    averages = c.averages(R, "concurrency", T0)
    assert averages is not None and averages.stable == 7.5 and averages.panic == 7.5


def test_the_horizon_is_the_slowest_live_reporter() -> None:
    c = collector()
    feed(c, batch([("a", T0 + 5.2), ("b", T0 + 3.9)]), T0 + 5.5)
    assert c.sight.horizon == T0 + 3


def test_silence_of_live_reporters_is_zero_up_to_the_horizon() -> None:
    c = collector()
    feed(c, batch([("a", T0)], [("a", T0, 60.0)]), T0 + 1)
    for t in range(1, 30):
        feed(c, batch([("a", T0 + t)]), T0 + t + 1)
    averages = c.averages(R, "concurrency", T0 + 30)
    assert averages is not None
    assert averages.stable == math.floor(60.0 / 30 * 1e6) / 1e6  # 1 busy second in 30
    assert averages.panic == 0.0


def test_only_departed_reporters_make_silence_zero_up_to_now() -> None:
    c = collector()
    feed(c, batch([("a", T0)], [("a", T0, 5.0)], leaving=["a"]), T0 + 10.5)
    assert c.sight.valid and c.sight.horizon == T0 + 10


def test_a_missing_reporter_blinds_and_its_return_restarts_the_windows() -> None:
    c = collector()
    feed(c, batch([("a", T0), ("b", T0)], [("a", T0, 8.0)]), T0 + 1)
    assert c.sight.valid
    feed(c, batch([("a", T0 + 2)], [("a", T0 + 2, 8.0)]), T0 + 2.5)  # b: 2.5 s old
    assert not c.sight.valid and c.sight.reason == "reporters missing: b"
    assert c.sight.horizon is None
    feed(c, batch([("a", T0 + 3), ("b", T0 + 3)], [("a", T0 + 3, 8.0)]), T0 + 3.5)
    assert not c.sight.valid and c.sight.recovered
    windows = c.windows(R)
    assert windows is not None and windows.is_empty(T0 + 3.5)  # restarted, batch dropped
    feed(c, batch([("a", T0 + 4), ("b", T0 + 4)], [("b", T0 + 4, 2.0)]), T0 + 4.5)
    assert c.sight.valid and not c.sight.recovered
    averages = c.averages(R, "concurrency", T0 + 4.5)
    assert averages is not None and averages.stable == 2.0  # only known seconds


def test_no_reporter_yet_is_blind_but_not_unknown() -> None:
    c = collector()
    feed(c, batch(), T0)
    assert not c.sight.valid and c.sight.reason == "no reporter has reported yet"
    feed(c, batch([("a", T0 + 1)], [("a", T0 + 1, 1.0)]), T0 + 1.5)
    assert c.sight.valid and not c.sight.recovered  # nothing to restart


def test_a_gap_blinds_and_restarts_the_windows() -> None:
    c = collector()
    feed(c, batch([("a", T0)], [("a", T0, 8.0)]), T0 + 1)
    feed(c, batch([("a", T0 + 50)], [("a", T0 + 50, 8.0)], gap=True), T0 + 50.5)
    assert not c.sight.valid and c.sight.recovered and "gap" in (c.sight.reason or "")
    windows = c.windows(R)
    assert windows is not None and windows.is_empty(T0 + 50.5)
    feed(c, batch([("a", T0 + 51)]), T0 + 51.5)
    assert c.sight.valid


def test_a_lost_cursor_counts_as_a_gap() -> None:
    c = collector()
    c.cursor = StatsCursor("41")
    c.lost_cursor("not a cursor of this store")
    assert c.cursor is None and not c.sight.valid
    feed(c, batch([("a", T0)]), T0 + 0.5)
    assert c.sight.recovered and "cursor" in (c.sight.reason or "")


def test_an_unreachable_store_blinds_without_restarting_anything() -> None:
    c = collector()
    feed(c, batch([("a", T0)], [("a", T0, 8.0)]), T0 + 1)
    c.unreachable("connection refused")
    assert not c.sight.valid and c.sight.reason == "store unreachable: connection refused"
    feed(c, batch([("a", T0 + 1)], [("a", T0 + 1, 8.0)]), T0 + 1.5)
    assert c.sight.valid
    averages = c.averages(R, "concurrency", T0 + 1.5)
    assert averages is not None and averages.stable == 8.0  # both seconds kept


def test_a_poke_counts_once_and_only_where_there_is_no_data() -> None:
    c = collector()
    assert not c.poke("unknown", T0)
    feed(c, batch([("a", T0)], [("a", T0, 3.0)]), T0 + 0.5)
    assert not c.poke(R, T0 + 0.7)  # the second already has a sample
    assert c.poke(R, T0 + 1.2)
    assert not c.poke(R, T0 + 1.9)  # one per second
    averages = c.averages(R, "rps", T0 + 1.9)
    assert averages is not None and averages.stable == 2.0  # (3 + 1) / 2 s


def test_samples_of_untracked_revisions_are_counted_and_dropped() -> None:
    c = StatsCollector()
    feed(c, batch([("a", T0)], [("a", T0, 3.0)]), T0 + 0.5)
    assert c.untracked_samples == 1


@settings(max_examples=120, derandomize=True, deadline=None)
@given(
    panic=st.integers(min_value=1, max_value=8),
    loads=st.lists(
        st.one_of(st.just(0.0), st.integers(min_value=1, max_value=40).map(float)),
        min_size=1,
        max_size=90,
    ),
    reads=st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=40),
)
def test_zero_fill_equals_writing_every_second(
    panic: int, loads: list[float], reads: list[int]
) -> None:
    """Whatever the read rhythm, the windows equal windows written every second (a zero
    where no sample came) — the stepped fill never lets a window start over."""
    spec = WindowSpec(
        stable_window=max(6.0, 2.0 * panic), panic_window=float(panic), algorithm="linear"
    )
    c = collector(spec)
    written: list[tuple[int, float]] = []
    second = 0
    for interval in reads:
        seconds = range(second, min(second + interval, len(loads)))
        if not seconds:
            break
        b = batch(
            [("a", T0 + s + 0.1) for s in seconds],
            [("a", T0 + s, loads[s]) for s in seconds if loads[s]],
        )
        feed(c, b, T0 + seconds[-1] + 1)
        assert c.averages(R, "concurrency", T0 + seconds[-1] + 1) is not None
        if not written:
            first = next((s for s in seconds if loads[s]), seconds[-1])
            written.extend((s, loads[s]) for s in range(first, seconds[-1] + 1))
        else:
            written.extend((s, loads[s]) for s in seconds)
        second = seconds[-1] + 1
    reference = RevisionWindows(spec)
    for s, value in written:
        reference.record(T0 + s, value, round(value))
    assert c.windows(R) == reference
