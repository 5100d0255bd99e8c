"""What the admin shows: one frozen snapshot of the server, taken per request.

The admin depends on no running part: the wiring fills a ``ServerSnapshot`` from the
controller (services, conditions, traffic, replicas), the autoscaler (desired, panic,
excess burst capacity, stable/panic values), the data path (counters, held requests,
cold starts) and the store. Everything the API, ``/metrics``, the status page and
``zeroserve status`` print is read from here, so they always agree with each other.

Counters (requests, latency, cold starts) are cumulative since the process started, as
Prometheus expects; the rest are values at ``ServerSnapshot.taken_at``.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from zeroserve.admin.errors import InvalidSnapshot
from zeroserve.config.scaling import RouteMode
from zeroserve.store import LATENCY_BUCKETS_MS, StoreHealth

__all__ = [
    "COLD_START_PHASES",
    "STATUS_CLASSES",
    "ColdStart",
    "Condition",
    "LatencyHistogram",
    "RequestCounts",
    "RevisionSnapshot",
    "RevisionState",
    "RouteMode",
    "ServerSnapshot",
    "ServiceSnapshot",
    "StoreHealth",
    "TrafficEntry",
]

# The phases of a cold start, in order (the ``Zeroserve-Cold-Start`` header's too).
COLD_START_PHASES: tuple[str, ...] = ("queued", "decision", "spawn", "ready", "first_byte")
STATUS_CLASSES: tuple[str, ...] = ("2xx", "3xx", "4xx", "5xx")
CONDITION_STATUSES: tuple[str, ...] = ("True", "False", "Unknown")
SCALING_METRICS: tuple[str, ...] = ("concurrency", "rps")


def _count(what: str, value: int) -> None:
    if value < 0:
        raise InvalidSnapshot(f"{what} must be >= 0, got {value}")


def _milliseconds(what: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise InvalidSnapshot(f"{what} must be a finite number >= 0, got {value}")


def _optional_finite(what: str, value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise InvalidSnapshot(f"{what} must be finite (or None for no data), got {value}")


@dataclass(frozen=True, slots=True)
class Condition:
    """A KServe status condition: ``status`` is ``"True"``, ``"False"`` or ``"Unknown"``;
    ``reason`` and ``message`` say why when it is not True."""

    type: str
    status: str
    reason: str = ""
    message: str = ""

    def __post_init__(self) -> None:
        if self.status not in CONDITION_STATUSES:
            raise InvalidSnapshot(
                f"condition {self.type!r} has status {self.status!r}; "
                f"allowed: {', '.join(CONDITION_STATUSES)}"
            )


@dataclass(frozen=True, slots=True)
class TrafficEntry:
    """One entry of KServe's ``status.components.predictor.traffic``. In a failed canary
    two entries may name the same revision (``latest`` resolves to the latest ready one)."""

    revision: str
    percent: int
    tag: str | None = None
    latest_revision: bool = False
    url: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.percent <= 100:
            raise InvalidSnapshot(
                f"traffic percent of {self.revision!r} must be in [0, 100], got {self.percent}"
            )


@dataclass(frozen=True, slots=True)
class ServiceSnapshot:
    """One InferenceService, in KServe's status vocabulary (``reference/kserve.md`` 2.5).

    ``url`` is the top-level URL, ``predictor_url`` the component's; ``hosts`` are every
    name the gateway answers for it (tag hosts included)."""

    namespace: str
    name: str
    url: str
    hosts: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()
    traffic: tuple[TrafficEntry, ...] = ()
    latest_created_revision: str | None = None
    latest_ready_revision: str | None = None
    latest_rolledout_revision: str | None = None
    previous_rolledout_revision: str | None = None
    predictor_url: str | None = None

    def __post_init__(self) -> None:
        types = [c.type for c in self.conditions]
        if len(types) != len(set(types)):
            raise InvalidSnapshot(f"{self.key}: a condition type appears twice in {types}")
        total = sum(t.percent for t in self.traffic)
        if total not in (0, 100):
            raise InvalidSnapshot(f"traffic of {self.key} adds up to {total}%, not 100% (or 0)")

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    @property
    def ready(self) -> bool:
        """KServe's rule: the service is ready when its ``Ready`` condition is True."""
        ready = self.condition("Ready")
        return ready is not None and ready.status == "True"

    def percent_of(self, revision: str) -> int:
        """The share of the service's traffic that reaches ``revision`` (summed over the
        entries naming it)."""
        return sum(t.percent for t in self.traffic if t.revision == revision)

    def tags_of(self, revision: str) -> tuple[str, ...]:
        return tuple(t.tag for t in self.traffic if t.revision == revision and t.tag)


