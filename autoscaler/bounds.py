"""From a scaling decision to replicas, route mode and activators (knative-kpa §5).

``bound`` is what Knative's KPA reconciler does with the decider's output, as one pure
function: min/max/initial scale and the scale-to-zero gate (§5.3), the route mode
(§5.1 step 4), the number of activators (§5.1 step 5), and the PodAutoscaler's Active
condition (§5.1 step 6), which the gate reads on the next call. ``BoundsState`` carries
that condition (the phase and when it last changed), when the route mode became Proxy,
and whether the initial scale was ever reached.

Adapted from Knative, and why:
* An unknown decision (desired −1) keeps the replicas as they are, also while
  activating (Knative applies min/initial scale and the activation timeout then). In
  Zeroserve −1 means the autoscaler is blind (no valid decision: reporters missing, or
  just restarted), and nothing scales blind (DESIGN.md, "The store").
* Until the initial scale is first reached, a reachable revision's minimum is raised to
  it when it is ≥ 1, not only when > 1: Knative creates the Deployment with
  initial-scale replicas and its reconciler only has to hold larger values, but
  Zeroserve's controller starts nothing it is not told to, so 1 has to be asked for too
  (with ``initial-scale: 1`` a new revision starts one replica, as in Knative).
* No activator probe: Zeroserve's activator is our own, and being in Proxy mode is what
  the controller applies. ``proxy_since`` is when ``bound`` first answered Proxy (Knative:
  when the SKS's activator endpoints were populated); the grace period covers the
  routes reaching every gateway. TBC = −1 needs no special case: it keeps the mode Proxy.
* Route mode: besides Knative's rule (Serve iff want > 0 and EBC ≥ 0; also Serve for
  want −1 unless the revision is inactive), Proxy when no replica is ready (Knative's
  SKS falls back to the activator endpoints in that case) and, in the split
  deployment, always for ``container_concurrency > 0`` (the activators enforce the
  per-replica cap across gateways).
* The activation timeout fires at ``now ≥ since + deadline + 30 s`` (Knative: strictly
  after), so that ``recheck_at`` is a time at which the outcome does change.
* ``recheck_at`` is the exact time the gate opens (Knative re-queues after fixed delays:
  3 s, or the whole activation timeout); the caller ticks anyway, it is a hint.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Final

from zeroserve.config.scaling import BoundsSpec, RouteMode

__all__ = [
    "ACTIVATION_TIMEOUT_BUFFER",
    "MIN_ACTIVATORS",
    "BoundsInput",
    "BoundsState",
    "Phase",
    "Reason",
    "ScaleOutcome",
    "activator_count",
    "bound",
    "initial_bounds_state",
    "route_mode",
]

# Knative's activationTimeoutBuffer: added to the progress deadline.
ACTIVATION_TIMEOUT_BUFFER: Final = 30.0
# Knative's minActivators.
MIN_ACTIVATORS: Final = 2


class Phase(enum.Enum):
    """Knative's PodAutoscaler Active condition."""

    ACTIVATING = "Activating"  # Active=Unknown: replicas asked for, not yet ready
    ACTIVE = "Active"  # Active=True
    INACTIVE = "Inactive"  # Active=False: no traffic (or activation timed out)


class Reason(enum.StrEnum):
    """Why the outcome is what it is (for logs and status)."""

    UNKNOWN_DECISION = "unknown-decision"  # desired −1: replicas kept
    DESIRED = "desired"  # the decision, within bounds
    MIN_SCALE = "min-scale"
    INITIAL_SCALE = "initial-scale"
    MAX_SCALE = "max-scale"
    SCALE_TO_ZERO_DISABLED = "scale-to-zero-disabled"  # 0 → 1
    AWAITING_ACTIVATION = "awaiting-activation"  # 0 asked while activating: wait
    ACTIVATION_TIMED_OUT = "activation-timed-out"  # progress deadline + 30 s: 0
    HELD_UNTIL_STABLE_WINDOW = "held-until-stable-window"  # active < a stable window: 1
    DEACTIVATING = "deactivating"  # active ≥ a stable window: becomes inactive
    POD_RETENTION = "pod-retention"  # inactive, within the retention period
    GRACE_PERIOD = "grace-period"  # inactive, waiting for the grace period
    SCALE_TO_ZERO = "scale-to-zero"  # inactive ≥ max(grace, retention)
    PROXY_FAST_PATH = "proxy-fast-path"  # in Proxy mode ≥ grace: 0 at once


