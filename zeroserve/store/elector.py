"""Who leads: the autoscaler scales only while it holds leadership, and writes desired
scale with the fencing token it got, so a deposed leader that has not noticed yet is
refused by the store (``StaleToken``) instead of fighting the new one.

Implementations: ``LocalElector`` here (the all-in-one process has one autoscaler);
a Redis lease in the store, a Kubernetes Lease in the controller.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Elector", "LocalElector"]


class Elector(Protocol):
    async def campaign(self) -> int:
        """Wait until this process leads, then return its fencing token. Tokens grow
        strictly across every leadership change, whoever wins."""
        ...

    @property
    def is_leader(self) -> bool:
        """Whether this process leads now (check before acting; the token guards writes)."""
        ...

    @property
    def token(self) -> int | None:
        """The token of the current leadership, ``None`` when not leading."""
        ...

    async def resign(self) -> None:
        """Give leadership up now, so another process need not wait for it to expire."""
        ...


class LocalElector:
    """The only candidate there is: leader from the start with token 1.

    ``campaign`` returns at once; after ``resign`` it leads again with the next token."""

    __slots__ = ("_leading", "_token")

    def __init__(self) -> None:
        self._token = 1
        self._leading = True

    async def campaign(self) -> int:
        if not self._leading:
            self._token += 1
            self._leading = True
        return self._token

    @property
    def is_leader(self) -> bool:
        return self._leading

    @property
    def token(self) -> int | None:
        return self._token if self._leading else None

    async def resign(self) -> None:
        self._leading = False
