"""The one error hierarchy of the store.

Callers tell two situations apart: the bus cannot be reached (``StoreUnavailable``: fail
static, keep the last routes, endpoints and scale) and the bus refused the request
(``StaleToken``, ``InvalidRecord``: the caller is wrong, retrying will not help).
"""

from __future__ import annotations


class StoreError(Exception):
    """Something the store refuses or cannot do."""


class StoreUnavailable(StoreError):
    """The backend cannot be reached now; the caller keeps what it last had."""


class StoreClosed(StoreUnavailable):
    """This store handle was closed; nothing more goes through it."""


class InvalidRecord(StoreError, ValueError):
    """A record that no store accepts (a negative count, a malformed route table)."""


class StaleToken(StoreError):
    """A desired-scale write from a deposed leader: a higher fencing token has written."""

    def __init__(self, token: int, highest: int) -> None:
        self.token = token
        self.highest = highest
        super().__init__(
            f"fencing token {token} is stale: token {highest} has written since "
            "(another autoscaler leads)"
        )
