"""Properties of valid decisions over in-range specs (the ranges settings validation allows)."""

from __future__ import annotations

import math
from dataclasses import replace

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autoscaler.decider import DeciderState, Observed, decide, initial_state
from zeroserve.config.scaling import DeciderSpec

T0 = 1_700_000_000.0

PROPERTY = settings(derandomize=True, max_examples=300, deadline=None, database=None)

specs = st.builds(
    DeciderSpec,
    scaling_metric=st.sampled_from(["concurrency", "rps"]),
    target_value=st.floats(0.01, 1000.0),
    total_value=st.floats(0.01, 1000.0),
    target_burst_capacity=st.sampled_from([-1.0, 0.0]) | st.floats(0.01, 1000.0),
    activator_capacity=st.floats(1.0, 1000.0),
    panic_threshold=st.floats(1.1, 10.0),
    stable_window=st.floats(6.0, 3600.0),
    scale_down_delay=st.just(0.0),
    max_scale_up_rate=st.floats(1.01, 1000.0),
    max_scale_down_rate=st.floats(1.01, 1000.0),
    activation_scale=st.integers(1, 10),
    initial_scale=st.integers(0, 10),
    reachable=st.booleans(),
)
loads = st.just(0.0) | st.floats(0.0, 1e5)
readies = st.integers(0, 1000)
nows = st.floats(T0, T0 + 86_400.0)
CALM = DeciderState()


def calm_panic_load(spec: DeciderSpec, ready: int, fraction: float) -> float:
    """A panic-window load below the panic threshold: ceil(P / T) / R < threshold."""
    pods = max(1, ready)
    return fraction * spec.target_value * pods * (spec.panic_threshold - 1.0)


def rate_limits(spec: DeciderSpec, ready: int) -> tuple[int, int]:
    pods = max(1, ready)
    max_up = math.ceil(spec.max_scale_up_rate * pods)
    max_down = math.floor(pods / spec.max_scale_down_rate) if spec.reachable else 0
    return max_down, max_up


@PROPERTY
@given(specs, readies, loads, loads, st.floats(0.0, 1.0), nows)
def test_more_stable_load_never_gives_fewer_replicas(
    spec: DeciderSpec, ready: int, s1: float, s2: float, fraction: float, now: float
) -> None:
    low, high = sorted((s1, s2))
    panic = calm_panic_load(spec, ready, fraction)
    d_low, _ = decide(spec, Observed(low, panic, ready), CALM, now)
    d_high, _ = decide(spec, Observed(high, panic, ready), CALM, now)
    assume(not d_low.panic and not d_high.panic)
    assert d_low.valid and d_high.valid
    assert d_low.desired <= d_high.desired


@PROPERTY
@given(specs, readies, loads, st.floats(0.0, 1.0), nows)
def test_outside_panic_the_decision_stays_within_the_rate_limits(
    spec: DeciderSpec, ready: int, stable: float, fraction: float, now: float
) -> None:
    panic = calm_panic_load(spec, ready, fraction)
    decision, state = decide(spec, Observed(stable, panic, ready), CALM, now)
    assume(not decision.panic)
    assert state is CALM
    max_down, max_up = rate_limits(spec, ready)
    assert decision.desired >= max_down
    if decision.desired > max_up:  # only activation scale may exceed maxUp
        assert decision.desired == spec.activation_scale
        assert stable > 0


@PROPERTY
@given(specs, readies, loads, st.floats(0.0, 1.0), nows)
def test_outside_panic_zero_replicas_only_for_zero_stable_demand(
    spec: DeciderSpec, ready: int, stable: float, fraction: float, now: float
) -> None:
    panic = calm_panic_load(spec, ready, fraction)
    decision, _ = decide(spec, Observed(stable, panic, ready), CALM, now)
    assume(not decision.panic)
    if decision.desired == 0:
        assert stable / spec.target_value <= 0  # IEEE: a subnormal load may divide to 0
    if stable / spec.target_value > 0:
        assert decision.desired >= 1


@PROPERTY
@given(
    specs,
    readies,
    loads,
    loads,
    st.integers(0, 1000),
    st.floats(0.0, 0.99),
    st.sampled_from([0.0, 10.0, 300.0]),
    nows,
)
def test_while_panicking_never_below_max_panic_pods(
    spec: DeciderSpec,
    ready: int,
    stable: float,
    panic: float,
    max_panic_pods: int,
    elapsed: float,
    delay: float,
    now: float,
) -> None:
    spec = replace(spec, scale_down_delay=delay)
    window = initial_state(spec, 0, now)
    state = replace(
        window, panic_time=now - elapsed * spec.stable_window, max_panic_pods=max_panic_pods
    )
    decision, after = decide(spec, Observed(stable, panic, ready), state, now)
    assert decision.panic  # less than a stable window since the panic time
    assert decision.desired >= max_panic_pods
    assert after.max_panic_pods >= max_panic_pods
    assert decision.desired >= after.max_panic_pods
    if after.delay_window is None or not spec.reachable:
        assert decision.desired == after.max_panic_pods


@PROPERTY
@given(
    specs,
    st.one_of(st.none(), loads),
    st.one_of(st.none(), loads),
    st.integers(-5, 1000),
    st.one_of(st.none(), nows),
    nows,
)
def test_an_invalid_tick_returns_the_state_unchanged(
    spec: DeciderSpec,
    stable: float | None,
    panic: float | None,
    ready: int,
    panic_time: float | None,
    now: float,
) -> None:
    assume(stable is None or panic is None or ready < 0)
    state = DeciderState(panic_time, 3, ((850_000_000, 4),), 150)
    decision, after = decide(spec, Observed(stable, panic, ready), state, now)
    assert not decision.valid
    assert after is state


@PROPERTY
@given(
    specs,
    st.integers(0, 50),
    st.floats(0.5, 120.0),
    st.lists(
        st.tuples(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 7.0, 30.0]), loads),
        min_size=1,
        max_size=60,
    ),
)
def test_delay_outputs_the_max_of_the_decisions_in_the_last_buckets(
    spec: DeciderSpec, ready: int, delay: float, steps: list[tuple[float, float]]
) -> None:
    """Checked against a brute-force maximum over the undelayed decisions."""
    plain = replace(spec, reachable=True, scale_down_delay=0.0)
    delayed = replace(plain, scale_down_delay=delay)
    capacity = math.ceil(delay / 2.0)
    state = initial_state(delayed, 0, T0)
    history: list[tuple[int, int]] = []
    now = T0
    for gap, stable in steps:
        now += gap
        undelayed, calm = decide(plain, Observed(stable, 0.0, ready), CALM, now)
        assert calm is CALM and not undelayed.panic
        bucket = int(now) // 2
        history.append((bucket, undelayed.desired))
        decision, state = decide(delayed, Observed(stable, 0.0, ready), state, now)
        expected = max(value for index, value in history if bucket - index < capacity)
        assert decision.desired == expected
