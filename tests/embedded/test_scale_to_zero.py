"""Scale to zero: once traffic stops, a stable window and the grace period later the
replica is drained (a request in flight on it still completes) and stopped."""

from __future__ import annotations

import asyncio
import math

from tests.embedded import INFER_BODY, echo_manifest, host, infer_path, revision
from tests.runtime import pid_alive
from zeroserve.testing.harness import Harness

REV = revision()
TICK = 2.0  # the scaling loop's tick (the harness's default)
STABLE_WINDOW = 60.0
GRACE = 30.0


async def test_the_replica_is_drained_and_stopped_after_the_window_and_grace() -> None:
    async with Harness(manifests=echo_manifest(), tick=TICK) as h:
        started = h.clock.now()
        first = await h.request(host(), infer_path(), body=INFER_BODY)
        assert first.status == 200
        ((replica, pid),) = h.pids(REV).items()
        loop = h.parts.loop

        # Silence, a second at a time, until the loop wants zero but holds the replica:
        # it says when the gate opens (``recheck_at``).
        while True:
            await h.advance(1)
            status = loop.revision_status(REV)
            assert status is not None
            if status.want == 0 and status.scale == 1 and status.recheck_at is not None:
                break
            assert h.clock.now() - started < STABLE_WINDOW + GRACE + 2 * TICK, status
        assert h.clock.now() - started >= STABLE_WINDOW, "not before a stable window"
        assert status.evaluated_at is not None
        ticks = max(1, math.ceil((status.recheck_at - status.evaluated_at) / TICK))
        zero_at = status.evaluated_at + ticks * TICK

        # One second before that tick, a slow request starts on the replica. The tick
        # does not see it: the report covering that second is sent at the tick's instant,
        # after it (the loop's timer was set a tick earlier, the reporter's a second
        # earlier, and the FakeClock fires timers of one instant in the order they were
        # set). So the tick scales to zero with the request in flight, and the drain
        # must wait for it.
        await h.advance(zero_at - 1 - h.clock.now())
        slow = asyncio.create_task(
            h.request(host(), infer_path(query="sleep_ms=800"), body=INFER_BODY)
        )
        await h.wait_for(lambda: h.parts.tracker.in_flight(REV) == 1, what="the slow request")
        await h.advance(1)
        status = loop.revision_status(REV)
        assert status is not None and status.scale == 0, status
        assert h.clock.now() - started <= STABLE_WINDOW + GRACE + 2 * TICK

        await h.wait_event("draining", REV)
        assert not slow.done(), "the replica drains while the request is in flight"
        answer = await slow
        assert answer.status == 200 and answer.header("Zeroserve-Revision") == REV
        await h.wait_event("stopped", REV)
        await h.wait_for(lambda: not pid_alive(pid), what=f"pid {pid} gone")
        assert h.pids(REV) == {} and h.endpoints(REV) == ()
        assert h.parts.runtime.endpoints(REV).draining == ()
        assert [r.name for r in h.parts.tracker.replicas(REV)] == []
        stopped = h.of("stopped", REV)[0]
        assert stopped.replica == replica and "exit code 0" in stopped.detail
