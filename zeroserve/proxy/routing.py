"""The routing plug-in: Host bytes (and target) in, a Route out.

The engine resolves Host itself (absolute-form, duplicates, port); a Router is a pure
lookup, so the gateway can swap its table atomically without the engine knowing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Route:
    revision: str
    timeout: float  # seconds until the response head (504 naming the revision)
    upstream_headers: bytes = b""  # complete header lines b"Name: v\r\n" added upstream
    response_headers: bytes = b""  # complete header lines added to the client's response


class Router(Protocol):
    def route(self, host: bytes, target: bytes) -> Route | None:
        """``host`` is lower-case with the port stripped; None answers 404."""


class StaticRouter:
    """A fixed host → Route table, for tests and benchmarks."""

    __slots__ = ("_routes",)

    def __init__(self, routes: Mapping[bytes, Route]) -> None:
        self._routes = dict(routes)

    def route(self, host: bytes, target: bytes) -> Route | None:
        return self._routes.get(host)
