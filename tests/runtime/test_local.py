"""LocalRuntime with real echo processes on real ports; FakeClock for backoff, deadlines,
drain timeouts and grace periods."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import aiohttp
import pytest

from tests.runtime import (
    ECHO,
    STUBBORN,
    Events,
    echo_template,
    live,
    pid_alive,
    until,
    wait_gone,
    wait_snapshot,
)
from zeroserve.clock import FakeClock
from zeroserve.runtime.backoff import Backoff
from zeroserve.runtime.base import Probe, RevisionTemplate, Runtime
from zeroserve.runtime.errors import (
    InvalidTemplate,
    RuntimeClosed,
    TemplateConflict,
    UnknownRevision,
)
from zeroserve.runtime.local import LocalRuntime

REV = "iris-predictor-00001"
BACKOFF = Backoff(base=1.0, factor=2.0, cap=8.0)

Started = Callable[..., AbstractAsyncContextManager[LocalRuntime]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def started(clock: FakeClock, events: Events) -> Started:
    """``async with started(**kw) as runtime``: closed at the end, and every process it
    reported gone."""

    @asynccontextmanager
    async def start(**kw: object) -> AsyncIterator[LocalRuntime]:
        runtime = LocalRuntime(
            clock,
            on_event=events,
            backoff=BACKOFF,
            drain_poll=0.005,
            close_grace=5.0,
            **kw,  # type: ignore[arg-type]
        )
        try:
            yield runtime
        finally:
            await runtime.close()
            await wait_gone(pgids=events.pids(), timeout=10)

    return start


async def get(port: int, path: str, method: str = "GET", body: object = None) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
        http.request(method, f"http://127.0.0.1:{port}{path}", json=body) as response,
    ):
        return response.status, await response.text()


# -- from zero to ready -----------------------------------------------------------------


async def test_zero_to_one_then_two_ready_replicas(started: Started, events: Events) -> None:
    async with started() as runtime:
        await runtime.ensure(REV, echo_template())
        first = runtime.endpoints(REV)
        assert (first.ready, first.draining, first.failed) == ((), (), None)

        await runtime.scale(REV, 1)
        one = await wait_snapshot(runtime, REV, lambda s: len(s.ready) == 1)
        assert one.version > first.version
        assert [e.name for e in one.ready] == [f"{REV}-1"]
        assert await get(one.ready[0].port, "/v2/health/ready") == (200, '{"ready": true}')

        await runtime.scale(REV, 2)
        two = await wait_snapshot(runtime, REV, lambda s: len(s.ready) == 2)
        assert two.version > one.version
        assert [e.name for e in two.ready] == [f"{REV}-1", f"{REV}-2"]
        assert two.ready[0] == one.ready[0]
        assert len({e.port for e in two.ready}) == 2

        status = runtime.status(REV)
        assert (status.desired, status.starting, status.ready, status.draining) == (2, 0, 2, 0)
        assert not status.failed and status.restarts == 0
        for replica in status.replicas:
            assert replica.phase == "ready" and replica.pid is not None
            assert replica.spawned_at is not None and replica.ready_at is not None
            assert replica.spawned_at < replica.ready_at
            assert pid_alive(replica.pid) and pid_alive(replica.supervisor_pid or 0)
        assert [e.replica for e in events.of("ready")] == [f"{REV}-1", f"{REV}-2"]


async def test_port_placeholders_and_port_env(started: Started) -> None:
    """``{port}`` and ``{grpc_port}`` in argv and env; PORT alone also works."""
    by_argv = echo_template(
        "--model-name",
        "m{grpc_port}",
        protocol="v1",
        model_name="x",
        readiness=Probe("/v2/health/ready"),
    )
    by_env = RevisionTemplate(
        argv=(sys.executable, ECHO),
        env=(("MODEL_NAME", "env-{port}"),),
        protocol="v1",
        model_name="unused",
        readiness=Probe("/v2/health/ready"),
    )
    async with started() as runtime:
        await runtime.ensure("argv-00001", by_argv)
        await runtime.ensure("env-00001", by_env)
        await runtime.scale("argv-00001", 1)
        await runtime.scale("env-00001", 1)
        await wait_snapshot(runtime, "argv-00001", lambda s: len(s.ready) == 1)
        await wait_snapshot(runtime, "env-00001", lambda s: len(s.ready) == 1)

        (argv_replica,) = runtime.status("argv-00001").replicas
        assert argv_replica.grpc_port != argv_replica.port
        path = f"/v1/models/m{argv_replica.grpc_port}"
        assert (await get(argv_replica.port, path))[0] == 200

        (env_replica,) = runtime.status("env-00001").replicas  # listens on $PORT
        assert (await get(env_replica.port, f"/v1/models/env-{env_replica.port}"))[0] == 200


async def test_v1_default_probe_path_and_manifest_probe_wins(started: Started) -> None:
    v1 = echo_template("--model-name", "iris", protocol="v1", model_name="iris")
    # The protocol's default would be /v1/models/other, a 404: the manifest's path wins.
    manifest = echo_template(
        "--model-name",
        "iris",
        protocol="v1",
        model_name="other",
        readiness=Probe("/v1/models/iris"),
    )
    async with started() as runtime:
        await runtime.ensure("v1-00001", v1)
        await runtime.ensure("manifest-00001", manifest)
        await runtime.scale("v1-00001", 1)
        await runtime.scale("manifest-00001", 1)
        await wait_snapshot(runtime, "v1-00001", lambda s: len(s.ready) == 1)
        await wait_snapshot(runtime, "manifest-00001", lambda s: len(s.ready) == 1)
        (replica,) = runtime.status("manifest-00001").replicas
        assert replica.last_probe == "HTTP 200"
        assert (await get(replica.port, "/v1/models/other"))[0] == 404


# -- crashes and failures ---------------------------------------------------------------


async def test_crash_after_ready_is_replaced_after_backoff(
    started: Started, clock: FakeClock, events: Events
) -> None:
    async with started() as runtime:
        await runtime.ensure(REV, echo_template())
        await runtime.scale(REV, 1)
        ready = await wait_snapshot(runtime, REV, lambda s: len(s.ready) == 1)
        (old,) = runtime.status(REV).replicas

        with pytest.raises(aiohttp.ClientError):
            path = "/v1/models/echo:predict?crash=1"
            await get(ready.ready[0].port, path, "POST", {"instances": [1]})
        crashed = await events.wait("crashed")
        assert crashed.replica == f"{REV}-1" and crashed.pid == old.pid
        gone = await wait_snapshot(runtime, REV, lambda s: not s.ready)
        assert gone.version > ready.version

        status = runtime.status(REV)
        assert status.restarts == 1 and status.starting == 0
        assert status.last_crash is not None
        assert status.last_crash.exit_code == 3
        assert "echo: crashing as asked (crash=1)" in status.last_crash.stderr
        assert status.last_crash.reason == f"replica {REV}-1 exited with exit code 3"

        await clock.advance(BACKOFF.delay(1) - 0.1)
        assert runtime.status(REV).starting == 0  # held back
        await clock.advance(0.2)
        assert runtime.status(REV).starting == 1
        back = await wait_snapshot(runtime, REV, lambda s: len(s.ready) == 1)
        assert [e.name for e in back.ready] == [f"{REV}-2"]
        (new,) = runtime.status(REV).replicas
        assert new.pid != old.pid
        assert not pid_alive(old.pid or 0)


async def test_fail_start_three_times_fails_the_revision(
    started: Started, clock: FakeClock, events: Events
) -> None:
    async with started() as runtime:
        await runtime.ensure(REV, echo_template("--fail-start"))
        await runtime.scale(REV, 1)
        for n in (1, 2):
            await events.wait("crashed", count=n, timeout=15)
            assert runtime.endpoints(REV).failed is None
            await clock.advance(BACKOFF.delay(n))
        await events.wait("crashed", count=3, timeout=15)

        failed = await wait_snapshot(runtime, REV, lambda s: s.failed is not None)
        reason = (
            f"revision {REV} cannot start: replica {REV}-3 exited with exit code 1 before "
            "becoming ready (3 times in a row); last stderr line: "
            "echo: failing at start as asked (--fail-start)"
        )
        assert failed.failed == reason
        assert (await events.wait("failed")).detail == reason
        status = runtime.status(REV)
        assert status.failed and status.reason == reason
        assert status.last_crash is not None and status.last_crash.exit_code == 1
        assert (status.desired, status.starting, status.restarts) == (1, 0, 3)

        await clock.advance(3600)  # failed: nothing more starts
        assert runtime.status(REV).starting == 0 and len(events.of("spawned")) == 3

        await runtime.scale(REV, 0)  # the next cold start tries again
        await runtime.scale(REV, 1)
        assert runtime.endpoints(REV).failed is None
        assert runtime.status(REV).starting == 1


async def test_a_command_that_cannot_start_fails_with_its_reason(
    started: Started, clock: FakeClock, events: Events
) -> None:
    async with started() as runtime:
        await runtime.ensure(REV, RevisionTemplate(argv=("/nonexistent/predictor",)))
        await runtime.scale(REV, 1)
        for n in (1, 2):
            await events.wait("crashed", count=n)
            await clock.advance(BACKOFF.delay(n))
        failed = await wait_snapshot(runtime, REV, lambda s: s.failed is not None)
        assert failed.failed == (
            f"revision {REV} cannot start: replica {REV}-3 exited with exit code 127 before "
            "becoming ready (3 times in a row); last stderr line: "
            "cannot start '/nonexistent/predictor': No such file or directory"
        )


async def test_never_ready_fails_at_the_progress_deadline(
    started: Started, clock: FakeClock, events: Events
) -> None:
    template = echo_template(readiness=Probe("/nope"), progress_deadline=600)
    async with started() as runtime:
        await runtime.ensure(REV, template)
        await runtime.scale(REV, 1)
        spawned = await events.wait("spawned")
        await until(lambda: runtime.status(REV).replicas[0].last_probe == "HTTP 404", "404")

        await clock.advance(599)
        assert runtime.endpoints(REV).failed is None
        await clock.advance(1)
        failed = await wait_snapshot(runtime, REV, lambda s: s.failed is not None)
        assert failed.failed == (
            f"revision {REV} cannot start: replica {REV}-1 not ready after 600s "
            "(last probe GET /nope: HTTP 404)"
        )
        await events.wait("stopped")
        await wait_gone(pgids=[spawned.pid or 0])
        assert runtime.status(REV).replicas == ()


async def test_slow_start_beyond_the_deadline_fails_and_is_killed(
    started: Started, clock: FakeClock, events: Events
) -> None:
    template = echo_template("--startup-delay", "60", progress_deadline=5, termination_grace=1)
    async with started() as runtime:
        await runtime.ensure(REV, template)
        await runtime.scale(REV, 1)
        spawned = await events.wait("spawned")
        await clock.advance(5)
        failed = await wait_snapshot(runtime, REV, lambda s: s.failed is not None)
        assert failed.failed is not None
        assert failed.failed.startswith(
            f"revision {REV} cannot start: replica {REV}-1 not ready after 5s "
            "(last probe GET /v2/health/ready: "
        )
        stopped = await events.wait("stopped")  # SIGTERM while it loads: no handler yet
        assert stopped.detail == "signal 15 (SIGTERM)"
        await wait_gone(pgids=[spawned.pid or 0])


async def test_liveness_failures_replace_a_ready_replica(
    started: Started, clock: FakeClock, events: Events
) -> None:
    template = echo_template(
        liveness=Probe("/v1/models/missing", period=0.01, failure_threshold=2),
        termination_grace=1,
    )
    async with started() as runtime:
        await runtime.ensure(REV, template)
        await runtime.scale(REV, 1)
        unhealthy = await events.wait("unhealthy")
        assert unhealthy.detail == (
            f"replica {REV}-1 failed its liveness probe 2 times in a row "
            "(GET /v1/models/missing: HTTP 404)"
        )
        await events.wait("stopped", f"{REV}-1")
        assert runtime.status(REV).restarts == 1
        await clock.advance(BACKOFF.delay(1))
        await events.wait("spawned", f"{REV}-2")


# -- scale-down and drain ---------------------------------------------------------------


class InFlight:
    """The in-flight counts a capacity tracker would report; counts its questions."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.asked = 0

    def __call__(self, revision: str, replica: str) -> int:
        assert revision == REV
        self.asked += 1
        return self.counts.get(replica, 0)


