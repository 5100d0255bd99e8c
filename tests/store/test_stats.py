"""Stats records and the liveness rule: pure, table-driven, time as data."""

from __future__ import annotations

import math

import pytest

from zeroserve.clock import FakeClock
from zeroserve.store import InvalidRecord, RevisionStats
from zeroserve.store.stats import (
    LATENCY_BUCKETS_MS,
    MISSING_AFTER,
    Heartbeat,
    Liveness,
    latency_bucket,
    latest_heartbeats,
    reporter_liveness,
)

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("latency_ms", "bucket"),
    [
        (0.0, 0),
        (5.0, 0),  # bounds are inclusive, like Prometheus' le
        (5.001, 1),
        (10.0, 1),
        (99.9, 4),
        (250.0, 5),
        (10_000.0, 10),
        (10_000.1, 11),
        (math.inf, 11),
    ],
)
def test_latency_bucket(latency_ms: float, bucket: int) -> None:
    assert latency_bucket(latency_ms) == bucket
    assert latency_ms <= LATENCY_BUCKETS_MS[bucket]
    assert bucket == 0 or latency_ms > LATENCY_BUCKETS_MS[bucket - 1]


def test_latency_bounds_are_fixed_and_end_with_infinity() -> None:
    assert list(LATENCY_BUCKETS_MS) == sorted(set(LATENCY_BUCKETS_MS))
    assert LATENCY_BUCKETS_MS[-1] == math.inf and len(LATENCY_BUCKETS_MS) == 12


@pytest.mark.parametrize(
    "fields",
    [
        {"concurrency": -0.1},
        {"concurrency": math.nan},
        {"concurrency": math.inf},
        {"requests": -1},
        {"status_2xx": -1},
        {"status_5xx": -1},
        {"latency": (0,) * 11},
        {"latency": (0,) * 11 + (-1,)},
        {"in_flight": (("iris-1", -1),)},
    ],
)
def test_revision_stats_refuse_impossible_values(fields: dict[str, object]) -> None:
    base: dict[str, object] = {"concurrency": 1.0, "requests": 1}
    with pytest.raises(InvalidRecord):
        RevisionStats(**{**base, **fields})  # type: ignore[arg-type]


def test_revision_stats_default_to_no_responses() -> None:
    stats = RevisionStats(0.25, 1)
    assert stats.latency == (0,) * len(LATENCY_BUCKETS_MS)
    assert (stats.status_2xx, stats.status_5xx, stats.in_flight) == (0, 0, ())


# -- liveness -----------------------------------------------------------------------------


def beat(reporter: str, age: float, *, leaving: bool = False) -> Heartbeat:
    return Heartbeat(reporter, NOW - age, 1, leaving)


@pytest.mark.parametrize(
    ("beats", "live", "missing", "departed"),
    [
        ([], "", "", ""),
        ([beat("a", 0.0)], "a", "", ""),
        ([beat("a", 1.99)], "a", "", ""),
        ([beat("a", 2.0)], "", "a", ""),  # 2 s without a heartbeat: missing
        ([beat("a", 119.9)], "", "a", ""),
        ([beat("a", 120.0)], "", "", ""),  # older than anything retained: forgotten
        ([beat("a", -3.0)], "a", "", ""),  # a reporter's clock ahead of ours
        ([beat("a", 0.0, leaving=True)], "", "", "a"),
        ([beat("a", 50.0, leaving=True)], "", "", "a"),
        ([beat("a", 120.0, leaving=True)], "", "", ""),
        ([beat("a", 5.0), beat("a", 0.5)], "a", "", ""),  # the newest beat decides
        ([beat("a", 0.5), beat("a", 5.0)], "a", "", ""),  # in whatever order they come
        ([beat("a", 5.0, leaving=True), beat("a", 1.0)], "a", "", ""),  # came back
        ([beat("a", 5.0), beat("a", 1.0, leaving=True)], "", "", "a"),
        ([beat("a", 0.1), beat("b", 3.0), beat("c", 1.0, leaving=True)], "a", "b", "c"),
    ],
)
def test_liveness_table(beats: list[Heartbeat], live: str, missing: str, departed: str) -> None:
    assert reporter_liveness(beats, NOW) == Liveness(
        frozenset(live), frozenset(missing), frozenset(departed)
    )


@pytest.mark.parametrize(
    ("age", "missing_after", "forget_after", "expected"),
    [
        (4.9, 5.0, 60.0, "live"),
        (5.0, 5.0, 60.0, "missing"),
        (59.0, 5.0, 60.0, "missing"),
        (60.0, 5.0, 60.0, "forgotten"),
        (1e9, 2.0, math.inf, "missing"),  # never forget
    ],
)
def test_liveness_thresholds_are_parameters(
    age: float, missing_after: float, forget_after: float, expected: str
) -> None:
    result = reporter_liveness(
        [beat("a", age)], NOW, missing_after=missing_after, forget_after=forget_after
    )
    state = {"live": result.live, "missing": result.missing}
    found = [name for name, members in state.items() if "a" in members]
    assert found == ([] if expected == "forgotten" else [expected])


async def test_a_reporter_that_falls_silent_goes_missing_then_forgotten() -> None:
    clock = FakeClock(NOW)
    beats: list[Heartbeat] = []
    for _ in range(5):
        beats.append(Heartbeat("gw-1", clock.now(), 4))
        beats.append(Heartbeat("gw-2", clock.now(), 4))
        await clock.advance(1)
    beats.append(Heartbeat("gw-2", clock.now(), 4))  # gw-1 fell silent a second ago

    def sort() -> Liveness:
        return reporter_liveness(beats, clock.now())

    assert sort().live == {"gw-1", "gw-2"}
    await clock.advance(MISSING_AFTER / 2 - 0.5)  # gw-1 silent for 1.5 s: still live
    assert sort().live == {"gw-1", "gw-2"}
    await clock.advance(0.5)
    assert sort().live == {"gw-2"} and sort().missing == {"gw-1"}
    await clock.advance(1)
    assert sort().missing == {"gw-1", "gw-2"}
    await clock.advance(200)
    assert sort() == Liveness(frozenset(), frozenset(), frozenset())


def test_latest_heartbeats_keeps_the_newest_and_the_later_on_a_tie() -> None:
    first, second = Heartbeat("a", NOW, 1), Heartbeat("a", NOW, 2)
    older = Heartbeat("a", NOW - 1, 3)
    assert latest_heartbeats([first, second, older]) == {"a": second}
    assert latest_heartbeats([older, Heartbeat("b", NOW, 1)])["a"] is older
