"""Prometheus metrics, built from one ``ServerSnapshot`` per scrape.

The data path keeps plain integer counters; nothing is observed per request. A scrape
takes a snapshot and turns it into metric families here, so ``/metrics`` costs the
scraper, never the requests. Names follow Knative's (``kn.revision.pods.desired`` →
``zeroserve_revision_pods_desired``) where Knative has one.

Every ``zeroserve_revision_*`` metric has the labels ``namespace``, ``service`` and
``revision``.

=================================================== ========= ===========================
name                                                type      extra labels, meaning
=================================================== ========= ===========================
``zeroserve_build_info``                            gauge     ``version``; always 1
``zeroserve_store_healthy``                         gauge     ``backend``; 1 or 0
``zeroserve_service_ready``                         gauge     ``namespace``, ``service``;
                                                              the Ready condition, 1 or 0
``zeroserve_revision_requests_total``               counter   ``response_code_class``
                                                              (2xx…5xx), as Knative's
``zeroserve_revision_request_latency_ms``           histogram ``le`` in ms; ``_count``,
                                                              ``_sum``
``zeroserve_revision_requests_in_flight``           gauge     being answered
``zeroserve_revision_requests_held``                gauge     waiting for a replica
``zeroserve_revision_cold_starts_total``            counter   requests that waited for
                                                              a replica to start
``zeroserve_revision_last_cold_start_ms``           gauge     the last one, in total
``zeroserve_revision_last_cold_start_phase_ms``     gauge     ``phase`` (queued, decision,
                                                              spawn, ready, first_byte)
``zeroserve_revision_last_cold_start_timestamp_seconds`` gauge when it arrived
``zeroserve_revision_pods_desired``                 gauge     Knative's
``zeroserve_revision_pods_ready``                   gauge
``zeroserve_revision_pods_draining``                gauge
``zeroserve_revision_panic_mode``                   gauge     Knative's; 1 or 0
``zeroserve_revision_capacity_excess``              gauge     Knative's excess burst
                                                              capacity
``zeroserve_revision_{concurrency|rps}_stable``     gauge     Knative's; the revision's
``zeroserve_revision_{concurrency|rps}_panic``                scaling metric only, absent
``zeroserve_revision_{concurrency|rps}_target``               without data
``zeroserve_revision_traffic_percent``              gauge
``zeroserve_revision_route_mode``                   gauge     ``mode`` (Serve, Proxy);
                                                              1 for the current one
``zeroserve_revision_failed``                       gauge     1 when it cannot serve
=================================================== ========= ===========================

The last cold start's gauges are absent until a revision has had one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from zeroserve.admin.model import (
    SCALING_METRICS,
    RevisionSnapshot,
    RouteMode,
    ServerSnapshot,
)
from zeroserve.admin.source import SnapshotSource

__all__ = ["SnapshotCollector", "build_registry", "snapshot_metrics"]

REVISION_LABELS = ("namespace", "service", "revision")


def _le(bound: float) -> str:
    """A bucket bound as Prometheus writes ``le`` (``"5.0"``, ``"+Inf"``)."""
    return "+Inf" if bound == math.inf else repr(float(bound))


class _Families:
    """Every family the collector exports, empty until filled from a snapshot."""

    def __init__(self) -> None:
        rev = REVISION_LABELS

        def gauge(name: str, doc: str, *extra: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=(*rev, *extra))

        def counter(name: str, doc: str, *extra: str) -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, labels=(*rev, *extra))

        self.build_info = GaugeMetricFamily(
            "zeroserve_build_info", "Zeroserve's version (always 1).", labels=("version",)
        )
        self.store_healthy = GaugeMetricFamily(
            "zeroserve_store_healthy",
            "Whether the store backend answered its last call (1) or not (0).",
            labels=("backend",),
        )
        self.service_ready = GaugeMetricFamily(
            "zeroserve_service_ready",
            "The InferenceService's Ready condition: 1 when True, else 0.",
            labels=("namespace", "service"),
        )
        self.requests = counter(
            "zeroserve_revision_requests",
            "Responses finished, by status class.",
            "response_code_class",
        )
        self.latency = HistogramMetricFamily(
            "zeroserve_revision_request_latency_ms",
            "Time from a request's arrival to the end of its response, in milliseconds.",
            labels=rev,
        )
        self.in_flight = gauge(
            "zeroserve_revision_requests_in_flight", "Requests being answered by a replica."
        )
        self.held = gauge("zeroserve_revision_requests_held", "Requests waiting for a replica.")
        self.cold_starts = counter(
            "zeroserve_revision_cold_starts", "Requests that waited for a replica to start."
        )
        self.cold_start_ms = gauge(
            "zeroserve_revision_last_cold_start_ms",
            "The last cold start's wait, from arrival to the first response byte.",
        )
        self.cold_start_phase_ms = gauge(
            "zeroserve_revision_last_cold_start_phase_ms",
            "The last cold start's phases, each from the end of the one before.",
            "phase",
        )
        self.cold_start_at = gauge(
            "zeroserve_revision_last_cold_start_timestamp_seconds",
            "When the last request that waited for a replica arrived (Unix time).",
        )
        self.desired = gauge(
            "zeroserve_revision_pods_desired", "Replicas the autoscaler wants (Knative's)."
        )
        self.ready = gauge("zeroserve_revision_pods_ready", "Replicas taking requests.")
        self.draining = gauge(
            "zeroserve_revision_pods_draining", "Replicas finishing their requests."
        )
        self.panic_mode = gauge(
            "zeroserve_revision_panic_mode", "1 while the autoscaler panics (Knative's)."
        )
        self.capacity_excess = gauge(
            "zeroserve_revision_capacity_excess",
            "Excess burst capacity (Knative's); negative sends requests through the activator.",
        )
        self.scaling: dict[tuple[str, str], GaugeMetricFamily] = {}
        for metric in SCALING_METRICS:
            for window, doc in (
                ("stable", "average over the stable window, revision-wide"),
                ("panic", "average over the panic window, revision-wide"),
                ("target", "target per replica"),
            ):
                self.scaling[(metric, window)] = gauge(
                    f"zeroserve_revision_{metric}_{window}",
                    f"The scaling metric ({metric}): {doc} (Knative's).",
                )
        self.traffic = gauge(
            "zeroserve_revision_traffic_percent", "Share of the service's traffic, in percent."
        )
        self.route_mode = gauge(
            "zeroserve_revision_route_mode",
            "1 for the revision's route mode: Serve (direct) or Proxy (through the activator).",
            "mode",
        )
        self.failed = gauge("zeroserve_revision_failed", "1 when the revision cannot serve.")

    def all(self) -> list[Metric]:
        return [
            self.build_info,
            self.store_healthy,
            self.service_ready,
            self.requests,
            self.latency,
            self.in_flight,
            self.held,
            self.cold_starts,
            self.cold_start_ms,
            self.cold_start_phase_ms,
            self.cold_start_at,
            self.desired,
            self.ready,
            self.draining,
            self.panic_mode,
            self.capacity_excess,
            *self.scaling.values(),
            self.traffic,
            self.route_mode,
            self.failed,
        ]

    def add_revision(self, snapshot: ServerSnapshot, revision: RevisionSnapshot) -> None:
        labels = [revision.namespace, revision.service, revision.name]
        for status_class, count in revision.requests.by_class():
            self.requests.add_metric([*labels, status_class], count)
        self.latency.add_metric(
            labels,
            [(_le(le), count) for le, count in revision.latency.cumulative()],
            revision.latency.sum_ms,
        )
        self.in_flight.add_metric(labels, revision.in_flight)
        self.held.add_metric(labels, revision.held)
        self.cold_starts.add_metric(labels, revision.cold_starts)
        last = revision.last_cold_start
        if last is not None:
            self.cold_start_ms.add_metric(labels, last.total_ms)
            for phase, ms in last.phases():
                self.cold_start_phase_ms.add_metric([*labels, phase], ms)
            self.cold_start_at.add_metric(labels, last.at)
        self.desired.add_metric(labels, revision.desired)
        self.ready.add_metric(labels, revision.ready)
        self.draining.add_metric(labels, revision.draining)
        self.panic_mode.add_metric(labels, 1 if revision.panic else 0)
        self.capacity_excess.add_metric(labels, revision.excess_burst_capacity)
        for window, value in (
            ("stable", revision.stable_value),
            ("panic", revision.panic_value),
            ("target", revision.target_value),
        ):
            if value is not None:
                self.scaling[(revision.scaling_metric, window)].add_metric(labels, value)
        self.traffic.add_metric(labels, snapshot.traffic_percent(revision))
        for mode in RouteMode:
            self.route_mode.add_metric([*labels, mode.value], 1 if mode is revision.mode else 0)
        self.failed.add_metric(labels, 0 if revision.failed_reason is None else 1)


def snapshot_metrics(snapshot: ServerSnapshot) -> list[Metric]:
    """The metric families of one snapshot (every family, empty ones too)."""
    families = _Families()
    families.build_info.add_metric([snapshot.version], 1)
    families.store_healthy.add_metric([snapshot.store.backend], 1 if snapshot.store.healthy else 0)
    for service in snapshot.services:
        families.service_ready.add_metric(
            [service.namespace, service.name], 1 if service.ready else 0
        )
    for revision in snapshot.revisions:
        families.add_revision(snapshot, revision)
    return families.all()


class SnapshotCollector:
    """A prometheus-client collector that reads ``source`` at scrape time."""

    def __init__(self, source: SnapshotSource) -> None:
        self._source = source

    def collect(self) -> Iterable[Metric]:
        return snapshot_metrics(self._source.snapshot())

    def describe(self) -> Iterable[Metric]:
        # The names, so the registry can refuse a clash, without taking a snapshot.
        return _Families().all()


def build_registry(source: SnapshotSource, *, process_metrics: bool = True) -> CollectorRegistry:
    """A registry of its own (never the global one, so tests and several servers in one
    process do not collide) with Zeroserve's metrics, and the usual ``process_*``,
    ``python_*`` ones when ``process_metrics``."""
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(source))
    if process_metrics:
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
    return registry
