"""What the runtime adds to a cold start, measured on echo (median of 10, printed).

Two phases are the runtime's: dispatch (``scale`` called → the predictor's
``posix_spawn``, through the waiting lifeline supervisor) and lag (echo prints that it
listens → the runtime marks the replica ready). Between them is echo's own start-up, not
ours. The bounds are loose (a busy CI machine); the printed figures are the measurement.
"""

from __future__ import annotations

import re
import statistics
import time

from tests.runtime import Events, echo_template
from zeroserve.clock import RealClock
from zeroserve.runtime.local import LocalRuntime

REV = "cold-predictor-00001"
RUNS = 10
READY_LINE = re.compile(r"echo ready port=\d+ monotonic=([0-9.]+)")


async def test_runtime_overhead_on_a_cold_start() -> None:
    events = Events()
    dispatch: list[float] = []
    lag: list[float] = []
    own: list[float] = []
    async with LocalRuntime(RealClock(), on_event=events) as runtime:
        await runtime.ensure(REV, echo_template())
        for n in range(1, RUNS + 1):
            name = f"{REV}-{n}"
            asked = time.monotonic()
            await runtime.scale(REV, 1)
            await events.wait("ready", name)
            (replica,) = runtime.status(REV).replicas
            assert replica.spawned_at is not None and replica.ready_at is not None
            listening = next(
                float(m[1]) for line in replica.stderr if (m := READY_LINE.search(line))
            )
            dispatch.append(replica.spawned_at - asked)
            own.append(listening - replica.spawned_at)
            lag.append(replica.ready_at - listening)
            await runtime.scale(REV, 0)
            await events.wait("stopped", name)
    ms = {k: statistics.median(v) * 1000 for k, v in (("dispatch", dispatch), ("lag", lag))}
    ms["echo"] = statistics.median(own) * 1000
    report = ", ".join(f"{k} {v:.2f} ms" for k, v in ms.items())
    overhead = ms["dispatch"] + ms["lag"]
    print(f"\ncold start, median of {RUNS}: {report}; runtime overhead {overhead:.2f} ms")
    assert all(x > 0 for x in lag), lag  # ready only after echo listened
    assert ms["dispatch"] < 50 and ms["lag"] < 50, report
