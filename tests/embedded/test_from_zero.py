"""From zero: a held request starts a replica and is answered with the revision and the
cold-start phases, which the metrics, the admin API and ``zeroserve status`` show."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.embedded import INFER_BODY, echo_manifest, host, infer_path, revision
from zeroserve import cli
from zeroserve.testing.harness import Harness

REV = revision()
PHASES = re.compile(
    r"^queued=0\.0ms; decision=(?P<decision>[\d.]+)ms; spawn=(?P<spawn>[\d.]+)ms; "
    r"ready=(?P<ready>[\d.]+)ms; first-byte=(?P<first>[\d.]+)ms$"
)


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of ``name`` whose labels include ``labels``."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name} {labels} in:\n{text}")


async def test_a_request_at_zero_is_held_and_answered_with_the_cold_start(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with Harness(manifests=echo_manifest()) as h:
        assert h.pids(REV) == {}, "nothing runs before traffic"
        answer = await h.request(host(), infer_path(), body=INFER_BODY)

        assert answer.status == 200, answer.text
        assert answer.json()["outputs"] == INFER_BODY["inputs"]
        assert answer.header("Zeroserve-Revision") == REV
        cold = answer.header("Zeroserve-Cold-Start")
        assert cold is not None
        phases = PHASES.match(cold)
        assert phases is not None, cold
        decision, spawn, ready, first = (
            float(phases[k]) for k in ("decision", "spawn", "ready", "first")
        )
        assert decision <= spawn <= ready <= first
        assert len(h.of("spawned", REV)) == 1 and len(h.of("ready", REV)) == 1

        # A second request finds the replica ready: no cold start header.
        warm = await h.request(host(), infer_path(), body=INFER_BODY)
        assert warm.status == 200 and warm.header("Zeroserve-Cold-Start") is None

        metrics = (await h.admin("/metrics")).text
        labels = {"namespace": "default", "service": "echo", "revision": REV}
        assert metric(metrics, "zeroserve_revision_cold_starts_total", **labels) == 1
        assert metric(
            metrics, "zeroserve_revision_last_cold_start_phase_ms", phase="ready", **labels
        ) == pytest.approx(ready - spawn, abs=0.2)
        assert metric(metrics, "zeroserve_revision_pods_ready", **labels) == 1
        assert (
            metric(
                metrics, "zeroserve_revision_requests_total", response_code_class="2xx", **labels
            )
            == 2
        )

        status = (await h.admin("/api/v1/status")).json()
        (service,) = status["services"]
        assert service["status"]["components"]["predictor"]["latestReadyRevision"] == REV
        (rev,) = service["status"]["revisions"]
        assert rev["name"] == REV and rev["coldStarts"]["total"] == 1
        last = rev["coldStarts"]["last"]
        assert last["phasesMs"]["spawn"] == pytest.approx(spawn - decision, abs=0.2)
        assert last["totalMs"] == pytest.approx(first, abs=0.5)

        code = await asyncio.to_thread(cli.main, ["status", "--admin", h.admin_url])
        table = capsys.readouterr().out
        assert code == 0
        assert re.search(
            rf"^\s+{REV}\s+100%\s+Ready\s+1/1\s+\w+\s+no\s+0\s+0\s+1\s", table, re.M
        ), table
        assert f"{REV} last cold start: queued 0.0 ms, decision" in table
