"""Minutes of decider behaviour, tick by tick (every 2 s, as Knative's MultiScaler ticks).

Replicas are assumed to become ready at once: each tick sees the previous tick's desired
count as its ready count. Load is given per tick as (stable, panic) totals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from autoscaler.decider import DeciderState, Decision, Observed, decide, initial_state, retune
from zeroserve.config.scaling import DeciderSpec

T0 = 1_700_000_000.0  # an even second: tick k is bucket int(T0) // 2 + k
TICK = 2.0

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

Load = Callable[[float], tuple[float | None, float | None]]


@dataclass
class Revision:
    """A decider and its replicas, which follow the decision instantly."""

    spec: DeciderSpec
    state: DeciderState
    ready: int

    @classmethod
    def start(cls, spec: DeciderSpec, ready: int, now: float = T0) -> Revision:
        return cls(spec, initial_state(spec, ready, now), ready)

    def tick(self, now: float, stable: float | None, panic: float | None) -> Decision:
        decision, self.state = decide(
            self.spec, Observed(stable, panic, self.ready), self.state, now
        )
        if decision.valid:
            self.ready = decision.desired
        return decision

    def run(self, start: float, end: float, load: Load) -> dict[float, Decision]:
        """Tick from ``start`` to ``end`` inclusive; the decisions by tick time."""
        out = {}
        now = start
        while now <= end:
            out[now] = self.tick(now, *load(now))
            now += TICK
        return out

    def retune(self, spec: DeciderSpec) -> None:
        self.state = retune(self.state, self.spec, spec)
        self.spec = spec


def at(t: float) -> float:
    return T0 + t


def test_burst_panic_hold_exit() -> None:
    rev = Revision.start(BASE, 1)

    def load(now: float) -> tuple[float, float]:
        t = now - T0
        if t < 10:
            return 5.0, 5.0  # one replica's worth
        if t < 30:
            return 40.0, 80.0  # the burst: the panic window sees 8 replicas' worth
        return 20.0, 5.0  # after it: the stable average still remembers it

    seen = rev.run(at(0), at(80), load)
    for t in range(0, 10, 2):
        assert seen[at(t)] == Decision(1, 0, False, True), t
    # dppc 8 / R 1 >= 2: panic at once, straight to 8 replicas
    assert seen[at(10)] == Decision(8, 0, True, True)
    # held at 8 (8 / 8 is not over, so the panic time stays at t=10), through t=70:
    # at exactly one stable window after the last over-threshold tick it still panics
    for t in range(12, 71, 2):
        assert seen[at(t)] == Decision(8, 0, True, True), t
    # t=72 > 10 + 60: leave panic, stable decision max(ceil(20/10), floor(8/2)) = 4
    assert seen[at(72)] == Decision(4, 0, False, True)
    assert rev.state == DeciderState()
    # then the rate-limited descent: max(2, floor(4/2)) = 2
    assert seen[at(74)] == Decision(2, 0, False, True)


def test_second_burst_during_the_hold_moves_the_panic_time() -> None:
    rev = Revision.start(BASE, 1)

    def load(now: float) -> tuple[float, float]:
        t = now - T0
        if t == 0:
            return 10.0, 80.0  # panic: 8 replicas
        if t == 40:
            return 10.0, 160.0  # 16 / 8 >= 2: over again, panic time → t=40
        return 10.0, 10.0

    seen = rev.run(at(0), at(104), load)
    assert seen[at(0)].desired == 8
    assert seen[at(38)] == Decision(8, 0, True, True)
    assert seen[at(40)] == Decision(16, 0, True, True)
    # the first panic would have ended at t=62; the second holds until t=100 inclusive
    for t in range(42, 101, 2):
        assert seen[at(t)] == Decision(16, 0, True, True), t
    assert seen[at(102)] == Decision(8, 0, False, True)  # max(1, floor(16 / 2))


def test_scale_down_delay_holds_then_releases_step_by_step() -> None:
    """Delay 60 s = 30 buckets; each rate-limited halving waits a full delay."""
    spec = replace(BASE, scale_down_delay=60.0, panic_threshold=10.0)
    rev = Revision(spec, DeciderState(None, 0, (), 30), 4)  # calm, 4 ready

    def load(now: float) -> tuple[float, float]:
        return (40.0, 40.0) if now - T0 <= 10 else (0.0, 0.0)

    seen = rev.run(at(0), at(200), load)
    desired = {t: seen[at(t)].desired for t in range(0, 201, 2)}
    assert all(not d.panic for d in seen.values())
    # the last 4 is recorded at t=10 (bucket +5); it ages out 30 buckets later, at t=70
    assert {desired[t] for t in range(0, 69, 2)} == {4}
    assert desired[70] == 2  # floor(4 / 2), recorded since t=12
    # with 2 ready the next step is 1, but the 2 recorded at t=70 holds until t=130
    assert {desired[t] for t in range(70, 129, 2)} == {2}
    assert desired[130] == 1
    assert {desired[t] for t in range(130, 189, 2)} == {1}
    assert desired[190] == 0
    assert desired[200] == 0


def test_scale_up_passes_through_a_delay_hold_and_restarts_it() -> None:
    spec = replace(BASE, scale_down_delay=60.0, panic_threshold=10.0)
    rev = Revision.start(spec, 1)

    def load(now: float) -> tuple[float, float]:
        t = now - T0
        if t == 0:
            return 40.0, 40.0
        if t == 20:
            return 60.0, 60.0
        return 10.0, 10.0

    seen = rev.run(at(0), at(90), load)
    assert seen[at(0)].desired == 4
    assert seen[at(18)].desired == 4  # held
    assert seen[at(20)].desired == 6  # up at once
    assert {seen[at(t)].desired for t in range(20, 79, 2)} == {6}
    assert seen[at(80)].desired == 3  # the 6 aged out; max(1, floor(6 / 2)) was recorded


def test_unreachable_revision_scales_down_without_delay_or_rate_limit() -> None:
    spec = replace(BASE, scale_down_delay=60.0, panic_threshold=10.0, reachable=False)
    rev = Revision.start(spec, 1)
    seen = rev.run(at(0), at(4), lambda now: (80.0, 80.0) if now == T0 else (0.0, 0.0))
    assert [d.desired for d in seen.values()] == [8, 0, 0]
    assert rev.state.delay_window == ()


def test_restart_with_three_ready_holds_for_a_full_stable_window() -> None:
    """After an autoscaler restart the history is empty: no scale-down for 60 s."""
    rev = Revision.start(BASE, 3)
    assert rev.state == DeciderState(T0, 3, None, 0)

    def load(now: float) -> tuple[float | None, float | None]:
        if now - T0 < 6:
            return None, None  # no data yet: invalid ticks
        return 5.0, 5.0  # one replica's worth

    before = rev.state
    seen = rev.run(at(0), at(4), load)
    assert not any(d.valid for d in seen.values())
    assert rev.state is before and rev.ready == 3
    seen = rev.run(at(6), at(64), load)
    for t in range(6, 61, 2):
        assert seen[at(t)] == Decision(3, 0, True, True), t
    assert seen[at(62)] == Decision(1, 0, False, True)  # max(1, floor(3 / 2))
    assert seen[at(64)] == Decision(1, 0, False, True)


def test_restart_with_one_ready_does_not_panic() -> None:
    rev = Revision.start(BASE, 1)
    seen = rev.run(at(0), at(2), lambda now: (0.0, 0.0))
    assert [d.desired for d in seen.values()] == [0, 0]


def test_retune_mid_panic_keeps_the_panic_and_its_pods() -> None:
    rev = Revision.start(BASE, 1)
    burst = {at(0): (10.0, 80.0)}
    seen = rev.run(at(0), at(20), lambda now: burst.get(now, (10.0, 10.0)))
    assert seen[at(20)] == Decision(8, 0, True, True)
    # target doubles: each replica takes twice the load; the held 8 replicas stay
    rev.retune(replace(BASE, target_value=20.0, panic_threshold=3.0))
    assert rev.state == DeciderState(T0, 8, None, 0)
    seen = rev.run(at(22), at(60), lambda now: (10.0, 10.0))
    assert set(seen.values()) == {Decision(8, 0, True, True)}
    # max(ceil(10 / 20), floor(8 / 2))
    assert rev.tick(at(62), 10.0, 10.0) == Decision(4, 0, False, True)


def test_retune_mid_panic_to_a_shorter_window_shortens_the_hold() -> None:
    rev = Revision.start(BASE, 1)
    burst = {at(0): (10.0, 80.0)}
    seen = rev.run(at(0), at(10), lambda now: burst.get(now, (10.0, 10.0)))
    assert seen[at(10)] == Decision(8, 0, True, True)
    rev.retune(replace(BASE, stable_window=20.0))
    seen = rev.run(at(12), at(24), lambda now: (10.0, 10.0))
    assert seen[at(20)] == Decision(8, 0, True, True)  # exactly 20 s: still panicking
    assert seen[at(22)] == Decision(4, 0, False, True)


def test_retune_resizes_removes_and_recreates_the_delay_window() -> None:
    long = replace(BASE, scale_down_delay=120.0, panic_threshold=10.0)  # 60 buckets
    rev = Revision.start(long, 1)
    spike = {at(0): (40.0, 40.0)}
    seen = rev.run(at(0), at(30), lambda now: spike.get(now, (10.0, 10.0)))
    assert {d.desired for d in seen.values()} == {4}  # held by the 120 s delay

    short = replace(long, scale_down_delay=20.0)  # 10 buckets: the 4 (15 buckets old) goes
    rev.retune(short)
    assert rev.state.delay_capacity == 10
    assert rev.state.delay_window is not None and rev.state.delay_window[0] == (int(T0) // 2, 4)
    assert rev.tick(at(32), 10.0, 10.0).desired == 2  # max(1, floor(4 / 2)); 2 is recorded

    rev.retune(replace(long, scale_down_delay=0.0))
    assert rev.state.delay_window is None
    assert rev.tick(at(34), 10.0, 10.0).desired == 1  # no delay: straight down

    rev.retune(long)
    assert rev.state.delay_window == () and rev.state.delay_capacity == 60
    assert rev.tick(at(36), 30.0, 30.0).desired == 3
    assert rev.tick(at(38), 10.0, 10.0).desired == 3  # a fresh history holds again
