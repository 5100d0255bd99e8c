"""The scaling loop's small shared types: what it can see, what it reports, what it exports.

``RevisionState`` is one revision's mutable record inside the loop (its spec, decider
and bounds states, last decision, held scale); ``reachable_revisions`` reads the route
table the way the controller does.

``Sight`` is the collector's verdict on the stats it has read: whether a decision may be
made from them. ``RevisionStatus``/``LoopStatus``/``TickTiming`` are read-outs for the
status page and metrics. The ``*Data`` TypedDicts are the loop's state as plain data
(JSON-ready: str, int, float, bool, None, lists, dicts): the seam through which the
state is persisted to the store and rebuilt after a restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, TypedDict

from autoscaler.bounds import BoundsState, Phase, Reason, ScaleOutcome
from autoscaler.decider import INVALID, DeciderState, Decision, retune
from autoscaler.windows import Averages
from zeroserve.config.scaling import DeciderSpec, RevisionScaling, RouteMode
from zeroserve.store.routes import RouteTable

__all__ = [
    "STATE_FORMAT",
    "AutoscalerStateError",
    "BoundsData",
    "CollectorData",
    "DeciderData",
    "DecisionData",
    "LoopData",
    "LoopStatus",
    "RevisionData",
    "RevisionState",
    "RevisionStatus",
    "Sight",
    "TickTiming",
    "bounds_from_data",
    "bounds_to_data",
    "check_loop_data",
    "decider_from_data",
    "decider_to_data",
    "decision_from_data",
    "decision_to_data",
    "initial_excess_burst_capacity",
    "reachable_revisions",
    "with_reachability",
]

STATE_FORMAT: Final = 1  # bumped when the exported shape changes
_INT32_MAX: Final = 2**31 - 1
_INT32_MIN: Final = -(2**31)


class AutoscalerStateError(ValueError):
    """Exported loop state that cannot be imported (wrong format, wrong types)."""


# -- what the collector can see --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sight:
    """Whether the stats read so far allow a decision.

    ``valid``: every reporter known is live (or departed) and nothing was lost, so a
    revision's silence is zero. ``horizon``: the last whole second every live reporter
    has reported (seconds up to it are complete); ``None`` when not valid. ``reason``
    says why not valid. ``recovered``: this read ended a blind period whose windows held
    unknown seconds; they were restarted empty (the loop takes Knative's restart posture).
    """

    valid: bool
    horizon: int | None = None
    reason: str | None = None
    recovered: bool = False


# -- routes ---------------------------------------------------------------------------


def reachable_revisions(table: RouteTable) -> frozenset[str]:
    """Revisions a request can reach: a share of some service's traffic, or a tag (the
    controller's rule in ``zeroserve.control.routes``)."""
    return frozenset(
        target.revision
        for service in table.services
        for target in service.traffic
        if target.percent > 0 or target.tag
    )


def with_reachability(spec: RevisionScaling, reachable: bool) -> RevisionScaling:
    """``spec`` as it applies when the revision is (or is not) reachable."""
    if spec.decider.reachable == reachable and spec.bounds.reachable == reachable:
        return spec
    return replace(
        spec,
        decider=replace(spec.decider, reachable=reachable),
        bounds=replace(spec.bounds, reachable=reachable),
    )


# -- read-outs -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RevisionStatus:
    """One revision as the loop last saw it.

    ``desired``/``excess_burst_capacity``/``panic`` come from the last *valid* decision
    (``desired`` −1 before the first; the EBC is then Knative's initial guess);
    ``decided`` says whether the latest evaluation was valid. ``stable_average`` and
    ``panic_average`` are the latest observed window averages of the spec's metric
    (``None``: not observed, the loop was blind). ``want``, ``mode``, ``activators``,
    ``reason`` and ``recheck_at`` are the bounds' outcome; ``scale`` is the desired
    replica count the loop holds (and writes), ``None`` before the first evaluation.
    """

    revision: str
    service: str
    namespace: str
    metric: str
    desired: int
    excess_burst_capacity: int
    panic: bool
    decided: bool
    stable_average: float | None
    panic_average: float | None
    want: int
    scale: int | None
    mode: RouteMode
    ready: int
    activators: int
    reason: str
    recheck_at: float | None
    evaluated_at: float | None


@dataclass(frozen=True, slots=True)
class TickTiming:
    """Where one tick's time went (seconds of CPU-bound wall time, ``perf_counter``).

    ``read``: routes, endpoints and the stats read from the store; ``windows``: feeding
    the batch into the windows and reading their averages; ``decide``; ``bounds``;
    ``write``: desired scale written to the store (``writes`` of them)."""

    read: float
    windows: float
    decide: float
    bounds: float
    write: float
    revisions: int
    samples: int
    writes: int

    @property
    def total(self) -> float:
        return self.read + self.windows + self.decide + self.bounds + self.write


@dataclass(frozen=True, slots=True)
class LoopStatus:
    """The loop as a whole: leadership, what it can see, and its last tick."""

    leader: bool
    token: int | None
    fenced_token: int | None  # a token the store refused (StaleToken): no more writes with it
    sight: Sight
    revisions: int
    ticks: int
    last_tick_at: float | None
    timing: TickTiming | None
    write_failures: int
    tick_failures: int
    untracked_samples: int  # stats for revisions without a scaling spec (dropped)


def initial_excess_burst_capacity(spec: DeciderSpec) -> int:
    """Knative's MultiScaler guess before the first valid decision (knative-kpa §1.5):
    TBC itself when it is −1 or 0, else ``int32(initial_scale × TV − TBC)`` (so with the
    defaults the activator starts in the path)."""
    tbc = spec.target_burst_capacity
    if tbc in (-1.0, 0.0):
        return int(tbc)
    guess = spec.initial_scale * spec.total_value - tbc
    if guess != guess:  # NaN: the decider's float→int32 convention (arm64's)
        return 0
    if guess >= _INT32_MAX:
        return _INT32_MAX
    if guess <= _INT32_MIN:
        return _INT32_MIN
    return int(guess)


# -- exported state (plain data) -------------------------------------------------------


class DeciderData(TypedDict):
    panic_time: float | None
    max_panic_pods: int
    delay_window: list[list[int]] | None  # [bucket index, value] pairs
    delay_capacity: int


class BoundsData(TypedDict):
    phase: str
    phase_since: float
    proxy_since: float | None
    reached_initial: bool


class DecisionData(TypedDict):
    desired: int
    excess_burst_capacity: int
    panic: bool


class RevisionData(TypedDict):
    """One revision: its windows as per-second ``[second, concurrency, requests]`` totals
    (every second of the stable window, zeros included, oldest first), its decider and
    bounds state, its last valid decision and the scale it holds."""

    samples: list[list[float]]
    last_data: int | None  # the last second with a real sample or a poke
    decider: DeciderData
    bounds: BoundsData
    last_decision: DecisionData | None
    scale: int | None


class CollectorData(TypedDict):
    cursor: str | None
    heartbeats: list[list[Any]]  # [reporter, at, route_version, leaving]
    tainted: str | None  # why the windows hold unknown seconds


class LoopData(TypedDict):
    format: int
    exported_at: float
    collector: CollectorData
    revisions: dict[str, RevisionData]


def decider_to_data(state: DeciderState) -> DeciderData:
    window = state.delay_window
    return {
        "panic_time": state.panic_time,
        "max_panic_pods": state.max_panic_pods,
        "delay_window": None if window is None else [[i, v] for i, v in window],
        "delay_capacity": state.delay_capacity,
    }


def decider_from_data(data: Mapping[str, Any]) -> DeciderState:
    try:
        window = data["delay_window"]
        return DeciderState(
            panic_time=_opt_float(data["panic_time"]),
            max_panic_pods=_int(data["max_panic_pods"]),
            delay_window=None if window is None else tuple((_int(i), _int(v)) for i, v in window),
            delay_capacity=_int(data["delay_capacity"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise AutoscalerStateError(f"bad decider state {data!r}: {error}") from None


def bounds_to_data(state: BoundsState) -> BoundsData:
    return {
        "phase": state.phase.value,
        "phase_since": state.phase_since,
        "proxy_since": state.proxy_since,
        "reached_initial": state.reached_initial,
    }


def bounds_from_data(data: Mapping[str, Any]) -> BoundsState:
    try:
        return BoundsState(
            phase=Phase(data["phase"]),
            phase_since=float(data["phase_since"]),
            proxy_since=_opt_float(data["proxy_since"]),
            reached_initial=_bool(data["reached_initial"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise AutoscalerStateError(f"bad bounds state {data!r}: {error}") from None


def decision_to_data(decision: Decision | None) -> DecisionData | None:
    if decision is None:
        return None
    return {
        "desired": decision.desired,
        "excess_burst_capacity": decision.excess_burst_capacity,
        "panic": decision.panic,
    }


def decision_from_data(data: Mapping[str, Any] | None) -> Decision | None:
    if data is None:
        return None
    try:
        return Decision(
            desired=_int(data["desired"]),
            excess_burst_capacity=_int(data["excess_burst_capacity"]),
            panic=_bool(data["panic"]),
            valid=True,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise AutoscalerStateError(f"bad decision {data!r}: {error}") from None


# -- one revision's state, owned by the loop ---------------------------------------------


@dataclass(slots=True)
class RevisionState:
    """One revision's state, owned by the loop (mutable; the parts it holds are not)."""

    name: str
    spec: RevisionScaling
    decider: DeciderState
    bounds: BoundsState
    service: str = ""
    namespace: str = ""
    last: Decision | None = None  # the last valid decision
    decision: Decision = INVALID  # the latest evaluation's
    averages: Averages | None = None
    outcome: ScaleOutcome | None = None
    scale: int | None = None  # the desired replicas held (and written)
    mode: RouteMode = RouteMode.PROXY
    published: tuple[int, RouteMode] | None = None  # last accepted write, this token
    evaluated_at: float | None = None

    def status(self, ready: int) -> RevisionStatus:
        last = self.last
        outcome = self.outcome
        averages = self.averages
        return RevisionStatus(
            revision=self.name,
            service=self.service,
            namespace=self.namespace,
            metric=self.spec.decider.scaling_metric,
            desired=-1 if last is None else last.desired,
            excess_burst_capacity=(
                initial_excess_burst_capacity(self.spec.decider)
                if last is None
                else last.excess_burst_capacity
            ),
            panic=self.decider.panicking,
            decided=self.decision.valid,
            stable_average=None if averages is None else averages.stable,
            panic_average=None if averages is None else averages.panic,
            want=-1 if outcome is None else outcome.want,
            scale=self.scale,
            mode=self.mode,
            ready=ready,
            activators=0 if outcome is None else outcome.activators,
            reason=Reason.UNKNOWN_DECISION.value if outcome is None else outcome.reason.value,
            recheck_at=None if outcome is None else outcome.recheck_at,
            evaluated_at=self.evaluated_at,
        )

    def to_data(self, samples: list[list[float]], last_data: int | None) -> RevisionData:
        """The state as plain data, with the windows' per-second totals (the collector's)."""
        return {
            "samples": samples,
            "last_data": last_data,
            "decider": decider_to_data(self.decider),
            "bounds": bounds_to_data(self.bounds),
            "last_decision": decision_to_data(self.last),
            "scale": self.scale,
        }

    @classmethod
    def restored(cls, name: str, spec: RevisionScaling, data: RevisionData) -> RevisionState:
        """A revision's state from ``to_data``'s, under the spec in force now. The decider
        state records its own delay capacity: retuning it to ``spec`` resizes the window
        if the knobs changed while the state was away."""
        return cls(
            name,
            spec,
            retune(decider_from_data(data["decider"]), spec.decider, spec.decider),
            bounds_from_data(data["bounds"]),
            last=decision_from_data(data["last_decision"]),
            scale=data["scale"],
        )


def check_loop_data(data: Mapping[str, Any]) -> tuple[CollectorData, dict[str, RevisionData]]:
    """The collector's part and each revision's, checked (``AutoscalerStateError``)."""
    try:
        if data["format"] != STATE_FORMAT:
            raise AutoscalerStateError(
                f"exported state format {data['format']!r}, this loop reads {STATE_FORMAT}"
            )
        revisions: dict[str, RevisionData] = {}
        for name, entry in data["revisions"].items():
            decider_from_data(entry["decider"])
            bounds_from_data(entry["bounds"])
            decision_from_data(entry["last_decision"])
            scale = entry["scale"]
            if scale is not None and (isinstance(scale, bool) or not isinstance(scale, int)):
                raise AutoscalerStateError(f"bad held scale {scale!r} for {name}")
            if scale is not None and scale < 0:
                raise AutoscalerStateError(f"bad held scale {scale!r} for {name}")
            revisions[str(name)] = entry
        collector: CollectorData = data["collector"]
        return collector, revisions
    except (KeyError, TypeError, AttributeError) as error:
        raise AutoscalerStateError(f"not an exported scaling loop state: {error}") from None


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected a boolean, got {value!r}")
    return value


def _opt_float(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)
