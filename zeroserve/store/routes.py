"""Flow 5, routes: the snapshot the controller publishes and every gateway routes with.

One immutable ``RouteTable`` per version, swapped whole: a gateway never sees half an
update. It holds what routing needs and nothing more: which hosts reach which service,
how its traffic splits over revisions (and which hosts reach a tagged revision alone),
and per revision the timeout, the per-replica cap and the route mode. Revision names
are the store's keys (stats, endpoints, scale), so they are unique in a table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from zeroserve.config.scaling import RevisionScaling, RouteMode
from zeroserve.store.errors import InvalidRecord

__all__ = ["RevisionRoute", "RouteTable", "ServiceRoute", "TrafficTarget"]


@dataclass(frozen=True, slots=True)
class TrafficTarget:
    """``percent`` of the service's traffic goes to ``revision``. A tagged target is also
    reached alone through ``hosts`` (``prev-…``, ``latest-…``), whatever its percent."""

    revision: str
    percent: int
    tag: str | None = None
    hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.percent <= 100:
            raise InvalidRecord(
                f"traffic percent for {self.revision!r} must be in [0, 100], got {self.percent}"
            )
        if self.hosts and not self.tag:
            raise InvalidRecord(f"hosts {list(self.hosts)} need a tag to reach {self.revision!r}")


@dataclass(frozen=True, slots=True)
class ServiceRoute:
    """One InferenceService: the hosts that reach it and its traffic split.

    Percents add up to 100, or to 0 when no revision can take traffic yet (a first deploy
    that is not ready)."""

    namespace: str
    name: str
    hosts: tuple[str, ...]
    traffic: tuple[TrafficTarget, ...]

    def __post_init__(self) -> None:
        total = sum(t.percent for t in self.traffic)
        if total not in (0, 100):
            raise InvalidRecord(
                f"traffic of {self.namespace}/{self.name} adds up to {total}%, not 100%"
            )


@dataclass(frozen=True, slots=True)
class RevisionRoute:
    """What the data path needs per revision: ``timeout`` (seconds until the response
    head), ``container_concurrency`` (0: unlimited) and who receives its requests; and
    what the autoscaler needs: ``scaling``, the effective spec the controller computed
    (so the autoscaler, in another process, scales by the same rules without parsing
    resources), and ``service``/``namespace`` for status and metrics labels."""

    name: str
    timeout: float
    container_concurrency: int
    mode: RouteMode
    scaling: RevisionScaling | None = None
    service: str = ""
    namespace: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise InvalidRecord(f"timeout of {self.name!r} must be > 0, got {self.timeout}")
        if self.container_concurrency < 0:
            raise InvalidRecord(
                f"container concurrency of {self.name!r} must be >= 0, "
                f"got {self.container_concurrency}"
            )


@dataclass(frozen=True, slots=True)
class RouteTable:
    """Every service and revision, at one ``version`` (the controller's, growing)."""

    version: int
    services: tuple[ServiceRoute, ...] = ()
    revisions: tuple[RevisionRoute, ...] = ()
    _by_name: dict[str, RevisionRoute] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        if self.version < 0:
            raise InvalidRecord(f"a route table version must be >= 0, got {self.version}")
        by_name = {r.name: r for r in self.revisions}
        if len(by_name) != len(self.revisions):
            raise InvalidRecord("revision names repeat in the route table")
        object.__setattr__(self, "_by_name", by_name)
        seen_services: set[tuple[str, str]] = set()
        seen_hosts: dict[str, str] = {}
        for service in self.services:
            key = (service.namespace, service.name)
            if key in seen_services:
                raise InvalidRecord(f"service {service.namespace}/{service.name} appears twice")
            seen_services.add(key)
            owner = f"{service.namespace}/{service.name}"
            hosts = list(service.hosts)
            for target in service.traffic:
                if target.revision not in by_name:
                    raise InvalidRecord(
                        f"{owner} sends traffic to {target.revision!r}, "
                        "which is not in the route table"
                    )
                hosts.extend(target.hosts)
            for host in hosts:
                if host in seen_hosts:
                    raise InvalidRecord(
                        f"host {host!r} routes to both {seen_hosts[host]} and {owner}"
                    )
                seen_hosts[host] = owner

    def revision(self, name: str) -> RevisionRoute | None:
        return self._by_name.get(name)
