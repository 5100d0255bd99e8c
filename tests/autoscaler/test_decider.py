"""One row per rule of knative-kpa §1 (and the §5/§8 surprises that concern the decider).

Each row starts from an explicit state at an explicit ``now``; the boundary on each side
of every threshold has its own row. Expected values are worked out by hand in the ids and
comments, from the formulas in the reference.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from autoscaler.decider import (
    INVALID,
    DeciderState,
    Decision,
    Observed,
    decide,
    initial_state,
    retune,
)
from zeroserve.config.scaling import DeciderSpec

NOW = 1_700_000_000.0  # even: bucket boundaries of the delay window fall on it
INT32_MAX = 2**31 - 1
B = int(NOW) // 2  # the delay-window bucket of NOW

# T = 10 per replica so demands are easy to read; TBC 0 keeps EBC out of the way;
# a huge up-rate so that only the rows about it are rate limited.
BASE = DeciderSpec(
    scaling_metric="concurrency",
    target_value=10.0,
    total_value=10.0,
    target_burst_capacity=0.0,
    activator_capacity=100.0,
    panic_threshold=2.0,
    stable_window=60.0,
    scale_down_delay=0.0,
    max_scale_up_rate=1000.0,
    max_scale_down_rate=2.0,
    activation_scale=1,
    initial_scale=1,
    reachable=True,
)
CALM = DeciderState()


def spec(**changes: Any) -> DeciderSpec:
    return replace(BASE, **changes)


# -- stable decisions from a calm state (P = 0: never panics) ---------------------------

# (changes, ready, stable, expected desired)
STABLE_ROWS = [
    # §1.3 step 3, maxUp = ceil(rate × R)
    pytest.param({"max_scale_up_rate": 1.1}, 2, 30.0, 3, id="up-rate-1.1-on-2-pods-gives-3"),
    pytest.param({"max_scale_up_rate": 1.1}, 2, 1000.0, 3, id="up-rate-1.1-caps-at-3"),
    pytest.param({"max_scale_up_rate": 2.0}, 2, 1000.0, 4, id="up-rate-exact-product-4"),
    pytest.param(
        {"max_scale_up_rate": 2.0000001}, 2, 1000.0, 5, id="up-rate-just-above-exact-ceils-to-5"
    ),
    pytest.param({"max_scale_up_rate": 1.5}, 0, 1000.0, 2, id="up-rate-uses-R-1-at-zero-ready"),
    pytest.param({"max_scale_up_rate": 1.5}, 1, 1000.0, 2, id="up-rate-on-one-ready"),
    # maxDown = floor(R / rate) when reachable, else 0
    pytest.param({}, 5, 0.0, 2, id="down-floor-5-over-2-is-2"),
    pytest.param({}, 4, 0.0, 2, id="down-exact-4-over-2-is-2"),
    pytest.param({}, 1, 0.0, 0, id="down-one-ready-reaches-zero"),
    pytest.param({}, 0, 0.0, 0, id="down-zero-ready-uses-R-1-floor-half-is-0"),
    pytest.param({"max_scale_down_rate": 3.0}, 9, 0.0, 3, id="down-rate-3-on-9-is-3"),
    pytest.param({"max_scale_down_rate": 3.0}, 8, 0.0, 2, id="down-rate-3-on-8-is-2"),
    pytest.param({}, 5, 30.0, 3, id="down-demand-above-floor-wins"),
    pytest.param({"reachable": False}, 5, 0.0, 0, id="down-unreachable-no-floor"),
    pytest.param({"reachable": False}, 5, 30.0, 3, id="down-unreachable-demand-kept"),
    # step 4, dspc = ceil(S / T)
    pytest.param({}, 1, 0.0, 0, id="demand-zero-load-zero-pods"),
    pytest.param({}, 1, 1e-9, 1, id="demand-tiny-load-one-pod"),
    pytest.param({}, 1, 10.0, 1, id="demand-exactly-target-one-pod"),
    pytest.param({}, 1, 10.000001, 2, id="demand-just-above-target-two-pods"),
    pytest.param({}, 1, 50.0, 5, id="demand-exact-multiple"),
    pytest.param({}, 1, -5.0, 0, id="demand-negative-load-zero-pods"),
    # IEEE doubles: 0.3 / 0.1 == 2.9999999999999996, 2.1 / 0.7 == 3.0000000000000004
    pytest.param({"target_value": 0.1}, 1, 0.3, 3, id="demand-ieee-quotient-below-integer"),
    pytest.param({"target_value": 0.7}, 1, 2.1, 4, id="demand-ieee-quotient-above-integer"),
    pytest.param(
        {"scaling_metric": "rps", "target_value": 100.0}, 1, 250.0, 3, id="demand-rps-metric"
    ),
    # step 5, clamp: ready 4, up 1.5 → maxUp 6, down 2 → maxDown 2
    pytest.param({"max_scale_up_rate": 1.5}, 4, 5.0, 2, id="clamp-below-max-down"),
    pytest.param({"max_scale_up_rate": 1.5}, 4, 20.0, 2, id="clamp-at-max-down"),
    pytest.param({"max_scale_up_rate": 1.5}, 4, 40.0, 4, id="clamp-inside"),
    pytest.param({"max_scale_up_rate": 1.5}, 4, 60.0, 6, id="clamp-at-max-up"),
    pytest.param({"max_scale_up_rate": 1.5}, 4, 60.1, 6, id="clamp-above-max-up"),
    # step 6, activation scale (after the clamp; zero stays zero)
    pytest.param({"activation_scale": 3}, 0, 5.0, 3, id="activation-lifts-one-pod-to-3"),
    pytest.param({"activation_scale": 3}, 0, 0.0, 0, id="activation-zero-demand-stays-zero"),
    pytest.param({"activation_scale": 3}, 1, 30.0, 3, id="activation-equal-demand"),
    pytest.param({"activation_scale": 3}, 1, 50.0, 5, id="activation-below-demand-no-effect"),
    pytest.param({"activation_scale": 1}, 1, 5.0, 1, id="activation-1-is-off"),
    pytest.param(
        {"activation_scale": 5, "max_scale_up_rate": 1.5},
        1,
        5.0,
        5,
        id="activation-exceeds-max-up-2",
    ),
    pytest.param({"activation_scale": 5}, 4, 0.0, 2, id="activation-not-applied-to-max-down-floor"),
    pytest.param({"activation_scale": 5}, 4, 1.0, 5, id="activation-applied-over-max-down-floor"),
]


@pytest.mark.parametrize(("changes", "ready", "stable", "expected"), STABLE_ROWS)
def test_stable_decision(changes: dict[str, Any], ready: int, stable: float, expected: int) -> None:
    decision, state = decide(spec(**changes), Observed(stable, 0.0, ready), CALM, NOW)
    assert decision == Decision(expected, 0, False, True)
    assert state is CALM


# -- Go float semantics: the decider accepts what Knative's accepts ----------------------

# (changes, ready, stable, panic, expected desired, expected panic)
GO_FLOAT_ROWS = [
    # S / 0 = +Inf → clamped to maxUp = ceil(1000 × 1); P = 0 → 0 / 0 = NaN → not over
    pytest.param({"target_value": 0.0}, 1, 5.0, 0.0, 1000, False, id="zero-target-load-max-up"),
    # NaN everywhere: Go's Max/Min keep NaN, int32(NaN) → 0 (arm64)
    pytest.param({"target_value": 0.0}, 1, 0.0, 0.0, 0, False, id="zero-target-no-load-is-0"),
    pytest.param({"target_value": 0.0}, 1, 0.0, 5.0, 1000, True, id="zero-target-panic-load"),
    # maxUp = 1e13 → int32 saturates
    pytest.param(
        {"max_scale_up_rate": 1e12, "target_value": 1.0},
        10,
        1e15,
        0.0,
        INT32_MAX,
        False,
        id="int32-saturates",
    ),
]


@pytest.mark.parametrize(
    ("changes", "ready", "stable", "panic", "expected", "panics"), GO_FLOAT_ROWS
)
def test_go_float_semantics(
    changes: dict[str, Any], ready: int, stable: float, panic: float, expected: int, panics: bool
) -> None:
    decision, _ = decide(spec(**changes), Observed(stable, panic, ready), CALM, NOW)
    assert (decision.desired, decision.panic, decision.valid) == (expected, panics, True)


# -- panic entry (steps 7–9) from a calm state -----------------------------------------

# (changes, ready, stable, panic, expected desired, expected panic)
PANIC_ENTRY_ROWS = [
    # ready 2, T 10, threshold 2: panic iff ceil(P / 10) / 2 >= 2, i.e. dppc >= 4
    pytest.param({}, 2, 0.0, 40.0, 4, True, id="entry-exactly-at-threshold"),
    pytest.param({}, 2, 0.0, 30.0, 1, False, id="entry-just-below-threshold-dppc-3"),
    pytest.param({}, 2, 0.0, 30.000001, 4, True, id="entry-just-above-in-load-dppc-4"),
    pytest.param({"panic_threshold": 1.5}, 2, 0.0, 30.0, 3, True, id="entry-fraction-1.5-at"),
    pytest.param({"panic_threshold": 1.5}, 2, 0.0, 20.0, 1, False, id="entry-fraction-1.5-below"),
    # maxUp ceil(1.1 × 2) = 3 clamps the panic pods, but the test uses dppc = 4
    pytest.param({"max_scale_up_rate": 1.1}, 2, 0.0, 40.0, 3, True, id="entry-uses-unclamped"),
    pytest.param({}, 0, 0.0, 20.0, 2, True, id="entry-divides-by-R-1-at-zero-ready"),
    pytest.param({}, 0, 0.0, 10.0, 0, False, id="entry-below-at-zero-ready"),
    pytest.param({}, 2, 80.0, 40.0, 8, True, id="entry-stable-larger-than-panic-wins"),
    # activation scale on the panic side: dppc 4 > 0, panic pods 4 < 6 → 6
    pytest.param({"activation_scale": 6}, 2, 0.0, 40.0, 6, True, id="entry-activation-on-panic"),
]


@pytest.mark.parametrize(
    ("changes", "ready", "stable", "panic", "expected", "panics"), PANIC_ENTRY_ROWS
)
def test_panic_entry(
    changes: dict[str, Any], ready: int, stable: float, panic: float, expected: int, panics: bool
) -> None:
    decision, state = decide(spec(**changes), Observed(stable, panic, ready), CALM, NOW)
    assert (decision.desired, decision.panic) == (expected, panics)
    if panics:
        assert state == DeciderState(NOW, expected, None, 0)
    else:
        assert state is CALM


# -- the panic state machine from a given state -----------------------------------------

# (state, ready, stable, panic, now, expected desired, expected state)
PANIC_MACHINE_ROWS = [
    # not over (ready 5, dppc 1); window 60; exit needs panic_time + 60 < now, strictly
    pytest.param(
        DeciderState(NOW - 60.0, 5),
        5,
        10.0,
        10.0,
        NOW,
        5,
        DeciderState(NOW - 60.0, 5),
        id="exit-not-at-exactly-stable-window",
    ),
    pytest.param(
        DeciderState(NOW - 60.25, 5),
        5,
        10.0,
        10.0,
        NOW,
        2,  # stable decision directly: max(dspc 1, floor(5 / 2) = 2)
        CALM,
        id="exit-just-after-stable-window",
    ),
    pytest.param(
        DeciderState(NOW - 62.0, 5),
        5,
        10.0,
        10.0,
        NOW,
        2,
        CALM,
        id="exit-one-tick-after-stable-window",
    ),
    # over (ready 2, dppc 4): the panic time moves forward, even long after the start
    pytest.param(
        DeciderState(NOW - 50.0, 4),
        2,
        0.0,
        40.0,
        NOW,
        4,
        DeciderState(NOW, 4),
        id="over-tick-extends-panic",
    ),
    pytest.param(
        DeciderState(NOW - 100.0, 4),
        2,
        0.0,
        40.0,
        NOW,
        4,
        DeciderState(NOW, 4),
        id="over-tick-after-window-extends-instead-of-exit",
    ),
    # in panic the count never decreases
    pytest.param(
        DeciderState(NOW - 10.0, 7),
        5,
        30.0,
        30.0,
        NOW,
        7,
        DeciderState(NOW - 10.0, 7),
        id="in-panic-max-never-decreases",
    ),
    pytest.param(
        DeciderState(NOW - 10.0, 3),
        5,
        60.0,
        10.0,
        NOW,
        6,
        DeciderState(NOW - 10.0, 6),
        id="in-panic-stable-raises-max",
    ),
    pytest.param(
        DeciderState(NOW - 10.0, 2),
        4,
        0.0,
        70.0,  # dppc 7 / 4 = 1.75: not over, but panic pods 7 count while panicking
        NOW,
        7,
        DeciderState(NOW - 10.0, 7),
        id="in-panic-panic-pods-raise-max-without-over",
    ),
    pytest.param(
        DeciderState(NOW - 10.0, 0),
        0,
        0.0,
        0.0,
        NOW,
        0,
        DeciderState(NOW - 10.0, 0),
        id="in-panic-zero-demand-zero-max-holds-zero",
    ),
    pytest.param(
        DeciderState(0.0, 3),
        3,
        0.0,
        0.0,
        30.0,
        3,
        DeciderState(0.0, 3),
        id="panic-time-zero-is-a-real-instant",
    ),
]


@pytest.mark.parametrize(
    ("state", "ready", "stable", "panic", "now", "expected", "after"), PANIC_MACHINE_ROWS
)
def test_panic_state_machine(
    state: DeciderState,
    ready: int,
    stable: float,
    panic: float,
    now: float,
    expected: int,
    after: DeciderState,
) -> None:
    decision, new_state = decide(BASE, Observed(stable, panic, ready), state, now)
    assert decision.desired == expected
    assert decision.panic == (after.panic_time is not None)
    assert new_state == after


# -- scale-down delay (step 10, §1.4) -------------------------------------------------

# Ready stays 1 and P = 0, so the undelayed decision is ceil(S / 10).
# (delay, reachable, [(now, stable)], expected desired per tick)
DELAY_ROWS = [
    pytest.param(
        300.0,
        True,
        [(2.0, 40.0)] + [(float(t), 0.0) for t in range(4, 303, 2)],
        [4] * 150 + [0],  # still 4 at t=300 (149 buckets later), 0 at t=302 (150)
        id="kpa-example-5m-4-at-2s-then-0s",
    ),
    pytest.param(
        300.0, True, [(2.0, 20.0), (4.0, 50.0)], [2, 5], id="scale-up-passes-through-at-once"
    ),
    pytest.param(300.0, False, [(2.0, 40.0), (4.0, 0.0)], [4, 0], id="unreachable-bypasses-delay"),
    # one bucket: not the same as no window, several decisions in a bucket count as max
    pytest.param(
        1.0,
        True,
        [(100.0, 40.0), (101.5, 10.0), (102.0, 10.0)],
        [4, 4, 1],
        id="one-bucket-same-bucket-max",
    ),
    # capacity = ceil(delay / 2): 3 s and 4 s → 2 buckets, 4.5 s → 3 buckets
    pytest.param(
        3.0, True, [(100.0, 40.0), (102.0, 0.0), (104.0, 0.0)], [4, 4, 0], id="capacity-ceil-3s"
    ),
    pytest.param(
        4.0, True, [(100.0, 40.0), (102.0, 0.0), (104.0, 0.0)], [4, 4, 0], id="capacity-exact-4s"
    ),
    pytest.param(
        4.5,
        True,
        [(100.0, 40.0), (102.0, 0.0), (104.0, 0.0), (106.0, 0.0)],
        [4, 4, 4, 0],
        id="capacity-ceil-4.5s",
    ),
    # a descending staircase steps down one recorded value at a time
    pytest.param(
        4.0,
        True,
        [(100.0, 50.0), (102.0, 30.0), (104.0, 10.0), (106.0, 0.0), (108.0, 0.0)],
        [5, 5, 3, 1, 0],
        id="descending-staircase",
    ),
    # a later, higher value replaces older lower ones
    pytest.param(
        4.0,
        True,
        [(100.0, 20.0), (102.0, 40.0), (104.0, 0.0), (106.0, 0.0)],
        [2, 4, 4, 0],
        id="higher-value-supersedes-older",
    ),
    # Go: int(now.Unix()) / 2 truncates toward zero: -3 s and -2 s are both bucket -1
    pytest.param(
        1.0,
        True,
        [(-3.0, 40.0), (-2.0, 10.0), (-0.5, 10.0)],
        [4, 4, 1],  # -0.5 s → Unix() -1 → bucket 0
        id="negative-time-divides-toward-zero",
    ),
]


@pytest.mark.parametrize(("delay", "reachable", "ticks", "expected"), DELAY_ROWS)
def test_scale_down_delay(
    delay: float, reachable: bool, ticks: list[tuple[float, float]], expected: list[int]
) -> None:
    the_spec = spec(scale_down_delay=delay, reachable=reachable)
    state = initial_state(the_spec, 1, ticks[0][0])
    got = []
    for now, stable in ticks:
        decision, state = decide(the_spec, Observed(stable, 0.0, 1), state, now)
        got.append(decision.desired)
    assert got == expected
    if not reachable:
        assert state.delay_window == ()  # unreachable ticks record nothing


def test_delay_window_keeps_only_candidate_maxima() -> None:
    """Equal or lower older values can never be the max again: the window stays small."""
    the_spec = spec(scale_down_delay=300.0)
    state = initial_state(the_spec, 1, NOW)
    for k, stable in enumerate([40.0, 40.0, 30.0, 30.0, 30.0, 20.0]):
        _, state = decide(the_spec, Observed(stable, 0.0, 1), state, NOW + 2.0 * k)
    assert state.delay_window == ((B + 1, 4), (B + 4, 3), (B + 5, 2))


def test_a_tick_that_changes_nothing_returns_the_same_state() -> None:
    the_spec = spec(scale_down_delay=300.0)
    _, state = decide(the_spec, Observed(40.0, 0.0, 1), initial_state(the_spec, 1, NOW), NOW)
    for now, stable in [(NOW + 0.5, 40.0), (NOW + 1.5, 20.0)]:  # same bucket, not higher
        decision, after = decide(the_spec, Observed(stable, 0.0, 1), state, now)
        assert decision.desired == 4
        assert after is state
    _, after = decide(the_spec, Observed(40.0, 0.0, 1), state, NOW + 2.0)  # next bucket
    assert after.delay_window == ((B + 1, 4),)


def test_delay_window_records_the_panic_decision() -> None:
    """The window sees the post-panic count, so a held panic is also delayed."""
    the_spec = spec(scale_down_delay=10.0)  # 5 buckets
    state = DeciderState(NOW - 59.0, 6, (), 5)
    decision, state = decide(the_spec, Observed(10.0, 10.0, 6), state, NOW)
    assert (decision.desired, decision.panic) == (6, True)
    decision, state = decide(the_spec, Observed(10.0, 10.0, 6), state, NOW + 2.0)
    assert (decision.desired, decision.panic) == (6, False)  # panic over, delay holds 6
    assert state.delay_window == (
        (int(NOW) // 2, 6),
        (int(NOW) // 2 + 1, 3),  # max(dspc 1, floor(6 / 2))
    )


# -- excess burst capacity (step 11) ---------------------------------------------------

# (changes, ready, stable, panic, expected EBC)
EBC_ROWS = [
    pytest.param({"target_burst_capacity": 0.0}, 3, 0.0, 1000.0, 0, id="tbc-0-is-0"),
    pytest.param({"target_burst_capacity": -1.0}, 3, 0.0, 0.0, -1, id="tbc-minus-1-is-minus-1"),
    pytest.param({"target_burst_capacity": -5.0}, 3, 0.0, 0.0, -1, id="tbc-negative-is-minus-1"),
    # kpa doc: TV 100, TBC 211 at zero load
    pytest.param(
        {"total_value": 100.0, "target_burst_capacity": 211.0}, 2, 0.0, 0.0, -11, id="doc-2-pods"
    ),
    pytest.param(
        {"total_value": 100.0, "target_burst_capacity": 211.0}, 3, 0.0, 0.0, 89, id="doc-3-pods"
    ),
    pytest.param(
        {"total_value": 100.0, "target_burst_capacity": 211.0},
        0,
        0.0,
        0.0,
        -211,
        id="real-ready-0-not-R-1",
    ),
    pytest.param(
        {"total_value": 100.0, "target_burst_capacity": 211.0},
        2,
        0.0,
        0.5,
        -12,
        id="floor-not-truncation",
    ),
    pytest.param(
        {"total_value": 100.0, "target_burst_capacity": 211.0},
        3,
        0.0,
        0.5,
        88,
        id="floor-positive",
    ),
    pytest.param(
        {"total_value": 100.0, "target_burst_capacity": 211.0},
        3,
        1000.0,
        0.0,
        89,
        id="uses-panic-value-not-stable",
    ),
    # the sign boundary: 100 - 0.5 - 99.5 == 0.0; 100 - 0.5 - 99.6 < 0
    pytest.param(
        {"total_value": 100.0, "target_burst_capacity": 0.5},
        1,
        0.0,
        99.5,
        0,
        id="sign-boundary-zero",
    ),
    pytest.param(
        {"total_value": 100.0, "target_burst_capacity": 0.5},
        1,
        0.0,
        99.6,
        -1,
        id="sign-boundary-just-below",
    ),
    pytest.param(
        {"total_value": 1e12, "target_burst_capacity": 1.0},
        10,
        0.0,
        0.0,
        INT32_MAX,
        id="int32-saturates",
    ),
]


@pytest.mark.parametrize(("changes", "ready", "stable", "panic", "expected"), EBC_ROWS)
def test_excess_burst_capacity(
    changes: dict[str, Any], ready: int, stable: float, panic: float, expected: int
) -> None:
    state = DeciderState(NOW, ready)  # panicking, so the panic load changes nothing else
    decision, _ = decide(spec(**changes), Observed(stable, panic, ready), state, NOW)
    assert decision.valid
    assert decision.excess_burst_capacity == expected


# -- invalid ticks (steps 1–2) -----------------------------------------------------------

BUSY = DeciderState(NOW - 10.0, 4, ((850_000_000 - 1, 4),), 150)

# (observed, state)
INVALID_ROWS = [
    pytest.param(Observed(None, 5.0, 2), CALM, id="no-stable-data"),
    pytest.param(Observed(5.0, None, 2), CALM, id="no-panic-data"),
    pytest.param(Observed(None, None, 2), CALM, id="no-data"),
    pytest.param(Observed(5.0, 5.0, -1), CALM, id="pod-counter-error"),
    pytest.param(Observed(None, None, 0), BUSY, id="no-data-while-panicking-with-delay"),
    pytest.param(Observed(0.0, 0.0, -1), BUSY, id="pod-counter-error-while-panicking"),
]


@pytest.mark.parametrize(("observed", "state"), INVALID_ROWS)
def test_invalid_tick_changes_nothing(observed: Observed, state: DeciderState) -> None:
    the_spec = spec(scale_down_delay=300.0, target_burst_capacity=211.0)
    decision, new_state = decide(the_spec, observed, state, NOW)
    assert decision == INVALID == Decision(0, 0, False, False)
    assert new_state is state


def test_zero_is_data_not_missing_data() -> None:
    decision, _ = decide(BASE, Observed(0.0, 0.0, 0), CALM, NOW)
    assert decision == Decision(0, 0, False, True)


# -- construction (§1.2) --------------------------------------------------------------

# (changes, ready, expected state)
INITIAL_ROWS = [
    pytest.param({}, 0, DeciderState(None, 0, None, 0), id="zero-ready-calm"),
    pytest.param({}, 1, DeciderState(None, 1, None, 0), id="one-ready-calm"),
    pytest.param({}, 2, DeciderState(NOW, 2, None, 0), id="two-ready-start-in-panic"),
    pytest.param({}, 3, DeciderState(NOW, 3, None, 0), id="three-ready-start-in-panic"),
    pytest.param({}, -1, DeciderState(None, 0, None, 0), id="pod-counter-error-counts-as-0"),
    pytest.param({"scale_down_delay": 300.0}, 0, DeciderState(None, 0, (), 150), id="delay-5m"),
    pytest.param({"scale_down_delay": 2.0}, 0, DeciderState(None, 0, (), 1), id="delay-2s"),
    pytest.param({"scale_down_delay": 3.0}, 0, DeciderState(None, 0, (), 2), id="delay-3s"),
    pytest.param({"scale_down_delay": 0.5}, 0, DeciderState(None, 0, (), 1), id="delay-half-s"),
    pytest.param({"scale_down_delay": -1.0}, 0, DeciderState(None, 0, None, 0), id="delay-neg"),
    pytest.param(
        {"scale_down_delay": float("nan")}, 0, DeciderState(None, 0, None, 0), id="delay-nan"
    ),
]


@pytest.mark.parametrize(("changes", "ready", "expected"), INITIAL_ROWS)
def test_initial_state(changes: dict[str, Any], ready: int, expected: DeciderState) -> None:
    assert initial_state(spec(**changes), ready, NOW) == expected


# -- retune --------------------------------------------------------------------------

HISTORY = ((B - 100, 9), (B - 20, 5), (B - 1, 3))

# (state, old changes, new changes, expected state)
RETUNE_ROWS = [
    pytest.param(
        DeciderState(NOW - 10.0, 7),
        {},
        {"panic_threshold": 3.0, "stable_window": 30.0},
        DeciderState(NOW - 10.0, 7),
        id="panic-kept-on-threshold-and-window-change",
    ),
    pytest.param(
        DeciderState(NOW - 10.0, 7),
        {},
        {"target_value": 20.0},
        DeciderState(NOW - 10.0, 7),
        id="max-panic-pods-not-rescaled-on-target-change",
    ),
    pytest.param(
        DeciderState(NOW - 10.0, 7),
        {},
        {"scale_down_delay": 300.0},
        DeciderState(NOW - 10.0, 7, (), 150),
        id="delay-from-0-creates-empty-window",
    ),
    pytest.param(
        DeciderState(NOW - 10.0, 7, HISTORY, 150),
        {"scale_down_delay": 300.0},
        {"scale_down_delay": 0.0},
        DeciderState(NOW - 10.0, 7, None, 0),
        id="delay-to-0-removes-window",
    ),
    pytest.param(
        DeciderState(None, 0, HISTORY, 150),
        {"scale_down_delay": 300.0},
        {"scale_down_delay": 60.0},
        DeciderState(None, 0, HISTORY, 30),
        id="delay-shrunk-keeps-history-until-next-record",
    ),
    pytest.param(
        DeciderState(None, 0, HISTORY, 150),
        {"scale_down_delay": 300.0},
        {"scale_down_delay": 600.0},
        DeciderState(None, 0, HISTORY, 300),
        id="delay-grown-keeps-history",
    ),
]


@pytest.mark.parametrize(("state", "old", "new", "expected"), RETUNE_ROWS)
def test_retune(
    state: DeciderState, old: dict[str, Any], new: dict[str, Any], expected: DeciderState
) -> None:
    assert retune(state, spec(**old), spec(**new)) == expected


def test_retune_without_state_change_returns_the_same_state() -> None:
    state = DeciderState(NOW, 3, HISTORY, 150)
    old = spec(scale_down_delay=300.0)
    assert retune(state, old, replace(old, target_value=99.0, reachable=False)) is state


def test_retune_composes_unless_the_window_was_removed() -> None:
    state = DeciderState(NOW, 3, HISTORY, 150)
    delays = [0.0, 1.0, 60.0, 300.0, 600.0]
    for a in delays:
        for b in delays:
            for c in delays:
                sa, sb, sc = (spec(scale_down_delay=d) for d in (a, b, c))
                start = retune(state, spec(scale_down_delay=300.0), sa)
                via_b = retune(retune(start, sa, sb), sb, sc)
                if b > 0:
                    assert via_b == retune(start, sa, sc)
                else:  # a delay of 0 dropped the history for good
                    assert via_b == retune(replace(start, delay_window=None), sa, sc)
                    assert via_b.delay_window == (None if c == 0 else ())


def test_retune_shrunk_delay_drops_old_history_at_next_record() -> None:
    """After 300 s → 60 s (30 buckets), the 9 and 5 recorded 100 and 20 buckets ago go."""
    old, new = spec(scale_down_delay=300.0), spec(scale_down_delay=60.0)
    state = retune(DeciderState(None, 0, HISTORY, 150), old, new)
    decision, state = decide(new, Observed(10.0, 0.0, 1), state, NOW)
    assert decision.desired == 5  # 9 aged out (100 ≥ 30), 5 is 20 buckets old (< 30)
    assert state.delay_window == ((B - 20, 5), (B - 1, 3), (B, 1))

    unchanged, state2 = decide(
        old, Observed(10.0, 0.0, 1), DeciderState(None, 0, HISTORY, 150), NOW
    )
    assert unchanged.desired == 9  # without the retune the 9 would still hold
    assert state2.delay_window == (*HISTORY, (B, 1))


def test_retune_shorter_window_shortens_the_panic_hold() -> None:
    state = DeciderState(NOW - 40.0, 6)
    calm_load = Observed(10.0, 10.0, 6)
    held, _ = decide(BASE, calm_load, state, NOW)
    assert held.panic and held.desired == 6
    short = spec(stable_window=30.0)
    released, after = decide(short, calm_load, retune(state, BASE, short), NOW)
    assert not released.panic and released.desired == 3  # floor(6 / 2)
    assert after == CALM


def test_retune_higher_threshold_judges_the_next_tick() -> None:
    """dppc 4 on 2 ready is over 200 % but not over 300 %: the panic time stops moving."""
    state = DeciderState(NOW - 10.0, 4)
    load = Observed(0.0, 40.0, 2)
    _, extended = decide(BASE, load, state, NOW)
    assert extended.panic_time == NOW
    higher = spec(panic_threshold=3.0)
    decision, kept = decide(higher, load, retune(state, BASE, higher), NOW)
    assert decision.panic and decision.desired == 4
    assert kept.panic_time == NOW - 10.0