async def test_scale_down_waits_for_in_flight_requests(started: Started, events: Events) -> None:
    in_flight = InFlight()
    async with started(in_flight=in_flight) as runtime:
        await runtime.ensure(REV, echo_template())
        await runtime.scale(REV, 2)
        await wait_snapshot(runtime, REV, lambda s: len(s.ready) == 2)
        newest = f"{REV}-2"
        in_flight.counts[newest] = 2

        await runtime.scale(REV, 1)  # the newest goes
        draining = await wait_snapshot(runtime, REV, lambda s: len(s.draining) == 1)
        assert [e.name for e in draining.ready] == [f"{REV}-1"]
        assert [e.name for e in draining.draining] == [newest]

        asked = in_flight.asked
        await until(lambda: in_flight.asked >= asked + 5, "asked again")
        (_, leaving) = runtime.status(REV).replicas
        assert leaving.phase == "draining" and pid_alive(leaving.pid or 0)
        assert not events.of("stopping")

        in_flight.counts[newest] = 0
        stopped = await events.wait("stopped", newest)
        assert stopped.detail == "exit code 0"  # a clean SIGTERM
        await wait_gone(pgids=[leaving.pid or 0])
        after = await wait_snapshot(runtime, REV, lambda s: not s.draining)
        assert [e.name for e in after.ready] == [f"{REV}-1"]
        assert runtime.status(REV).restarts == 0


