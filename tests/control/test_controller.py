"""The controller end to end: MemoryStore, a real LocalRuntime running examples/echo, and
a FakeClock for the runtime's windows and the controller's retries. Waits are on the
store's watches, with deadlines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.control import EXAMPLES, echo, iris, next_matching
from tests.runtime import Events, wait_gone
from zeroserve.clock import FakeClock
from zeroserve.config import RouteMode
from zeroserve.config.server_config import ServerConfig, StorageMapping
from zeroserve.control.controller import Controller
from zeroserve.control.errors import NotStarted
from zeroserve.control.loader import load_folder
from zeroserve.runtime.backoff import Backoff
from zeroserve.runtime.local import LocalRuntime
from zeroserve.store import MemoryStore, StoreUnavailable
from zeroserve.store.records import EndpointSet, Published
from zeroserve.store.routes import RouteTable, TrafficTarget

R1, R2, R3 = (f"echo-predictor-0000{n}" for n in (1, 2, 3))
IRIS_URI = "gs://kfserving-examples/models/sklearn/1.0/model"
NO_FOLDER = f"storageUri {IRIS_URI} has no local folder: add it to storageUriMap in zeroserve.yaml"
FAIL_START = "echo: failing at start as asked (--fail-start)"

Running = Callable[..., AbstractAsyncContextManager[tuple[Controller, LocalRuntime]]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def running(clock: FakeClock) -> Running:
    """``async with running(store, ...) as (controller, runtime)``: both closed at the end,
    and every replica process gone."""

    @asynccontextmanager
    async def start(
        store: MemoryStore,
        config: ServerConfig | None = None,
        *,
        state_dir: Path | None = None,
        in_flight: Callable[[str, str], int] = lambda revision, replica: 0,
    ) -> AsyncIterator[tuple[Controller, LocalRuntime]]:
        events = Events()
        runtime = LocalRuntime(
            clock,
            in_flight=in_flight,
            on_event=events,
            backoff=Backoff(base=0.0, cap=0.0),  # crashes replaced at once
            drain_poll=0.005,
            close_grace=5.0,
        )
        try:
            async with Controller(runtime, store, clock, config, state_dir=state_dir) as c:
                yield c, runtime
        finally:
            await runtime.close()
            await wait_gone(pgids=events.pids(), timeout=10)

    return start


async def health(port: int) -> int:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
        http.get(f"http://127.0.0.1:{port}/v2/health/ready") as response,
    ):
        return response.status


def of(revision: str, test: Callable[[EndpointSet], bool]) -> Callable[[EndpointSet], bool]:
    return lambda e: e.revision == revision and test(e)


def mode_of(revision: str, mode: RouteMode) -> Callable[[RouteTable], bool]:
    def test(table: RouteTable) -> bool:
        route = table.revision(revision)
        return route is not None and route.mode is mode

    return test


async def test_apply_publishes_routes_and_retunes_without_a_new_revision(
    running: Running,
) -> None:
    store = MemoryStore()
    routes, endpoints = await store.watch_routes(), await store.watch_endpoints()
    async with running(store) as (controller, _):
        result = await controller.apply([echo()])
        assert (result.created, result.failed, result.removed) == ((R1,), (), ())

        table = await next_matching(routes, lambda t: True)
        assert result.route_version == table.version
        (svc,) = table.services
        assert svc.hosts == (
            "echo.default.example.com",
            "echo-predictor.default.example.com",
            "echo.default.localhost",
            "echo-predictor.default.localhost",
        )
        assert svc.traffic == (TrafficTarget(R1, 100),)
        (route,) = table.revisions
        assert (route.name, route.mode, route.timeout, route.service) == (
            R1,
            RouteMode.PROXY,
            300.0,
            "echo",
        )
        assert route.scaling is not None and route.scaling.bounds.min_scale == 0
        first = await next_matching(endpoints, of(R1, lambda e: True))
        assert (first.ready, first.draining, first.failed_reason) == ((), (), None)

        again = await controller.apply([echo()])
        assert (again.created, again.route_version) == ((), table.version)
        assert await store.read_routes() == table  # nothing changed, nothing published

        tuned = await controller.apply([echo(minReplicas=1, timeout=20)])
        assert tuned.created == ()
        retuned = await next_matching(routes, lambda t: t.version > table.version)
        (route,) = retuned.revisions
        assert (route.name, route.timeout) == (R1, 20.0)
        assert route.scaling is not None and route.scaling.bounds.min_scale == 1

    with pytest.raises(NotStarted):
        await controller.apply([echo()])


async def test_desired_scale_starts_and_drains_replicas(running: Running) -> None:
    store = MemoryStore()
    routes, endpoints = await store.watch_routes(), await store.watch_endpoints()
    busy = {"requests": 0}
    async with running(store, in_flight=lambda revision, replica: busy["requests"]) as (
        controller,
        _,
    ):
        await controller.apply([echo()])
        await store.write_scale(R1, 1, RouteMode.SERVE, token=1, now=1.0)
        up = await next_matching(endpoints, of(R1, lambda e: len(e.ready) == 1))
        assert (up.draining, up.failed_reason) == ((), None)
        (endpoint,) = up.ready
        assert endpoint.name == f"{R1}-1" and await health(endpoint.port) == 200
        await next_matching(routes, mode_of(R1, RouteMode.SERVE))
        (status,) = controller.status()
        (revision,) = status.revisions
        assert (revision.state, revision.desired, revision.ready, revision.mode) == (
            "ready",
            1,
            1,
            "Serve",
        )
        assert status.ready

        busy["requests"] = 1  # the replica drains until its request is done
        await store.write_scale(R1, 0, RouteMode.PROXY, token=1, now=2.0)
        draining = await next_matching(endpoints, of(R1, lambda e: not e.ready and e.draining))
        assert draining.draining == up.ready and draining.version > up.version
        assert controller.status()[0].revisions[0].state == "scaling to zero"
        busy["requests"] = 0
        gone = await next_matching(endpoints, of(R1, lambda e: not e.ready and not e.draining))
        assert gone.version > draining.version and not gone.removed
        await next_matching(routes, mode_of(R1, RouteMode.PROXY))
        assert controller.status()[0].revisions[0].state == "scaled to zero"


async def test_a_changed_command_is_a_new_revision_and_old_ones_go(running: Running) -> None:
    store = MemoryStore()
    routes, endpoints = await store.watch_routes(), await store.watch_endpoints()
    async with running(store) as (controller, runtime):
        await controller.apply([echo()])
        second = await controller.apply([echo("--model-name", "v2")])
        assert second.created == (R2,) and second.removed == ()
        table = await next_matching(routes, lambda t: t.revision(R2) is not None)
        assert table.services[0].traffic == (TrafficTarget(R2, 100),)
        old, new = (table.revision(R1), table.revision(R2))
        assert old is not None and old.scaling is not None and not old.scaling.bounds.reachable
        assert new is not None and new.scaling is not None and new.scaling.bounds.reachable
        assert sorted(runtime.revisions()) == [R1, R2]
        (status,) = controller.status()
        assert (status.latest_created_revision, status.latest_rolledout_revision) == (R2, R2)
        assert status.previous_rolledout_revision == R1

        third = await controller.apply([echo("--model-name", "v3")])
        assert (third.created, third.removed) == ((R3,), (R1,))  # one old revision kept
        await next_matching(endpoints, of(R1, lambda e: e.removed))
        assert sorted(runtime.revisions()) == [R2, R3]
        assert controller.revisions("default", "echo") == (R2, R3)


async def test_a_removed_service_is_drained_and_tombstoned(running: Running) -> None:
    store = MemoryStore()
    routes, endpoints = await store.watch_routes(), await store.watch_endpoints()
    other = "other-predictor-00001"
    async with running(store) as (controller, runtime):
        await controller.apply([echo(), echo(name="other")])
        result = await controller.apply([echo()])
        assert result.removed == (other,)
        await next_matching(endpoints, of(other, lambda e: e.removed))
        table = await next_matching(routes, lambda t: len(t.services) == 1)
        assert table.services[0].name == "echo" and table.revision(other) is None
        assert runtime.revisions() == [R1]
        assert [s.name for s in controller.status()] == ["echo"]
        assert other not in await store.read_endpoints()


async def test_a_failing_command_publishes_the_reason(running: Running) -> None:
    store = MemoryStore()
    endpoints = await store.watch_endpoints()
    async with running(store) as (controller, _):
        await controller.apply([echo("--fail-start")])
        await store.write_scale(R1, 1, RouteMode.PROXY, token=1, now=1.0)
        failed = await next_matching(endpoints, of(R1, lambda e: e.failed_reason is not None))
        reason = failed.failed_reason
        assert reason == (
            f"revision {R1} cannot start: replica {R1}-3 exited with exit code 1 before "
            f"becoming ready (3 times in a row); last stderr line: {FAIL_START}"
        )
        (status,) = controller.status()
        assert status.condition("Ready").reason == "RevisionFailed"
        assert status.condition("PredictorReady").message == (
            f'Revision "{R1}" failed with message: {reason}.'
        )
        assert status.revisions[0].state == "failed"
        assert status.revisions[0].last_crash is not None


async def test_revision_numbers_survive_a_restart(running: Running, tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with running(MemoryStore(), state_dir=state) as (controller, _):
        await controller.apply([echo()])
        await controller.apply([echo("--model-name", "v2")])
        assert controller.revisions("default", "echo") == (R1, R2)

    store = MemoryStore()  # a new process: nothing in the store, nothing running
    await store.write_scale(R2, 1, RouteMode.SERVE, token=1, now=1.0)  # a decision first
    endpoints = await store.watch_endpoints()
    async with running(store, state_dir=state) as (controller, runtime):
        result = await controller.apply([echo("--model-name", "v2")])
        assert (result.created, result.removed) == ((), (R1,))  # 00002 stays 00002
        assert runtime.revisions() == [R2]
        routes = await store.read_routes()
        assert routes is not None and routes.services[0].traffic == (TrafficTarget(R2, 100),)
        route = routes.revision(R2)
        assert route is not None and route.mode is RouteMode.SERVE
        await next_matching(endpoints, of(R2, lambda e: len(e.ready) == 1))
        (status,) = controller.status()
        assert (status.latest_rolledout_revision, status.previous_rolledout_revision) == (R2, R1)

        third = await controller.apply([echo("--model-name", "v3")])
        assert third.created == (R3,)


async def test_an_unmapped_storage_uri_fails_the_revision(running: Running, tmp_path: Path) -> None:
    store = MemoryStore()
    routes, endpoints = await store.watch_routes(), await store.watch_endpoints()
    i1, i2 = "iris-predictor-00001", "iris-predictor-00002"
    async with running(store, ServerConfig()) as (controller, runtime):
        result = await controller.apply([iris()])
        assert result.failed == ((i1, NO_FOLDER),)
        published = await next_matching(endpoints, of(i1, lambda e: True))
        assert published.failed_reason == NO_FOLDER
        (status,) = controller.status()
        assert (status.ready, status.condition("PredictorReady").message) == (
            False,
            f'Revision "{i1}" failed with message: {NO_FOLDER}.',
        )
        await store.write_scale(i1, 1, RouteMode.SERVE, token=1, now=1.0)
        await next_matching(routes, mode_of(i1, RouteMode.SERVE))  # the decision was taken in
        assert runtime.revisions() == []  # and nothing started
        assert controller.status()[0].revisions[0].desired == 1

        mapped = ServerConfig(storage_uri_map=(StorageMapping(IRIS_URI, str(tmp_path)),))
        fixed = await controller.apply([iris()], config=mapped)
        assert (fixed.created, fixed.failed) == ((i2,), ())
        assert runtime.revisions() == [i2]
        assert controller.config is mapped


class FlakyStore(MemoryStore):
    """A MemoryStore whose publishes fail while ``down``, as an unreachable Redis would."""

    down = False

    async def publish_routes(self, table: RouteTable) -> Published:
        if self.down:
            raise StoreUnavailable("connection refused")
        return await super().publish_routes(table)

    async def publish_endpoints(self, endpoints: EndpointSet) -> Published:
        if self.down:
            raise StoreUnavailable("connection refused")
        return await super().publish_endpoints(endpoints)


async def test_writes_the_store_missed_are_retried(running: Running, clock: FakeClock) -> None:
    store = FlakyStore()
    routes, endpoints = await store.watch_routes(), await store.watch_endpoints()
    store.down = True
    async with running(store) as (controller, _):
        await controller.apply([echo()])
        assert await store.read_routes() is None
        assert controller.status()[0].condition("IngressReady").status == "Unknown"
        store.down = False
        await clock.advance(1.0)
        table = await next_matching(routes, lambda t: True)
        assert table.services[0].name == "echo"
        await next_matching(endpoints, of(R1, lambda e: not e.removed))
        assert controller.status()[0].condition("IngressReady").status == "True"


async def test_the_examples_folder_serves(running: Running) -> None:
    loaded = load_folder(EXAMPLES)
    store = MemoryStore()
    async with running(store, loaded.config) as (controller, _):
        result = await controller.apply(loaded.services)
        assert result.created == (
            "echo-predictor-00001",
            "iris-predictor-00001",
            "streamer-predictor-00001",
        )
        assert result.failed == ()  # the example config maps the iris URI
        table = await store.read_routes()
        assert table is not None and [s.name for s in table.services] == [
            "echo",
            "iris",
            "streamer",
        ]


async def test_a_controller_restart_keeps_what_the_runtime_runs(
    clock: FakeClock, tmp_path: Path
) -> None:
    """The runtime outlives the controller (same process): the same revision, its new
    knobs in the routes, versions above the stored ones, and no failure."""
    store = MemoryStore()
    endpoints = await store.watch_endpoints()
    async with LocalRuntime(clock) as runtime:
        async with Controller(runtime, store, clock, state_dir=tmp_path) as first:
            await first.apply([echo()])
            before = await store.read_routes()
        async with Controller(runtime, store, clock, state_dir=tmp_path) as second:
            result = await second.apply([echo(timeout=20)])
            assert (result.created, result.failed, result.removed) == ((), (), ())
            assert runtime.revisions() == [R1]
            after = await store.read_routes()
            assert before is not None and after is not None and after.version > before.version
            route = after.revision(R1)
            assert route is not None and route.timeout == 20.0
    assert [e.failed_reason for e in endpoints.drain()] == [None]