@dataclass(frozen=True, slots=True)
class BoundsState:
    """What ``bound`` remembers between calls.

    ``phase_since``: when the phase last changed (Knative's LastTransitionTime of the
    Active condition). ``proxy_since``: when the route mode became Proxy, ``None``
    while it is Serve. ``reached_initial``: the ready count once reached the activation
    threshold (Knative's ScaleTargetInitialized); from then on the initial scale is
    ignored.
    """

    phase: Phase
    phase_since: float
    proxy_since: float | None
    reached_initial: bool

    @property
    def active_since(self) -> float | None:
        return self.phase_since if self.phase is Phase.ACTIVE else None

    @property
    def inactive_since(self) -> float | None:
        return self.phase_since if self.phase is Phase.INACTIVE else None

    @property
    def activating_since(self) -> float | None:
        return self.phase_since if self.phase is Phase.ACTIVATING else None


def initial_bounds_state(now: float) -> BoundsState:
    """A new revision: activating, routed through the activator, initial scale ahead."""
    return BoundsState(
        phase=Phase.ACTIVATING, phase_since=now, proxy_since=now, reached_initial=False
    )


@dataclass(frozen=True, slots=True)
class BoundsInput:
    """One call's facts.

    ``desired``: the decider's desired scale, −1 when there is no valid decision (pass
    −1 whenever the current decision is invalid, not the last valid one, so that a
    blind autoscaler holds). ``excess_burst_capacity``: the decider's EBC (before the
    first decision, Knative's guess of §1.5). ``ready``: ready replicas now.
    ``split``: the split deployment (several gateways).
    """

    desired: int
    excess_burst_capacity: int
    ready: int
    split: bool = False


@dataclass(frozen=True, slots=True)
class ScaleOutcome:
    """``replicas``: what to set, ``None`` to leave the replicas as they are. ``want``:
    Knative's desired scale for status (−1: unknown, 0 while deactivating).
    ``recheck_at``: call again at this time even if nothing else changes."""

    replicas: int | None
    mode: RouteMode
    activators: int
    recheck_at: float | None
    reason: Reason
    want: int


def route_mode(
    want: int, excess_burst_capacity: int, *, ready: int, inactive: bool, proxy_only: bool
) -> RouteMode:
    """Serve (gateways lease replicas directly) or Proxy (through an activator)."""
    if proxy_only or ready <= 0 or want == 0 or excess_burst_capacity < 0:
        return RouteMode.PROXY
    if want < 0 and inactive:
        return RouteMode.PROXY
    return RouteMode.SERVE


def activator_count(spec: BoundsSpec, ready: int) -> int:
    """Activators to put in the path: enough to absorb the ready capacity plus TBC."""
    tbc = spec.target_burst_capacity
    if tbc == 0:
        return MIN_ACTIVATORS
    to_cover = max(ready, 0) * spec.total_value + max(tbc, 0.0)
    # Settings validation keeps activator-capacity ≥ 1; a bad value must not crash the loop.
    capacity = max(spec.activator_capacity, 1.0)
    return max(MIN_ACTIVATORS, math.ceil(to_cover / capacity))


@dataclass(frozen=True, slots=True)
class _Scaled:
    want: int
    replicas: int | None
    recheck_at: float | None
    reason: Reason


def _min_scale(spec: BoundsSpec) -> int:
    return spec.min_scale if spec.reachable else 0


def _apply_bounds(spec: BoundsSpec, desired: int, reached_initial: bool) -> tuple[int, Reason]:
    """§5.3 step 2: min (raised to the initial scale until reached), then max (0: none)."""
    base_min = _min_scale(spec)
    lower = base_min
    if not reached_initial and spec.reachable and spec.initial_scale >= 1:
        lower = max(lower, spec.initial_scale)
    if desired < lower:
        return lower, (Reason.INITIAL_SCALE if lower > base_min else Reason.MIN_SCALE)
    if spec.max_scale != 0 and desired > spec.max_scale:
        return spec.max_scale, Reason.MAX_SCALE
    return desired, Reason.DESIRED