async def test_drain_ends_at_the_revision_timeout(
    started: Started, clock: FakeClock, events: Events
) -> None:
    in_flight = InFlight()
    async with started(in_flight=in_flight) as runtime:
        await runtime.ensure(REV, echo_template(timeout=30))
        await runtime.scale(REV, 1)
        await wait_snapshot(runtime, REV, lambda s: len(s.ready) == 1)
        in_flight.counts[f"{REV}-1"] = 1
        await runtime.scale(REV, 0)
        await events.wait("draining")

        await clock.advance(29)
        asked = in_flight.asked
        await until(lambda: in_flight.asked >= asked + 3, "asked again")
        assert not events.of("stopping")
        await clock.advance(1)
        await events.wait("stopping")
        await events.wait("stopped")


async def test_scale_up_takes_back_a_draining_replica(started: Started, events: Events) -> None:
    in_flight = InFlight()
    async with started(in_flight=in_flight) as runtime:
        await runtime.ensure(REV, echo_template())
        await runtime.scale(REV, 1)
        await wait_snapshot(runtime, REV, lambda s: len(s.ready) == 1)
        in_flight.counts[f"{REV}-1"] = 1
        await runtime.scale(REV, 0)
        await wait_snapshot(runtime, REV, lambda s: len(s.draining) == 1)
        await runtime.scale(REV, 1)
        back = await wait_snapshot(runtime, REV, lambda s: len(s.ready) == 1)
        assert [e.name for e in back.ready] == [f"{REV}-1"] and back.draining == ()
        assert len(events.of("spawned")) == 1 and not events.of("stopping")


