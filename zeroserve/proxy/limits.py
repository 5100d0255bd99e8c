"""The engine's limits and socket timeouts, with DESIGN.md's hardening-matrix defaults.

Sizes are bytes, times are seconds of real (loop) time: socket-level timeouts are not the
injected Clock's business; only a route's request timeout runs on the Clock.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProxyLimits:
    max_request_line: int = 8 * 1024  # 414 beyond
    max_header_bytes: int = 32 * 1024  # 431 beyond (names + values + separators)
    max_header_fields: int = 100  # 431 beyond
    max_body: int = 100 * 1024 * 1024  # 413 beyond, counted while streaming (chunked too)
    header_timeout: float = 10.0  # 408 when a request head is not complete in time
    idle_timeout: float = 60.0  # idle client keep-alive connections are closed after this
    connect_timeout: float = 1.0  # upstream connect; then another replica, else 502
    pool_idle: float = 4.0  # idle pooled upstream connections dropped (below uvicorn's 5 s)
    pipeline_depth: int = 16  # requests queued per client connection
    high_watermark: int = 64 * 1024  # stop reading the source at this many buffered bytes
    low_watermark: int = 16 * 1024  # ... and resume at this many
    retry_body_hold: int = 64 * 1024  # body kept for a retry on a stale pooled connection
    backlog: int = 4096  # listen backlog
    read_size: int = 32 * 1024  # bytes per socket read: bounds buffering at high + read_size
    linger: float = 2.0  # after an error that stops reading: drop input this long, then close

    def __post_init__(self) -> None:
        if not 0 <= self.low_watermark < self.high_watermark:
            raise ValueError("need 0 <= low_watermark < high_watermark")
        if not 0 < self.read_size <= self.high_watermark:
            raise ValueError("need 0 < read_size <= high_watermark")
        if self.pipeline_depth < 1:
            raise ValueError("pipeline_depth must be at least 1")
        if self.linger < 0:
            raise ValueError("linger must not be negative")
        for name in ("header_timeout", "idle_timeout", "connect_timeout", "pool_idle"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")

    @property
    def sweep_interval(self) -> float:
        """How often the timeout sweep runs: a quarter of the shortest socket timeout."""
        shortest = min(self.header_timeout, self.idle_timeout, self.pool_idle)
        return max(0.01, min(1.0, shortest / 4))
