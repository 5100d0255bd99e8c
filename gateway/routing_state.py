"""The one Router object the engine keeps, over route-table snapshots swapped whole.

The engine calls ``state.route(host, target)``; ``route`` is the current snapshot's bound
method itself (rebound on each swap), so a lookup costs no extra call and a request sees
either the old table or the new one, never a mix.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from gateway.router import DEFAULT_DOMAIN_SUFFIXES, TableRouter
from zeroserve.proxy.routing import Route
from zeroserve.store.routes import RouteTable

__all__ = ["RoutingState"]


class RoutingState:
    """Implements the engine's ``Router``; ``apply`` swaps in a newer table."""

    __slots__ = ("_rng", "_suffixes", "route", "snapshot", "table")

    route: Callable[[bytes, bytes], Route | None]

    def __init__(
        self,
        domain_suffixes: Sequence[str] = DEFAULT_DOMAIN_SUFFIXES,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._suffixes = tuple(domain_suffixes)
        self._rng = rng or random.Random()
        self.table: RouteTable | None = None
        self.snapshot = TableRouter.empty(self._rng)
        self.route = self.snapshot.route

    @property
    def version(self) -> int:
        """The version of the table routed with (-1 before the first), for heartbeats."""
        return self.snapshot.version

    def apply(self, table: RouteTable) -> bool:
        """Route with ``table`` from now on, unless it is no newer than the current one.
        A table that cannot be built raises and leaves the current one in place."""
        if self.table is not None and table.version <= self.table.version:
            return False
        snapshot = TableRouter.from_table(table, self._suffixes, rng=self._rng)
        self.table = table
        self.snapshot = snapshot
        self.route = snapshot.route
        return True
