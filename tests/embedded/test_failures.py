"""When a predictor misbehaves, clients hear why at once: a crash under load (502, the
replica replaced), a predictor that exits at start or never gets ready (503 with the
reason), and a request held past the revision's timeout (504 naming the revision)."""

from __future__ import annotations

import asyncio

from tests.embedded import INFER_BODY, echo_manifest, host, infer_path, revision
from tests.runtime import pid_alive
from zeroserve.testing.harness import Harness

REV = revision()


async def test_a_crash_under_load_answers_502_and_the_replica_is_replaced() -> None:
    async with Harness(manifests=echo_manifest()) as h:
        assert (await h.request(host(), infer_path(), body=INFER_BODY)).status == 200
        ((first, pid),) = h.pids(REV).items()
        in_flight = asyncio.create_task(
            h.request(host(), infer_path(query="sleep_ms=5000"), body=INFER_BODY)
        )
        await h.wait_for(lambda: h.parts.tracker.in_flight(REV) == 1, what="a request in flight")
        crash = await h.request(host(), infer_path(query="crash=1"), body=INFER_BODY)
        lost = await in_flight

        for answer in (crash, lost):
            assert answer.status == 502, answer.text
            assert f"replica {first} of revision {REV} failed" in answer.json()["error"]
        await h.wait_event("crashed", REV)
        await h.wait_for(lambda: not pid_alive(pid), what=f"pid {pid} gone")
        crashed = h.parts.runtime.status(REV).last_crash
        assert crashed is not None and crashed.exit_code == 3 and crashed.replica == first
        status = h.parts.controller.status_of("default", "echo")
        assert status is not None
        (rev,) = status.revisions
        assert rev.restarts == 1 and rev.last_crash is not None
        assert f"replica {first} exited with exit code 3" in rev.last_crash

        await h.advance(1)  # the crash backoff (0.5 s of the Clock)
        await h.wait_event("ready", REV, count=2)
        again = await h.request(host(), infer_path(), body=INFER_BODY)
        assert again.status == 200
        ((second, new_pid),) = h.pids(REV).items()
        assert second != first and new_pid != pid


async def test_a_predictor_that_exits_at_start_fails_held_requests_with_the_reason() -> None:
    async with Harness(manifests=echo_manifest(args=["--fail-start"])) as h:
        held = asyncio.create_task(h.request(host(), infer_path(), body=INFER_BODY))
        started = h.clock.now()
        for crashes in (1, 2):  # each replacement waits for its backoff on the Clock
            await h.wait_event("crashed", REV, count=crashes)
            assert not held.done()
            await h.advance(1)
        await h.wait_event("failed", REV)
        answer = await held
        assert answer.status == 503, answer.text
        error = answer.json()["error"]
        assert error.startswith(f"revision {REV} is unavailable: revision {REV} cannot start: ")
        assert "exited with exit code 1 before becoming ready (3 times in a row)" in error
        assert "last stderr line: echo: failing at start as asked (--fail-start)" in error
        assert h.clock.now() - started <= 2, "no revision timeout was waited for"

        # Later requests are refused at once too, until it is scaled from zero again.
        later = await h.request(host(), infer_path(), body=INFER_BODY, timeout=5)
        assert later.status == 503 and later.json()["error"] == error
        status = h.parts.controller.status_of("default", "echo")
        assert status is not None and not status.ready
        assert status.condition("PredictorReady").reason == "RevisionFailed"


async def test_a_predictor_never_ready_fails_after_the_progress_deadline() -> None:
    manifest = echo_manifest(
        annotations={"serving.knative.dev/progress-deadline": "30s"},
        container={"readinessProbe": {"httpGet": {"path": "/never-ready"}}},
    )
    async with Harness(manifests=manifest) as h:
        held = asyncio.create_task(h.request(host(), infer_path(), body=INFER_BODY))
        await h.wait_event("spawned", REV)

        def refused() -> bool:
            replicas = h.parts.runtime.status(REV).replicas
            return any("404" in (r.last_probe or "") for r in replicas)

        await h.wait_for(refused, what="a readiness probe answered 404")
        await h.advance(29)
        assert not held.done() and h.of("failed", REV) == []
        await h.advance(2)
        answer = await held
        assert answer.status == 503, answer.text
        error = answer.json()["error"]
        assert f"revision {REV} cannot start: replica {REV}-1 not ready after 30s" in error
        assert "(last probe GET /never-ready: " in error and "404" in error


async def test_a_request_held_past_the_revision_timeout_gets_504() -> None:
    manifest = echo_manifest(args=["--startup-delay", "60"], predictor={"timeout": 5})
    async with Harness(manifests=manifest) as h:
        held = asyncio.create_task(h.request(host(), infer_path(), body=INFER_BODY))
        await h.wait_event("spawned", REV)
        await h.advance(4)
        assert not held.done()
        await h.advance(2)
        answer = await held
        assert answer.status == 504, answer.text
        assert answer.json() == {"error": f"revision {REV} did not answer within 5s"}
