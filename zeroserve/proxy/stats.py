"""Per-revision counters as plain integers: bumped on the hot path, read by a collector.

No locks and no Prometheus call per request; whoever exports them reads the attributes.
"""

from __future__ import annotations


class RevisionCounters:
    __slots__ = ("buffered_bytes", "by_class", "held", "in_flight", "requests")

    def __init__(self) -> None:
        self.requests = 0  # requests routed to the revision
        self.in_flight = 0  # routed, not yet finished (tunnels included)
        self.held = 0  # waiting for capacity right now
        self.by_class = [0, 0, 0, 0, 0, 0]  # responses by status class, index = status // 100
        self.buffered_bytes = 0  # gauge, refreshed by ProxyServer.sample_buffered()

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
