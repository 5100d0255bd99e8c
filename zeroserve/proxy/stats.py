"""Per-revision counters as plain integers: bumped on the hot path, read by a collector.

No locks and no Prometheus call per request; whoever exports them reads the attributes.
Everything is cumulative, so a reporter takes deltas between two reads: request and
status counts, the latency histogram, and the concurrency integral ``area`` (requests in
flight × seconds of Clock time), whose delta over a second is the second's average
concurrency (Knative's ``AverageConcurrency``).
"""

from __future__ import annotations

from zeroserve.store.stats import LATENCY_BUCKETS_MS


class RevisionCounters:
    __slots__ = (
        "area",
        "buffered_bytes",
        "by_class",
        "changed_at",
        "held",
        "in_flight",
        "latency",
        "requests",
    )

    def __init__(self) -> None:
        self.requests = 0  # requests routed to the revision
        self.in_flight = 0  # routed, not yet finished (tunnels included; held ones too)
        self.held = 0  # waiting for capacity right now
        self.by_class = [0, 0, 0, 0, 0, 0]  # responses by status class, index = status // 100
        self.buffered_bytes = 0  # gauge, refreshed by ProxyServer.sample_buffered()
        # Requests answered, by latency in Clock time from the request's turn (its head
        # parsed, unless pipelined behind others) to the response complete: one count per
        # bucket of the store's LATENCY_BUCKETS_MS (not cumulative). Tunnels are left out.
        self.latency = [0] * len(LATENCY_BUCKETS_MS)
        # ∫ in_flight dt in request-seconds of Clock time, up to ``changed_at`` (the Clock
        # time in_flight last changed); ``area_at`` extends it to any later moment.
        self.area = 0.0
        self.changed_at = 0.0

    def area_at(self, now: float) -> float:
        """The concurrency integral up to ``now`` (not before the last change)."""
        return self.area + self.in_flight * max(0.0, now - self.changed_at)

    def count_status(self, status: int) -> None:
        cls = status // 100
        if 1 <= cls <= 5:
            self.by_class[cls] += 1

    @property
    def responses_1xx(self) -> int:
        return self.by_class[1]

    @property
    def responses_2xx(self) -> int:
        return self.by_class[2]

    @property
    def responses_3xx(self) -> int:
        return self.by_class[3]

    @property
    def responses_4xx(self) -> int:
        return self.by_class[4]

    @property
    def responses_5xx(self) -> int:
        return self.by_class[5]


class ProxyStats:
    """All counters of one engine. ``unrouted`` counts answers given before routing."""

    __slots__ = ("connections_open", "connections_total", "revisions", "unrouted")

    def __init__(self) -> None:
        self.revisions: dict[str, RevisionCounters] = {}
        self.unrouted = RevisionCounters()
        self.connections_open = 0
        self.connections_total = 0

    def revision(self, name: str) -> RevisionCounters:
        counters = self.revisions.get(name)
        if counters is None:
            counters = self.revisions[name] = RevisionCounters()
        return counters
