"""The admin's ``ServerSnapshot`` from the running parts' read-outs.

Pure apart from reading: everything comes in as the parts' own frozen read-outs (the
controller's ``ServiceStatus``, the loop's ``RevisionStatus``) or as read-only views
(the engine's counters, the capacity tracker, the cold-start recorder), and nothing is
changed. Where the parts disagree the rules are:

* desired replicas are the controller's (the decision it applied to the runtime), else
  the loop's held scale; ready and draining counts are the runtime's, via the controller;
* panic, excess burst capacity and the window averages are the loop's last evaluation;
* requests and latency are the engine's cumulative counters; in flight (leases) and held
  (waiting) are the capacity tracker's;
* a cold start's phases become consecutive durations (the admin's shape) from the
  recorder's offsets since the request was queued.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from autoscaler.model import RevisionStatus as LoopRevisionStatus
from zeroserve.admin.model import (
    ColdStart,
    Condition,
    LatencyHistogram,
    RequestCounts,
    RevisionSnapshot,
    ServerSnapshot,
    ServiceSnapshot,
    StoreHealth,
    TrafficEntry,
)
from zeroserve.config.scaling import RouteMode
from zeroserve.control.status import Condition as ControlCondition
from zeroserve.control.status import RevisionState, ServiceStatus
from zeroserve.dataplane.cold_start import ColdStart as MeasuredColdStart
from zeroserve.proxy.stats import RevisionCounters
from zeroserve.store.routes import RouteTable
from zeroserve.store.stats import LATENCY_BUCKETS_MS

__all__ = [
    "DataPath",
    "build_snapshot",
    "cold_start_phases",
    "estimated_latency_sum",
    "revision_snapshot",
    "service_snapshot",
    "target_values",
]


@dataclass(frozen=True, slots=True)
class DataPath:
    """The data path's read-outs. ``counters``: the engine's per-revision counters;
    ``in_flight``/``held``: leases held and requests waiting, per revision (the capacity
    tracker's); ``cold_requests``/``last_cold_start``: the cold-start recorder's."""

    counters: Mapping[str, RevisionCounters]
    in_flight: Callable[[str], int]
    held: Callable[[str], int]
    cold_requests: Callable[[str], int]
    last_cold_start: Callable[[str], MeasuredColdStart | None]


def _condition(condition: ControlCondition) -> Condition:
    return Condition(
        type=condition.type,
        status=condition.status,
        reason=condition.reason or "",
        message=condition.message or "",
    )


def service_snapshot(status: ServiceStatus) -> ServiceSnapshot:
    return ServiceSnapshot(
        namespace=status.namespace,
        name=status.name,
        url=status.url,
        hosts=status.hosts,
        conditions=tuple(_condition(c) for c in status.conditions),
        traffic=tuple(
            TrafficEntry(
                revision=t.revision_name,
                percent=t.percent,
                tag=t.tag,
                latest_revision=t.latest_revision,
                url=t.url,
            )
            for t in status.traffic
        ),
        latest_created_revision=status.latest_created_revision,
        latest_ready_revision=status.latest_ready_revision,
        latest_rolledout_revision=status.latest_rolledout_revision,
        previous_rolledout_revision=status.previous_rolledout_revision,
        predictor_url=status.predictor_url,
    )


def estimated_latency_sum(counts: Sequence[int], bounds: Sequence[float]) -> float:
    """The engine counts requests per latency bucket and keeps no sum; Prometheus'
    ``_sum`` is estimated from the buckets' midpoints (the last, open bucket at its lower
    bound), which is exact to within the bucket widths."""
    total = 0.0
    lower = 0.0
    for count, upper in zip(counts, bounds, strict=True):
        middle = lower if math.isinf(upper) else (lower + upper) / 2
        total += count * middle
        if not math.isinf(upper):
            lower = upper
    return total


def cold_start_phases(measured: MeasuredColdStart, at: float) -> ColdStart:
    """The recorder's offsets since queueing (each phase ``None`` when it did not happen
    within the wait) as consecutive durations: ``queued`` until the scaler decided (the
    poke goes out as the request is queued, so this is the poke's trip), then decision →
    spawn → ready → first byte. A missing phase takes no time; the next is measured from
    the last one that happened. ``at`` is the wall-clock time the request was queued."""
    points = [
        measured.decision_ms,
        measured.spawn_ms,
        measured.ready_ms,
        measured.first_byte_ms,
    ]
    durations: list[float] = []
    last = 0.0
    for point in points:
        if point is None:
            durations.append(0.0)
            continue
        durations.append(max(0.0, point - last))
        last = max(last, point)
    decision, spawn, ready, first_byte = durations
    return ColdStart(
        at=at,
        queued_ms=0.0,
        decision_ms=decision,
        spawn_ms=spawn,
        ready_ms=ready,
        first_byte_ms=first_byte,
    )


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def revision_snapshot(
    service: ServiceStatus,
    revision: RevisionState,
    scaling: LoopRevisionStatus | None,
    target_value: float | None,
    data: DataPath,
    *,
    wall_minus_monotonic: float,
) -> RevisionSnapshot:
    """One revision; ``wall_minus_monotonic`` turns the recorder's ``time.monotonic()``
    moments into wall-clock times."""
    name = revision.name
    desired = revision.desired
    if desired is None:
        desired = 0 if scaling is None or scaling.scale is None else scaling.scale
    counters = data.counters.get(name)
    requests = RequestCounts()
    latency = LatencyHistogram()
    if counters is not None:
        by_class = counters.by_class
        requests = RequestCounts(
            status_2xx=by_class[2],
            status_3xx=by_class[3],
            status_4xx=by_class[4],
            status_5xx=by_class[5],
        )
        counts = tuple(counters.latency)
        latency = LatencyHistogram(
            counts=counts, sum_ms=estimated_latency_sum(counts, LATENCY_BUCKETS_MS)
        )
    cold_requests = data.cold_requests(name)
    measured = data.last_cold_start(name) if cold_requests else None
    last_cold = (
        None
        if measured is None
        else cold_start_phases(measured, measured.queued_at + wall_minus_monotonic)
    )
    return RevisionSnapshot(
        name=name,
        namespace=service.namespace,
        service=service.name,
        mode=RouteMode(revision.mode),
        desired=max(0, desired),
        ready=revision.ready,
        draining=revision.draining,
        failed_reason=revision.failed,
        panic=False if scaling is None else scaling.panic,
        excess_burst_capacity=0 if scaling is None else scaling.excess_burst_capacity,
        scaling_metric="concurrency" if scaling is None else scaling.metric,
        stable_value=None if scaling is None else _finite(scaling.stable_average),
        panic_value=None if scaling is None else _finite(scaling.panic_average),
        target_value=_finite(target_value),
        in_flight=data.in_flight(name),
        held=data.held(name),
        requests=requests,
        latency=latency,
        cold_starts=cold_requests,
        last_cold_start=last_cold,
    )


def target_values(table: RouteTable | None) -> dict[str, float]:
    """Each revision's per-replica target, from the scaling spec in the route table."""
    if table is None:
        return {}
    return {
        r.name: r.scaling.decider.target_value for r in table.revisions if r.scaling is not None
    }


def build_snapshot(
    *,
    version: str,
    taken_at: float,
    store: StoreHealth,
    services: Sequence[ServiceStatus],
    scaling: Mapping[str, LoopRevisionStatus],
    routes: RouteTable | None,
    data: DataPath,
    wall_minus_monotonic: float,
) -> ServerSnapshot:
    """The whole server: one ``ServiceSnapshot`` per service the controller holds, one
    ``RevisionSnapshot`` per revision it holds for them."""
    targets = target_values(routes)
    revisions: list[RevisionSnapshot] = []
    for service in services:
        for revision in service.revisions:
            revisions.append(
                revision_snapshot(
                    service,
                    revision,
                    scaling.get(revision.name),
                    targets.get(revision.name),
                    data,
                    wall_minus_monotonic=wall_minus_monotonic,
                )
            )
    return ServerSnapshot(
        version=version,
        taken_at=taken_at,
        store=store,
        services=tuple(service_snapshot(s) for s in services),
        revisions=tuple(revisions),
    )
