"""Host → revision for one route table: an immutable snapshot, built once per table.

Everything a request needs is computed when the table arrives: the hosts of every
service (its own, KServe's ``{name}.{ns}.{domain}`` and ``{name}-predictor.{ns}.{domain}``
under each domain suffix, and the tag hosts), one ``Route`` per revision per service with
its header bytes, and per split service a 100-slot table of Routes (slot ``i`` serves
the ``i``-th percent). Per request: one dict lookup, and for a split service one
``random()`` call to index the slots (the weights are whole percents, so 100 slots are
exact and the pick is O(1) with no search).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from zeroserve.proxy.routing import Route
from zeroserve.store.routes import RevisionRoute, RouteTable, ServiceRoute

__all__ = ["DEFAULT_DOMAIN_SUFFIXES", "SLOTS", "RouterBuildError", "TableRouter", "service_hosts"]

# KServe's default domain, and the names the embedded server also answers on loopback.
DEFAULT_DOMAIN_SUFFIXES: Final = ("example.com", "localhost")
SLOTS: Final = 100  # one slot per percent


class RouterBuildError(ValueError):
    """A route table that cannot be turned into header bytes (a name with CR or LF)."""


def _header_value(text: str, what: str) -> bytes:
    if "\r" in text or "\n" in text or "\0" in text:
        raise RouterBuildError(f"{what} {text!r} cannot go into a header")
    return text.encode("latin-1", errors="strict")


def revision_route(service: ServiceRoute, revision: RevisionRoute) -> Route:
    """The Route of ``revision`` as reached through ``service``: its timeout, the KServe
    headers the predictor expects, and the header that tells the client who answered."""
    name = _header_value(service.name, "service name")
    namespace = _header_value(service.namespace, "namespace")
    rev = _header_value(revision.name, "revision name")
    return Route(
        revision=revision.name,
        timeout=revision.timeout,
        upstream_headers=b"KServe-Isvc-Name: %s\r\nKServe-Isvc-Namespace: %s\r\n"
        % (name, namespace),
        response_headers=b"Zeroserve-Revision: %s\r\n" % rev,
    )


def _suffix_of(host: str, suffixes: Sequence[str]) -> str | None:
    for suffix in suffixes:
        if host.endswith("." + suffix):
            return suffix
    return None


def _under_every_suffix(host: str, suffixes: Sequence[str]) -> list[str]:
    """``host`` itself, and the same name under every other suffix when it ends in one."""
    host = host.lower().rstrip(".")
    names = [host]
    suffix = _suffix_of(host, suffixes)
    if suffix is not None:
        stem = host[: -len(suffix)]
        names += [stem + other for other in suffixes if other != suffix]
    return names


def service_hosts(service: ServiceRoute, suffixes: Sequence[str]) -> list[str]:
    """Every host that reaches the service's traffic split, the table's own first."""
    hosts: list[str] = []
    for host in service.hosts:
        hosts += _under_every_suffix(host, suffixes)
    ns, name = service.namespace.lower(), service.name.lower()
    for suffix in suffixes:
        hosts += (f"{name}.{ns}.{suffix}", f"{name}-predictor.{ns}.{suffix}")
    return list(dict.fromkeys(hosts))


def latest_revision(service: ServiceRoute, table: RouteTable) -> str | None:
    """Where a service with 0% in total goes (a first deploy that is not ready yet): its
    newest revision, i.e. the last of its revisions in the table (the controller lists
    them oldest first); failing that, its target tagged ``latest``, else its last one."""
    newest = None
    for rev in table.revisions:
        if rev.service == service.name and rev.namespace == service.namespace:
            newest = rev.name
    if newest is not None:
        return newest
    for target in service.traffic:
        if target.tag == "latest":
            return target.revision
    return service.traffic[-1].revision if service.traffic else None


def weighted_slots(weights: Sequence[tuple[Route, int]]) -> tuple[Route, ...]:
    """100 slots, ``percent`` of them per Route, in order; the weights add up to 100."""
    slots: list[Route] = []
    for route, percent in weights:
        slots += [route] * percent
    if len(slots) != SLOTS:
        raise RouterBuildError(f"traffic adds up to {len(slots)}%, not {SLOTS}%")
    return tuple(slots)


Destination = Route | tuple[Route, ...]  # one Route, or 100 weighted slots


class _ServicePlan:
    """What one service contributes: (host, destination) claims, explicit and derived."""

    __slots__ = ("derived", "explicit", "routes", "service", "table")

    def __init__(self, service: ServiceRoute, table: RouteTable) -> None:
        self.service = service
        self.table = table
        self.routes: dict[str, Route] = {}
        self.explicit: list[tuple[str, Destination]] = []
        self.derived: list[tuple[str, Destination]] = []

    @classmethod
    def of(cls, service: ServiceRoute, table: RouteTable, suffixes: Sequence[str]) -> _ServicePlan:
        plan = cls(service, table)
        dest = plan.destination()
        if dest is not None:
            for host in service.hosts:
                plan.explicit += [(h, dest) for h in _under_every_suffix(host, suffixes)]
            plan.derived += [(h, dest) for h in service_hosts(service, suffixes)]
        for target in service.traffic:
            route = plan.route_of(target.revision)
            for host in target.hosts:
                plan.explicit += [(h, route) for h in _under_every_suffix(host, suffixes)]
        return plan

    def route_of(self, name: str) -> Route:
        route = self.routes.get(name)
        if route is None:
            rev = self.table.revision(name)
            if rev is None:  # RouteTable refuses traffic to unknown revisions
                raise RouterBuildError(f"revision {name!r} is not in the route table")
            route = self.routes[name] = revision_route(self.service, rev)
        return route

    def destination(self) -> Destination | None:
        weights: dict[str, int] = {}
        for target in self.service.traffic:
            weights[target.revision] = weights.get(target.revision, 0) + target.percent
        live = [(name, pct) for name, pct in weights.items() if pct > 0]
        if not live:
            latest = latest_revision(self.service, self.table)
            return None if latest is None else self.route_of(latest)
        if len(live) == 1:
            return self.route_of(live[0][0])
        return weighted_slots([(self.route_of(name), pct) for name, pct in live])


class TableRouter:
    """Implements the engine's ``Router`` for one ``RouteTable``; never changes.

    ``_fixed`` maps hosts with a single destination (a service at 100%, a tag host) to
    their Route; ``_split`` maps the hosts of services split over revisions to their
    slots. ``random`` is shared with the next snapshot so a seeded sequence carries on."""

    __slots__ = ("_fixed", "_random", "_split", "version")

    def __init__(
        self,
        version: int,
        fixed: Mapping[bytes, Route],
        split: Mapping[bytes, tuple[Route, ...]],
        rng: random.Random | None = None,
    ) -> None:
        self.version = version
        self._fixed = dict(fixed)
        self._split = dict(split)
        self._random: Callable[[], float] = (rng or random.Random()).random

    @classmethod
    def empty(cls, rng: random.Random | None = None) -> TableRouter:
        """Before the first table: every host is unknown (404)."""
        return cls(-1, {}, {}, rng)

    @classmethod
    def from_table(
        cls,
        table: RouteTable,
        domain_suffixes: Sequence[str] = DEFAULT_DOMAIN_SUFFIXES,
        *,
        rng: random.Random | None = None,
    ) -> TableRouter:
        """Build the snapshot. Where two services claim one host, the table's explicit
        hosts (service and tag hosts) win over derived names, then the earlier service."""
        suffixes = tuple(s.lower().strip(".") for s in domain_suffixes)
        plans = [_ServicePlan.of(service, table, suffixes) for service in table.services]
        fixed: dict[bytes, Route] = {}
        split: dict[bytes, tuple[Route, ...]] = {}
        claimed: set[bytes] = set()
        claims = [c for plan in plans for c in plan.explicit]
        claims += [c for plan in plans for c in plan.derived]
        for host, dest in claims:
            key = host.encode() if host.isascii() else host.encode("idna")
            if key in claimed:
                continue
            claimed.add(key)
            if isinstance(dest, Route):
                fixed[key] = dest
            else:
                split[key] = dest
        return cls(table.version, fixed, split, rng)

    def route(self, host: bytes, target: bytes) -> Route | None:
        route = self._fixed.get(host)
        if route is not None:
            return route
        slots = self._split.get(host)
        if slots is None:
            return None
        return slots[int(self._random() * SLOTS)]

    # -- for tests, status pages and the holder ----------------------------------------

    def hosts(self) -> list[bytes]:
        return sorted([*self._fixed, *self._split])

    def destinations(self, host: bytes) -> dict[str, int]:
        """Percent per revision for ``host`` (100 for a single destination)."""
        route = self._fixed.get(host)
        if route is not None:
            return {route.revision: SLOTS}
        shares: dict[str, int] = {}
        for slot in self._split.get(host, ()):
            shares[slot.revision] = shares.get(slot.revision, 0) + 1
        return shares
