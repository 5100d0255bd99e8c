"""``RedisElector``: leadership as a lease on one Redis key, for several autoscalers.

The lease ``{prefix}lease:{name}`` holds the leader's identity with a TTL; the winner
takes the next fencing token from ``{prefix}lease:{name}:token`` in the same script.
Tokens share their space with the store's fence (``{prefix}fence``): a new token is
always above the fence, so a new leader is never refused for a token that some earlier
writer already passed.

Time here is real time (the loop's monotonic clock), not an injected ``Clock``: the
lease TTL runs on the Redis server's real clock, and a fake clock would only lie about
it. Leadership is counted from the moment a grant or renewal was *sent*, so this process
stops believing it leads no later than the server lets the lease expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from zeroserve.store.errors import InvalidRecord, StoreClosed, StoreUnavailable

__all__ = ["RedisElector"]

_DEFAULT_PREFIX: Final = "zeroserve:"

# KEYS: lease, token counter, store fence. ARGV: identity, lease ms. Returns the new
# token, or 0 when someone else holds the lease.
_ACQUIRE: Final = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 0
end
local token = redis.call('INCR', KEYS[2])
local fence = tonumber(redis.call('GET', KEYS[3]) or '0')
if token <= fence then
  token = fence + 1
  redis.call('SET', KEYS[2], string.format('%.0f', token))
end
return token
"""

# KEYS: lease. ARGV: identity, lease ms. 1 when extended, 0 when the lease is not ours.
_RENEW: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS: lease. ARGV: identity. 1 when released, 0 when it was not ours any more.
_RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisElector:
    """An ``Elector`` over a Redis lease. Use as ``async with`` (or call ``close``).

    ``campaign`` waits until this process holds the lease; an owned task then renews it
    every ``renew_every`` seconds and drops leadership at once when the lease is gone,
    held by another, or Redis stays unreachable until the lease would have run out.
    Redis failures surface as ``StoreUnavailable`` with the cause chained."""

    def __init__(
        self,
        client_or_url: aioredis.Redis | str,
        *,
        name: str,
        identity: str,
        lease: float = 10.0,
        renew_every: float | None = None,
        prefix: str = _DEFAULT_PREFIX,
    ) -> None:
        if not name or not identity:
            raise InvalidRecord("an elector needs a lease name and an identity")
        if not (math.isfinite(lease) and lease > 0):
            raise InvalidRecord(f"a lease must be > 0 s, got {lease}")
        every = lease / 3 if renew_every is None else renew_every
        if not (math.isfinite(every) and 0 < every < lease):
            raise InvalidRecord(f"renewals must come every 0 < s < lease ({lease}), got {every}")
        if isinstance(client_or_url, str):
            if not client_or_url.startswith(("redis://", "rediss://")):
                raise InvalidRecord(f"a Redis elector needs a redis:// url, got {client_or_url!r}")
            self._client = aioredis.Redis.from_url(client_or_url, decode_responses=True)
            self._owns_client = True
        else:
            self._client = client_or_url
            self._owns_client = False
        self._identity = identity
        self._lease = lease
        self._lease_ms = max(1, math.ceil(lease * 1000))
        self._renew_every = every
        self._lease_key = f"{prefix}lease:{name}"
        self._token_key = f"{prefix}lease:{name}:token"
        self._fence_key = f"{prefix}fence"
        self._acquire = self._client.register_script(_ACQUIRE)
        self._renew = self._client.register_script(_RENEW)
        self._release = self._client.register_script(_RELEASE)
        self._token: int | None = None
        self._valid_until = 0.0
        self._deposed = asyncio.Event()
        self._deposed.set()
        self._renewer: asyncio.Task[None] | None = None
        self._closed = False

    # -- the Elector protocol -------------------------------------------------------------

    async def campaign(self) -> int:
        """Retries every renew interval until the lease is free and ours."""
        while True:
            self._check_open()
            current = self.token
            if current is not None:
                return current
            await self._stop_renewing()
            sent_at = _now()
            async with self._redis():
                token = int(
                    await self._acquire(
                        keys=[self._lease_key, self._token_key, self._fence_key],
                        args=[self._identity, self._lease_ms],
                    )
                )
            if token > 0:
                self._token = token
                self._valid_until = sent_at + self._lease
                self._deposed.clear()
                self._renewer = asyncio.create_task(
                    self._renew_loop(), name=f"redis-elector-renew:{self._lease_key}"
                )
                return token
            await asyncio.sleep(self._renew_every)

    @property
    def is_leader(self) -> bool:
        return self._token is not None and _now() < self._valid_until

    @property
    def token(self) -> int | None:
        return self._token if self.is_leader else None

    async def resign(self) -> None:
        """Leadership ends here at once; the lease is deleted only if it is still ours."""
        self._check_open()
        await self._stop_renewing()
        self._drop()
        async with self._redis():
            await self._release(keys=[self._lease_key], args=[self._identity])

    # -- beyond the protocol --------------------------------------------------------------

    async def wait_deposed(self) -> None:
        """Return once this process does not lead (at once if it does not now)."""
        while self.is_leader:
            remaining = self._valid_until - _now()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(remaining, 0.0)):
                    await self._deposed.wait()

    async def close(self) -> None:
        """Stop renewing without releasing the lease (it expires on the server); call
        ``resign`` first to hand over at once. Closes the client if this made it."""
        if self._closed:
            return
        self._closed = True
        await self._stop_renewing()
        self._drop()
        if self._owns_client:
            with contextlib.suppress(RedisError, OSError):
                await self._client.aclose()

    async def __aenter__(self) -> RedisElector:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._token is not None and not self._closed:
                with contextlib.suppress(StoreUnavailable):
                    await self.resign()
        finally:
            await self.close()

    # -- internals ------------------------------------------------------------------------

    async def _renew_loop(self) -> None:
        while self._token is not None:
            await asyncio.sleep(min(self._renew_every, max(self._valid_until - _now(), 0.0)))
            remaining = self._valid_until - _now()
            if remaining <= 0:
                self._drop()
                return
            sent_at = _now()
            try:
                async with asyncio.timeout(remaining):
                    extended = await self._renew(
                        keys=[self._lease_key], args=[self._identity, self._lease_ms]
                    )
            except (RedisError, OSError, TimeoutError):
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise asyncio.CancelledError from None
                continue  # retried until the lease would have run out
            if int(extended) != 1:
                self._drop()
                return
            self._valid_until = sent_at + self._lease

    async def _stop_renewing(self) -> None:
        task, self._renewer = self._renewer, None
        if task is None:
            return
        # Dropped first: should the client swallow the cancellation, the loop ends anyway.
        self._drop()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # we are cancelled ourselves, not only the renewer

    def _drop(self) -> None:
        self._token = None
        self._valid_until = 0.0
        self._deposed.set()

    @contextlib.asynccontextmanager
    async def _redis(self) -> AsyncIterator[None]:
        try:
            yield
        except (RedisError, OSError) as error:
            raise StoreUnavailable(f"Redis is unavailable: {error}") from error

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed("the elector is closed")


def _now() -> float:
    return time.monotonic()
