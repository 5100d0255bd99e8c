"""One scaling-loop tick over 10,000 revisions, and where its time goes.

A ``MemoryStore`` holds a route table of N revisions (one service each), their ready
endpoints, and 2 s of reports from a few reporters with traffic on every revision. The
loop ticks once to learn the revisions (no reporter yet: blind, it writes the held
scales), then ticks with the 2 s of reports: read (routes, endpoints, stats), windows
(feeding the batch, zeros up to the horizon, averages), decide, bounds, write. Then a
few steady ticks, 2 s of reports each, where only changed decisions are written.

    python loadtests/autoscaler_tick.py [--revisions 10000] [--reporters 3] [--ticks 5]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autoscaler.loop import ScalingLoop
from autoscaler.model import TickTiming
from zeroserve.clock import FakeClock
from zeroserve.config.autoscaler_config import AutoscalerConfig
from zeroserve.config.scaling import PredictorScaling, RevisionScaling, RouteMode, effective_spec
from zeroserve.endpoint import Endpoint
from zeroserve.store import (
    EndpointSet,
    LocalElector,
    MemoryStore,
    RevisionRoute,
    RevisionStats,
    RouteTable,
    ServiceRoute,
    TrafficTarget,
)

START = 1_700_000_000.0
PARTS = ("read", "windows", "decide", "bounds", "write")


def specs(n: int) -> list[RevisionScaling]:
    config = AutoscalerConfig()
    variants = []
    for i in range(15):
        annotations = {"autoscaling.knative.dev/scale-down-delay": "5m"} if i % 3 == 0 else {}
        variants.append(
            effective_spec(
                config, annotations, PredictorScaling(min_replicas=0, container_concurrency=i % 5)
            )
        )
    return [variants[i % len(variants)] for i in range(n)]


def route_table(names: list[str], scalings: list[RevisionScaling]) -> RouteTable:
    return RouteTable(
        1,
        services=tuple(
            ServiceRoute("bench", name, (f"{name}.bench.example.com",), (TrafficTarget(name, 100),))
            for name in names
        ),
        revisions=tuple(
            RevisionRoute(
                name,
                timeout=300.0,
                container_concurrency=scaling.container_concurrency,
                mode=RouteMode.PROXY,
                scaling=scaling,
                service=name,
                namespace="bench",
            )
            for name, scaling in zip(names, scalings, strict=True)
        ),
    )


async def report_seconds(
    store: MemoryStore,
    clock: FakeClock,
    names: list[str],
    reporters: int,
    seconds: int,
    rng: random.Random,
) -> None:
    """``seconds`` of reports from every reporter, each with a stat for every revision,
    the clock moving 1 s after each second."""
    base = {name: rng.choice([0.5, 1.0, 5.0, 40.0, 300.0]) for name in names}
    for _ in range(seconds):
        for r in range(reporters):
            stats = {
                name: RevisionStats(level * rng.uniform(0.8, 1.2) / reporters, int(level))
                for name, level in base.items()
            }
            await store.report(f"gw-{r}", clock.now(), 1, stats)
        await clock.advance(1.0)


def show(title: str, timing: TickTiming) -> None:
    total = timing.total
    print(
        f"\n{title}: {timing.revisions} revisions, {timing.samples} samples, {timing.writes} writes"
    )
    print(f"  {'part':<8} {'ms':>9} {'share':>7}")
    for part in PARTS:
        seconds = getattr(timing, part)
        print(f"  {part:<8} {seconds * 1e3:9.1f} {seconds / total:7.1%}")
    per_revision = total / timing.revisions * 1e6
    print(f"  {'total':<8} {total * 1e3:9.1f}   ({per_revision:.1f} µs per revision)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--revisions", type=int, default=10_000)
    parser.add_argument("--reporters", type=int, default=3)
    parser.add_argument("--ticks", type=int, default=5, help="steady ticks after the first")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the learning tick's "blind" warning is expected
    rng = random.Random(1)
    names = [f"bench-{i:05d}-predictor-00001" for i in range(args.revisions)]
    store = MemoryStore(max_reports=1_000_000)
    clock = FakeClock(START)
    await store.publish_routes(route_table(names, specs(args.revisions)))
    for version, name in enumerate(names, start=1):
        ready = tuple(
            Endpoint("127.0.0.1", 20000 + k, f"{name}-{k}") for k in range(1 + version % 4)
        )
        await store.publish_endpoints(EndpointSet(name, version, ready))

    loop = ScalingLoop(store, clock, LocalElector())
    learn = await loop.tick()  # no reporter yet: learns the revisions, holds their scales
    show("learning tick (blind: no reporter yet)", learn)
    await report_seconds(store, clock, names, args.reporters, 2, rng)
    first = await loop.tick()
    assert loop.status().sight.valid, loop.status().sight
    show(f"first tick with 2 s of reports from {args.reporters} reporters", first)
    steady: list[TickTiming] = []
    for _ in range(args.ticks):
        await report_seconds(store, clock, names, args.reporters, 2, rng)
        steady.append(await loop.tick())
    if steady:
        median = sorted(steady, key=lambda t: t.total)[len(steady) // 2]
        show(f"steady tick (median of {len(steady)})", median)
        totals = [t.total * 1e3 for t in steady]
        low, mid, high = min(totals), statistics.median(totals), max(totals)
        print(f"  steady totals ms: min {low:.1f}, median {mid:.1f}, max {high:.1f}")
    await store.close()


if __name__ == "__main__":
    asyncio.run(main())
