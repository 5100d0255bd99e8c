"""The two pure schedules: crash backoff (Clock time) and readiness probing (real time)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zeroserve.runtime.backoff import Backoff, ProbeSchedule

EXAMPLES = settings(max_examples=200, derandomize=True, deadline=None)


def test_crash_backoff_doubles_up_to_the_cap() -> None:
    backoff = Backoff(base=0.5, factor=2.0, cap=30.0)
    assert [backoff.delay(n) for n in range(9)] == [0.0, 0.5, 1, 2, 4, 8, 16, 30, 30]
    assert backoff.delay(10**6) == 30.0  # no overflow on a long streak


def test_streak_grows_until_a_replica_stayed_ready_long_enough() -> None:
    backoff = Backoff(stable_after=60.0)
    assert backoff.next_streak(0, None) == 1
    assert backoff.next_streak(3, None) == 4  # never got ready
    assert backoff.next_streak(3, 59.9) == 4  # ready, but not for long
    assert backoff.next_streak(3, 60.0) == 1  # a healthy while ends the streak


@EXAMPLES
@given(
    base=st.floats(0.0, 10.0),
    factor=st.floats(1.0, 100.0),
    extra=st.floats(0.0, 1000.0),
    streak=st.integers(0, 5000),
)
def test_crash_backoff_is_monotonic_and_bounded(
    base: float, factor: float, extra: float, streak: int
) -> None:
    backoff = Backoff(base=base, factor=factor, cap=base + extra)
    assert 0.0 <= backoff.delay(streak) <= backoff.delay(streak + 1) <= backoff.cap
    if streak >= 1:
        assert backoff.delay(streak) >= base


def test_probe_schedule_starts_at_milliseconds_and_backs_off() -> None:
    schedule = ProbeSchedule(first=0.005, factor=1.5, cap=0.2)
    gaps = [schedule.interval(n) for n in range(12)]
    assert gaps[:3] == [0.005, 0.0075, 0.01125]
    assert gaps == sorted(gaps) and gaps[-1] == 0.2
    assert schedule.interval(3, period=0.01) == 0.01  # the probe's own period caps it
    assert schedule.interval(10**6) == 0.2


@pytest.mark.parametrize(
    "kw",
    [{"base": -1.0}, {"factor": 0.5}, {"base": 2.0, "cap": 1.0}, {"stable_after": -1.0}],
)
def test_backoff_refuses_nonsense(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="backoff needs"):
        Backoff(**kw)


@pytest.mark.parametrize("kw", [{"first": 0.0}, {"factor": 0.9}, {"first": 1.0, "cap": 0.5}])
def test_probe_schedule_refuses_nonsense(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="probe schedule needs"):
        ProbeSchedule(**kw)
