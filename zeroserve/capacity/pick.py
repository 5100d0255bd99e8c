"""Which replica a request gets, per knative-kpa §6.2.

These run on every request, so they take the revision's prepared list of pickable
replicas (sorted, draining ones already left out) and allocate nothing, except
``usable`` while some, but not all, of those replicas are ejected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar


class Slots(Protocol):
    """What a policy reads of a replica."""

    in_flight: int
    ejected: bool


R = TypeVar("R", bound=Slots)


def usable(replicas: list[R], skip_ejected: bool) -> list[R]:
    """The candidates: every pickable replica, or the non-ejected ones while only some are."""
    if not skip_ejected:
        return replicas
    return [r for r in replicas if not r.ejected]


def pick_least_of_two(replicas: list[R], random: Callable[[], float]) -> R | None:
    """CC = 0: power of two random choices by fewest in-flight. The pair is drawn at random,
    so taking its first member on a tie breaks ties at random."""
    n = len(replicas)
    if n <= 1:
        return replicas[0] if n else None
    m = n - 1
    i = int(random() * n)
    if i > m:  # float rounding can reach the bound
        i = m
    j = int(random() * m)  # one of the other m
    if j >= m:
        j = m - 1
    if j >= i:
        j += 1
    a = replicas[i]
    b = replicas[j]
    return b if b.in_flight < a.in_flight else a


def pick_first_free(replicas: list[R], cc: int, skip_ejected: bool) -> R | None:
    """1 ≤ CC ≤ 3: the first replica in sorted order with a free slot (packs small caps)."""
    for r in replicas:
        if r.in_flight < cc and not (skip_ejected and r.ejected):
            return r
    return None


def pick_round_robin(replicas: list[R], cc: int, skip_ejected: bool, start: int) -> int:
    """CC > 3: round robin from position ``start``, skipping full replicas. Returns the
    index of the pick (the next search starts after it), or -1 when all are full."""
    n = len(replicas)
    if n == 0:
        return -1
    if start >= n:
        start = 0
    i = start
    while True:
        r = replicas[i]
        if r.in_flight < cc and not (skip_ejected and r.ejected):
            return i
        i += 1
        if i == n:
            i = 0
        if i == start:
            return -1
