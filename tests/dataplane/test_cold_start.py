"""Cold-start phases: the header's format, which phases belong to a wait, the last record,
and the recorder as the engine's hook."""

from __future__ import annotations

import re
import time

import pytest

from tests.dataplane.engine_kit import HOST, REVISION, rig
from tests.proxy.conftest import get, wait_for_condition
from zeroserve.dataplane.cold_start import ColdStart, ColdStartRecorder
from zeroserve.runtime.base import ReplicaEvent

Q = 500.0  # queued_at, monotonic seconds


class Monotonic:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def recorder_at(now: float) -> tuple[ColdStartRecorder, Monotonic]:
    clock = Monotonic(now)
    return ColdStartRecorder(monotonic=clock), clock


def test_header_with_every_phase() -> None:
    rec, _ = recorder_at(Q + 0.2179)
    rec.decided(REVISION, Q + 0.0013)
    rec.on_replica_event(ReplicaEvent("spawned", REVISION, f"{REVISION}-0", Q + 0.0021, 42))
    rec.on_replica_event(ReplicaEvent("ready", REVISION, f"{REVISION}-0", Q + 0.2157, 42))
    line = rec.header(REVISION, Q, Q + 0.2160)
    assert line == (
        b"Zeroserve-Cold-Start: queued=0.0ms; decision=1.3ms; spawn=2.1ms; "
        b"ready=215.7ms; first-byte=217.9ms\r\n"
    )


def test_phases_outside_the_wait_are_left_out() -> None:
    """The replica was already spawning when the request came: only its readiness counts;
    events after the lease (another replica) and of other revisions are not this wait's."""
    rec, _ = recorder_at(Q + 0.3)
    rec.decided(REVISION, Q - 0.5)
    rec.on_replica_event(ReplicaEvent("spawned", REVISION, "a", Q - 0.4))
    rec.on_replica_event(ReplicaEvent("ready", REVISION, "a", Q + 0.1))
    rec.on_replica_event(ReplicaEvent("spawned", REVISION, "b", Q + 0.25))  # after the lease
    rec.on_replica_event(ReplicaEvent("spawned", "other-00001", "c", Q + 0.05))
    rec.on_replica_event(ReplicaEvent("crashed", REVISION, "d", Q + 0.05))  # not a phase
    cold = rec.measure(REVISION, Q, Q + 0.2)
    assert (cold.decision_ms, cold.spawn_ms) == (None, None)
    assert cold.header_value() == "queued=0.0ms; ready=100.0ms; first-byte=300.0ms"


def test_the_first_of_several_events_in_the_wait_counts() -> None:
    rec, _ = recorder_at(Q + 1.0)
    for i, at in enumerate((Q + 0.3, Q + 0.1, Q + 0.2)):
        rec.on_replica_event(ReplicaEvent("ready", REVISION, f"r{i}", at))
    assert rec.measure(REVISION, Q, Q + 0.5).ready_ms == pytest.approx(100.0)


def test_last_cold_start_is_kept_but_not_replaced_by_a_plain_wait() -> None:
    rec, clock = recorder_at(Q + 0.5)
    assert rec.last(REVISION) is None
    rec.on_replica_event(ReplicaEvent("ready", REVISION, "a", Q + 0.4))
    cold = rec.measure(REVISION, Q, Q + 0.45)
    assert cold.cold and rec.last(REVISION) == cold and rec.cold_requests(REVISION) == 1
    clock.now = Q + 10.0
    busy = rec.measure(REVISION, Q + 9.0, Q + 9.9)  # waited for a slot, nothing started
    assert not busy.cold
    assert busy.header_value() == "queued=0.0ms; first-byte=1000.0ms"
    assert rec.last(REVISION) == cold and rec.cold_requests(REVISION) == 1
    rec.forget(REVISION)
    assert rec.last(REVISION) is None


def test_recent_moments_are_bounded() -> None:
    rec, _ = recorder_at(Q + 100.0)
    for i in range(50):
        rec.decided(REVISION, Q + i)
    # only the last 16 are kept: the first decision inside [Q, Q+100] is now Q+34
    assert rec.measure(REVISION, Q, Q + 100.0).decision_ms == 34_000.0


def test_cold_start_record_fields() -> None:
    cold = ColdStart(REVISION, Q, None, 2.0, 200.0, 201.0, 203.25)
    assert cold.header_line() == (
        b"Zeroserve-Cold-Start: queued=0.0ms; spawn=2.0ms; ready=200.0ms; first-byte=203.2ms\r\n"
    )


async def test_recorder_as_the_engine_hook() -> None:
    rec = ColdStartRecorder()
    async with rig(ready=False, hook=rec.header) as r:
        c = await r.client()
        await c.send(get(host=HOST))
        await wait_for_condition(lambda: r.counters.held == 1)
        rec.decided(REVISION)
        rec.on_replica_event(ReplicaEvent("spawned", REVISION, "a", time.monotonic()))
        rec.on_replica_event(ReplicaEvent("ready", REVISION, "a", time.monotonic()))
        r.tracker.set_endpoints(REVISION, [r.upstream.endpoint])
        held = await c.response()
        await c.send(get(host=HOST))
        warm = await c.response()
    value = held.header(b"zeroserve-cold-start")
    assert value is not None
    assert re.fullmatch(
        rb"queued=0\.0ms; decision=\d+\.\dms; spawn=\d+\.\dms; ready=\d+\.\dms; "
        rb"first-byte=\d+\.\dms",
        value,
    ), value
    assert warm.header(b"zeroserve-cold-start") is None
    last = rec.last(REVISION)
    assert last is not None and last.ready_ms is not None
    assert 0 <= last.ready_ms <= last.lease_ms <= last.first_byte_ms
