"""The bus between processes: MemoryStore and RedisStore behind one contract.

``base.Store`` is the contract; the records it carries live in ``stats`` (flow 1),
``records`` (pokes, desired scale, endpoints) and ``routes`` (the route table).
"""

from zeroserve.store.base import Store, StoreHealth
from zeroserve.store.elector import Elector, LocalElector
from zeroserve.store.errors import (
    InvalidRecord,
    StaleToken,
    StoreClosed,
    StoreError,
    StoreUnavailable,
)
from zeroserve.store.memory import MemoryStore
from zeroserve.store.records import EndpointSet, Poke, Published, ScaleRecord
from zeroserve.store.routes import RevisionRoute, RouteTable, ServiceRoute, TrafficTarget
from zeroserve.store.stats import (
    LATENCY_BUCKETS_MS,
    Heartbeat,
    Liveness,
    RevisionStats,
    StatsBatch,
    StatsCursor,
    StatsSample,
    latency_bucket,
    reporter_liveness,
)
from zeroserve.store.subscription import Subscription

__all__ = [
    "LATENCY_BUCKETS_MS",
    "Elector",
    "EndpointSet",
    "Heartbeat",
    "InvalidRecord",
    "Liveness",
    "LocalElector",
    "MemoryStore",
    "Poke",
    "Published",
    "RevisionRoute",
    "RevisionStats",
    "RouteTable",
    "ScaleRecord",
    "ServiceRoute",
    "StaleToken",
    "StatsBatch",
    "StatsCursor",
    "StatsSample",
    "Store",
    "StoreClosed",
    "StoreError",
    "StoreHealth",
    "StoreUnavailable",
    "Subscription",
    "TrafficTarget",
    "latency_bucket",
    "reporter_liveness",
]
