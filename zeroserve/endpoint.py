"""A replica's address: the one value the runtime reports, the store carries and the
capacity tracker leases, so it lives at the bottom of the layers where all can use it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One replica's address. ``name`` (``{revision}-{n}``) is what error texts and logs show."""

    host: str
    port: int
    name: str
