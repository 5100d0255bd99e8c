"""Flows 2 to 4: pokes, desired scale, endpoints; and what a versioned write answers.

Each keyed record (one per revision) carries an integer ``version``, and the store keeps
the rule "a versioned update never replaces a newer one" per revision. A removed
revision leaves a tombstone (``removed=True``) holding its version, so an older write
arriving late cannot bring it back; tombstones are bounded and eventually forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass

from zeroserve.config.scaling import RouteMode
from zeroserve.endpoint import Endpoint
from zeroserve.store.errors import InvalidRecord

__all__ = ["EndpointSet", "Poke", "Published", "ScaleRecord"]


def _version(version: int) -> None:
    if version < 0:
        raise InvalidRecord(f"a version must be >= 0, got {version}")


@dataclass(frozen=True, slots=True)
class Published:
    """What a versioned write did: ``accepted``, and the version stored after it (the
    caller's when accepted, the newer one that won when not)."""

    accepted: bool
    version: int


@dataclass(frozen=True, slots=True)
class Poke:
    """A signal that ``revision`` needs capacity now (a request is held at zero), sent
    at ``at``. Pokes are signals, not records: one sent while nobody listens is lost, and
    the next tick reads the stats anyway."""

    revision: str
    at: float


@dataclass(frozen=True, slots=True)
class EndpointSet:
    """The replicas of one revision, published by the controller.

    ``ready`` take requests; ``draining`` finish theirs and take no new ones.
    ``failed_reason`` says why the revision cannot serve (held requests get it at once).
    ``version`` is the controller's and must grow with each publish of the revision."""

    revision: str
    version: int
    ready: tuple[Endpoint, ...] = ()
    draining: tuple[Endpoint, ...] = ()
    failed_reason: str | None = None
    removed: bool = False

    def __post_init__(self) -> None:
        _version(self.version)
        if not self.revision:
            raise InvalidRecord("an endpoint set needs a revision name")
        if self.removed and (self.ready or self.draining or self.failed_reason):
            raise InvalidRecord("a removed revision has no endpoints and no failure")
        both = {e.name for e in self.ready} & {e.name for e in self.draining}
        if both:
            raise InvalidRecord(f"endpoints both ready and draining: {sorted(both)}")

    @classmethod
    def tombstone(cls, revision: str, version: int) -> EndpointSet:
        """The revision is gone: what ``publish_endpoints`` takes to remove it."""
        return cls(revision, version, removed=True)


@dataclass(frozen=True, slots=True)
class ScaleRecord:
    """The leading autoscaler's decision for one revision, as stored.

    A write is ordered by ``(token, decided_at)``: a lower token is refused outright
    (``StaleToken``), an older decision of the same leader is ignored, an equal one
    replaces (one leader's writes arrive in order). ``version`` is assigned by the store
    and grows with every accepted write of the revision, so watchers can drop repeats."""

    revision: str
    desired: int
    mode: RouteMode
    token: int
    decided_at: float
    version: int
    removed: bool = False

    def __post_init__(self) -> None:
        _version(self.version)
        if not self.revision:
            raise InvalidRecord("a scale record needs a revision name")
        if self.desired < 0:
            raise InvalidRecord(f"desired scale must be >= 0, got {self.desired}")
        if self.token < 1:
            raise InvalidRecord(f"a fencing token must be >= 1, got {self.token}")

    @property
    def order(self) -> tuple[int, float]:
        return (self.token, self.decided_at)
