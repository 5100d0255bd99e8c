"""containerConcurrency holds at every replica while 200 requests arrive at zero: the
poke starts one replica, the first tick scales out, and no replica ever serves more than
its cap at once."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.embedded import INFER_BODY, echo_manifest, host, infer_path, revision
from zeroserve.testing.harness import Harness

REV = revision()
CC = 4
REQUESTS = 200


async def replica_stats(port: int) -> dict[str, int]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/stats") as response,
    ):
        stats: dict[str, int] = await response.json()
        return stats


async def test_200_requests_at_zero_never_exceed_container_concurrency() -> None:
    manifest = echo_manifest(predictor={"containerConcurrency": CC, "maxReplicas": 4})
    async with Harness(manifests=manifest) as h:
        counters = h.parts.proxy.stats.revision(REV)
        sent = [
            asyncio.create_task(
                h.request(host(), infer_path(query="sleep_ms=100"), body=INFER_BODY)
            )
            for _ in range(REQUESTS)
        ]
        await h.wait_for(lambda: counters.requests == REQUESTS, what="all requests admitted")
        assert len(h.of("spawned", REV)) <= 1, "one poke, one replica before any tick"
        # Two seconds of stats: the tick sees 200 in flight and scales out (to the max).
        await h.advance(4)
        answers = await asyncio.gather(*sent)

        assert sorted({a.status for a in answers}) == [200], {a.status for a in answers}
        assert {a.header("Zeroserve-Revision") for a in answers} == {REV}
        spawned = h.of("spawned", REV)
        assert len(spawned) >= 2, spawned
        await h.wait_for(lambda: len(h.endpoints(REV)) == len(spawned), what="all ready")
        seen = [await replica_stats(e.port) for e in h.endpoints(REV)]
        assert sum(s["requests"] for s in seen) == REQUESTS
        assert max(s["max_in_flight"] for s in seen) == CC, seen
        assert h.parts.tracker.stats(REV) is not None
