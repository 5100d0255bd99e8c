"""The store contract against ``RedisStore`` on a real ``redis-server``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tests.store.contract import R1, A, StoreContract, next_within, table, traffic
from tests.store.redis_server import RedisServer, redis_server
from zeroserve.store import EndpointSet, Store, StoreClosed, StoreUnavailable
from zeroserve.store.redis import RedisStore
from zeroserve.store.redis_codec import encode_endpoints
from zeroserve.store.stats import DEFAULT_STATS_RETENTION


@pytest.fixture(scope="session")
def redis_bus() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


class RedisHarness:
    """Each ``open`` is a new bus: a fresh key prefix on the session's server."""

    def __init__(self, server: RedisServer) -> None:
        self.server = server
        self.opened: list[RedisStore] = []

    async def _connect(self, prefix: str, stats_retention: float) -> RedisStore:
        store = await RedisStore.connect(
            self.server.url, prefix=prefix, stats_retention=stats_retention
        )
        self.opened.append(store)
        return store

    async def open(self, *, stats_retention: float = DEFAULT_STATS_RETENTION) -> Store:
        return await self._connect(f"zeroserve-test:{uuid.uuid4().hex}:", stats_retention)

    async def peer(self, store: Store) -> Store:
        assert isinstance(store, RedisStore)
        return await self._connect(store.prefix, store.stats_retention)

    async def close(self) -> None:
        for store in self.opened:
            await store.close()


class TestRedisStore(StoreContract):
    @pytest.fixture
    async def harness(self, redis_bus: RedisServer) -> AsyncIterator[RedisHarness]:
        harness = RedisHarness(redis_bus)
        yield harness
        await harness.close()


# -- what only a networked backend has ---------------------------------------------------


async def test_every_key_lives_under_the_prefix_and_is_bounded(redis_bus: RedisServer) -> None:
    harness = RedisHarness(redis_bus)
    try:
        store = await harness.open(stats_retention=5.0)
        assert isinstance(store, RedisStore)
        for second in range(50):
            await store.report("gw-1", 1_700_000_000.0 + second, 1, {R1: traffic()})
        for version in range(1, 6):
            await store.publish_endpoints(EndpointSet(f"rev-{version}", 1))
            await store.publish_endpoints(EndpointSet.tombstone(f"rev-{version}", 2))
        client = aioredis.Redis.from_url(redis_bus.url, decode_responses=True)
        try:
            keys = [key async for key in client.scan_iter(match=f"{store.prefix}*")]
            assert keys and all(key.startswith(store.prefix) for key in keys)
            assert await client.xlen(f"{store.prefix}stats") == 6  # 5 s back, and now
        finally:
            await client.aclose()
    finally:
        await harness.close()


async def test_tombstones_are_bounded(redis_bus: RedisServer) -> None:
    store = await RedisStore.connect(
        redis_bus.url, prefix=f"zeroserve-test:{uuid.uuid4().hex}:", max_tombstones=2
    )
    try:
        for n in range(5):
            await store.publish_endpoints(EndpointSet(f"rev-{n}", 1, ready=(A,)))
            await store.publish_endpoints(EndpointSet.tombstone(f"rev-{n}", 2))
        # The oldest tombstones are forgotten; the two newest still refuse a late write.
        assert not (await store.publish_endpoints(EndpointSet("rev-4", 1))).accepted
        assert (await store.publish_endpoints(EndpointSet("rev-0", 1))).accepted
    finally:
        await store.close()


async def test_a_password_is_passed_on() -> None:
    with redis_server(password="s3cret") as server:
        store = await RedisStore.connect(server.url, prefix="zeroserve-test:auth:")
        try:
            assert (await store.publish_routes(table(1))).accepted
        finally:
            await store.close()
        wrong = server.url.replace("s3cret", "wrong")
        with pytest.raises(StoreUnavailable) as refused:
            await RedisStore.connect(wrong, prefix="zeroserve-test:auth:")
        assert isinstance(refused.value.__cause__, RedisError)


async def test_a_lost_server_is_unavailable_and_unhealthy() -> None:
    with redis_server() as server:
        store = await RedisStore.connect(server.url, prefix="zeroserve-test:lost:")
        await store.publish_routes(table(1))
    try:
        with pytest.raises(StoreUnavailable) as lost:
            await store.read_routes()
        assert not isinstance(lost.value, StoreClosed)
        assert isinstance(lost.value.__cause__, (RedisError, OSError))
        health = store.health()
        assert not health.healthy and health.last_error
    finally:
        await store.close()
    with pytest.raises(StoreClosed):
        await store.read_routes()


async def test_a_resync_delivers_what_pub_sub_missed(redis_bus: RedisServer) -> None:
    store = await RedisStore.connect(redis_bus.url, prefix=f"zeroserve-test:{uuid.uuid4().hex}:")
    try:
        watch = await store.watch_endpoints()
        # Written behind the store's back, as if its notification had been lost.
        client = aioredis.Redis.from_url(redis_bus.url, decode_responses=True)
        try:
            await client.hset(
                f"{store.prefix}endpoints", R1, encode_endpoints(EndpointSet(R1, 3, ready=(A,)))
            )
        finally:
            await client.aclose()
        assert watch.drain() == []
        await store.resync()
        assert await next_within(watch) == EndpointSet(R1, 3, ready=(A,))
    finally:
        await store.close()
