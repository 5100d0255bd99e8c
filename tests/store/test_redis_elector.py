"""``RedisElector`` on a real ``redis-server``, with short real-time leases."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import TypeVar

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tests.store.redis_server import RedisServer, redis_server
from zeroserve.config.scaling import RouteMode
from zeroserve.store import Elector, StaleToken, StoreUnavailable
from zeroserve.store.redis import RedisStore
from zeroserve.store.redis_elector import RedisElector

T = TypeVar("T")

LEASE = 0.5
DEADLINE = 5 * LEASE  # generous bound for a takeover that must come within one lease


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with redis_server() as running:
        yield running


@pytest.fixture
def prefix() -> str:
    return f"zeroserve-test:{uuid.uuid4().hex}:"


class Candidates:
    def __init__(self, server: RedisServer, prefix: str) -> None:
        self.server = server
        self.prefix = prefix
        self.made: list[RedisElector] = []

    def __call__(self, identity: str, *, url: str | None = None) -> RedisElector:
        elector = RedisElector(
            url or self.server.url,
            name="autoscaler",
            identity=identity,
            lease=LEASE,
            prefix=self.prefix,
        )
        self.made.append(elector)
        return elector


@pytest.fixture
async def candidate(server: RedisServer, prefix: str) -> AsyncIterator[Candidates]:
    candidates = Candidates(server, prefix)
    yield candidates
    for elector in candidates.made:
        await elector.close()


async def within(awaitable: Awaitable[T], seconds: float = DEADLINE) -> T:
    async with asyncio.timeout(seconds):
        return await awaitable


async def test_one_wins_and_the_other_waits(candidate: Candidates) -> None:
    a: Elector = candidate("a")  # mypy checks the protocol here
    b = candidate("b")
    token = await a.campaign()
    assert a.is_leader and a.token == token >= 1
    waiting = asyncio.create_task(b.campaign())
    try:
        # Several renewals of a's lease pass; b must still be waiting.
        await asyncio.wait({waiting}, timeout=2 * LEASE)
        assert not waiting.done()
        assert not b.is_leader and b.token is None
        assert a.is_leader and await a.campaign() == token  # campaigning while leading
    finally:
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting


async def test_a_resignation_hands_over_with_a_higher_token(candidate: Candidates) -> None:
    a, b = candidate("a"), candidate("b")
    first = await a.campaign()
    waiting = asyncio.create_task(b.campaign())
    await a.resign()
    assert not a.is_leader and a.token is None
    second = await within(waiting)
    assert second > first
    assert b.is_leader and b.token == second
    await b.resign()
    assert await a.campaign() > second  # tokens grow across every change


async def test_a_silent_leader_is_replaced_and_fenced_off(
    candidate: Candidates, server: RedisServer, prefix: str
) -> None:
    a, b = candidate("a"), candidate("b")
    store = await RedisStore.connect(server.url, prefix=prefix)
    try:
        old = await a.campaign()
        await store.write_scale("rev-1", 1, RouteMode.PROXY, old, 1.0)
        waiting = asyncio.create_task(b.campaign())
        started = asyncio.get_running_loop().time()
        await a.close()  # stops renewing without resigning, as a stopped process would
        new = await within(waiting)
        assert new > old
        assert asyncio.get_running_loop().time() - started < 2 * LEASE
        await store.write_scale("rev-1", 2, RouteMode.PROXY, new, 2.0)
        with pytest.raises(StaleToken) as refused:
            await store.write_scale("rev-1", 3, RouteMode.PROXY, old, 3.0)
        assert (refused.value.token, refused.value.highest) == (old, new)
        assert (await store.read_scales())["rev-1"].desired == 2
    finally:
        await store.close()


async def test_the_old_leader_notices_its_lease_is_gone(
    candidate: Candidates, server: RedisServer, prefix: str
) -> None:
    a, b = candidate("a"), candidate("b")
    await a.campaign()
    client = aioredis.Redis.from_url(server.url, decode_responses=True)
    try:
        # The lease vanishes behind a's back (as when it expired) and b takes it.
        assert await client.delete(f"{prefix}lease:autoscaler") == 1
        await within(b.campaign())
        assert await client.get(f"{prefix}lease:autoscaler") == "b"
    finally:
        await client.aclose()
    await within(a.wait_deposed(), 2 * LEASE)
    assert not a.is_leader and a.token is None
    assert b.is_leader


async def test_a_resignation_never_deletes_anothers_lease(
    candidate: Candidates, server: RedisServer, prefix: str
) -> None:
    a, b = candidate("a"), candidate("b")
    await a.campaign()
    await a.close()
    b_token = await within(b.campaign())
    late = candidate("a")  # a again, restarted, resigning what it no longer holds
    await late.resign()
    client = aioredis.Redis.from_url(server.url, decode_responses=True)
    try:
        assert await client.get(f"{prefix}lease:autoscaler") == "b"
    finally:
        await client.aclose()
    assert b.is_leader and b.token == b_token


async def test_tokens_start_above_the_store_fence(
    candidate: Candidates, server: RedisServer, prefix: str
) -> None:
    store = await RedisStore.connect(server.url, prefix=prefix)
    try:
        await store.write_scale("rev-1", 1, RouteMode.PROXY, 41, 1.0)
        a = candidate("a")
        token = await a.campaign()
        assert token == 42
        assert (await store.write_scale("rev-1", 2, RouteMode.PROXY, token, 2.0)).accepted
    finally:
        await store.close()


async def test_a_lost_server_deposes_the_leader_within_the_lease(prefix: str) -> None:
    with redis_server() as lost:
        a = RedisElector(lost.url, name="autoscaler", identity="a", lease=LEASE, prefix=prefix)
        try:
            await a.campaign()
            assert a.is_leader
        except BaseException:
            await a.close()
            raise
    try:
        await within(a.wait_deposed(), 2 * LEASE)
        assert not a.is_leader and a.token is None
        with pytest.raises(StoreUnavailable) as unavailable:
            await a.campaign()
        assert isinstance(unavailable.value.__cause__, (RedisError, OSError))
    finally:
        await a.close()


async def test_the_context_manager_resigns_and_closes(candidate: Candidates) -> None:
    b = candidate("b")
    async with RedisElector(
        candidate.server.url,
        name="autoscaler",
        identity="a",
        lease=LEASE,
        prefix=candidate.prefix,
    ) as a:
        first = await a.campaign()
    assert not a.is_leader
    # Handed over at once: b wins well before a's lease could have expired.
    assert await within(b.campaign(), LEASE / 2) > first
