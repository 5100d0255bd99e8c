"""The store contract: the one bus between gateways, activators, autoscaler and controller.

The store decides nothing; it carries five flows (DESIGN.md, "The store"):

1. stats, written once a second by each reporter, read incrementally by the autoscaler;
2. pokes, a push to the autoscaler that a revision needs capacity now;
3. desired scale and route mode, written by the leading autoscaler under a fencing token
   (with the scaling loop's own state, one document saved each tick under the same
   fence, so a restarted autoscaler picks up where the last leader stopped);
4. endpoints of each revision, published by the controller;
5. the route table, published by the controller.

Flows 3 to 5 are versioned: a write no newer than the stored one is ignored and says so
(``Published``); watchers get the current state, then each accepted update, latest-wins
per revision (``Subscription``); ``read_*`` is the resync read. A ``watch_*`` or
``pokes`` call returns once the subscription is in place: any update accepted after it
returns reaches the watcher (or a newer one does).

Every call may raise ``StoreUnavailable`` (a ``StoreClosed`` after ``close``): callers
fail static, keeping what they last read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from zeroserve.config.scaling import RouteMode
from zeroserve.store.records import EndpointSet, Poke, Published, ScaleRecord
from zeroserve.store.routes import RouteTable
from zeroserve.store.stats import RevisionStats, StatsBatch, StatsCursor
from zeroserve.store.subscription import Subscription

__all__ = ["Store", "StoreHealth"]


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """For status pages and metrics: is the backend reachable, and the last error seen."""

    backend: str
    healthy: bool
    last_error: str | None = None


class Store(Protocol):
    # -- 1. stats -------------------------------------------------------------------------

    async def report(
        self,
        reporter: str,
        now: float,
        route_version: int,
        stats: Mapping[str, RevisionStats],
        *,
        leaving: bool = False,
    ) -> None:
        """One reporter's second: its heartbeat, and stats for revisions with traffic.

        ``now`` stamps the heartbeat; the stats go in the bucket ``floor(now)``.
        ``leaving`` is the last report of a reporter shutting down cleanly."""
        ...

    async def read_stats(self, since: StatsCursor | None = None) -> tuple[StatsBatch, StatsCursor]:
        """What was reported after ``since`` (``None``: everything retained), oldest first,
        and the cursor to pass next time."""
        ...

    # -- 2. pokes -------------------------------------------------------------------------

    async def poke(self, revision: str, now: float) -> None:
        """Tell the autoscaler ``revision`` needs capacity now."""
        ...

    async def pokes(self) -> Subscription[Poke]:
        """Pokes sent from now on, coalesced per revision (the newest kept)."""
        ...

    # -- 3. desired scale -----------------------------------------------------------------

    async def write_scale(
        self, revision: str, desired: int, mode: RouteMode, token: int, now: float
    ) -> Published:
        """The leader's decision for ``revision`` at ``now``.

        Raises ``StaleToken`` if a higher token has written (to any revision); ignores
        (``accepted=False``) a decision older than the stored one of the same token."""
        ...

    async def remove_scale(self, revision: str, token: int, now: float) -> Published:
        """Forget ``revision``'s decision (the revision is gone), under the same rules."""
        ...

    async def read_scales(self) -> Mapping[str, ScaleRecord]:
        """Every revision's current decision (removed ones left out)."""
        ...

    async def watch_scales(self) -> Subscription[ScaleRecord]:
        """The current decisions, then each accepted write (``removed`` ones included)."""
        ...

    async def save_scaling_state(self, token: int, state: Mapping[str, object]) -> Published:
        """Replace the scaling loop's saved state (JSON-safe data, stored as one document,
        never aliased to the caller's object). Fenced like ``write_scale``: raises
        ``StaleToken`` if a higher token has written; ``InvalidRecord`` if ``state`` is
        not JSON-safe or ``token`` < 1."""
        ...

    async def load_scaling_state(self) -> Mapping[str, object] | None:
        """The last saved scaling state, ``None`` before the first save."""
        ...

    # -- 4. endpoints ---------------------------------------------------------------------

    async def publish_endpoints(self, endpoints: EndpointSet) -> Published:
        """Store ``endpoints`` unless the revision's stored version is the same or newer.
        An ``EndpointSet.tombstone`` removes the revision."""
        ...

    async def read_endpoints(self) -> Mapping[str, EndpointSet]:
        """Every revision's current endpoints (removed ones left out)."""
        ...

    async def watch_endpoints(self) -> Subscription[EndpointSet]:
        """The current sets, then each accepted publish (tombstones included)."""
        ...

    # -- 5. routes ------------------------------------------------------------------------

    async def publish_routes(self, table: RouteTable) -> Published:
        """Store ``table`` unless the stored one's version is the same or newer."""
        ...

    async def read_routes(self) -> RouteTable | None:
        """The current table, ``None`` before the first publish."""
        ...

    async def watch_routes(self) -> Subscription[RouteTable]:
        """The current table (if any), then each accepted publish."""
        ...

    # -- the handle -----------------------------------------------------------------------

    def health(self) -> StoreHealth:
        """Cheap and never raising: the state seen by the last calls, for status pages."""
        ...

    async def close(self) -> None:
        """End every subscription of this handle; later calls raise ``StoreClosed``.
        Closing twice is harmless."""
        ...
