"""Hand-built snapshots for the admin tests, and a real ``SnapshotSource`` serving them.

Three services show the cases a status report must make clear: ``iris`` scaled to zero
after a cold start, ``busy`` panicking in the middle of a 10% canary, ``broken`` whose
canary failed (so its old revision still takes all the traffic) with reasons full of
characters a page must escape.
"""

from __future__ import annotations

from zeroserve.admin.model import (
    ColdStart,
    Condition,
    LatencyHistogram,
    RequestCounts,
    RevisionSnapshot,
    RouteMode,
    ServerSnapshot,
    ServiceSnapshot,
    StoreHealth,
    TrafficEntry,
)

NOW = 1_700_000_000.0
DOMAIN = "example.com"
HOSTILE = '<script>alert("x")</script> & more'


class FixedSource:
    """Serves whatever snapshot it holds; a test swaps ``current`` to change the server."""

    def __init__(self, snapshot: ServerSnapshot) -> None:
        self.current = snapshot
        self.calls = 0

    def snapshot(self) -> ServerSnapshot:
        self.calls += 1
        return self.current


def ready_conditions() -> tuple[Condition, ...]:
    return (
        Condition("IngressReady", "True"),
        Condition("PredictorReady", "True"),
        Condition("Ready", "True"),
        Condition("Stopped", "False"),
    )


def service(name: str, traffic: tuple[TrafficEntry, ...], **fields: object) -> ServiceSnapshot:
    base: dict[str, object] = {
        "namespace": "default",
        "name": name,
        "url": f"http://{name}.default.{DOMAIN}",
        "hosts": (f"{name}.default.{DOMAIN}", f"{name}-predictor.default.{DOMAIN}"),
        "conditions": ready_conditions(),
        "traffic": traffic,
        "predictor_url": f"http://{name}-predictor.default.{DOMAIN}",
    }
    base.update(fields)
    return ServiceSnapshot(**base)  # type: ignore[arg-type]


IRIS_COLD = ColdStart(
    at=NOW - 125, queued_ms=0.4, decision_ms=1.6, spawn_ms=2.0, ready_ms=790.0, first_byte_ms=16.0
)
IRIS_LATENCY = LatencyHistogram(counts=(10, 20, 5, 3, 1, 0, 0, 3, 0, 0, 0, 1), sum_ms=12_345.5)


def iris() -> tuple[ServiceSnapshot, tuple[RevisionSnapshot, ...]]:
    rev = "iris-predictor-00001"
    svc = service(
        "iris",
        (TrafficEntry(rev, 100, latest_revision=True),),
        latest_created_revision=rev,
        latest_ready_revision=rev,
        latest_rolledout_revision=rev,
    )
    revision = RevisionSnapshot(
        name=rev,
        namespace="default",
        service="iris",
        mode=RouteMode.PROXY,
        excess_burst_capacity=-1,
        stable_value=0.0,
        panic_value=0.0,
        target_value=100.0,
        requests=RequestCounts(status_2xx=40, status_4xx=2, status_5xx=1),
        latency=IRIS_LATENCY,
        cold_starts=3,
        last_cold_start=IRIS_COLD,
    )
    return svc, (revision,)


def busy() -> tuple[ServiceSnapshot, tuple[RevisionSnapshot, ...]]:
    old, new = "busy-predictor-00001", "busy-predictor-00002"
    svc = service(
        "busy",
        (
            TrafficEntry(
                new,
                10,
                tag="latest",
                latest_revision=True,
                url=f"http://latest-busy-predictor.default.{DOMAIN}",
            ),
            TrafficEntry(old, 90, tag="prev", url=f"http://prev-busy-predictor.default.{DOMAIN}"),
        ),
        latest_created_revision=new,
        latest_ready_revision=new,
        latest_rolledout_revision=old,
    )
    revisions = (
        RevisionSnapshot(
            name=old,
            namespace="default",
            service="busy",
            mode=RouteMode.SERVE,
            desired=2,
            ready=2,
            excess_burst_capacity=5,
            stable_value=12.0,
            panic_value=14.5,
            target_value=10.0,
            in_flight=9,
            requests=RequestCounts(status_2xx=900),
        ),
        RevisionSnapshot(
            name=new,
            namespace="default",
            service="busy",
            mode=RouteMode.PROXY,
            desired=5,
            ready=3,
            draining=1,
            panic=True,
            excess_burst_capacity=-45,
            scaling_metric="rps",
            stable_value=30.0,
            panic_value=75.5,
            target_value=10.0,
            in_flight=12,
            held=7,
            requests=RequestCounts(status_2xx=100, status_3xx=4),
        ),
    )
    return svc, revisions


def broken() -> tuple[ServiceSnapshot, tuple[RevisionSnapshot, ...]]:
    old, new = "broken-predictor-00001", "broken-predictor-00002"
    svc = service(
        "broken",
        # A failed canary: "latest" resolves to the latest *ready* revision, the old one.
        (
            TrafficEntry(old, 10, latest_revision=True),
            TrafficEntry(old, 90, tag="prev"),
        ),
        conditions=(
            Condition("IngressReady", "True"),
            Condition("PredictorReady", "False", "RevisionFailed", HOSTILE),
            Condition("Ready", "False", "RevisionFailed", HOSTILE),
            Condition("Stopped", "False"),
        ),
        latest_created_revision=new,
        latest_ready_revision=old,
        latest_rolledout_revision=old,
    )
    revisions = (
        RevisionSnapshot(
            name=old,
            namespace="default",
            service="broken",
            mode=RouteMode.SERVE,
            desired=1,
            ready=1,
        ),
        RevisionSnapshot(
            name=new,
            namespace="default",
            service="broken",
            mode=RouteMode.PROXY,
            failed_reason=f"exit code 1: {HOSTILE}",
        ),
    )
    return svc, revisions


def full_snapshot(**fields: object) -> ServerSnapshot:
    services: list[ServiceSnapshot] = []
    revisions: list[RevisionSnapshot] = []
    for svc, revs in (iris(), busy(), broken()):
        services.append(svc)
        revisions.extend(revs)
    base: dict[str, object] = {
        "version": "0.1.0",
        "taken_at": NOW,
        "store": StoreHealth("memory", healthy=True),
        "services": tuple(services),
        "revisions": tuple(revisions),
    }
    base.update(fields)
    return ServerSnapshot(**base)  # type: ignore[arg-type]
