"""Cold-start phases: what a held request waited for, as a response header and a record.

The recorder is fed per revision with the moments the autoscaler decided to scale it up
(``decided``) and its replicas spawned and became ready (``on_replica_event``, the local
runtime's ``on_event``), all in ``time.monotonic()`` seconds. The engine calls
``header(revision, queued_at, leased_at)`` while writing the response head of a request
that waited for capacity; each phase is the first of its kind between the moment the
request was queued and the moment it got its lease. A phase that did not happen in that
wait (the replica was already spawning when the request came) is left out. Offsets are
milliseconds since the request was queued::

    Zeroserve-Cold-Start: queued=0.0ms; decision=1.3ms; spawn=2.1ms; ready=215.7ms;
        first-byte=217.9ms   (one line)
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, Protocol

__all__ = ["HEADER", "ColdStart", "ColdStartRecorder", "Phase", "ReplicaEventLike"]

HEADER: Final = b"Zeroserve-Cold-Start"
Phase = Literal["decision", "spawn", "ready"]
PHASES: Final[tuple[Phase, ...]] = ("decision", "spawn", "ready")
_EVENT_PHASES: Final[dict[str, Phase]] = {"spawned": "spawn", "ready": "ready"}


class ReplicaEventLike(Protocol):
    """What is read of ``zeroserve.runtime.base.ReplicaEvent`` (matched by shape, so this
    layer needs no import of the runtime)."""

    @property
    def kind(self) -> str: ...

    @property
    def revision(self) -> str: ...

    @property
    def monotonic(self) -> float: ...


@dataclass(frozen=True, slots=True)
class ColdStart:
    """One held request's wait, phases in ms after it was queued (None: not in this
    wait). ``cold`` is true when a replica spawned or became ready during it, i.e. the
    request waited for a replica, not only for a free slot on a busy one."""

    revision: str
    queued_at: float  # time.monotonic()
    decision_ms: float | None
    spawn_ms: float | None
    ready_ms: float | None
    lease_ms: float
    first_byte_ms: float

    @property
    def cold(self) -> bool:
        return self.spawn_ms is not None or self.ready_ms is not None

    def header_value(self) -> str:
        parts = ["queued=0.0ms"]
        for name, ms in (
            ("decision", self.decision_ms),
            ("spawn", self.spawn_ms),
            ("ready", self.ready_ms),
        ):
            if ms is not None:
                parts.append(f"{name}={ms:.1f}ms")
        parts.append(f"first-byte={self.first_byte_ms:.1f}ms")
        return "; ".join(parts)

    def header_line(self) -> bytes:
        return HEADER + b": " + self.header_value().encode() + b"\r\n"


def first_within(times: deque[float] | None, start: float, end: float) -> float | None:
    """The earliest moment of ``times`` in ``[start, end]``."""
    if not times:
        return None
    found = None
    for t in times:
        if start <= t <= end and (found is None or t < found):
            found = t
    return found


class ColdStartRecorder:
    """Per revision, the recent moments of each phase (``keep`` of each), and the last
    cold start seen by a request, for status pages and metrics."""

    __slots__ = ("_cold_requests", "_keep", "_last", "_moments", "_monotonic")

    def __init__(self, keep: int = 16, monotonic: Callable[[], float] = time.monotonic) -> None:
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self._keep = keep
        self._monotonic = monotonic
        self._moments: dict[str, dict[Phase, deque[float]]] = {}
        self._last: dict[str, ColdStart] = {}
        self._cold_requests: dict[str, int] = {}

    # -- what feeds it ----------------------------------------------------------------------

    def record(self, revision: str, phase: Phase, at: float | None = None) -> None:
        moments = self._moments.get(revision)
        if moments is None:
            moments = self._moments[revision] = {}
        times = moments.get(phase)
        if times is None:
            times = moments[phase] = deque(maxlen=self._keep)
        times.append(self._monotonic() if at is None else at)

    def decided(self, revision: str, at: float | None = None) -> None:
        """The autoscaler decided to scale ``revision`` up from zero (or out) at ``at``."""
        self.record(revision, "decision", at)

    def on_replica_event(self, event: ReplicaEventLike) -> None:
        """For ``LocalRuntime(on_event=...)``: spawns and readiness; others are ignored."""
        phase = _EVENT_PHASES.get(event.kind)
        if phase is not None:
            self.record(event.revision, phase, event.monotonic)

    def forget(self, revision: str) -> None:
        self._moments.pop(revision, None)
        self._last.pop(revision, None)
        self._cold_requests.pop(revision, None)

    # -- what reads it ------------------------------------------------------------------------

    def measure(self, revision: str, queued_at: float, leased_at: float) -> ColdStart:
        """The phases of a wait from ``queued_at`` to ``leased_at``, first byte now."""
        now = self._monotonic()
        moments = self._moments.get(revision, {})

        def offset(phase: Phase) -> float | None:
            at = first_within(moments.get(phase), queued_at, leased_at)
            return None if at is None else (at - queued_at) * 1000.0

        cold = ColdStart(
            revision=revision,
            queued_at=queued_at,
            decision_ms=offset("decision"),
            spawn_ms=offset("spawn"),
            ready_ms=offset("ready"),
            lease_ms=(leased_at - queued_at) * 1000.0,
            first_byte_ms=max(0.0, now - queued_at) * 1000.0,
        )
        if cold.cold:
            self._last[revision] = cold
            self._cold_requests[revision] = self._cold_requests.get(revision, 0) + 1
        return cold

    def header(self, revision: str, queued_at: float, leased_at: float) -> bytes:
        """The engine's ``held_response_headers`` hook."""
        return self.measure(revision, queued_at, leased_at).header_line()

    def last(self, revision: str) -> ColdStart | None:
        """The newest wait of ``revision`` in which a replica spawned or became ready."""
        return self._last.get(revision)

    def cold_requests(self, revision: str) -> int:
        """Requests answered after waiting for a replica to spawn or become ready."""
        return self._cold_requests.get(revision, 0)
