"""Bounds (knative-kpa §5): min/max/initial scale, the scale-to-zero gate, route mode,
activator count and the Active condition. Tables with explicit ``now``; a few whole
lifecycles; invariants over random call sequences."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoscaler.bounds import (
    ACTIVATION_TIMEOUT_BUFFER,
    BoundsInput,
    BoundsState,
    Phase,
    Reason,
    ScaleOutcome,
    activator_count,
    bound,
    initial_bounds_state,
    route_mode,
)
from zeroserve.config.scaling import BoundsSpec, RouteMode

SERVE, PROXY = RouteMode.SERVE, RouteMode.PROXY
ACTIVATING, ACTIVE, INACTIVE = Phase.ACTIVATING, Phase.ACTIVE, Phase.INACTIVE

# Knative's defaults (initial-scale 1, TBC 211, grace 30 s, stable window 60 s,
# progress deadline 600 s), containerConcurrency 0 → total value 100.
DEFAULT = BoundsSpec(
    min_scale=0,
    max_scale=0,
    initial_scale=1,
    enable_scale_to_zero=True,
    scale_to_zero_grace_period=30.0,
    scale_to_zero_pod_retention_period=0.0,
    stable_window=60.0,
    progress_deadline=600.0,
    reachable=True,
    container_concurrency=0,
    total_value=100.0,
    target_burst_capacity=211.0,
    activator_capacity=100.0,
)


def spec(**changes: Any) -> BoundsSpec:
    return dataclasses.replace(DEFAULT, **changes)


def state(
    phase: Phase = ACTIVE,
    since: float = 0.0,
    proxy_since: float | None = None,
    reached: bool = True,
) -> BoundsState:
    return BoundsState(
        phase=phase, phase_since=since, proxy_since=proxy_since, reached_initial=reached
    )


@dataclass(frozen=True)
class Case:
    """One call. ``expect`` lists only the outcome fields the row is about."""

    id: str
    now: float
    desired: int
    before: BoundsState
    expect: dict[str, Any]
    spec: BoundsSpec = DEFAULT
    ready: int = 1
    ebc: int = 0
    split: bool = False
    after: dict[str, Any] = field(default_factory=dict)


def run(case: Case) -> tuple[ScaleOutcome, BoundsState]:
    inp = BoundsInput(
        desired=case.desired, excess_burst_capacity=case.ebc, ready=case.ready, split=case.split
    )
    return bound(case.spec, inp, case.before, case.now)


def check(case: Case) -> None:
    outcome, after = run(case)
    got = {name: getattr(outcome, name) for name in case.expect}
    assert got == case.expect
    got_after = {name: getattr(after, name) for name in case.after}
    assert got_after == case.after


# --- min, max, initial scale (§5.3 step 2) ------------------------------------------

BOUNDS_CASES = [
    Case("desired-passes", 10, 3, state(), {"replicas": 3, "want": 3, "reason": Reason.DESIRED}),
    Case(
        "min-raises",
        10,
        1,
        state(),
        {"replicas": 2, "reason": Reason.MIN_SCALE},
        spec=spec(min_scale=2),
    ),
    Case(
        "min-equal-passes",
        10,
        2,
        state(),
        {"replicas": 2, "reason": Reason.DESIRED},
        spec=spec(min_scale=2),
    ),
    Case(
        "min-holds-zero-demand",
        10,
        0,
        state(since=0),
        {"replicas": 1, "want": 1, "reason": Reason.MIN_SCALE},
        spec=spec(min_scale=1),
    ),
    Case(
        "max-clamps",
        10,
        6,
        state(),
        {"replicas": 5, "reason": Reason.MAX_SCALE},
        spec=spec(max_scale=5),
    ),
    Case(
        "max-equal-passes",
        10,
        5,
        state(),
        {"replicas": 5, "reason": Reason.DESIRED},
        spec=spec(max_scale=5),
    ),
    Case("max-zero-is-no-cap", 10, 1000, state(), {"replicas": 1000, "reason": Reason.DESIRED}),
    Case(
        "max-clamps-with-min-set",
        10,
        9,
        state(),
        {"replicas": 3, "reason": Reason.MAX_SCALE},
        spec=spec(min_scale=2, max_scale=3),
    ),
    Case(  # validation forbids it; Knative's order makes min win
        "min-above-max-wins",
        10,
        1,
        state(),
        {"replicas": 4, "reason": Reason.MIN_SCALE},
        spec=spec(min_scale=4, max_scale=3),
    ),
    Case(
        "initial-until-reached",
        10,
        1,
        state(ACTIVATING, reached=False),
        {"replicas": 3, "reason": Reason.INITIAL_SCALE},
        spec=spec(initial_scale=3),
    ),
    Case(
        "initial-released-once-reached",
        10,
        1,
        state(reached=True),
        {"replicas": 1, "reason": Reason.DESIRED},
        spec=spec(initial_scale=3),
    ),
    Case(
        "initial-below-min-is-min",
        10,
        0,
        state(ACTIVATING, reached=False),
        {"replicas": 4, "reason": Reason.MIN_SCALE},
        spec=spec(initial_scale=2, min_scale=4),
    ),
    Case(
        "initial-above-desired-only",
        10,
        5,
        state(ACTIVATING, reached=False),
        {"replicas": 5, "reason": Reason.DESIRED},
        spec=spec(initial_scale=3),
    ),
    # Adapted: Knative's Deployment starts with initial-scale replicas; ours asks for 1.
    Case(
        "initial-one-starts-one",
        10,
        0,
        state(ACTIVATING, reached=False),
        {"replicas": 1, "want": 1, "reason": Reason.INITIAL_SCALE},
    ),
    Case(
        "initial-zero-starts-nothing",
        10,
        0,
        state(ACTIVATING, since=0, reached=False),
        {"replicas": None, "want": -1, "reason": Reason.AWAITING_ACTIVATION},
        spec=spec(initial_scale=0),
        ready=0,
        after={"phase": INACTIVE, "reached_initial": True},
    ),
    Case(
        "unreachable-ignores-initial",
        10,
        1,
        state(ACTIVATING, reached=False),
        {"replicas": 1, "reason": Reason.DESIRED},
        spec=spec(initial_scale=3, reachable=False),
    ),
    Case(
        "unreachable-ignores-min",
        10,
        1,
        state(),
        {"replicas": 1, "reason": Reason.DESIRED},
        spec=spec(min_scale=3, reachable=False),
    ),
    Case(
        "unreachable-min-lets-it-deactivate",
        60,
        0,
        state(ACTIVE, since=0),
        {"replicas": None, "want": 0, "reason": Reason.DEACTIVATING},
        spec=spec(min_scale=3, reachable=False),
    ),
]


@pytest.mark.parametrize("case", BOUNDS_CASES, ids=lambda c: c.id)
def test_min_max_initial(case: Case) -> None:
    check(case)


# --- unknown decisions ----------------------------------------------------------------

UNKNOWN_CASES = [
    Case(
        "active-keeps-replicas",
        10,
        -1,
        state(ACTIVE, since=0),
        {"replicas": None, "want": -1, "reason": Reason.UNKNOWN_DECISION, "recheck_at": None},
        spec=spec(min_scale=3, max_scale=5),
        ready=3,
        after={"phase": ACTIVE, "phase_since": 0.0},
    ),
    Case(
        "activating-past-deadline-keeps-replicas",
        10_000,
        -1,
        state(ACTIVATING, since=0, reached=False),
        {"replicas": None, "reason": Reason.UNKNOWN_DECISION},
        spec=spec(initial_scale=3),
        ready=0,
        after={"phase": ACTIVATING},
    ),
    Case(
        "inactive-keeps-replicas-and-stays-inactive",
        10_000,
        -1,
        state(INACTIVE, since=0, proxy_since=0),
        {"replicas": None, "mode": PROXY},
        ready=1,
        after={"phase": INACTIVE, "phase_since": 0.0},
    ),
    Case(
        "active-unknown-is-served-with-burst-room",
        10,
        -1,
        state(ACTIVE),
        {"mode": SERVE},
        ready=2,
        ebc=0,
    ),
    Case(
        "active-unknown-no-burst-room-is-proxied",
        10,
        -1,
        state(ACTIVE),
        {"mode": PROXY},
        ready=2,
        ebc=-111,
    ),
]


@pytest.mark.parametrize("case", UNKNOWN_CASES, ids=lambda c: c.id)
def test_unknown_decision_keeps_replicas(case: Case) -> None:
    check(case)


# --- the scale-to-zero gate (§5.3 step 3) -----------------------------------------------

DEADLINE = 600.0 + ACTIVATION_TIMEOUT_BUFFER

GATE_CASES = [
    Case(
        "scale-to-zero-disabled",
        10_000,
        0,
        state(INACTIVE, since=0, proxy_since=0),
        {"replicas": 1, "want": 1, "reason": Reason.SCALE_TO_ZERO_DISABLED},
        spec=spec(enable_scale_to_zero=False),
    ),
    Case(
        "scale-to-zero-disabled-active",
        1,
        0,
        state(ACTIVE, since=0),
        {"replicas": 1, "want": 1, "reason": Reason.SCALE_TO_ZERO_DISABLED},
        spec=spec(enable_scale_to_zero=False),
        after={"phase": ACTIVE},
    ),
    # Activating: wait until the progress deadline + 30 s, then give up to 0.
    Case(
        "activating-before-deadline-waits",
        100 + DEADLINE - 0.1,
        0,
        state(ACTIVATING, since=100),
        {
            "replicas": None,
            "want": -1,
            "reason": Reason.AWAITING_ACTIVATION,
            "recheck_at": 100 + DEADLINE,
        },
        ready=0,
        after={"phase": ACTIVATING, "phase_since": 100.0},
    ),
    Case(
        "activating-at-deadline-times-out",
        100 + DEADLINE,
        0,
        state(ACTIVATING, since=100),
        {"replicas": 0, "want": 0, "reason": Reason.ACTIVATION_TIMED_OUT, "mode": PROXY},
        ready=0,
        after={"phase": INACTIVE, "phase_since": 100 + DEADLINE},
    ),
    Case(
        "activating-own-progress-deadline",
        130,
        0,
        state(ACTIVATING, since=0),
        {"replicas": 0, "reason": Reason.ACTIVATION_TIMED_OUT},
        spec=spec(progress_deadline=100.0),
        ready=0,
    ),
    Case(
        "activating-own-progress-deadline-just-before",
        129.9,
        0,
        state(ACTIVATING, since=0),
        {"replicas": None, "recheck_at": 130.0},
        spec=spec(progress_deadline=100.0),
        ready=0,
    ),
    # Active: held at 1 for a stable window after becoming active, then deactivated.
    Case(
        "active-less-than-a-stable-window-held-at-1",
        159.9,
        0,
        state(ACTIVE, since=100),
        {
            "replicas": 1,
            "want": 1,
            "reason": Reason.HELD_UNTIL_STABLE_WINDOW,
            "recheck_at": 160.0,
        },
        ready=3,
        after={"phase": ACTIVE, "phase_since": 100.0},
    ),
    Case(
        "active-a-stable-window-deactivates",
        160,
        0,
        state(ACTIVE, since=100),
        {"replicas": None, "want": 0, "reason": Reason.DEACTIVATING, "mode": PROXY},
        ready=1,
        after={"phase": INACTIVE, "phase_since": 160.0, "proxy_since": 160.0},
    ),
    Case(
        "active-window-from-the-spec",
        130,
        0,
        state(ACTIVE, since=100),
        {"reason": Reason.DEACTIVATING},
        spec=spec(stable_window=30.0),
    ),
    # Deactivating: when to look again for the last replica.
    Case(
        "deactivating-already-proxied-recheck-now",
        60,
        0,
        state(ACTIVE, since=0, proxy_since=0),
        {"recheck_at": 60.0},
        ebc=-111,
        after={"proxy_since": 0.0},
    ),
    Case(
        "deactivating-from-serve-recheck-after-grace",
        60,
        0,
        state(ACTIVE, since=0, proxy_since=None),
        {"recheck_at": 90.0},
    ),
    Case(
        "deactivating-with-retention-recheck-after-it",
        60,
        0,
        state(ACTIVE, since=0, proxy_since=0),
        {"recheck_at": 105.0},
        spec=spec(scale_to_zero_pod_retention_period=45.0),
    ),
    # Inactive: grace period counted from inactive-since (proxied since then too).
    Case(
        "grace-just-before",
        1029.9,
        0,
        state(INACTIVE, since=1000, proxy_since=1000),
        {"replicas": None, "want": 0, "reason": Reason.GRACE_PERIOD, "recheck_at": 1030.0},
    ),
    Case(
        "grace-reached",
        1030,
        0,
        state(INACTIVE, since=1000, proxy_since=1000),
        {"replicas": 0, "want": 0, "reason": Reason.SCALE_TO_ZERO, "recheck_at": None},
    ),
    # Retention longer than grace: proxying long enough does not shorten it.
    Case(
        "retention-just-before",
        1089.9,
        0,
        state(INACTIVE, since=1000, proxy_since=0),
        {"replicas": None, "reason": Reason.POD_RETENTION, "recheck_at": 1090.0},
        spec=spec(scale_to_zero_pod_retention_period=90.0),
    ),
    Case(
        "retention-reached",
        1090,
        0,
        state(INACTIVE, since=1000, proxy_since=0),
        {"replicas": 0, "reason": Reason.SCALE_TO_ZERO},
        spec=spec(scale_to_zero_pod_retention_period=90.0),
    ),
    # Retention shorter than grace: after it, Proxy for ≥ grace is enough.
    Case(
        "short-retention-waits",
        1005,
        0,
        state(INACTIVE, since=1000, proxy_since=0),
        {"replicas": None, "reason": Reason.POD_RETENTION, "recheck_at": 1010.0},
        spec=spec(scale_to_zero_pod_retention_period=10.0),
    ),
    Case(
        "short-retention-then-fast-path",
        1010,
        0,
        state(INACTIVE, since=1000, proxy_since=0),
        {"replicas": 0, "reason": Reason.PROXY_FAST_PATH},
        spec=spec(scale_to_zero_pod_retention_period=10.0),
    ),
    Case(
        "short-retention-then-grace-from-proxy",
        1010,
        0,
        state(INACTIVE, since=1000, proxy_since=995),
        {"replicas": None, "reason": Reason.GRACE_PERIOD, "recheck_at": 1025.0},
        spec=spec(scale_to_zero_pod_retention_period=10.0),
    ),
    # Proxy-since fast path: proxied for a grace period before turning inactive.
    Case(
        "proxy-fast-path-just-before",
        1004.9,
        0,
        state(INACTIVE, since=1000, proxy_since=975),
        {"replicas": None, "reason": Reason.GRACE_PERIOD, "recheck_at": 1005.0},
    ),
    Case(
        "proxy-fast-path",
        1005,
        0,
        state(INACTIVE, since=1000, proxy_since=975),
        {"replicas": 0, "reason": Reason.PROXY_FAST_PATH},
    ),
    Case(
        "not-proxied-waits-a-grace-from-now",
        1000,
        0,
        state(INACTIVE, since=990, proxy_since=None),
        {"replicas": None, "reason": Reason.GRACE_PERIOD, "recheck_at": 1020.0},
        after={"proxy_since": 1000.0},
    ),
    Case(
        "unreachable-ignores-retention",
        1001,
        0,
        state(INACTIVE, since=1000, proxy_since=0),
        {"replicas": 0, "reason": Reason.PROXY_FAST_PATH},
        spec=spec(scale_to_zero_pod_retention_period=90.0, reachable=False),
    ),
    Case(
        "inactive-demand-activates",
        2000,
        1,
        state(INACTIVE, since=1000, proxy_since=1000),
        {"replicas": 1, "want": 1, "reason": Reason.DESIRED, "mode": PROXY},
        ready=0,
        ebc=-211,
        after={"phase": ACTIVATING, "phase_since": 2000.0, "proxy_since": 1000.0},
    ),
]


@pytest.mark.parametrize("case", GATE_CASES, ids=lambda c: c.id)
def test_scale_to_zero_gate(case: Case) -> None:
    check(case)


# --- route mode (§5.1 step 4) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("want", "ebc", "ready", "inactive", "proxy_only", "mode"),
    [
        pytest.param(1, 0, 1, False, False, SERVE, id="want-and-burst-room-serve"),
        pytest.param(3, 89, 3, False, False, SERVE, id="positive-ebc-serve"),
        pytest.param(1, -1, 1, False, False, PROXY, id="negative-ebc-proxy"),
        pytest.param(0, 5, 1, False, False, PROXY, id="want-zero-proxy"),
        pytest.param(3, 10, 0, False, False, PROXY, id="no-ready-replica-proxy"),
        pytest.param(-1, 0, 2, False, False, SERVE, id="unknown-active-serve"),
        pytest.param(-1, 0, 2, True, False, PROXY, id="unknown-inactive-proxy"),
        pytest.param(-1, -1, 2, False, False, PROXY, id="unknown-no-burst-room-proxy"),
        pytest.param(5, 100, 5, False, True, PROXY, id="split-concurrency-limit-proxy"),
    ],
)
def test_route_mode(
    want: int, ebc: int, ready: int, inactive: bool, proxy_only: bool, mode: RouteMode
) -> None:
    assert route_mode(want, ebc, ready=ready, inactive=inactive, proxy_only=proxy_only) is mode


@pytest.mark.parametrize(
    ("container_concurrency", "split", "mode"),
    [
        pytest.param(0, False, SERVE, id="single-unlimited"),
        pytest.param(4, False, SERVE, id="single-limited"),
        pytest.param(0, True, SERVE, id="split-unlimited"),
        pytest.param(4, True, PROXY, id="split-limited-always-proxy"),
    ],
)
def test_split_deployment_keeps_limited_revisions_behind_activators(
    container_concurrency: int, split: bool, mode: RouteMode
) -> None:
    outcome, after = bound(
        spec(container_concurrency=container_concurrency),
        BoundsInput(desired=3, excess_burst_capacity=50, ready=3, split=split),
        state(ACTIVE, since=0, proxy_since=None),
        100,
    )
    assert outcome.mode is mode
    assert after.proxy_since == (100.0 if mode is PROXY else None)


@pytest.mark.parametrize(
    ("proxy_since", "ebc", "after"),
    [
        pytest.param(None, -1, 50.0, id="serve-to-proxy-starts-now"),
        pytest.param(20.0, -1, 20.0, id="proxy-stays-keeps-start"),
        pytest.param(20.0, 0, None, id="proxy-to-serve-clears"),
        pytest.param(None, 0, None, id="serve-stays"),
    ],
)
def test_proxy_since(proxy_since: float | None, ebc: int, after: float | None) -> None:
    _, new = bound(
        DEFAULT,
        BoundsInput(desired=2, excess_burst_capacity=ebc, ready=2),
        state(ACTIVE, proxy_since=proxy_since),
        50,
    )
    assert new.proxy_since == after


# --- activators (§5.1 step 5) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("tbc", "ready", "activators"),
    [  # knative kpa_test: TV 100, activator capacity 100
        pytest.param(200, 0, 2, id="tbc200-0-pods"),
        pytest.param(200, 1, 3, id="tbc200-1-pod"),
        pytest.param(200, 15, 17, id="tbc200-15-pods"),
        pytest.param(-1, 5, 5, id="tbc-1-5-pods"),
        pytest.param(-1, 1, 2, id="tbc-1-at-least-2"),
        pytest.param(0, 15, 2, id="tbc0-always-2"),
        pytest.param(211, 1, 4, id="defaults-1-pod"),
    ],
)
def test_activator_count(tbc: float, ready: int, activators: int) -> None:
    s = spec(target_burst_capacity=float(tbc))
    assert activator_count(s, ready) == activators
    outcome, _ = bound(
        s, BoundsInput(desired=ready, excess_burst_capacity=0, ready=ready), state(), 1
    )
    assert outcome.activators == activators


def test_activator_capacity_below_one_counts_as_one() -> None:
    assert activator_count(spec(target_burst_capacity=200.0, activator_capacity=0.0), 0) == 200


# --- the Active condition (§5.1 step 6) -----------------------------------------------

PHASE_CASES = [
    Case(
        "activating-becomes-active-when-ready",
        50,
        2,
        state(ACTIVATING, since=10, reached=False),
        {"replicas": 2},
        ready=2,
        after={"phase": ACTIVE, "phase_since": 50.0, "reached_initial": True},
    ),
    Case(
        "activating-stays-below-initial",
        50,
        2,
        state(ACTIVATING, since=10, reached=False),
        {"replicas": 3},
        spec=spec(initial_scale=3),
        ready=2,
        after={"phase": ACTIVATING, "phase_since": 10.0, "reached_initial": False},
    ),
    Case(
        "reaching-initial-releases-it-next-call",
        50,
        1,
        state(ACTIVATING, since=10, reached=False),
        {"replicas": 3},
        spec=spec(initial_scale=3),
        ready=3,
        after={"phase": ACTIVE, "reached_initial": True},
    ),
    Case(
        "active-losing-its-replicas-activates",
        50,
        2,
        state(ACTIVE, since=10),
        {"replicas": 2},
        ready=0,
        after={"phase": ACTIVATING, "phase_since": 50.0},
    ),
    Case(
        "active-below-min-activates",
        50,
        2,
        state(ACTIVE, since=10),
        {"replicas": 3},
        spec=spec(min_scale=3),
        ready=2,
        after={"phase": ACTIVATING},
    ),
    Case(
        "active-stays-active",
        50,
        2,
        state(ACTIVE, since=10),
        {"replicas": 2},
        ready=2,
        after={"phase": ACTIVE, "phase_since": 10.0},
    ),
    Case(
        "inactive-ready-replica-no-demand-stays-inactive",
        50,
        0,
        state(INACTIVE, since=10, proxy_since=10),
        {"replicas": 0},
        ready=1,
        after={"phase": INACTIVE, "phase_since": 10.0},
    ),
]


@pytest.mark.parametrize("case", PHASE_CASES, ids=lambda c: c.id)
def test_active_condition(case: Case) -> None:
    check(case)


def test_initial_state() -> None:
    s = initial_bounds_state(12.5)
    assert s == BoundsState(ACTIVATING, 12.5, 12.5, False)
    assert (s.activating_since, s.active_since, s.inactive_since) == (12.5, None, None)
    active = state(ACTIVE, since=3)
    assert (active.activating_since, active.active_since, active.inactive_since) == (
        None,
        3,
        None,
    )
    inactive = state(INACTIVE, since=4)
    assert inactive.inactive_since == 4 and inactive.active_since is None


# --- whole lifecycles -----------------------------------------------------------------


def drive(
    s: BoundsSpec, steps: list[tuple[float, int, int, int]]
) -> list[tuple[ScaleOutcome, BoundsState]]:
    """Feed (now, desired, ready, ebc) calls from a new revision on."""
    current = initial_bounds_state(steps[0][0])
    trace = []
    for now, desired, ready, ebc in steps:
        outcome, current = bound(s, BoundsInput(desired, ebc, ready), current, now)
        trace.append((outcome, current))
    return trace


def test_lifecycle_knative_defaults() -> None:
    """initial-scale 1, TBC 211: one replica starts, stays a stable window after becoming
    active, and (the activator having been in the path all along, since 1 pod leaves
    burst capacity −111) goes on the call after deactivation."""
    trace = drive(
        DEFAULT,
        [
            (0, 0, 0, -211),  # new, no traffic
            (4, 0, 1, -111),  # ready: active at 4
            (63.9, 0, 1, -111),
            (64, 0, 1, -111),  # a stable window after 4: deactivate
            (66, 0, 1, -111),
        ],
    )
    replicas = [o.replicas for o, _ in trace]
    reasons = [o.reason for o, _ in trace]
    assert replicas == [1, 1, 1, None, 0]
    assert reasons == [
        Reason.INITIAL_SCALE,
        Reason.INITIAL_SCALE,
        Reason.HELD_UNTIL_STABLE_WINDOW,
        Reason.DEACTIVATING,
        Reason.PROXY_FAST_PATH,
    ]
    assert [st.phase for _, st in trace] == [ACTIVATING, ACTIVE, ACTIVE, INACTIVE, INACTIVE]
    assert all(o.mode is PROXY for o, _ in trace)
    assert trace[-1][1].proxy_since == 0


def test_lifecycle_served_revision_waits_a_grace_period() -> None:
    """TBC 0: served directly while active, so Proxy starts at deactivation and the last
    replica goes a grace period later (retention 0)."""
    s = spec(target_burst_capacity=0.0, min_scale=0)
    trace = drive(
        s,
        [
            (0, 2, 0, 0),
            (10, 2, 2, 0),  # active at 10, served
            (100, 0, 2, 0),  # demand gone, held... active for 90 ≥ 60: deactivate
            (129.9, 0, 1, 0),
            (130, 0, 1, 0),
            (200, 3, 0, 0),  # traffic again: scale from zero
        ],
    )
    assert [o.replicas for o, _ in trace] == [2, 2, None, None, 0, 3]
    assert [o.mode for o, _ in trace] == [PROXY, SERVE, PROXY, PROXY, PROXY, PROXY]
    assert [o.recheck_at for o, _ in trace][2:5] == [130.0, 130.0, None]
    assert trace[2][1].proxy_since == 100
    assert (trace[-1][1].phase, trace[-1][1].phase_since) == (ACTIVATING, 200)


def test_lifecycle_initial_scale_until_reached_then_released() -> None:
    s = spec(initial_scale=3)
    trace = drive(
        s,
        [(0, 1, 0, -211), (5, 1, 2, -11), (8, 1, 3, 89), (10, 1, 3, 89), (12, 1, 1, 0)],
    )
    assert [o.replicas for o, _ in trace] == [3, 3, 3, 1, 1]
    assert [st.reached_initial for _, st in trace] == [False, False, True, True, True]
    assert [o.mode for o, _ in trace] == [PROXY, PROXY, SERVE, SERVE, SERVE]


# --- invariants over random call sequences --------------------------------------------

specs = st.builds(
    lambda mn, extra, mx_on, initial, enable, grace, retention, reachable: spec(
        min_scale=mn,
        max_scale=(mn + extra) if mx_on else 0,
        initial_scale=initial,
        enable_scale_to_zero=enable,
        scale_to_zero_grace_period=grace,
        scale_to_zero_pod_retention_period=retention,
        reachable=reachable,
    ),
    st.integers(0, 3),
    st.integers(0, 4),
    st.booleans(),
    st.integers(0, 4),
    st.booleans(),
    st.sampled_from([1.0, 30.0]),
    st.sampled_from([0.0, 10.0, 90.0]),
    st.booleans(),
)
calls = st.lists(
    st.tuples(
        st.sampled_from([0.5, 2.0, 30.0, 61.0, 700.0]),  # time step
        st.integers(-1, 8),  # desired
        st.integers(0, 8),  # ready
        st.integers(-50, 50),  # ebc
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(s=specs, steps=calls)
def test_invariants(s: BoundsSpec, steps: list[tuple[float, int, int, int]]) -> None:
    now = 1000.0
    current = initial_bounds_state(now)
    lowest = s.min_scale if s.reachable else 0
    for step, desired, ready, ebc in steps:
        now += step
        before = current
        outcome, current = bound(s, BoundsInput(desired, ebc, ready), before, now)
        if desired < 0:
            assert outcome.replicas is None  # nothing scales blind
        if outcome.replicas is not None:
            assert outcome.replicas >= lowest
            if s.max_scale and before.reached_initial:  # the initial scale may exceed max
                assert outcome.replicas <= max(s.max_scale, lowest)
            if outcome.replicas == 0:
                assert s.enable_scale_to_zero and lowest == 0
                assert before.phase is not ACTIVE  # never straight from active
        if outcome.mode is SERVE:
            assert ebc >= 0 and ready > 0 and outcome.want != 0
        assert (current.proxy_since is None) is (outcome.mode is SERVE)
        assert outcome.activators >= 2
        if current.phase is not before.phase:
            assert current.phase_since == now
        else:
            assert current.phase_since == before.phase_since
        assert current.reached_initial >= before.reached_initial
        if outcome.recheck_at is not None:
            assert outcome.recheck_at >= now
