"""Which replicas to start, keep, take back or let go for a desired count (pure).

Starting and ready replicas count towards the desired number; draining and stopping ones
do not. Scaling down lets the not-ready go first (they serve nothing), newest first, then
the ready ones, newest first (the oldest have warm caches and proven health). Scaling up
takes back replicas still waiting for their requests to finish before starting new ones:
a scale-down undone within a request's lifetime costs no cold start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zeroserve.runtime.base import Phase


@dataclass(frozen=True, slots=True)
class ReplicaView:
    """What the plan needs of a replica: ``seq`` orders them by age (higher is newer)."""

    name: str
    seq: int
    phase: Phase


@dataclass(frozen=True, slots=True)
class ScalePlan:
    spawn: int = 0
    undrain: tuple[str, ...] = ()
    stop: tuple[str, ...] = ()
    drain: tuple[str, ...] = ()


def plan_scale(desired: int, replicas: Sequence[ReplicaView]) -> ScalePlan:
    """The steps that bring the counting replicas to ``desired`` (clamped at 0)."""
    desired = max(0, desired)

    def newest_first(phase: Phase) -> list[ReplicaView]:
        return sorted((r for r in replicas if r.phase == phase), key=lambda r: -r.seq)

    starting = newest_first("starting")
    ready = newest_first("ready")
    active = len(starting) + len(ready)
    if active < desired:
        need = desired - active
        undrain = tuple(r.name for r in newest_first("draining")[:need])
        return ScalePlan(spawn=need - len(undrain), undrain=undrain)
    if active > desired:
        victims = (starting + ready)[: active - desired]
        return ScalePlan(
            stop=tuple(r.name for r in victims if r.phase == "starting"),
            drain=tuple(r.name for r in victims if r.phase == "ready"),
        )
    return ScalePlan()
