"""The admin snapshot's conversions: cold-start offsets into consecutive phases, and the
latency sum the engine does not keep."""

from __future__ import annotations

import math

import pytest

from zeroserve.dataplane.cold_start import ColdStart as Measured
from zeroserve.embedded.snapshot import cold_start_phases, estimated_latency_sum


def measured(
    decision: float | None, spawn: float | None, ready: float | None, first: float
) -> Measured:
    return Measured(
        revision="r",
        queued_at=100.0,
        decision_ms=decision,
        spawn_ms=spawn,
        ready_ms=ready,
        lease_ms=first - 1.0,
        first_byte_ms=first,
    )


def test_offsets_become_consecutive_phases_that_add_up_to_the_wait() -> None:
    cold = cold_start_phases(measured(1.5, 2.0, 300.0, 310.0), at=1_700_000_000.0)
    assert [ms for _, ms in cold.phases()] == pytest.approx([0.0, 1.5, 0.5, 298.0, 10.0])
    assert cold.total_ms == pytest.approx(310.0)
    assert cold.at == 1_700_000_000.0


def test_a_phase_outside_the_wait_takes_no_time() -> None:
    # The replica was already spawning when the request came: no decision, no spawn.
    cold = cold_start_phases(measured(None, None, 120.0, 125.0), at=0.0)
    assert dict(cold.phases()) == pytest.approx(
        {"queued": 0.0, "decision": 0.0, "spawn": 0.0, "ready": 120.0, "first_byte": 5.0}
    )
    assert cold.total_ms == pytest.approx(125.0)


def test_the_latency_sum_is_estimated_from_bucket_midpoints() -> None:
    bounds = (5.0, 10.0, 25.0, math.inf)
    assert estimated_latency_sum((2, 0, 1, 3), bounds) == pytest.approx(
        2 * 2.5 + 1 * 17.5 + 3 * 25.0
    )
    assert estimated_latency_sum((0, 0, 0, 0), bounds) == 0.0
