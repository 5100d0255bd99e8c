"""Knative's KPA scaling decision (knative-kpa §1), as a pure function of data.

``decide`` is ``autoscaler.Scale(now)`` with the pod counter's and the metric client's
answers passed in (``Observed``) and the decider's mutable fields returned as a new
``DeciderState``. Arithmetic follows Go's: IEEE doubles (a zero target divides to
±Inf/NaN instead of raising), ``math.Max``/``math.Min`` special cases, and int32
results. Go leaves out-of-range float→int32 conversions to the platform; we take
arm64's (saturate, NaN → 0), so an absurd demand asks for the most replicas, never
for a negative count.

``retune`` has no Knative counterpart: there a changed annotation makes a new revision
(and a new decider), here a live revision's knobs change in place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from zeroserve.config.scaling import DeciderSpec

__all__ = [
    "DELAY_BUCKET_SECONDS",
    "INVALID",
    "DeciderState",
    "Decision",
    "Observed",
    "decide",
    "delay_capacity",
    "initial_state",
    "retune",
]

DELAY_BUCKET_SECONDS = 2  # Knative's tick interval: the scale-down-delay granularity

_INT32_MAX = 2**31 - 1
_INT32_MIN = -(2**31)
_INF = math.inf
_NAN = math.nan
_UNBOUNDED = 2**63 - 1  # an infinite delay: a window that never forgets


@dataclass(frozen=True, slots=True)
class Observed:
    """One tick's inputs: what the metric client and the pod counter answered.

    ``stable``/``panic`` are revision-wide totals over the stable and panic windows, in
    the unit of the spec's metric (concurrency or rps; the caller picks, as Knative's
    ``StableAndPanicConcurrency``/``RPS`` switch does). ``None`` means "no data yet",
    which is not zero: the tick is invalid. ``ready`` is the ready replica count; a
    negative value means the pod counter failed (Knative returns an invalid result),
    while "not found" must be passed as 0.
    """

    stable: float | None
    panic: float | None
    ready: int


@dataclass(frozen=True, slots=True)
class Decision:
    """Knative's ScaleResult plus whether the decider is panicking after this tick.

    An invalid decision carries nothing (0, 0, not panicking): callers drop it and keep
    the previous values, as the MultiScaler does.
    """

    desired: int
    excess_burst_capacity: int
    panic: bool
    valid: bool


INVALID = Decision(desired=0, excess_burst_capacity=0, panic=False, valid=False)


@dataclass(frozen=True, slots=True)
class DeciderState:
    """What Knative's decider keeps between ticks.

    ``panic_time`` is ``None`` when not panicking (unlike Go's zero time, ``0.0`` is a
    valid instant here). ``delay_window`` is the scale-down-delay sliding maximum
    (knative-kpa §1.4): ``(bucket_index, value)`` pairs, indexes ascending and values
    strictly descending, so the oldest entry is the current maximum; ``None`` when the
    spec has no delay. ``delay_capacity`` is its length in 2 s buckets (0 without one),
    kept here so that ``retune`` can resize the window.
    """

    panic_time: float | None = None
    max_panic_pods: int = 0
    delay_window: tuple[tuple[int, int], ...] | None = None
    delay_capacity: int = 0

    @property
    def panicking(self) -> bool:
        return self.panic_time is not None


def delay_capacity(scale_down_delay: float) -> int:
    """Buckets of the scale-down-delay window: ``ceil(delay / 2 s)``; 0 means no window."""
    if not scale_down_delay > 0:  # also NaN, which Go's `> 0` rejects too
        return 0
    if scale_down_delay == _INF:
        return _UNBOUNDED
    return math.ceil(scale_down_delay / DELAY_BUCKET_SECONDS)


def initial_state(spec: DeciderSpec, ready: int, now: float) -> DeciderState:
    """A new decider's state (knative-kpa §1.2).

    With more than one ready replica it starts panicking, so that an autoscaler restart
    (empty metric history) cannot scale down before a full stable window of data. A
    negative ``ready`` (pod counter error) counts as 0, as in Knative. The delay window
    exists only when the spec has a scale-down delay.
    """
    current = ready if ready > 0 else 0
    capacity = delay_capacity(spec.scale_down_delay)
    return DeciderState(
        panic_time=now if current > 1 else None,
        max_panic_pods=current,
        delay_window=() if capacity else None,
        delay_capacity=capacity,
    )


def decide(
    spec: DeciderSpec, observed: Observed, state: DeciderState, now: float
) -> tuple[Decision, DeciderState]:
    """One tick of Knative's decider (knative-kpa §1.3, steps 1–11 in order).

    ``now`` is unix seconds (finite). The spec's metric only says what ``observed``
    holds: the arithmetic is the same for concurrency and rps. An invalid tick returns
    ``INVALID`` and the very same ``state``; so does a valid tick that changes no state.
    """
    # 1–2. Ready pods and metrics: an error or missing data makes the tick invalid.
    ready = observed.ready
    stable = observed.stable
    panic_value = observed.panic
    if ready < 0 or stable is None or panic_value is None:
        return INVALID, state
    pods = float(ready) if ready > 1 else 1.0  # R = max(1, R0)

    # 3. Rate limits.
    max_up = _ceil(spec.max_scale_up_rate * pods)
    max_down = _floor(_div(pods, spec.max_scale_down_rate)) if spec.reachable else 0.0

    # 4. Raw pod demands.
    target = spec.target_value
    dspc = _ceil(_div(stable, target))
    dppc = _ceil(_div(panic_value, target))

    # 5. Clamp into [maxDown, maxUp].
    stable_pods = _int32(_go_min(_go_max(dspc, max_down), max_up))
    panic_pods = _int32(_go_min(_go_max(dppc, max_down), max_up))

    # 6. Activation scale: after the clamp (may exceed maxUp); zero demand stays zero.
    activation = spec.activation_scale
    if activation > 1:
        if dspc > 0 and activation > stable_pods:
            stable_pods = activation
        if dppc > 0 and activation > panic_pods:
            panic_pods = activation

    # 7. Panic test on the unclamped panic demand, inclusive.
    over = dppc / pods >= spec.panic_threshold

    # 8. Panic state machine: every over tick moves the panic time forward; leaving
    # needs a full stable window after it, strictly.
    panic_time = state.panic_time
    max_panic_pods = state.max_panic_pods
    if over:
        panic_time = now
    elif panic_time is not None and panic_time + spec.stable_window < now:
        panic_time = None
        max_panic_pods = 0

    # 9. Choose: in panic the larger decision, and never lower than before.
    desired = stable_pods
    if panic_time is not None:
        if desired < panic_pods:
            desired = panic_pods
        if desired > max_panic_pods:
            max_panic_pods = desired
        desired = max_panic_pods

    # 10. Scale-down delay (reachable revisions only; unreachable ones don't record).
    window = state.delay_window
    if spec.reachable and window is not None:
        window = _record(window, state.delay_capacity, _bucket_index(now), desired)
        desired = window[0][1]

    # 11. Excess burst capacity, from the panic value and the real ready count.
    burst = spec.target_burst_capacity
    if burst == 0:
        excess = 0
    elif burst > 0:
        excess = _int32(_floor(ready * spec.total_value - burst - panic_value))
    else:  # -1 (and NaN, like Go's switch default)
        excess = -1

    decision = Decision(desired, excess, panic_time is not None, True)
    if (
        panic_time == state.panic_time
        and max_panic_pods == state.max_panic_pods
        and window is state.delay_window
    ):
        return decision, state
    return decision, DeciderState(panic_time, max_panic_pods, window, state.delay_capacity)


def retune(state: DeciderState, old_spec: DeciderSpec, new_spec: DeciderSpec) -> DeciderState:
    """Carry a live revision's decider state across a knob change.

    Rules (the state records its own window capacity, so only ``new_spec`` matters;
    ``old_spec`` is taken for symmetry with callers that hold both). Retunes compose,
    ``retune(retune(s, a, b), b, c) == retune(s, a, c)``, unless ``b`` has no delay:
    removing the window drops its history for good.

    * Panic state (``panic_time``, ``max_panic_pods``) is kept as is. The next tick
      judges it with the new threshold and stable window (a shorter window shortens
      the hold). ``max_panic_pods`` is not rescaled when the target changes: a panic
      holds replicas, not load, and the replicas exist whatever the new target says.
    * The delay window keeps its history and takes the new capacity
      ``ceil(delay / 2 s)``. Entries older than the new capacity are dropped at the
      next tick that records (Knative's step two, with the new capacity): dropping
      them here would need ``now``. A delay going from 0 to > 0 creates an empty
      window; one going to 0 (or NaN) removes the window.
    * Nothing else is state: rates, target, TBC, activation scale and reachability
      take effect at the next tick.
    """
    del old_spec  # see the docstring: the state already records what matters
    capacity = delay_capacity(new_spec.scale_down_delay)
    window = state.delay_window
    if capacity == 0:
        window = None
    elif window is None:
        window = ()
    if capacity == state.delay_capacity and window is state.delay_window:
        return state
    return DeciderState(state.panic_time, state.max_panic_pods, window, capacity)


# -- the delay window (knative-kpa §1.4) ------------------------------------------------


def _bucket_index(now: float) -> int:
    """Go's ``int(now.Unix()) / 2``: whole seconds (floored), divided toward zero."""
    seconds = math.floor(now)
    if seconds >= 0:
        return seconds // DELAY_BUCKET_SECONDS
    return -(-seconds // DELAY_BUCKET_SECONDS)


def _record(
    window: tuple[tuple[int, int], ...], capacity: int, index: int, value: int
) -> tuple[tuple[int, int], ...]:
    """Knative's ascending-maxima record: the result's first entry is the window max."""
    end = len(window)
    # Entries not above the new value can never be the maximum again.
    while end > 0 and value >= window[end - 1][1]:
        end -= 1
    # Entries `capacity` buckets old or more have left the window.
    start = 0
    while start < end and index - window[start][0] >= capacity:
        start += 1
    # Several decisions in one bucket count as their maximum.
    if start < end and window[end - 1][0] == index:
        last = window[end - 1][1]
        if last > value:
            value = last
        end -= 1
    entry = (index, value)
    if start == 0 and end == len(window) - 1 and window[end] == entry:
        return window  # another decision in the same bucket that changes nothing
    return (*window[start:end], entry)


# -- Go float semantics ------------------------------------------------------------------


def _div(a: float, b: float) -> float:
    """IEEE division: Go's ``a / b`` on float64, which never raises."""
    if b == 0:
        if a == 0 or a != a:
            return _NAN
        return math.copysign(_INF, a) * math.copysign(1.0, b)
    return a / b


def _ceil(x: float) -> float:
    return float(math.ceil(x)) if math.isfinite(x) else x


def _floor(x: float) -> float:
    return float(math.floor(x)) if math.isfinite(x) else x


def _go_max(x: float, y: float) -> float:
    """Go's ``math.Max``: +Inf wins over NaN, NaN over everything else."""
    if x == _INF or y == _INF:
        return _INF
    if x != x or y != y:
        return _NAN
    return x if x >= y else y


def _go_min(x: float, y: float) -> float:
    """Go's ``math.Min``: -Inf wins over NaN, NaN over everything else."""
    if x == -_INF or y == -_INF:
        return -_INF
    if x != x or y != y:
        return _NAN
    return x if x <= y else y


def _int32(x: float) -> int:
    """Go's ``int32(x)``: truncation toward zero; out of range saturates, NaN is 0."""
    if x != x:
        return 0
    if x >= _INT32_MAX:
        return _INT32_MAX
    if x <= _INT32_MIN:
        return _INT32_MIN
    return int(x)
