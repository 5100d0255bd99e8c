"""The store contract against ``MemoryStore``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.store.contract import StoreContract
from zeroserve.store import MemoryStore, Store
from zeroserve.store.stats import DEFAULT_STATS_RETENTION


class MemoryHarness:
    """One process, one bus: another handle on a memory store is the store itself."""

    def __init__(self) -> None:
        self.opened: list[MemoryStore] = []

    async def open(self, *, stats_retention: float = DEFAULT_STATS_RETENTION) -> Store:
        store = MemoryStore(stats_retention=stats_retention)
        self.opened.append(store)
        return store

    async def peer(self, store: Store) -> Store:
        return store

    async def close(self) -> None:
        for store in self.opened:
            await store.close()


class TestMemoryStore(StoreContract):
    @pytest.fixture
    async def harness(self) -> AsyncIterator[MemoryHarness]:
        harness = MemoryHarness()
        yield harness
        await harness.close()