@dataclass(frozen=True, slots=True)
class RequestCounts:
    """Responses finished, by status class, since the process started."""

    status_2xx: int = 0
    status_3xx: int = 0
    status_4xx: int = 0
    status_5xx: int = 0

    def __post_init__(self) -> None:
        for status_class, count in self.by_class():
            _count(f"{status_class} responses", count)

    def by_class(self) -> tuple[tuple[str, int], ...]:
        return (
            ("2xx", self.status_2xx),
            ("3xx", self.status_3xx),
            ("4xx", self.status_4xx),
            ("5xx", self.status_5xx),
        )

    @property
    def total(self) -> int:
        return self.status_2xx + self.status_3xx + self.status_4xx + self.status_5xx


@dataclass(frozen=True, slots=True)
class LatencyHistogram:
    """Request latency: ``counts[i]`` requests took at most ``bounds[i]`` ms and more than
    ``bounds[i-1]`` (per bucket, not cumulative, like the store's stats); ``sum_ms`` is
    their total latency. The default bounds are the store's, ending with infinity."""

    counts: tuple[int, ...] = (0,) * len(LATENCY_BUCKETS_MS)
    sum_ms: float = 0.0
    bounds: tuple[float, ...] = LATENCY_BUCKETS_MS

    def __post_init__(self) -> None:
        if not self.bounds:
            raise InvalidSnapshot("a latency histogram needs at least one bucket")
        if len(self.counts) != len(self.bounds):
            raise InvalidSnapshot(
                f"latency histogram has {len(self.counts)} counts for {len(self.bounds)} bounds"
            )
        # Written so that a NaN anywhere fails too (every comparison with NaN is false).
        pairs = itertools.pairwise(self.bounds)
        if math.isnan(self.bounds[0]) or any(not later > earlier for earlier, later in pairs):
            raise InvalidSnapshot(f"latency bounds must increase: {self.bounds}")
        for count in self.counts:
            _count("a latency bucket count", count)
        _milliseconds("the latency sum", self.sum_ms)

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> tuple[tuple[float, int], ...]:
        """``(le, requests at most le)`` per bound, ending with ``(inf, count)``: the shape
        of a Prometheus histogram."""
        buckets: list[tuple[float, int]] = []
        running = 0
        for bound, count in zip(self.bounds, self.counts, strict=True):
            running += count
            buckets.append((bound, running))
        if buckets[-1][0] != math.inf:
            buckets.append((math.inf, running))
        return tuple(buckets)


@dataclass(frozen=True, slots=True)
class ColdStart:
    """The last request that waited for a replica: when it arrived (``at``, wall-clock
    epoch seconds) and how long each phase took, in ms, one after the other, so they add
    up to its wait until the first response byte. ``queued``: held until the scaler was
    asked; ``decision``: until desired scale rose; ``spawn``: until the replica's process
    started; ``ready``: until it passed readiness; ``first_byte``: until the response's
    first byte."""

    at: float
    queued_ms: float
    decision_ms: float
    spawn_ms: float
    ready_ms: float
    first_byte_ms: float

    def __post_init__(self) -> None:
        if not math.isfinite(self.at):
            raise InvalidSnapshot(f"a cold start's time must be finite, got {self.at}")
        for phase, ms in self.phases():
            _milliseconds(f"the cold start's {phase} phase", ms)

    def phases(self) -> tuple[tuple[str, float], ...]:
        """``(phase, ms)`` in ``COLD_START_PHASES`` order."""
        return (
            ("queued", self.queued_ms),
            ("decision", self.decision_ms),
            ("spawn", self.spawn_ms),
            ("ready", self.ready_ms),
            ("first_byte", self.first_byte_ms),
        )

    @property
    def total_ms(self) -> float:
        return math.fsum(ms for _, ms in self.phases())


class RevisionState(enum.StrEnum):
    """One word for a revision's replicas, for people (the numbers are alongside)."""

    FAILED = "Failed"
    SCALED_TO_ZERO = "ScaledToZero"  # nothing desired, ready or draining
    STARTING = "Starting"  # replicas desired, none ready yet: a cold start
    SCALING_UP = "ScalingUp"
    SCALING_DOWN = "ScalingDown"  # more ready than desired, or draining down to zero
    READY = "Ready"


