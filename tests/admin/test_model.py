"""The snapshot's own rules: impossible values refused where they are built, derived
values (state, traffic share, cumulative buckets) computed one way for every reader."""

from __future__ import annotations

import itertools
import math

import pytest

from tests.admin.snapshots import NOW, busy, full_snapshot, iris
from zeroserve.admin.errors import InvalidSnapshot
from zeroserve.admin.model import (
    ColdStart,
    Condition,
    LatencyHistogram,
    RequestCounts,
    RevisionSnapshot,
    RevisionState,
    RouteMode,
    ServiceSnapshot,
    TrafficEntry,
)
from zeroserve.store import LATENCY_BUCKETS_MS


def revision(**fields: object) -> RevisionSnapshot:
    base: dict[str, object] = {
        "name": "r-00001",
        "namespace": "default",
        "service": "r",
        "mode": RouteMode.SERVE,
    }
    base.update(fields)
    return RevisionSnapshot(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("desired", "ready", "draining", "failed", "state"),
    [
        (0, 0, 0, None, RevisionState.SCALED_TO_ZERO),
        (0, 0, 1, None, RevisionState.SCALING_DOWN),
        (1, 0, 0, None, RevisionState.STARTING),
        (3, 1, 0, None, RevisionState.SCALING_UP),
        (1, 2, 0, None, RevisionState.SCALING_DOWN),
        (2, 2, 1, None, RevisionState.READY),
        (2, 2, 0, "exit code 1", RevisionState.FAILED),
        (0, 0, 0, "no runtime for format onnx", RevisionState.FAILED),
    ],
)
def test_revision_state(
    desired: int, ready: int, draining: int, failed: str | None, state: RevisionState
) -> None:
    rev = revision(desired=desired, ready=ready, draining=draining, failed_reason=failed)
    assert rev.state is state


@pytest.mark.parametrize(
    "fields",
    [
        {"desired": -1},
        {"ready": -1},
        {"held": -2},
        {"in_flight": -1},
        {"cold_starts": -1},
        {"scaling_metric": "memory"},
        {"stable_value": math.nan},
        {"target_value": math.inf},
        {"last_cold_start": ColdStart(NOW, 1, 1, 1, 1, 1)},  # with cold_starts == 0
        {"name": ""},
    ],
)
def test_impossible_revisions_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidSnapshot):
        revision(**fields)


@pytest.mark.parametrize(
    "build",
    [
        lambda: LatencyHistogram(counts=(1, 2)),
        lambda: LatencyHistogram(counts=(1, -1), bounds=(1.0, 2.0)),
        lambda: LatencyHistogram(counts=(1, 1), bounds=(2.0, 1.0)),
        lambda: LatencyHistogram(counts=(1, 1), bounds=(1.0, math.nan)),
        lambda: LatencyHistogram(counts=(1,), bounds=(math.nan,)),
        lambda: LatencyHistogram(counts=(), bounds=()),
        lambda: LatencyHistogram(sum_ms=-1.0),
        lambda: RequestCounts(status_5xx=-1),
        lambda: ColdStart(NOW, 1.0, -0.5, 1.0, 1.0, 1.0),
        lambda: ColdStart(math.nan, 1.0, 1.0, 1.0, 1.0, 1.0),
        lambda: Condition("Ready", "true"),
        lambda: TrafficEntry("r-00001", 101),
        lambda: ServiceSnapshot("default", "s", "http://s", traffic=(TrafficEntry("a", 50),)),
        lambda: ServiceSnapshot(
            "default", "s", "http://s", conditions=(Condition("Ready", "True"),) * 2
        ),
        lambda: full_snapshot(services=(iris()[0], iris()[0])),
        lambda: full_snapshot(revisions=(iris()[1][0], iris()[1][0])),
    ],
)
def test_impossible_values_are_refused(build: object) -> None:
    with pytest.raises(InvalidSnapshot):
        build()  # type: ignore[operator]


def test_cumulative_buckets_end_with_infinity_and_the_count() -> None:
    counts = (3, 0, 2, 5)
    closed = LatencyHistogram(counts=counts, bounds=(1.0, 2.0, 5.0, math.inf))
    assert closed.cumulative() == tuple(
        zip((1.0, 2.0, 5.0, math.inf), itertools.accumulate(counts), strict=True)
    )
    open_ended = LatencyHistogram(counts=counts, bounds=(1.0, 2.0, 5.0, 9.0))
    assert open_ended.cumulative()[-1] == (math.inf, sum(counts))
    assert len(open_ended.cumulative()) == len(counts) + 1
    assert LatencyHistogram().bounds == LATENCY_BUCKETS_MS
    assert LatencyHistogram().count == 0


def test_cold_start_phases_add_up_in_order() -> None:
    cold = ColdStart(NOW, queued_ms=1, decision_ms=2, spawn_ms=4, ready_ms=8, first_byte_ms=16)
    assert [p for p, _ in cold.phases()] == ["queued", "decision", "spawn", "ready", "first_byte"]
    assert cold.total_ms == 31


def test_traffic_share_counts_every_entry_naming_the_revision() -> None:
    snapshot = full_snapshot()
    shares = {r.name: snapshot.traffic_percent(r) for r in snapshot.revisions}
    assert shares == {
        "iris-predictor-00001": 100,
        "busy-predictor-00001": 90,
        "busy-predictor-00002": 10,
        # the failed canary's 10% resolves to the old revision, as in Knative
        "broken-predictor-00001": 100,
        "broken-predictor-00002": 0,
    }


def test_revisions_of_a_service_and_orphans() -> None:
    svc, revs = busy()
    gone = revision(name="gone-predictor-00001", service="gone")
    snapshot = full_snapshot(revisions=(revs[1], gone, revs[0]))
    assert [r.name for r in snapshot.revisions_of(svc)] == [revs[0].name, revs[1].name]
    assert snapshot.orphans() == (gone,)
    assert snapshot.traffic_percent(gone) == 0


def test_ready_follows_the_ready_condition() -> None:
    svc, _ = iris()
    assert svc.ready
    assert not ServiceSnapshot("default", "x", "http://x").ready
    unknown = ServiceSnapshot(
        "default", "x", "http://x", conditions=(Condition("Ready", "Unknown"),)
    )
    assert not unknown.ready
