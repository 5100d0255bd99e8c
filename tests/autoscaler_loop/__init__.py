"""The scaling loop's tests, and the rig they share.

``Rig`` puts a ``ScalingLoop`` on a ``MemoryStore`` and a ``FakeClock``; ``second()``
plays one second: every live reporter reports (the load split between them), the clock
moves 1 s (the loop ticks when due), and a stand-in controller makes the written desired
replicas ready at once. Nothing sleeps: waits on the store have real-time deadlines.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from autoscaler.loop import ScalingLoop
from autoscaler.model import RevisionStatus
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
    ScaleRecord,
    ServiceRoute,
    Subscription,
    TrafficTarget,
)

START = 1_700_000_000.0
REV = "iris-predictor-00001"
REV2 = "iris-predictor-00002"
DEADLINE = 2.0  # real seconds any wait may take


def scaling(
    annotations: Mapping[str, str] | None = None,
    *,
    config: AutoscalerConfig | None = None,
    **predictor: Any,
) -> RevisionScaling:
    """An effective spec: scale to zero allowed, everything else the defaults."""
    predictor.setdefault("min_replicas", 0)
    return effective_spec(
        config or AutoscalerConfig(),
        {f"autoscaling.knative.dev/{k}": v for k, v in (annotations or {}).items()},
        PredictorScaling(**predictor),
    )


def table(
    version: int,
    specs: Mapping[str, RevisionScaling | None],
    *,
    traffic: Mapping[str, int] | None = None,
) -> RouteTable:
    """One service whose traffic goes to the first revision (or as ``traffic`` says)."""
    names = list(specs)
    split = traffic if traffic is not None else {names[0]: 100}
    return RouteTable(
        version,
        services=(
            ServiceRoute(
                "default",
                "iris",
                ("iris.default.example.com",),
                tuple(TrafficTarget(name, pct) for name, pct in split.items()),
            ),
        ),
        revisions=tuple(
            RevisionRoute(
                name,
                timeout=300.0,
                container_concurrency=0,
                mode=RouteMode.PROXY,
                scaling=spec,
                service="iris",
                namespace="default",
            )
            for name, spec in specs.items()
        ),
    )


Load = Mapping[str, float | tuple[float, float]]  # revision → concurrency (, requests)


class Rig:
    """A loop, its store and clock, reporters and a stand-in controller."""

    def __init__(
        self,
        specs: Mapping[str, RevisionScaling | None] | None = None,
        *,
        store: MemoryStore | None = None,
        elector: LocalElector | None = None,
        reporters: Sequence[str] = ("gw-1",),
        start_loop: bool = True,
        **loop_options: Any,
    ) -> None:
        self.store = store or MemoryStore()
        self.clock = FakeClock(START)
        self.elector = elector or LocalElector()
        self.specs = dict(specs if specs is not None else {REV: scaling()})
        self.reporters = list(reporters)
        self.loop_options = loop_options
        self.loop = ScalingLoop(self.store, self.clock, self.elector, **loop_options)
        self.start_loop = start_loop
        self.routes_version = 1
        self.endpoints_version = 0
        self.ready: dict[str, int] = {}
        self.follow = True  # the stand-in controller makes desired replicas ready
        self.writes: list[ScaleRecord] = []
        self._scales: Subscription[ScaleRecord] | None = None

    async def __aenter__(self) -> Rig:
        self._scales = await self.store.watch_scales()
        await self.store.publish_routes(table(self.routes_version, self.specs))
        if self.start_loop:
            await self.loop.start()
            await self.clock.settle()
            self.collect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.loop.close()
        if self._scales is not None:
            self._scales.close()
        await self.store.close()

    # -- driving -----------------------------------------------------------------------

    async def report(
        self, load: Load | None = None, reporters: Iterable[str] | None = None
    ) -> None:
        """Every reporter's report for the current second, the load split evenly."""
        who = list(self.reporters if reporters is None else reporters)
        for reporter in who:
            stats: dict[str, RevisionStats] = {}
            for revision, value in (load or {}).items():
                concurrency, requests = value if isinstance(value, tuple) else (value, value)
                if concurrency or requests:
                    stats[revision] = RevisionStats(
                        concurrency / len(who), round(requests / len(who))
                    )
            await self.store.report(reporter, self.clock.now(), 1, stats)

    async def second(
        self, load: Load | None = None, reporters: Iterable[str] | None = None
    ) -> None:
        """One second: reports, then the clock moves (the loop ticks when due)."""
        await self.report(load, reporters)
        await self.clock.advance(1.0)
        self.collect()
        if self.follow:
            await self.make_ready()

    async def seconds(
        self, n: int, load: Load | None = None, reporters: Iterable[str] | None = None
    ) -> None:
        for _ in range(n):
            await self.second(load, reporters)

    async def publish(self, specs: Mapping[str, RevisionScaling | None], **kw: Any) -> None:
        self.routes_version += 1
        self.specs = dict(specs)
        await self.store.publish_routes(table(self.routes_version, specs, **kw))

    async def set_ready(self, revision: str, count: int) -> None:
        self.endpoints_version += 1
        self.ready[revision] = count
        endpoints = tuple(Endpoint("127.0.0.1", 20000 + i, f"{revision}-{i}") for i in range(count))
        await self.store.publish_endpoints(EndpointSet(revision, self.endpoints_version, endpoints))

    async def make_ready(self) -> None:
        latest = {record.revision: record for record in self.writes}
        for revision, record in latest.items():
            if not record.removed and self.ready.get(revision) != record.desired:
                await self.set_ready(revision, record.desired)

    # -- reading -----------------------------------------------------------------------

    def collect(self) -> list[ScaleRecord]:
        assert self._scales is not None
        new = self._scales.drain()
        self.writes.extend(new)
        return new

    async def next_write(self) -> ScaleRecord:
        assert self._scales is not None
        record = await asyncio.wait_for(anext(self._scales), DEADLINE)
        self.writes.append(record)
        return record

    def desired(self, revision: str = REV) -> int | None:
        for record in reversed(self.writes):
            if record.revision == revision:
                return None if record.removed else record.desired
        return None

    def written(self, revision: str = REV) -> int:
        """The last desired scale written for ``revision`` (there must be one)."""
        desired = self.desired(revision)
        assert desired is not None, f"no desired scale written for {revision}"
        return desired

    def status(self, revision: str = REV) -> RevisionStatus:
        status = self.loop.revision_status(revision)
        assert status is not None, f"{revision} is not tracked"
        return status

    def panic_time(self, revision: str = REV) -> float | None:
        return self.loop.export_state()["revisions"][revision]["decider"]["panic_time"]


def target(spec: RevisionScaling) -> float:
    return spec.decider.target_value


def pods_for(load: float, spec: RevisionScaling) -> int:
    return math.ceil(load / target(spec))


def with_knobs(spec: RevisionScaling, **decider: Any) -> RevisionScaling:
    return dataclasses.replace(spec, decider=dataclasses.replace(spec.decider, **decider))
