"""``/metrics`` scraped over HTTP and parsed like Prometheus would: names, labels and
values come from the snapshot taken at scrape time."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.admin.snapshots import IRIS_COLD, IRIS_LATENCY, FixedSource, full_snapshot
from zeroserve.admin.metrics import build_registry, snapshot_metrics
from zeroserve.admin.model import LatencyHistogram, ServerSnapshot

IRIS = {"namespace": "default", "service": "iris", "revision": "iris-predictor-00001"}
BUSY_OLD = {**IRIS, "service": "busy", "revision": "busy-predictor-00001"}
BUSY_NEW = {**IRIS, "service": "busy", "revision": "busy-predictor-00002"}
FAILED = {**IRIS, "service": "broken", "revision": "broken-predictor-00002"}


async def scrape(url: str) -> tuple[str, list[Sample], set[str]]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        assert response.status == 200
        text = await response.text()
        content_type = response.headers["Content-Type"]
    families = list(text_string_to_metric_families(text))
    return content_type, [s for f in families for s in f.samples], {f.name for f in families}


def value(samples: list[Sample], name: str, **labels: str) -> float:
    found = [s.value for s in samples if s.name == name and s.labels == labels]
    assert len(found) == 1, f"{name}{labels}: {len(found)} samples"
    return found[0]


def absent(samples: list[Sample], name: str, **labels: str) -> bool:
    return not [s for s in samples if s.name == name and s.labels == labels]


async def test_request_counters_by_status_class(admin: str) -> None:
    content_type, samples, _ = await scrape(admin)
    assert content_type.startswith("text/plain")
    name = "zeroserve_revision_requests_total"
    assert value(samples, name, **IRIS, response_code_class="2xx") == 40
    assert value(samples, name, **IRIS, response_code_class="3xx") == 0
    assert value(samples, name, **IRIS, response_code_class="4xx") == 2
    assert value(samples, name, **IRIS, response_code_class="5xx") == 1
    assert value(samples, name, **BUSY_NEW, response_code_class="3xx") == 4


async def test_latency_histogram_is_cumulative(admin: str) -> None:
    _, samples, _ = await scrape(admin)
    name = "zeroserve_revision_request_latency_ms"
    buckets = [
        s
        for s in samples
        if s.name == f"{name}_bucket" and s.labels["revision"] == IRIS["revision"]
    ]
    les = [float(s.labels["le"]) for s in buckets]
    assert les == list(IRIS_LATENCY.bounds)
    assert buckets[-1].labels["le"] == "+Inf"
    assert [s.value for s in buckets] == list(itertools.accumulate(IRIS_LATENCY.counts))
    assert value(samples, f"{name}_count", **IRIS) == sum(IRIS_LATENCY.counts)
    assert value(samples, f"{name}_sum", **IRIS) == IRIS_LATENCY.sum_ms
    # a revision without traffic still has a (zero) histogram
    assert value(samples, f"{name}_count", **FAILED) == 0


async def test_replicas_panic_and_burst_capacity_under_knatives_names(admin: str) -> None:
    _, samples, _ = await scrape(admin)
    assert value(samples, "zeroserve_revision_pods_desired", **BUSY_NEW) == 5
    assert value(samples, "zeroserve_revision_pods_ready", **BUSY_NEW) == 3
    assert value(samples, "zeroserve_revision_pods_draining", **BUSY_NEW) == 1
    assert value(samples, "zeroserve_revision_panic_mode", **BUSY_NEW) == 1
    assert value(samples, "zeroserve_revision_panic_mode", **BUSY_OLD) == 0
    assert value(samples, "zeroserve_revision_capacity_excess", **BUSY_NEW) == -45
    assert value(samples, "zeroserve_revision_pods_desired", **IRIS) == 0
    assert value(samples, "zeroserve_revision_requests_in_flight", **BUSY_NEW) == 12
    assert value(samples, "zeroserve_revision_requests_held", **BUSY_NEW) == 7
    assert value(samples, "zeroserve_revision_traffic_percent", **BUSY_NEW) == 10
    assert value(samples, "zeroserve_revision_route_mode", **BUSY_NEW, mode="Proxy") == 1
    assert value(samples, "zeroserve_revision_route_mode", **BUSY_NEW, mode="Serve") == 0
    assert value(samples, "zeroserve_revision_failed", **FAILED) == 1
    assert value(samples, "zeroserve_revision_failed", **IRIS) == 0


async def test_stable_and_panic_values_follow_the_scaling_metric(admin: str) -> None:
    _, samples, _ = await scrape(admin)
    # busy-00001 scales on concurrency, busy-00002 on requests per second
    assert value(samples, "zeroserve_revision_concurrency_stable", **BUSY_OLD) == 12.0
    assert value(samples, "zeroserve_revision_concurrency_panic", **BUSY_OLD) == 14.5
    assert value(samples, "zeroserve_revision_concurrency_target", **BUSY_OLD) == 10.0
    assert value(samples, "zeroserve_revision_rps_stable", **BUSY_NEW) == 30.0
    assert value(samples, "zeroserve_revision_rps_panic", **BUSY_NEW) == 75.5
    assert absent(samples, "zeroserve_revision_concurrency_stable", **BUSY_NEW)
    assert absent(samples, "zeroserve_revision_rps_stable", **BUSY_OLD)
    # no data yet: no sample rather than a made-up zero
    assert absent(samples, "zeroserve_revision_concurrency_stable", **FAILED)


async def test_cold_starts_and_the_last_ones_phases(admin: str) -> None:
    _, samples, _ = await scrape(admin)
    assert value(samples, "zeroserve_revision_cold_starts_total", **IRIS) == 3
    for phase, ms in IRIS_COLD.phases():
        assert (
            value(samples, "zeroserve_revision_last_cold_start_phase_ms", **IRIS, phase=phase) == ms
        )
    assert value(samples, "zeroserve_revision_last_cold_start_ms", **IRIS) == IRIS_COLD.total_ms
    assert (
        value(samples, "zeroserve_revision_last_cold_start_timestamp_seconds", **IRIS)
        == IRIS_COLD.at
    )
    assert value(samples, "zeroserve_revision_cold_starts_total", **BUSY_OLD) == 0
    assert absent(samples, "zeroserve_revision_last_cold_start_ms", **BUSY_OLD)


async def test_server_wide_metrics(admin: str) -> None:
    _, samples, names = await scrape(admin)
    assert value(samples, "zeroserve_build_info", version="0.1.0") == 1
    assert value(samples, "zeroserve_store_healthy", backend="memory") == 1
    assert value(samples, "zeroserve_service_ready", namespace="default", service="iris") == 1
    assert value(samples, "zeroserve_service_ready", namespace="default", service="broken") == 0
    assert "process_cpu_seconds" in names or "python_info" in names


async def test_each_scrape_reads_a_fresh_snapshot(admin: str, source: FixedSource) -> None:
    _, before, _ = await scrape(admin)
    calls = source.calls
    source.current = full_snapshot(revisions=(), services=())
    _, after, _ = await scrape(admin)
    assert source.calls == calls + 1  # one snapshot per scrape
    assert value(before, "zeroserve_revision_pods_ready", **BUSY_NEW) == 3
    assert absent(after, "zeroserve_revision_pods_ready", **BUSY_NEW)


def test_every_family_is_described_without_a_snapshot() -> None:
    source = FixedSource(full_snapshot())
    registry = build_registry(source, process_metrics=False)
    assert source.calls == 0  # registering describes; it does not collect
    described = {m.name for m in snapshot_metrics(full_snapshot(services=(), revisions=()))}
    collected = {m.name for m in registry.collect()}
    assert described == collected
    assert source.calls == 1


def test_a_histogram_without_an_infinite_bound_gets_one() -> None:
    base = full_snapshot()
    rev = next(r for r in base.revisions if r.name == IRIS["revision"])
    bounded = replace(rev, latency=LatencyHistogram(counts=(2, 3), sum_ms=9.0, bounds=(1.0, 5.0)))
    snapshot = ServerSnapshot(base.version, base.taken_at, base.store, base.services, (bounded,))
    histogram = next(m for m in snapshot_metrics(snapshot) if m.type == "histogram")
    buckets = [(s.labels["le"], s.value) for s in histogram.samples if s.name.endswith("_bucket")]
    assert buckets == [("1.0", 2), ("5.0", 5), ("+Inf", 5)]
    assert not math.isinf(float(buckets[-2][0]))
