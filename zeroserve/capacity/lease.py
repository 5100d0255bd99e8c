"""The seam between the data path and the replicas: leases on capacity.

The engine never decides which replica serves a request or whether one has room: it asks
a ``CapacityProvider``. The fast path (``acquire_nowait``) is a plain call, so a warm
request costs no coroutine and no Task; only a request that must wait gets a Future, and
the engine attaches a callback to it rather than awaiting it in a Task.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from zeroserve.endpoint import Endpoint

__all__ = [
    "CapacityError",
    "CapacityProvider",
    "CapacityTimeout",
    "Endpoint",
    "Lease",
    "QueueFull",
    "RevisionUnavailable",
    "UnknownRevision",
]


class Lease(Protocol):
    """One request's claim on one replica's capacity, held until released exactly once."""

    @property
    def endpoint(self) -> Endpoint: ...

    def release(self) -> None:
        """The exchange is over; the slot is free for the next request."""

    def fail(self) -> None:
        """The replica refused the connection: release, and eject it for a few seconds."""


class CapacityError(Exception):
    """Why a lease cannot be had. The engine maps each subclass to a status once."""


class UnknownRevision(CapacityError):
    """No such revision in this provider (a routing table newer than the endpoints)."""


class QueueFull(CapacityError):
    """The revision's wait queue is at its cap; the client should retry later."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CapacityTimeout(CapacityError):
    """The deadline passed while the request waited for a replica."""


class RevisionUnavailable(CapacityError):
    """The revision cannot serve (it failed, or was deleted): waiting will not help."""


class CapacityProvider(Protocol):
    def acquire_nowait(self, revision: str) -> Lease | None:
        """A lease at once if some ready replica has room, else None (never waits).

        Raises ``UnknownRevision`` or ``RevisionUnavailable`` when waiting cannot help,
        so the engine answers at once instead of holding the request."""

    def acquire(self, revision: str, deadline: float) -> asyncio.Future[Lease]:
        """A future lease: resolved when a replica has room, or failed with a
        ``CapacityError``. ``deadline`` is on the provider's Clock. Cancelling the future
        withdraws the request from the wait queue."""