def _inactive_gate(
    spec: BoundsSpec, inactive_since: float, proxy_since: float | None, now: float
) -> tuple[bool, float | None, Reason]:
    """Inactive and asked for 0: (remove the last replica now?, when to look again, why).

    The last replica goes once inactive for at least the retention period and either
    inactive or in Proxy mode for at least the grace period.
    """
    retention = spec.scale_to_zero_pod_retention_period if spec.reachable else 0.0
    grace = spec.scale_to_zero_grace_period
    inactive_for = now - inactive_since
    if inactive_for >= max(grace, retention):
        return True, None, Reason.SCALE_TO_ZERO
    if retention > 0 and inactive_for < retention:
        return False, inactive_since + retention, Reason.POD_RETENTION
    proxy_start = now if proxy_since is None else proxy_since
    if now - proxy_start >= grace:
        return True, None, Reason.PROXY_FAST_PATH
    return (
        False,
        min(inactive_since + max(grace, retention), proxy_start + grace),
        (Reason.GRACE_PERIOD),
    )


def _scale_to_zero_gate(spec: BoundsSpec, state: BoundsState, now: float) -> _Scaled:
    """§5.3 step 3, for a bounded desired scale of 0."""
    if not spec.enable_scale_to_zero:
        return _Scaled(1, 1, None, Reason.SCALE_TO_ZERO_DISABLED)
    since = state.phase_since
    if state.phase is Phase.ACTIVATING:
        deadline = since + spec.progress_deadline + ACTIVATION_TIMEOUT_BUFFER
        if now >= deadline:
            return _Scaled(0, 0, None, Reason.ACTIVATION_TIMED_OUT)
        return _Scaled(-1, None, deadline, Reason.AWAITING_ACTIVATION)
    if state.phase is Phase.ACTIVE:
        held_until = since + spec.stable_window
        if now >= held_until:
            # Want 0 without touching replicas: the revision turns inactive (and Proxy)
            # now; the inactive gate removes the last replica on a later call.
            return _Scaled(0, None, None, Reason.DEACTIVATING)
        return _Scaled(1, 1, held_until, Reason.HELD_UNTIL_STABLE_WINDOW)
    scale_now, recheck_at, reason = _inactive_gate(spec, since, state.proxy_since, now)
    return _Scaled(0, 0 if scale_now else None, recheck_at, reason)


def _scale(spec: BoundsSpec, desired: int, state: BoundsState, now: float) -> _Scaled:
    if desired < 0:
        return _Scaled(-1, None, None, Reason.UNKNOWN_DECISION)
    want, reason = _apply_bounds(spec, desired, state.reached_initial)
    if want != 0:
        return _Scaled(want, want, None, reason)
    return _scale_to_zero_gate(spec, state, now)


def _next_phase(spec: BoundsSpec, want: int, ready: int, state: BoundsState) -> tuple[Phase, bool]:
    """§5.1 step 6: the Active condition after this call, and ScaleTargetInitialized."""
    min_scale = _min_scale(spec)
    at_least = 1 if state.reached_initial else spec.initial_scale
    threshold = max(min_scale, at_least)
    reached = state.reached_initial or ready >= threshold
    if want == 0 or threshold == 0:
        return Phase.INACTIVE, reached
    if want <= 0 and state.phase is Phase.INACTIVE:
        return Phase.INACTIVE, reached  # an unknown decision does not wake it up
    return (Phase.ACTIVATING if ready < threshold else Phase.ACTIVE), reached


def bound(
    spec: BoundsSpec, inp: BoundsInput, state: BoundsState, now: float
) -> tuple[ScaleOutcome, BoundsState]:
    """Apply the bounds and the scale-to-zero gate to one decision; pick the route mode
    and the number of activators; advance the revision's phase."""
    scaled = _scale(spec, inp.desired, state, now)
    mode = route_mode(
        scaled.want,
        inp.excess_burst_capacity,
        ready=inp.ready,
        inactive=state.phase is Phase.INACTIVE,
        proxy_only=inp.split and spec.container_concurrency > 0,
    )
    if mode is RouteMode.PROXY:
        proxy_since = now if state.proxy_since is None else state.proxy_since
    else:
        proxy_since = None
    phase, reached = _next_phase(spec, scaled.want, inp.ready, state)
    new_state = BoundsState(
        phase=phase,
        phase_since=state.phase_since if phase is state.phase else now,
        proxy_since=proxy_since,
        reached_initial=reached,
    )
    recheck_at = scaled.recheck_at
    if scaled.reason is Reason.DEACTIVATING:
        scale_now, later, _ = _inactive_gate(spec, new_state.phase_since, proxy_since, now)
        recheck_at = now if scale_now else later
    outcome = ScaleOutcome(
        replicas=scaled.replicas,
        mode=mode,
        activators=activator_count(spec, inp.ready),
        recheck_at=recheck_at,
        reason=scaled.reason,
        want=scaled.want,
    )
    return outcome, new_state