async def test_sigterm_ignored_is_killed_after_the_grace(
    started: Started, clock: FakeClock, events: Events
) -> None:
    template = RevisionTemplate(argv=(sys.executable, "-c", STUBBORN), termination_grace=10)
    async with started() as runtime:
        await runtime.ensure(REV, template)
        await runtime.scale(REV, 1)
        await wait_snapshot(runtime, REV, lambda s: len(s.ready) == 1)
        await runtime.scale(REV, 0)
        await events.wait("stopping")
        (replica,) = runtime.status(REV).replicas

        def ignored() -> bool:
            (r,) = runtime.status(REV).replicas
            return "stubborn: ignoring SIGTERM" in r.stderr

        await until(ignored, "told of SIGTERM")
        await clock.advance(9.9)
        assert pid_alive(replica.pid or 0) and not events.of("stopped")
        await clock.advance(0.1)
        stopped = await events.wait("stopped")
        assert stopped.detail == "signal 9 (SIGKILL)"
        await wait_gone(pgids=[replica.pid or 0])


# -- remove, close, errors --------------------------------------------------------------


async def test_remove_drains_and_forgets(started: Started) -> None:
    async with started() as runtime:
        await runtime.ensure(REV, echo_template())
        await runtime.scale(REV, 1)
        await wait_snapshot(runtime, REV, lambda s: len(s.ready) == 1)
        (replica,) = runtime.status(REV).replicas
        await runtime.remove(REV)
        last = await wait_snapshot(runtime, REV, lambda s: s.removed)
        assert (last.ready, last.draining) == ((), ())
        with pytest.raises(UnknownRevision):
            runtime.status(REV)
        with pytest.raises(UnknownRevision):
            runtime.endpoints(REV)
        await wait_gone(pgids=[replica.pid or 0])
        assert REV not in runtime.revisions()