@dataclass(frozen=True, slots=True)
class RevisionSnapshot:
    """One revision: replicas, the autoscaler's last decision, the data path's counters.

    ``stable_value``/``panic_value`` are the revision-wide averages over the stable and
    panic windows in ``scaling_metric`` units (concurrency or requests per second), and
    ``target_value`` the per-replica target; ``None`` when the autoscaler has no data.
    ``excess_burst_capacity`` is Knative's (negative: requests go through the activator;
    -1 also when the target burst capacity is -1). ``held`` requests wait for a replica;
    ``in_flight`` are being answered."""

    name: str
    namespace: str
    service: str
    mode: RouteMode
    desired: int = 0
    ready: int = 0
    draining: int = 0
    failed_reason: str | None = None
    panic: bool = False
    excess_burst_capacity: int = 0
    scaling_metric: str = "concurrency"
    stable_value: float | None = None
    panic_value: float | None = None
    target_value: float | None = None
    in_flight: int = 0
    held: int = 0
    requests: RequestCounts = field(default_factory=RequestCounts)
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    cold_starts: int = 0
    last_cold_start: ColdStart | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidSnapshot("a revision needs a name")
        for what, value in (
            ("desired", self.desired),
            ("ready", self.ready),
            ("draining", self.draining),
            ("in flight", self.in_flight),
            ("held", self.held),
            ("cold starts", self.cold_starts),
        ):
            _count(f"{self.name}: {what}", value)
        if self.scaling_metric not in SCALING_METRICS:
            raise InvalidSnapshot(
                f"{self.name}: scaling metric {self.scaling_metric!r}; "
                f"allowed: {', '.join(SCALING_METRICS)}"
            )
        _optional_finite(f"{self.name}: stable value", self.stable_value)
        _optional_finite(f"{self.name}: panic value", self.panic_value)
        _optional_finite(f"{self.name}: target value", self.target_value)
        if self.last_cold_start is not None and self.cold_starts == 0:
            raise InvalidSnapshot(f"{self.name}: a last cold start but no cold starts counted")

    @property
    def state(self) -> RevisionState:
        if self.failed_reason is not None:
            return RevisionState.FAILED
        if self.ready == 0 and self.desired == 0:
            if self.draining:
                return RevisionState.SCALING_DOWN
            return RevisionState.SCALED_TO_ZERO
        if self.ready == 0:
            return RevisionState.STARTING
        if self.ready < self.desired:
            return RevisionState.SCALING_UP
        if self.ready > self.desired:
            return RevisionState.SCALING_DOWN
        return RevisionState.READY


@dataclass(frozen=True, slots=True)
class ServerSnapshot:
    """The whole server at ``taken_at`` (wall-clock epoch seconds). Revision names are
    unique (they are the store's keys); a service's revisions are those naming it."""

    version: str
    taken_at: float
    store: StoreHealth
    services: tuple[ServiceSnapshot, ...] = ()
    revisions: tuple[RevisionSnapshot, ...] = ()

    def __post_init__(self) -> None:
        _unique("service", (s.key for s in self.services))
        _unique("revision", (r.name for r in self.revisions))

    def service(self, namespace: str, name: str) -> ServiceSnapshot | None:
        return next((s for s in self.services if s.namespace == namespace and s.name == name), None)

    def revisions_of(self, service: ServiceSnapshot) -> tuple[RevisionSnapshot, ...]:
        """The service's revisions, oldest name first (``…-00001`` before ``…-00002``)."""
        mine = (
            r
            for r in self.revisions
            if r.namespace == service.namespace and r.service == service.name
        )
        return tuple(sorted(mine, key=lambda r: r.name))

    def traffic_percent(self, revision: RevisionSnapshot) -> int:
        service = self.service(revision.namespace, revision.service)
        return 0 if service is None else service.percent_of(revision.name)

    def orphans(self) -> tuple[RevisionSnapshot, ...]:
        """Revisions whose service is not in the snapshot (being deleted)."""
        keys = {(s.namespace, s.name) for s in self.services}
        return tuple(r for r in self.revisions if (r.namespace, r.service) not in keys)


def _unique(what: str, keys: Iterable[str]) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise InvalidSnapshot(f"{what} {key!r} appears twice in the snapshot")
        seen.add(key)
