"""Argument checks every store makes before it writes, with one set of texts."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from zeroserve.store.errors import InvalidRecord


def check_retention(stats_retention: float) -> None:
    if not (math.isfinite(stats_retention) and stats_retention > 0):
        raise InvalidRecord(f"stats retention must be > 0 s, got {stats_retention}")


def check_report(reporter: str, now: float, route_version: int) -> None:
    if not reporter:
        raise InvalidRecord("a report needs a reporter id")
    if not math.isfinite(now):
        raise InvalidRecord(f"a report needs a finite time, got {now}")
    if route_version < 0:
        raise InvalidRecord(f"a route version must be >= 0, got {route_version}")


def check_poke(revision: str) -> None:
    if not revision:
        raise InvalidRecord("a poke needs a revision name")


def encode_scaling_state(token: int, state: Mapping[str, object]) -> str:
    """The state as one JSON document, after checking the token and that it is JSON-safe."""
    if token < 1:
        raise InvalidRecord(f"a fencing token must be >= 1, got {token}")
    try:
        return json.dumps(state, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidRecord(f"a scaling state must be JSON-safe data: {error}") from None