async def test_close_stops_every_process(clock: FakeClock, events: Events) -> None:
    runtime = LocalRuntime(clock, on_event=events, close_grace=0.5)
    with_child = RevisionTemplate(
        argv=("/bin/sh", "-c", f"sleep 1000 & exec {sys.executable} {ECHO} --port {{port}}"),
    )
    await runtime.ensure("a-00001", echo_template())
    await runtime.ensure("b-00001", with_child)
    await runtime.ensure("c-00001", RevisionTemplate(argv=(sys.executable, "-c", STUBBORN)))
    await runtime.ensure("d-00001", echo_template("--startup-delay", "60"))
    for revision, n in (("a-00001", 2), ("b-00001", 1), ("c-00001", 1), ("d-00001", 1)):
        await runtime.scale(revision, n)
    await wait_snapshot(runtime, "a-00001", lambda s: len(s.ready) == 2)
    for revision in ("b-00001", "c-00001"):
        await wait_snapshot(runtime, revision, lambda s: len(s.ready) == 1)
    await events.wait("spawned", "d-00001-1")
    groups = sorted(events.pids())
    supervisors = [
        r.supervisor_pid or 0
        for revision in runtime.revisions()
        for r in runtime.status(revision).replicas
    ]
    assert len(groups) == 5 and len(supervisors) == 5
    assert len(live(pgids=groups)) >= 6  # b's group holds echo and a sleeping sibling

    await runtime.close()  # real time: the stubborn one is SIGKILLed after the grace
    await wait_gone(supervisors, groups, timeout=1)
    with pytest.raises(RuntimeClosed):
        await runtime.scale("a-00001", 1)


async def test_refusals(started: Started) -> None:
    async with started() as runtime:
        with pytest.raises(UnknownRevision, match="no revision 'nope'"):
            await runtime.scale("nope", 1)
        with pytest.raises(UnknownRevision):
            runtime.endpoints("nope")
        await runtime.ensure(REV, echo_template())
        await runtime.ensure(REV, echo_template())  # the same: nothing to do
        with pytest.raises(TemplateConflict):
            await runtime.ensure(REV, echo_template("--model-name", "other"))
        with pytest.raises(InvalidTemplate):
            await runtime.scale(REV, -1)


def test_local_runtime_is_a_runtime(clock: FakeClock) -> None:
    """Checked by mypy: LocalRuntime implements the controller's protocol."""
    runtime: Runtime = LocalRuntime(clock)
    assert isinstance(runtime, LocalRuntime)
