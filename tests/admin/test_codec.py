"""The JSON of the admin API: KServe's status shape, Zeroserve's additions, and a decode
that gives back exactly the snapshot that was encoded (what ``zeroserve status`` relies on)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.admin.snapshots import NOW, full_snapshot, iris
from zeroserve.admin.codec import (
    decode_revision,
    decode_service,
    decode_status,
    encode_revision,
    encode_service,
    encode_status,
)
from zeroserve.admin.errors import BadAdminAnswer
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


def by_name(snapshot: ServerSnapshot) -> dict[str, RevisionSnapshot]:
    return {r.name: r for r in snapshot.revisions}


def through_json(value: object) -> Any:
    """What a client receives: strict JSON (no NaN, no infinity)."""
    return json.loads(json.dumps(value, allow_nan=False))


def test_a_failed_canary_in_kserve_shape() -> None:
    snapshot = full_snapshot()
    broken = snapshot.service("default", "broken")
    assert broken is not None
    doc = through_json(encode_service(snapshot, broken))
    assert doc["metadata"] == {"name": "broken", "namespace": "default"}
    status = doc["status"]
    assert status["url"] == "http://broken.default.example.com"
    assert status["components"]["predictor"] == {
        "latestCreatedRevision": "broken-predictor-00002",
        "latestReadyRevision": "broken-predictor-00001",
        "latestRolledoutRevision": "broken-predictor-00001",
        "url": "http://broken-predictor.default.example.com",
        "traffic": [
            {"revisionName": "broken-predictor-00001", "latestRevision": True, "percent": 10},
            {
                "tag": "prev",
                "revisionName": "broken-predictor-00001",
                "latestRevision": False,
                "percent": 90,
            },
        ],
    }
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert ready["reason"] == "RevisionFailed"
    assert "reason" not in status["conditions"][0]  # KServe omits empty reasons
    revisions = {r["name"]: r for r in status["revisions"]}
    failed = revisions["broken-predictor-00002"]
    assert failed["state"] == "Failed"
    assert failed["failedReason"].startswith("exit code 1: <script>")
    assert failed["trafficPercent"] == 0
    assert revisions["broken-predictor-00001"]["trafficPercent"] == 100
    assert revisions["broken-predictor-00001"]["tags"] == ["prev"]


def test_a_revision_scaled_to_zero() -> None:
    snapshot = full_snapshot()
    rev = by_name(snapshot)["iris-predictor-00001"]
    doc = through_json(encode_revision(snapshot, rev))
    assert doc["state"] == "ScaledToZero"
    assert doc["mode"] == "Proxy"
    assert doc["replicas"] == {"desired": 0, "ready": 0, "draining": 0}
    assert doc["autoscaler"] == {
        "metric": "concurrency",
        "stable": 0.0,
        "panic": 0.0,
        "target": 100.0,
        "panicMode": False,
        "excessBurstCapacity": -1,
    }
    assert doc["requests"]["byStatusClass"] == {"2xx": 40, "3xx": 0, "4xx": 2, "5xx": 1}
    assert doc["requests"]["total"] == 43
    assert doc["latencyMs"]["bounds"][-1] == "+Inf"
    assert doc["latencyMs"]["counts"] == list(rev.latency.counts)
    assert doc["latencyMs"]["count"] == sum(rev.latency.counts)
    last = doc["coldStarts"]["last"]
    assert doc["coldStarts"]["total"] == 3
    assert last["at"] == NOW - 125
    assert last["phasesMs"] == {
        "queued": 0.4,
        "decision": 1.6,
        "spawn": 2.0,
        "ready": 790.0,
        "firstByte": 16.0,
    }
    assert last["totalMs"] == pytest.approx(810.0)
    assert "failedReason" not in doc


def test_the_whole_status_round_trips() -> None:
    gone = RevisionSnapshot("gone-predictor-00001", "default", "gone", RouteMode.PROXY)
    snapshot = full_snapshot(
        revisions=(*full_snapshot().revisions, gone),
        store=StoreHealth("redis", healthy=False, last_error="connection refused"),
    )
    back = decode_status(through_json(encode_status(snapshot)))
    assert back.services == snapshot.services
    assert by_name(back) == by_name(snapshot)
    assert (back.version, back.taken_at, back.store) == (
        snapshot.version,
        snapshot.taken_at,
        snapshot.store,
    )
    svc, revs = iris()
    assert decode_service(through_json(encode_service(snapshot, svc))) == (svc, revs)
    assert decode_revision(through_json(encode_revision(snapshot, revs[0]))) == revs[0]


@pytest.mark.parametrize(
    ("mangle", "complaint"),
    [
        (lambda d: d.pop("store"), "'store' is missing"),
        (lambda d: d.update(services={}), "expected a list"),
        (lambda d: d["services"][0]["status"].update(url=3), "expected a string"),
        (lambda d: d["services"][0]["status"]["revisions"][0].update(mode="Fast"), "Fast"),
        (
            lambda d: d["services"][0]["status"]["revisions"][0]["replicas"].update(ready=True),
            "expected an integer",
        ),
        (
            lambda d: d["services"][0]["status"]["revisions"][0]["replicas"].update(ready=-1),
            "must be >= 0",
        ),
        (
            lambda d: d["services"][0]["status"]["components"]["predictor"]["traffic"][0].update(
                percent=40
            ),
            "adds up to 40%",
        ),
    ],
)
def test_an_unreadable_answer_is_refused_with_where(mangle: Any, complaint: str) -> None:
    doc = through_json(encode_status(full_snapshot()))
    mangle(doc)
    with pytest.raises(BadAdminAnswer, match=complaint):
        decode_status(doc)


# -- any snapshot round-trips ------------------------------------------------------------

names = st.sampled_from(["a", "iris", "b-2", "x.y"])
small = st.integers(min_value=0, max_value=50)
ms = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
maybe_value = st.none() | st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
text = st.text(max_size=12)


@st.composite
def latency(draw: st.DrawFn) -> LatencyHistogram:
    n = draw(st.integers(min_value=1, max_value=5))
    bounds = sorted(draw(st.sets(ms, min_size=n, max_size=n)))
    if draw(st.booleans()):
        bounds[-1] = math.inf
    counts = tuple(draw(st.lists(small, min_size=n, max_size=n)))
    return LatencyHistogram(counts=counts, sum_ms=draw(ms), bounds=tuple(bounds))


@st.composite
def revisions(draw: st.DrawFn, name: str, namespace: str, service: str) -> RevisionSnapshot:
    cold_starts = draw(small)
    last = None
    if cold_starts and draw(st.booleans()):
        last = ColdStart(draw(ms), draw(ms), draw(ms), draw(ms), draw(ms), draw(ms))
    return RevisionSnapshot(
        name=name,
        namespace=namespace,
        service=service,
        mode=draw(st.sampled_from(RouteMode)),
        desired=draw(small),
        ready=draw(small),
        draining=draw(small),
        failed_reason=draw(st.none() | st.text(min_size=1, max_size=20)),
        panic=draw(st.booleans()),
        excess_burst_capacity=draw(st.integers(min_value=-100, max_value=100)),
        scaling_metric=draw(st.sampled_from(["concurrency", "rps"])),
        stable_value=draw(maybe_value),
        panic_value=draw(maybe_value),
        target_value=draw(maybe_value),
        in_flight=draw(small),
        held=draw(small),
        requests=RequestCounts(draw(small), draw(small), draw(small), draw(small)),
        latency=draw(latency()),
        cold_starts=cold_starts,
        last_cold_start=last,
    )


@st.composite
def snapshots(draw: st.DrawFn) -> ServerSnapshot:
    services: list[ServiceSnapshot] = []
    revs: list[RevisionSnapshot] = []
    keys = draw(st.sets(st.tuples(st.sampled_from(["default", "prod"]), names), max_size=3))
    for namespace, name in sorted(keys):
        mine = [f"{namespace}-{name}-predictor-{i:05d}" for i in range(draw(small) % 3)]
        revs.extend(draw(revisions(r, namespace, name)) for r in mine)
        traffic: tuple[TrafficEntry, ...] = ()
        if mine:
            split = draw(st.integers(min_value=0, max_value=100))
            tag = draw(st.none() | st.sampled_from(["prev", "latest"]))
            traffic = (
                TrafficEntry(mine[-1], split, tag=tag, latest_revision=True),
                TrafficEntry(mine[0], 100 - split, url=draw(st.none() | text)),
            )
        services.append(
            ServiceSnapshot(
                namespace=namespace,
                name=name,
                url=f"http://{name}.{namespace}.example.com",
                hosts=tuple(draw(st.lists(text, max_size=3))),
                conditions=tuple(
                    Condition(t, draw(st.sampled_from(["True", "False", "Unknown"])), r, m)
                    for t, r, m in zip(
                        ["Ready", "PredictorReady"],
                        draw(st.lists(text, min_size=2, max_size=2)),
                        draw(st.lists(text, min_size=2, max_size=2)),
                        strict=True,
                    )
                ),
                traffic=traffic,
                latest_created_revision=draw(st.none() | st.sampled_from(mine or ["x"])),
                latest_ready_revision=draw(st.none() | text.filter(bool)),
                latest_rolledout_revision=draw(st.none() | text.filter(bool)),
                previous_rolledout_revision=draw(st.none() | text.filter(bool)),
                predictor_url=draw(st.none() | text.filter(bool)),
            )
        )
    if draw(st.booleans()):
        revs.append(draw(revisions("orphan-00001", "default", "deleted")))
    return ServerSnapshot(
        version=draw(text),
        taken_at=draw(ms),
        store=StoreHealth(draw(text), draw(st.booleans()), draw(st.none() | text.filter(bool))),
        services=tuple(services),
        revisions=tuple(revs),
    )


@settings(max_examples=80, derandomize=True, deadline=None)
@given(snapshots())
def test_any_snapshot_round_trips(snapshot: ServerSnapshot) -> None:
    back = decode_status(through_json(encode_status(snapshot)))
    assert back.services == snapshot.services
    assert by_name(back) == by_name(snapshot)
    assert (back.version, back.taken_at, back.store) == (
        snapshot.version,
        snapshot.taken_at,
        snapshot.store,
    )
